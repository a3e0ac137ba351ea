//! One program per tracepoint. All are `tp_btf` programs: they need no
//! tracefs and receive the tracepoint's raw arguments (typed pointers),
//! which keeps them independent of the classic tracepoint record layouts.

mod exec;
mod exit;
mod fork;
mod rename;
mod signal;

use aya_ebpf::helpers::bpf_get_current_task;

/// The running task's `task_struct`.
#[inline(always)]
fn current_task() -> *const u8 {
    // SAFETY: a plain helper call; the result is only used as an address for
    // fault-tolerant reads.
    unsafe { bpf_get_current_task() as *const u8 }
}
