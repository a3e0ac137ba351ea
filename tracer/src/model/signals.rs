//! Signal numbers, `signal_generate` results, handler dispositions and exit
//! codes, decoded with checks: an unexpected value is shown as a number,
//! never trusted as an enum.

use std::{borrow::Cow, fmt};

const SIGNAL_NAMES: [&str; 32] = [
    "0",
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// `SIGTERM`, `SIGRTMIN+3`, or the number for anything else (borrowed for
/// the common names: this runs for every signal event printed).
pub fn name(sig: i32) -> Cow<'static, str> {
    match sig {
        1..=31 => Cow::Borrowed(SIGNAL_NAMES[sig as usize]),
        32..=64 => Cow::Owned(format!("SIGRTMIN+{}", sig - 32)),
        _ => Cow::Owned(sig.to_string()),
    }
}

/// The name of a siginfo `si_code` as the kernel's headers spell it
/// (`include/uapi/asm-generic/siginfo.h`): the codes any signal may carry
/// (`SI_USER` for kill(2), `SI_KERNEL`, `SI_QUEUE`, `SI_TKILL`, ...), and,
/// for the signals that have them, the positive codes that mean something
/// only for that signal (`CLD_EXITED` for SIGCHLD, `SEGV_MAPERR` for
/// SIGSEGV, `BUS_*`, `ILL_*`, `FPE_*`, `TRAP_*`, `POLL_*`, `SYS_*`). `None`
/// for a value with no name there.
pub fn code_name(sig: i32, code: i32) -> Option<&'static str> {
    let generic = match code {
        0 => Some("SI_USER"),
        0x80 => Some("SI_KERNEL"),
        -1 => Some("SI_QUEUE"),
        -2 => Some("SI_TIMER"),
        -3 => Some("SI_MESGQ"),
        -4 => Some("SI_ASYNCIO"),
        -5 => Some("SI_SIGIO"),
        -6 => Some("SI_TKILL"),
        -7 => Some("SI_DETHREAD"),
        -60 => Some("SI_ASYNCNL"),
        _ => None,
    };
    if generic.is_some() || !(1..0x80).contains(&code) {
        return generic;
    }
    let names: &[&str] = match sig {
        // SIGILL
        4 => &[
            "ILL_ILLOPC",
            "ILL_ILLOPN",
            "ILL_ILLADR",
            "ILL_ILLTRP",
            "ILL_PRVOPC",
            "ILL_PRVREG",
            "ILL_COPROC",
            "ILL_BADSTK",
            "ILL_BADIADDR",
        ],
        // SIGTRAP
        5 => &[
            "TRAP_BRKPT",
            "TRAP_TRACE",
            "TRAP_BRANCH",
            "TRAP_HWBKPT",
            "TRAP_UNK",
            "TRAP_PERF",
        ],
        // SIGBUS
        7 => &[
            "BUS_ADRALN",
            "BUS_ADRERR",
            "BUS_OBJERR",
            "BUS_MCEERR_AR",
            "BUS_MCEERR_AO",
        ],
        // SIGFPE
        8 => &[
            "FPE_INTDIV",
            "FPE_INTOVF",
            "FPE_FLTDIV",
            "FPE_FLTOVF",
            "FPE_FLTUND",
            "FPE_FLTRES",
            "FPE_FLTINV",
            "FPE_FLTSUB",
            "FPE_DECOVF",
            "FPE_DECDIV",
            "FPE_DECERR",
            "FPE_INVASC",
            "FPE_INVDEC",
            "FPE_FLTUNK",
            "FPE_CONDTRAP",
        ],
        // SIGSEGV
        11 => &[
            "SEGV_MAPERR",
            "SEGV_ACCERR",
            "SEGV_BNDERR",
            "SEGV_PKUERR",
            "SEGV_ACCADI",
            "SEGV_ADIDERR",
            "SEGV_ADIPERR",
            "SEGV_MTEAERR",
            "SEGV_MTESERR",
            "SEGV_CPERR",
        ],
        // SIGCHLD
        17 => &[
            "CLD_EXITED",
            "CLD_KILLED",
            "CLD_DUMPED",
            "CLD_TRAPPED",
            "CLD_STOPPED",
            "CLD_CONTINUED",
        ],
        // SIGIO (SIGPOLL)
        29 => &[
            "POLL_IN", "POLL_OUT", "POLL_MSG", "POLL_ERR", "POLL_PRI", "POLL_HUP",
        ],
        // SIGSYS
        31 => &["SYS_SECCOMP", "SYS_USER_DISPATCH"],
        _ => &[],
    };
    names.get(code as usize - 1).copied()
}

/// `SI_USER`, `CLD_EXITED`, or the number where the code has no name.
pub fn code_label(sig: i32, code: i32) -> Cow<'static, str> {
    match code_name(sig, code) {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(code.to_string()),
    }
}

/// What `signal_generate` reports (`enum trace_sig_result`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenerateResult {
    Delivered,
    Ignored,
    AlreadyPending,
    OverflowFail,
    LoseInfo,
    Unknown(i32),
}

impl GenerateResult {
    pub fn from_raw(raw: i32) -> Self {
        match raw {
            0 => Self::Delivered,
            1 => Self::Ignored,
            2 => Self::AlreadyPending,
            3 => Self::OverflowFail,
            4 => Self::LoseInfo,
            other => Self::Unknown(other),
        }
    }
}

impl GenerateResult {
    pub fn name(self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Self::Delivered => "delivered",
            Self::Ignored => "ignored",
            Self::AlreadyPending => "already_pending",
            Self::OverflowFail => "overflow_fail",
            Self::LoseInfo => "lose_info",
            Self::Unknown(raw) => return Cow::Owned(format!("unknown({raw})")),
        })
    }
}

impl fmt::Display for GenerateResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The handler a delivered signal runs (`ka->sa.sa_handler`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    Default,
    Ignore,
    Handler(u64),
}

impl Disposition {
    pub fn from_raw(handler: u64) -> Self {
        match handler {
            0 => Self::Default,
            1 => Self::Ignore,
            addr => Self::Handler(addr),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Ignore => "ignore",
            Self::Handler(_) => "handler",
        }
    }
}

/// How a task ended, from `task->exit_code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// exit(status).
    Exited(i32),
    /// Killed by a signal; `core` when a core was dumped.
    Signaled { sig: i32, core: bool },
}

impl ExitStatus {
    pub fn from_raw(code: u32) -> Self {
        let sig = (code & 0x7f) as i32;
        if sig == 0 {
            Self::Exited(((code >> 8) & 0xff) as i32)
        } else {
            Self::Signaled {
                sig,
                core: code & 0x80 != 0,
            }
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Exited(status) => write!(f, "exited {status}"),
            Self::Signaled { sig, core } => {
                write!(f, "killed by {}", name(sig))?;
                if core {
                    f.write_str(" (core dumped)")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_exit_codes() {
        assert_eq!(ExitStatus::from_raw(0x300), ExitStatus::Exited(3));
        assert_eq!(
            ExitStatus::from_raw(9),
            ExitStatus::Signaled {
                sig: 9,
                core: false
            }
        );
        assert_eq!(
            ExitStatus::from_raw(0x8b),
            ExitStatus::Signaled {
                sig: 11,
                core: true
            }
        );
        assert_eq!(
            ExitStatus::from_raw(0x8b).to_string(),
            "killed by SIGSEGV (core dumped)"
        );
    }

    #[test]
    fn names_signals_and_results() {
        assert_eq!(name(15), "SIGTERM");
        assert_eq!(name(34), "SIGRTMIN+2");
        assert_eq!(name(99), "99");
        assert_eq!(GenerateResult::from_raw(1).to_string(), "ignored");
        assert_eq!(GenerateResult::from_raw(2).to_string(), "already_pending");
        assert_eq!(GenerateResult::from_raw(7).to_string(), "unknown(7)");
        assert_eq!(Disposition::from_raw(0x5555_0000).label(), "handler");
    }

    #[test]
    fn names_siginfo_codes_where_they_apply() {
        assert_eq!(code_name(15, 0), Some("SI_USER"));
        assert_eq!(code_name(9, 0x80), Some("SI_KERNEL"));
        assert_eq!(code_name(10, -1), Some("SI_QUEUE"));
        assert_eq!(code_name(15, -6), Some("SI_TKILL"));
        assert_eq!(code_name(14, -2), Some("SI_TIMER"));
        assert_eq!(code_name(17, 1), Some("CLD_EXITED"));
        assert_eq!(code_name(17, 2), Some("CLD_KILLED"));
        assert_eq!(code_name(17, 6), Some("CLD_CONTINUED"));
        assert_eq!(code_name(17, 7), None);
        assert_eq!(code_name(11, 1), Some("SEGV_MAPERR"));
        assert_eq!(code_name(11, 2), Some("SEGV_ACCERR"));
        assert_eq!(code_name(7, 2), Some("BUS_ADRERR"));
        assert_eq!(code_name(4, 1), Some("ILL_ILLOPC"));
        assert_eq!(code_name(8, 1), Some("FPE_INTDIV"));
        assert_eq!(code_name(5, 1), Some("TRAP_BRKPT"));
        assert_eq!(code_name(31, 1), Some("SYS_SECCOMP"));
        // A positive code means nothing for a signal without such codes.
        assert_eq!(code_name(15, 1), None);
        assert_eq!(code_name(15, -99), None);
        assert_eq!(code_label(15, 1), "1");
        assert_eq!(code_label(17, 1), "CLD_EXITED");
    }
}
