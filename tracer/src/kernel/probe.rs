//! What the running kernel offers, found by asking it: each probe loads a
//! two- to five-instruction tp_btf program and lets the verifier answer, as
//! libbpf's feature probes do. Version numbers would lie: distributions
//! backport (Debian's 5.10 has io_uring workers from 5.12) and the 7.2.9
//! verifier change came in a stable update.
//!
//! The answers become [`KernelFeatures`], which the programs read as
//! constants, so each kernel verifies only the paths it can run.

use std::{io, os::fd::FromRawFd as _};

use tracer_common::{EventKind, KernelFeatures};

use crate::kernel::btf::Btf;

/// `bpf_get_current_task_btf` (5.11+).
const BPF_FUNC_GET_CURRENT_TASK_BTF: i32 = 158;

pub(crate) const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_TYPE_TRACING: u32 = 26;
const BPF_TRACE_RAW_TP: u32 = 23;

/// The leading fields of `union bpf_attr` for `BPF_PROG_LOAD`, up to
/// `core_relo_cnt` (5.17; zero means none, and older kernels accept the
/// zero tail). The kernel accepts a shorter attr than its own and
/// zero-extends it. Every byte is a named field: padding would reach the
/// kernel as garbage in the next field (a non-zero `core_relo_cnt` is
/// EINVAL).
#[repr(C)]
#[derive(Default)]
pub(crate) struct ProgLoadAttr {
    pub(crate) prog_type: u32,
    pub(crate) insn_cnt: u32,
    pub(crate) insns: u64,
    pub(crate) license: u64,
    pub(crate) log_level: u32,
    pub(crate) log_size: u32,
    pub(crate) log_buf: u64,
    pub(crate) kern_version: u32,
    pub(crate) prog_flags: u32,
    pub(crate) prog_name: [u8; 16],
    pub(crate) prog_ifindex: u32,
    pub(crate) expected_attach_type: u32,
    pub(crate) prog_btf_fd: u32,
    pub(crate) func_info_rec_size: u32,
    pub(crate) func_info: u64,
    pub(crate) func_info_cnt: u32,
    pub(crate) line_info_rec_size: u32,
    pub(crate) line_info: u64,
    pub(crate) line_info_cnt: u32,
    pub(crate) attach_btf_id: u32,
    pub(crate) attach_btf_obj_fd: u32,
    pub(crate) core_relo_cnt: u32,
}

const _: () = assert!(size_of::<ProgLoadAttr>() == 120);

/// One BPF instruction.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Insn {
    code: u8,
    /// dst in the low nibble, src in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

pub(crate) const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

// Opcodes (include/uapi/linux/bpf.h).
pub(crate) const LDX_DW: u8 = 0x79; // BPF_LDX | BPF_MEM | BPF_DW
const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const JEQ_IMM: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
pub(crate) const MOV64_IMM: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
pub(crate) const CALL: u8 = 0x85; // BPF_JMP | BPF_CALL
pub(crate) const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

const RETURN_0: [Insn; 2] = [insn(MOV64_IMM, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)];

/// What the probes found, and what each fallback means for a person.
pub struct Probed {
    pub features: KernelFeatures,
    /// Whether and where programs' runs nest, so which tracepoints need
    /// rescue programs.
    pub nesting: Nesting,
    /// One line per fallback taken, for `tracer features` and `--verbose`.
    pub notes: Vec<String>,
}

/// Probes the running kernel. `siginfo_errno` is the offset of
/// `kernel_siginfo.si_errno`, the field the signal programs read.
pub fn probe(btf: &Btf<'_>, siginfo_errno: u32) -> Probed {
    let mut features = KernelFeatures::FAST;
    let mut notes = Vec::new();
    let helper = [
        insn(CALL, 0, 0, 0, BPF_FUNC_GET_CURRENT_TASK_BTF),
        RETURN_0[0],
        RETURN_0[1],
    ];
    if let Err(why) = try_load(btf, "task_newtask", &helper) {
        features.current_task_btf = 0;
        notes.push(format!(
            "no bpf_get_current_task_btf ({why}): the current task is read with \
             bpf_probe_read_kernel"
        ));
    }
    for (tracepoint, flag) in [
        ("signal_generate", &mut features.generate_siginfo_direct),
        ("signal_deliver", &mut features.deliver_siginfo_direct),
    ] {
        // r2 = ctx[1] (the siginfo pointer); if r2 == 0 skip; r0 = r2->si_errno.
        let load = [
            insn(LDX_DW, 2, 1, 8, 0),
            insn(JEQ_IMM, 2, 0, 1, 0),
            insn(LDX_W, 0, 2, siginfo_errno as i16, 0),
            RETURN_0[0],
            RETURN_0[1],
        ];
        if let Err(why) = try_load(btf, tracepoint, &load) {
            *flag = 0;
            notes.push(format!(
                "{tracepoint}: the verifier refuses direct loads through its siginfo \
                 argument ({why}): its fields are read with bpf_probe_read_kernel"
            ));
        }
    }
    let nesting = nesting(btf);
    notes.push(nesting.note());
    Probed {
        features,
        nesting,
        notes,
    }
}

/// Loads `insns` as a tp_btf program on `tracepoint`; `Err` carries the
/// verifier's last line (or the error when there is no log).
fn try_load(btf: &Btf<'_>, tracepoint: &str, insns: &[Insn]) -> Result<(), String> {
    let attach_btf_id = btf
        .tracepoint_type_id(tracepoint)
        .map_err(|e| e.to_string())?;
    let mut log = vec![0u8; 64 * 1024];
    let license = c"GPL";
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_TRACING,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        expected_attach_type: BPF_TRACE_RAW_TP,
        attach_btf_id,
        ..ProgLoadAttr::default()
    };
    // SAFETY: `attr` is a valid BPF_PROG_LOAD attr whose pointers (insns,
    // license, log) outlive the call; the kernel reads at most `size` bytes.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            size_of::<ProgLoadAttr>() as u32,
        )
    };
    if fd >= 0 {
        // SAFETY: the kernel just gave us this descriptor; closing it on
        // drop unloads the probe.
        drop(unsafe { std::fs::File::from_raw_fd(fd as i32) });
        return Ok(());
    }
    let err = io::Error::last_os_error();
    let text =
        String::from_utf8_lossy(&log[..log.iter().position(|&b| b == 0).unwrap_or(0)]).into_owned();
    let verdict = crate::kernel::verifier::verdict(&text).unwrap_or_else(|| err.to_string());
    if std::env::var_os("TRACER_PROBE_LOG").is_some() {
        // Debugging a probe on a new kernel: its whole verifier log.
        crate::say!("tracer: probe on {tracepoint} refused ({err}):\n{text}");
    }
    Err(verdict)
}

/// Whether a program's run can start on a CPU where that same program is
/// mid-run (it "nests"), and what the kernel does then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    /// The kernel runs the nested run (before 6.1): nothing to rescue.
    Runs,
    /// The kernel skips it (6.1+, counting it in the program's
    /// `recursion_misses`), but tracepoints run with preemption off, so only
    /// an interrupt could nest; the one tracepoint here that fires in
    /// interrupts, `signal_generate`, runs with them off. No rescues.
    Skipped,
    /// The kernel skips it, and tracepoints run preemptible (7.x): a task
    /// preempted mid-program makes the next task's run on that CPU nest.
    /// `rt`: PREEMPT_RT, whose spinlocks do not disable preemption.
    SkippedPreemptible { rt: bool },
}

impl Nesting {
    /// Whether `kind`'s program needs rescue programs on this kernel.
    pub fn needs_rescues(self, kind: EventKind) -> bool {
        match self {
            Nesting::Runs | Nesting::Skipped => false,
            Nesting::SkippedPreemptible { rt } => rt || kind.preemptible_tracepoint(),
        }
    }

    fn note(self) -> String {
        match self {
            Nesting::Runs => "the kernel runs a program nested in itself on one CPU: \
                              no rescue programs"
                .into(),
            Nesting::Skipped => "the kernel would skip a program's run nested in itself on \
                                 one CPU, but tracepoints run with preemption off and \
                                 signal_generate with interrupts off: no rescue programs"
                .into(),
            Nesting::SkippedPreemptible { rt } => {
                let which: Vec<&str> = EventKind::TRACED
                    .into_iter()
                    .filter(|&k| self.needs_rescues(k))
                    .map(|k| k.program())
                    .collect();
                format!(
                    "the kernel skips a program's run nested in itself on one CPU, and runs \
                     tracepoints preemptible{}: two rescue programs each for {}",
                    if rt { " (PREEMPT_RT)" } else { "" },
                    which.join(", ")
                )
            }
        }
    }
}

/// Reads [`Nesting`] from the kernel's BTF and release. The check came
/// with `bpf_prog_inc_misses_counter`. Preemptible tracepoints came after
/// 6.18 with SRCU-fast protection (`tracepoint_srcu`, whose per-CPU data
/// BTF lists; 7.3.4 has it); 6.1 to 6.12 also had a `tracepoint_srcu`,
/// for unregistering only (removed in 6.13), so the release tells the two
/// apart. A
/// PREEMPT_RT `spinlock` wraps an rt_mutex, not an `rlock`.
fn nesting(btf: &Btf<'_>) -> Nesting {
    nesting_of(
        btf.has_function("bpf_prog_inc_misses_counter"),
        btf.has_variable("tracepoint_srcu_srcu_data"),
        btf.member_offset("spinlock", &["rlock"]).is_err(),
        kernel_release(),
    )
}

fn nesting_of(skips: bool, tracepoint_srcu: bool, rt: bool, release: (u32, u32)) -> Nesting {
    if !skips {
        Nesting::Runs
    } else if tracepoint_srcu && release >= (6, 13) {
        Nesting::SkippedPreemptible { rt }
    } else {
        Nesting::Skipped
    }
}

/// The running kernel's (major, minor), from uname; (0, 0) if unreadable,
/// which reads as an older kernel.
fn kernel_release() -> (u32, u32) {
    // SAFETY: uname fills the struct we own; zeroed is a valid utsname.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return (0, 0);
    }
    let release: Vec<u8> = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    parse_release(&String::from_utf8_lossy(&release))
}

/// "7.3.4+deb13-cloud-amd64" -> (7, 3).
fn parse_release(release: &str) -> (u32, u32) {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescues_go_only_where_programs_nest() {
        for kind in EventKind::TRACED {
            assert!(!Nesting::Runs.needs_rescues(kind));
            assert!(!Nesting::Skipped.needs_rescues(kind));
            assert!(Nesting::SkippedPreemptible { rt: true }.needs_rescues(kind));
        }
        let preemptible = Nesting::SkippedPreemptible { rt: false };
        let rescued: Vec<&str> = EventKind::TRACED
            .into_iter()
            .filter(|&k| preemptible.needs_rescues(k))
            .map(|k| k.program())
            .collect();
        assert_eq!(
            rescued,
            [
                "task_newtask",
                "sched_process_exec",
                "sched_process_exit",
                "task_rename",
                "workqueue_execute_start",
                "sys_exit"
            ]
        );
    }

    #[test]
    fn preemptible_only_with_srcu_tracepoints_past_6_12() {
        assert_eq!(nesting_of(false, true, false, (7, 3)), Nesting::Runs);
        // 6.1 and 6.12 had a tracepoint_srcu for unregistering only.
        assert_eq!(nesting_of(true, true, false, (6, 1)), Nesting::Skipped);
        assert_eq!(nesting_of(true, true, false, (6, 12)), Nesting::Skipped);
        assert_eq!(nesting_of(true, false, false, (6, 18)), Nesting::Skipped);
        assert_eq!(
            nesting_of(true, true, false, (7, 3)),
            Nesting::SkippedPreemptible { rt: false }
        );
        assert_eq!(
            nesting_of(true, true, true, (6, 19)),
            Nesting::SkippedPreemptible { rt: true }
        );
    }

    #[test]
    fn reads_kernel_releases() {
        assert_eq!(parse_release("7.3.4+deb13-cloud-amd64"), (7, 3));
        assert_eq!(parse_release("6.18.44-fc-v1272"), (6, 18));
        assert_eq!(parse_release("5.10.0-32-cloud-amd64"), (5, 10));
        assert_eq!(parse_release(""), (0, 0));
    }
}
