//! Which thread groups a following session (`tracer trace -- CMD`,
//! `--follow PID`) follows, kept in kernel so every program drops the
//! events of other tasks before they cost a record.
//!
//! Userspace puts the command's pid (or PID and its descendants) in the
//! map before they can do anything worth seeing; `task_newtask` adds each
//! new thread group a followed task creates, so processes, threads and
//! io_uring workers (threads of the followed group) are all in. At a
//! group's end its entry turns [`FOLLOW_DEAD`] rather than going: the
//! exits of threads still on their way out pass too. Userspace sweeps dead
//! entries a second later, and a new thread group that reuses the number
//! outside the followed tree clears it at its fork.
//!
//! When the session does not follow, `FOLLOW` is 0 in frozen `.rodata`,
//! so the verifier drops every check here as dead code: no cost at all.

use aya_ebpf::{macros::map, maps::HashMap};
use tracer_common::{FOLLOW_DEAD, FOLLOW_LIVE, FOLLOW_MAP_ENTRIES};

/// tgid → FOLLOW_LIVE or FOLLOW_DEAD. Named as
/// `tracer_common::names::FOLLOWED`; the loader sets its capacity (one
/// entry when not following).
#[map]
static FOLLOWED: HashMap<u32, u32> = HashMap::with_max_entries(FOLLOW_MAP_ENTRIES, 0);

/// Whether the session follows a command or subtree.
#[inline(always)]
pub(crate) fn on() -> bool {
    crate::globals::follow()
}

/// Whether thread group `tgid` is followed (or its last threads are
/// exiting).
#[inline(always)]
fn followed(tgid: u32) -> bool {
    // SAFETY: the value is only tested for presence, never held.
    unsafe { FOLLOWED.get(tgid) }.is_some()
}

/// Whether an event about thread group `tgid()` is dropped: never, unless
/// the session follows and that group is not followed. (`tgid` runs only
/// when following: the kernel reads stay out of other sessions' programs.)
#[inline(always)]
pub(crate) fn drops(tgid: impl FnOnce() -> u32) -> bool {
    on() && !followed(tgid())
}

/// Whether an event about two thread groups (a signal's sender and
/// target) is dropped: when following and neither is followed.
#[inline(always)]
pub(crate) fn drops_both(a: impl FnOnce() -> u32, b: impl FnOnce() -> u32) -> bool {
    on() && !followed(a()) && !followed(b())
}

/// A new task: follows the child's group when its creator's is followed,
/// and says whether the fork event passes. `Err` when the map is full and
/// a followed child could not be added (its event still passes).
#[inline(always)]
pub(crate) fn on_new_task(creator_tgid: u32, child_tgid: u32) -> Result<bool, ()> {
    if !on() {
        return Ok(true);
    }
    if followed(creator_tgid) {
        if child_tgid != creator_tgid {
            FOLLOWED
                .insert(child_tgid, FOLLOW_LIVE, 0)
                .map_err(|_| ())?;
        }
        return Ok(true);
    }
    // A new thread group outside the tree that reuses a followed group's
    // number (one that ended less than a sweep ago) must not be followed.
    if child_tgid != creator_tgid && followed(child_tgid) {
        let _ = FOLLOWED.remove(child_tgid);
    }
    Ok(false)
}

/// A task exits: whether its exit event passes; marks its group dead when
/// `group_over`.
#[inline(always)]
pub(crate) fn on_exit(tgid: u32, group_over: bool) -> bool {
    if !on() {
        return true;
    }
    match FOLLOWED.get_ptr_mut(tgid) {
        Some(state) => {
            if group_over {
                // SAFETY: the pointer is the map's value slot for this key,
                // from the lookup; a u32 store cannot tear, and a racing
                // sweep from userspace at worst frees the slot, which the
                // map's RCU keeps valid for this program's run.
                unsafe { *state = FOLLOW_DEAD };
            }
            true
        }
        None => false,
    }
}
