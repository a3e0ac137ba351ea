//! Which thread groups are user-mode helpers or their descendants, kept in
//! kernel so the default signal filter can keep their signals while
//! dropping those between ordinary user processes.
//!
//! A helper is a task without PF_KTHREAD (nor a worker bit) made by a kernel
//! thread (a kworker running call_usermodehelper, or kthreadd for
//! CLONE_PARENT helpers); its descendants inherit the mark. The loader seeds
//! the map with the helpers that already exist.

use aya_ebpf::{macros::map, maps::HashMap};
use tracer_common::pf::{helper_mark, KERNEL_SIDE_FLAGS, PF_KTHREAD};

/// tgid → LINEAGE_UMH or LINEAGE_UMH_CHILD.
#[map]
static UMH_TGIDS: HashMap<u32, u32> = HashMap::with_max_entries(16384, 0);

/// Records a new task's helper standing from its creator's. `Err` when the
/// map is full and a helper could not be marked.
#[inline(always)]
pub fn on_new_task(
    creator_tgid: u32,
    creator_flags: u32,
    child_tgid: u32,
    child_flags: u32,
) -> Result<(), ()> {
    if child_tgid == creator_tgid {
        // A new thread shares its group's entry.
        return Ok(());
    }
    let creator_is_kthread = creator_flags & PF_KTHREAD != 0;
    // Only a user-side creator can hand down a helper mark (a map lookup,
    // spared on every fork by a kernel thread).
    let in_lineage = !creator_is_kthread && child_flags & KERNEL_SIDE_FLAGS == 0;
    let mark = helper_mark(
        child_flags,
        creator_flags,
        creator_tgid,
        in_lineage && is_umh(creator_tgid),
    );
    if mark == 0 {
        return Ok(());
    }
    // A full map only loses the in-kernel filter's view of this helper;
    // userspace still classifies it from the fork event.
    UMH_TGIDS.insert(child_tgid, mark, 0).map_err(|_| ())
}

#[inline(always)]
pub fn is_umh(tgid: u32) -> bool {
    // SAFETY: the value is only tested for presence, never held.
    unsafe { UMH_TGIDS.get(tgid) }.is_some()
}

/// Forgets a thread group that died. The lockless lookup first spares
/// every ordinary exit the bucket lock a delete takes.
#[inline(always)]
pub fn on_group_exit(tgid: u32) {
    if is_umh(tgid) {
        let _ = UMH_TGIDS.remove(tgid);
    }
}

/// Whether a task with these flags and tgid is kernel-side.
#[inline(always)]
pub fn kernel_side(flags: u32, tgid: u32) -> bool {
    flags & KERNEL_SIDE_FLAGS != 0 || is_umh(tgid)
}
