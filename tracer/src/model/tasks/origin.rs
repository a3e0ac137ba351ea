//! Lineage and helper standing of a new task: the one rule, from the task
//! that made it.

use super::entry::{Entry, Origin, UNKNOWN_ORIGIN};
use crate::model::{
    classify::{HelperStanding, Lineage},
    event::Task,
    flags::PF_KTHREAD,
};

/// The task that made a new one, as the table knows it: the creator of a
/// fork seen live, else the real parent.
pub(super) struct Maker {
    pub(super) pid: u32,
    pub(super) flags: u32,
    pub(super) origin: Origin,
    /// Seen forking it live, not only named as its parent.
    pub(super) forked: bool,
}

impl Maker {
    /// The creator of a live fork, with its entry if the table has one.
    pub(super) fn creator(c: &Task, e: Option<&Entry>) -> Maker {
        Maker {
            pid: c.pid,
            flags: c.flags,
            origin: e.map_or(UNKNOWN_ORIGIN, Entry::origin),
            forked: true,
        }
    }

    pub(super) fn parent(e: &Entry) -> Maker {
        Maker {
            pid: e.pid,
            flags: e.flags,
            origin: e.origin(),
            forked: false,
        }
    }

    /// A parent the table has no entry for: its pid alone.
    pub(super) fn unknown_parent(pid: u32) -> Maker {
        Maker {
            pid,
            flags: 0,
            origin: UNKNOWN_ORIGIN,
            forked: false,
        }
    }
}

/// A task's origin, the one rule for snapshot entries (made by their
/// parent), live forks (by their creator) and tasks first seen later (by
/// their parent, as far as the table knows it). `leader` is a thread's
/// process's origin; `maker` is asked only where the origin depends on it.
pub(super) fn origin(
    pid: u32,
    ppid: u32,
    flags: u32,
    leader: Option<Origin>,
    maker: impl FnOnce() -> Maker,
) -> Origin {
    if let Some(leader) = leader {
        // A thread shares its process's origin.
        return leader;
    }
    if pid == 2 {
        return (Lineage::Kthreadd, HelperStanding::No);
    }
    if pid <= 1 || ppid == 0 {
        // init, or another child of the idle task: no kthreadd behind it.
        return (Lineage::No, HelperStanding::No);
    }
    let maker = maker();
    let lineage = if ppid == 2 || (maker.forked && maker.flags & PF_KTHREAD != 0) {
        // kthreadd's child, or a kworker seen making a helper. (A parent
        // link alone defers to the parent's lineage.)
        Lineage::Yes
    } else {
        Lineage::child_of(maker.pid, maker.origin.0)
    };
    let helper = helper_standing(flags, maker.flags, maker.pid, maker.origin.1);
    (lineage, helper)
}

/// Helper standing of a new task, by the rule the kernel side applies too.
fn helper_standing(
    flags: u32,
    creator_flags: u32,
    creator_pid: u32,
    creator_standing: HelperStanding,
) -> HelperStanding {
    match tracer_common::pf::helper_mark(
        flags,
        creator_flags,
        creator_pid,
        creator_standing != HelperStanding::No,
    ) {
        tracer_common::HELPER_MARK => HelperStanding::Helper,
        tracer_common::HELPER_CHILD_MARK => HelperStanding::Child,
        _ => HelperStanding::No,
    }
}
