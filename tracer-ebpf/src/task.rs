//! Snapshot of one `task_struct` into a [`TaskInfo`].

use tracer_common::TaskInfo;

use crate::kread::{self, offset};

/// Fills `dst` from the `task_struct` at `task` (a BTF-typed pointer).
/// Writes every byte of `dst`: ring-buffer memory is not zeroed and must not
/// leak stale data.
#[inline(always)]
pub fn fill(dst: &mut TaskInfo, task: *const u8) {
    dst.start_boottime = kread::field(task, offset!(task_start_boottime));
    dst.pid = kread::field(task, offset!(task_pid));
    dst.tgid = kread::field(task, offset!(task_tgid));
    let parent: *const u8 = kread::field(task, offset!(task_real_parent));
    dst.ppid = if parent.is_null() {
        0
    } else {
        kread::field(parent, offset!(task_tgid))
    };
    dst.flags = kread::field(task, offset!(task_flags));
    let comm: [u64; 2] = kread::field(task, offset!(task_comm));
    // SAFETY: [u64; 2] and [u8; 16] have the same size, any bits are valid.
    dst.comm = unsafe { core::mem::transmute::<[u64; 2], [u8; 16]>(comm) };
    let mm: *const u8 = kread::field(task, offset!(task_mm));
    dst.has_mm = u8::from(!mm.is_null());
    dst._pad = [0; 7];
}
