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
}
