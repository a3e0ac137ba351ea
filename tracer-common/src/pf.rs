//! `task->flags` bits (include/linux/sched.h; the same from 6.1 to 6.18,
//! PF_USER_WORKER since 6.4), and the helper-lineage rule both sides apply.

pub const PF_EXITING: u32 = 0x4;
pub const PF_IO_WORKER: u32 = 0x10;
pub const PF_WQ_WORKER: u32 = 0x20;
pub const PF_USER_WORKER: u32 = 0x4000;
pub const PF_KTHREAD: u32 = 0x0020_0000;

/// Flags that make a task kernel-side by themselves.
pub const KERNEL_SIDE_FLAGS: u32 = PF_KTHREAD | PF_IO_WORKER | PF_USER_WORKER;

/// Helper standing of a new task (a [`crate::LINEAGE_UMH`] /
/// [`crate::LINEAGE_UMH_CHILD`] mark, or 0): not a kernel thread or worker,
/// and made by a kernel thread (a kworker, or kthreadd for CLONE_PARENT
/// helpers) → a user-mode helper; made by a helper or its descendant → a
/// descendant.
pub const fn helper_mark(
    child_flags: u32,
    creator_is_kthread: bool,
    creator_in_lineage: bool,
) -> u32 {
    if child_flags & KERNEL_SIDE_FLAGS != 0 {
        0
    } else if creator_is_kthread {
        crate::LINEAGE_UMH
    } else if creator_in_lineage {
        crate::LINEAGE_UMH_CHILD
    } else {
        0
    }
}
