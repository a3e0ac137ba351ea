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
    emit, follow,
    globals::{self, offset},
    kread::{self, Kptr},
    task, throttle, umh,
};

/// The system call numbers of execve and execveat on x86-64, and their x32
/// ones (with `__X32_SYSCALL_BIT` cleared). The loader resolves the
/// registers (`pt_regs.orig_ax`, `.di`, `.si`) from BTF.
#[cfg(not(bpf_target_arch = "aarch64"))]
mod abi {
    pub(super) const EXECVE: [u64; 2] = [59, 520];
    pub(super) const EXECVEAT: [u64; 2] = [322, 545];
    pub(super) const X32_SYSCALL_BIT: u64 = 0x4000_0000;

    /// `orig_ax`: a full register.
    #[inline(always)]
    pub(super) fn nr(regs: crate::kread::Kptr, at: u32) -> u64 {
        regs.read::<u64>(at)
    }
}

/// arm64's generic numbers (asm-generic/unistd.h); no x32. The loader
/// resolves `pt_regs.syscallno` (an s32: the next field is not part of it),
/// `.orig_x0` (x0 holds the return value by now) and `.regs[1]` from BTF.
#[cfg(bpf_target_arch = "aarch64")]
mod abi {
    pub(super) const EXECVE: [u64; 2] = [221, 221];
    pub(super) const EXECVEAT: [u64; 2] = [281, 281];
    pub(super) const X32_SYSCALL_BIT: u64 = 0;

    /// `syscallno`: 32 bits (the field after it is not part of it).
    #[inline(always)]
    pub(super) fn nr(regs: crate::kread::Kptr, at: u32) -> u64 {
        u64::from(regs.read::<u32>(at))
    }
}

use abi::{EXECVE, EXECVEAT, X32_SYSCALL_BIT};

/// `thread_info.status` bit of a 32-bit (ia32) system call, whose numbers
/// and argument registers differ: those are not reported. (arm64's
/// thread_info has no `status`: there the check is left out.)
const TS_COMPAT: u32 = 0x0002;

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
    let nr: u64 = abi::nr(regs, nr_at) & !X32_SYSCALL_BIT;
    let (source, path_at) = if nr == EXECVE[0] || nr == EXECVE[1] {
        (EXEC_FROM_EXECVE, offset!(regs_arg0))
    } else if nr == EXECVEAT[0] || nr == EXECVEAT[1] {
        (EXEC_FROM_EXECVEAT, offset!(regs_arg1))
    } else {
        return 0;
    };
    let features = globals::features();
    let current = super::current_task(&features);
    let status_at = offset!(task_ti_status);
    if status_at != KernelOffsets::ABSENT && current.read::<u32>(status_at) & TS_COMPAT != 0 {
        return 0;
    }
    super::refuse_if_asked(&features, EventKind::ExecFailed);
    if follow::drops(super::current_tgid) {
        return 0;
    }
    // The task kept its image, so the path pointer is still its own.
    let path = regs.read::<u64>(path_at) as *const u8;
    if !throttle::admits(
        EventKind::ExecFailed,
        throttle::uid_of(current),
        current,
        || umh::is_helper(super::current_tgid()),
    ) {
        return 0;
    }
    let Some(mut entry) = emit::reserve::<ExecFailedEvent>() else {
        return 0;
    };
    let ev = emit::body(&mut entry);
    task::fill(&mut ev.task, current);
    ev.errno = (-ret) as i32;
    ev.source = source;
    // SAFETY: a fault-tolerant copy bounded by the buffer's length.
    let len =
        unsafe { bpf_probe_read_user_str_bytes(path, &mut ev.filename) }.map_or(0, |s| s.len());
    ev.filename_len = len as u16;
    // A full buffer is a cut unless the path ends exactly there.
    ev.filename_truncated =
        u8::from(len == FILENAME_LEN - 1 && kread::user_byte(path, FILENAME_LEN - 1) != 0);
    emit::submit(entry);
    0
}
