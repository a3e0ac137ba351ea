//! Execs that failed, from `sys_exit(struct pt_regs *regs, long ret)` (the
//! raw_syscalls tracepoint). The kernel has no tracepoint for a failed exec
//! (`sched_process_exec` fires only on success), and this machine's
//! kernels have no kprobes and refuse `fexit` programs, so this runs at
//! every system call's exit: loaded only with `--failed-execs`, and the
//! first thing it does is compare the call's number.

use aya_ebpf::{helpers::bpf_probe_read_user_str_bytes, programs::BtfTracePointContext};
use tracer_common::{
    EventKind, ExecFailedEvent, KernelOffsets, EXEC_FROM_EXECVE, EXEC_FROM_EXECVEAT, FILENAME_LEN,
};

use crate::{
    emit,
    kread::{self, offset, Kptr},
    task,
};

/// The system call numbers of execve and execveat on this target.
#[cfg(bpf_target_arch = "x86_64")]
const EXECVE: u64 = 59;
#[cfg(bpf_target_arch = "x86_64")]
const EXECVEAT: u64 = 322;
#[cfg(bpf_target_arch = "aarch64")]
const EXECVE: u64 = 221;
#[cfg(bpf_target_arch = "aarch64")]
const EXECVEAT: u64 = 281;

programs!(
    "sys_exit",
    EventKind::ExecFailed,
    sys_exit,
    exec_failed,
    1 => sys_exit_rescue1,
    2 => sys_exit_rescue2
);

#[inline(always)]
fn exec_failed(ctx: &BtfTracePointContext) -> i32 {
    let ret: i64 = ctx.arg(1);
    let nr_at = offset!(regs_syscall);
    if ret >= 0 || nr_at == KernelOffsets::ABSENT {
        return 0;
    }
    let regs = Kptr::btf(ctx.arg(0));
    let nr: u64 = regs.read(nr_at);
    let (source, path_at) = if nr == EXECVE {
        (EXEC_FROM_EXECVE, offset!(regs_arg0))
    } else if nr == EXECVEAT {
        (EXEC_FROM_EXECVEAT, offset!(regs_arg1))
    } else {
        return 0;
    };
    let features = kread::features();
    kread::refuse_if_asked(&features, EventKind::ExecFailed);
    // The task kept its image, so the path pointer is still its own.
    let path = regs.read::<u64>(path_at) as *const u8;
    let Some(mut entry) = emit::reserve::<ExecFailedEvent>() else {
        return 0;
    };
    let ev = emit::body(&mut entry);
    task::fill(&mut ev.task, super::current_task(&features));
    ev.errno = (-ret) as i32;
    ev.source = source;
    // SAFETY: a fault-tolerant copy bounded by the buffer's length.
    let len =
        unsafe { bpf_probe_read_user_str_bytes(path, &mut ev.filename) }.map_or(0, |s| s.len());
    ev.filename_len = len as u16;
    // A full buffer is a cut unless the path ends exactly there.
    ev.filename_truncated = u8::from(len == FILENAME_LEN - 1);
    emit::submit(entry);
    0
}
