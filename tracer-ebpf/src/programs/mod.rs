//! One program per tracepoint. All are `tp_btf` programs: they need no
//! tracefs and receive the tracepoint's raw arguments (typed pointers),
//! which keeps them independent of the classic tracepoint record layouts.

mod exec;
mod exit;
mod fork;
mod rename;
mod signal;

use aya_ebpf::helpers::{bpf_get_current_pid_tgid, bpf_get_current_task_btf};

use crate::kread::{self, offset};

/// The running task's `task_struct`, as a BTF-typed pointer (so fields can
/// be loaded directly; see `kread`).
#[inline(always)]
fn current_task() -> *const u8 {
    // SAFETY: a plain helper call; the result is only used with `kread`.
    unsafe { bpf_get_current_task_btf() as *const u8 }
}

/// Whether the current task has `pid` as its pid or tgid.
#[inline(always)]
fn current_is(pid: u32) -> bool {
    let id = bpf_get_current_pid_tgid();
    id as u32 == pid || (id >> 32) as u32 == pid
}

/// Whether `task` has `pid` as its pid or tgid.
#[inline(always)]
fn task_is(task: *const u8, pid: u32) -> bool {
    kread::field::<u32>(task, offset!(task_pid)) == pid
        || kread::field::<u32>(task, offset!(task_tgid)) == pid
}
