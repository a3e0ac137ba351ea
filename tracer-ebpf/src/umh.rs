//! Which thread groups are user-mode helpers or their descendants, kept in
//! kernel so the default signal filter can keep their signals while
//! dropping those between ordinary user processes.
//!
//! A helper is a task without PF_KTHREAD (nor a worker bit) made by a kernel
//! thread (a kworker running call_usermodehelper, or kthreadd for
//! CLONE_PARENT helpers); its descendants inherit the mark. The loader seeds
//! the map with the helpers that already exist.

use aya_ebpf::{macros::map, maps::HashMap};
use tracer_common::{
    pf::{helper_mark, KERNEL_SIDE_FLAGS, PF_KTHREAD},
    HELPER_MAP_ENTRIES,
};

/// tgid → HELPER_MARK or HELPER_CHILD_MARK. Named as
/// `tracer_common::names::HELPER_TGIDS`; the loader sets its capacity.
#[map]
static HELPER_TGIDS: HashMap<u32, u32> = HashMap::with_max_entries(HELPER_MAP_ENTRIES, 0);

/// Records a new task's helper standing from its creator's. `Err` when the
/// map is full and a helper could not be marked.
#[inline(always)]
pub(crate) fn on_new_task(
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
    let may_inherit = !creator_is_kthread && child_flags & KERNEL_SIDE_FLAGS == 0;
    let mark = helper_mark(
        child_flags,
        creator_flags,
        creator_tgid,
        may_inherit && is_helper(creator_tgid),
    );
    if mark == 0 {
        return Ok(());
    }
    // A full map only loses the in-kernel filter's view of this helper;
    // userspace still classifies it from the fork event.
    HELPER_TGIDS.insert(child_tgid, mark, 0).map_err(|_| ())
}

/// Whether thread group `tgid` is a helper or a descendant of one.
#[inline(always)]
pub(crate) fn is_helper(tgid: u32) -> bool {
    // SAFETY: the value is only tested for presence, never held.
    unsafe { HELPER_TGIDS.get(tgid) }.is_some()
}

/// Forgets a thread group that died; says whether it was a helper's. The
/// lockless lookup first spares every ordinary exit the bucket lock a
/// delete takes.
#[inline(always)]
pub(crate) fn on_group_exit(tgid: u32) -> bool {
    if is_helper(tgid) {
        let _ = HELPER_TGIDS.remove(tgid);
        return true;
    }
    false
}

/// Whether a task with these flags and tgid is kernel-side.
#[inline(always)]
pub(crate) fn kernel_side(flags: u32, tgid: u32) -> bool {
    flags & KERNEL_SIDE_FLAGS != 0 || is_helper(tgid)
}
