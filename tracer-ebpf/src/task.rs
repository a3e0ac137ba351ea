//! Snapshot of one `task_struct` into a [`TaskInfo`].

use tracer_common::{KernelOffsets, TaskInfo};

use crate::kread;

/// Fills `dst` from the `task_struct` at `task`. Writes every byte of `dst`
/// (ring-buffer memory is not zeroed and must not leak stale data).
#[inline(always)]
pub fn fill(dst: &mut TaskInfo, task: *const u8, o: &KernelOffsets) {
    dst.start_boottime = kread::field(task, o.task_start_boottime);
    dst.pid = kread::field(task, o.task_pid);
    dst.tgid = kread::field(task, o.task_tgid);
    let parent: *const u8 = kread::field::<usize>(task, o.task_real_parent) as *const u8;
    dst.ppid = if parent.is_null() {
        0
    } else {
        kread::field(parent, o.task_tgid)
    };
    dst.flags = kread::field(task, o.task_flags);
    kread::bytes(task, o.task_comm, &mut dst.comm);
    dst.has_mm = (kread::field::<usize>(task, o.task_mm) != 0) as u8;
    dst._pad = [0; 7];
}
