//! Snapshot of one `task_struct` into a [`TaskInfo`].

use tracer_common::TaskInfo;

use crate::kread::{offset, Kptr};

/// Fills `dst` from the `task_struct` at `task`.
/// Writes every byte of `dst`: ring-buffer memory is not zeroed and must not
/// leak stale data.
#[inline(always)]
pub fn fill(dst: &mut TaskInfo, task: Kptr) {
    dst.start_boottime = task.read(offset!(task_start_boottime));
    dst.pid = task.read(offset!(task_pid));
    dst.tgid = task.read(offset!(task_tgid));
    let parent = task.ptr(offset!(task_real_parent));
    dst.ppid = if parent.is_null() {
        0
    } else {
        parent.read(offset!(task_tgid))
    };
    dst.flags = task.read(offset!(task_flags));
    let comm: [u64; 2] = task.read(offset!(task_comm));
    // SAFETY: [u64; 2] and [u8; 16] have the same size, any bits are valid.
    dst.comm = unsafe { core::mem::transmute::<[u64; 2], [u8; 16]>(comm) };
    dst.has_mm = u8::from(!task.ptr(offset!(task_mm)).is_null());
    dst._pad = [0; 7];
}
