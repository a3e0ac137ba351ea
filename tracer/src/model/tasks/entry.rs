//! A task as the table holds it: what events and procfs said of it, and
//! how it came to be.

use crate::model::{
    classify::{self, Facts, HelperStanding, Kind, Lineage},
    event::{HelperRequest, Task},
    kthreads::KthreadInfo,
    procfs::ProcTask,
    task_id::TaskId,
};

/// Lineage and helper standing: how a task came to be.
pub(super) type Origin = (Lineage, HelperStanding);

/// Where nothing is known of how a task came to be.
pub(super) const UNKNOWN_ORIGIN: Origin = (Lineage::Unknown, HelperStanding::No);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub pid: u32,
    pub tgid: u32,
    pub ppid: u32,
    pub start_ns: u64,
    /// False for snapshot entries, whose start time has clock-tick precision.
    pub start_exact: bool,
    pub flags: u32,
    pub has_mm: bool,
    /// Shared: every event naming it as an ancestor holds this one copy.
    pub comm: std::sync::Arc<str>,
    pub lineage: Lineage,
    pub helper: HelperStanding,
    pub root_cgroup: Option<bool>,
    pub kthread_line: Option<bool>,
    /// Pid and comm of the task that created it, when seen live.
    pub creator: Option<(u32, Box<str>)>,
    /// Its creator's task id, when seen live.
    pub creator_id: Option<TaskId>,
    /// The last signal queued for it (or its group), if any.
    pub killer: Option<Box<Killer>>,
    pub filename: Option<Box<str>>,
    pub argv: Option<Box<[String]>>,
    /// Its birth was seen (a fork event), so a missing exec means none
    /// succeeded; with the exec records lost by then (see
    /// `TaskTable::note_lost`).
    pub born_seen: bool,
    pub exec_losses_at_birth: u64,
    /// For a user-mode helper: the request it ran for, when seen.
    pub request: Option<Box<HelperRequest>>,
    /// For a kernel thread kthreadd made while tracing: whom it was made
    /// for (procfs does not say).
    pub kthread: Option<Box<KthreadInfo>>,
}

impl Entry {
    /// A task as an event reports it: nothing yet known of its origin, its
    /// creator or its past.
    pub(super) fn new(t: &Task) -> Entry {
        Entry {
            pid: t.pid,
            tgid: t.tgid,
            ppid: t.ppid,
            start_ns: t.start_ns,
            start_exact: true,
            flags: t.flags,
            has_mm: t.has_mm,
            comm: t.comm.as_str().into(),
            lineage: Lineage::Unknown,
            helper: HelperStanding::No,
            root_cgroup: None,
            kthread_line: None,
            creator: None,
            creator_id: None,
            killer: None,
            filename: None,
            argv: None,
            born_seen: false,
            exec_losses_at_birth: 0,
            request: None,
            kthread: None,
        }
    }

    /// A task as a procfs snapshot reports it, its origin not yet resolved.
    pub(super) fn from_proc(t: ProcTask, ns_per_tick: u64) -> Entry {
        let seen = Task {
            pid: t.pid,
            tgid: t.tgid,
            ppid: t.ppid,
            flags: t.flags,
            has_mm: t.has_mm,
            comm: t.comm,
            start_ns: t.start_ticks.saturating_mul(ns_per_tick),
            context: None,
        };
        Entry {
            // Clock ticks: the start time is only good to the tick.
            start_exact: false,
            root_cgroup: t.cgroup.as_deref().map(|c| c == "/"),
            kthread_line: t.kthread_line,
            argv: (!t.argv.is_empty()).then(|| t.argv.into_boxed_slice()),
            ..Entry::new(&seen)
        }
    }

    /// Whether this is the task an event saw as `t`: same pid, same start
    /// (to the clock tick for snapshot entries, whose start time has no
    /// finer precision).
    pub(super) fn same_task(&self, t: &Task, ns_per_tick: u64) -> bool {
        self.pid == t.pid
            && if self.start_exact {
                self.start_ns == t.start_ns
            } else {
                self.start_ns / ns_per_tick == t.start_ns / ns_per_tick
            }
    }

    /// Its lineage and helper standing.
    pub(super) fn origin(&self) -> Origin {
        (self.lineage, self.helper)
    }

    pub fn facts(&self) -> Facts<'_> {
        Facts {
            pid: self.pid,
            flags: self.flags,
            has_mm: self.has_mm,
            comm: &self.comm,
            lineage: self.lineage,
            helper: self.helper,
            root_cgroup: self.root_cgroup,
            kthread_line: self.kthread_line,
        }
    }

    pub fn kind(&self) -> Kind {
        classify::kind(&self.facts())
    }
}

/// A signal generated for a task, kept until the task dies of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Killer {
    /// The sender's task id.
    pub task_id: TaskId,
    pub sig: i32,
    pub pid: u32,
    pub tgid: u32,
    pub comm: Box<str>,
    pub uid: u32,
    pub boot_ns: u64,
}
