//! Task ids and ancestry: what the table adds to an event so that every
//! task it names can be told apart across boots and hosts
//! ([`crate::model::task_id`]), and so that "what started this" needs no
//! recursive join over a whole log (`--ancestors N`).

use super::{Entry, TaskTable};
use crate::model::{
    classify::Kind,
    event::Task,
    task_id::{BootKey, TaskId, TaskIds},
};

/// Ancestry kept at most: deeper than any real process tree is useful.
pub const MAX_ANCESTORS: usize = 64;

/// Ancestors an OTLP stream names by default: "what started this" in one
/// record, at a cost the OTLP rate allows (docs/benchmarks.md).
pub const OTLP_ANCESTORS: usize = 4;

/// One generation above a task, as the table knew it at the event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ancestor {
    pub task_id: TaskId,
    pub pid: u32,
    /// Shared with the table entry (cheap to copy into every event).
    pub comm: std::sync::Arc<str>,
    pub kind: Kind,
}

/// The ids of one event's tasks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ids {
    /// Names any task of the event (its creator, sender, requester too).
    pub namer: TaskIds,
    /// The subject's parent (the task its `ppid` names), when known.
    pub parent: Option<TaskId>,
    /// The subject's ancestors, parent first, where the table keeps them
    /// (`None`: not asked for; empty: none known).
    pub ancestors: Option<Vec<Ancestor>>,
}

impl Ids {
    /// The id of a task of this event.
    pub fn of(&self, t: &Task) -> TaskId {
        self.namer.of(t)
    }
}

impl TaskTable {
    /// Names this table's tasks as tasks of boot `boot` (a log header's
    /// machine and boot id, or the running boot's).
    pub fn identify(&mut self, boot: BootKey) {
        self.ids = TaskIds {
            boot,
            ns_per_tick: self.ns_per_tick,
        };
    }

    /// Every annotation carries up to `n` ancestors of its subject (at
    /// most [`MAX_ANCESTORS`]); 0, the default, none.
    pub fn keep_ancestors(&mut self, n: usize) {
        self.ancestry = n.min(MAX_ANCESTORS);
    }

    /// How this table names its tasks.
    pub fn ids(&self) -> TaskIds {
        self.ids
    }

    /// The id of a task of the table.
    pub fn task_id(&self, e: &Entry) -> TaskId {
        self.ids.of_start(e.pid, e.start_ns)
    }

    /// The live task `pid`, if it is old enough to have made a task that
    /// started at `born_ns`: a pid reused since is not the parent.
    fn maker(&self, pid: u32, born_ns: u64) -> Option<&Entry> {
        let tick = self.ns_per_tick;
        self.live
            .get(&pid)
            .filter(|e| e.start_ns / tick <= born_ns / tick)
    }

    /// The id of the parent `ppid` of a task that started at `born_ns`.
    pub fn parent_id(&self, ppid: u32, born_ns: u64) -> Option<TaskId> {
        self.maker(ppid, born_ns).map(|e| self.task_id(e))
    }

    /// Up to `n` generations above a task whose parent is `ppid` and that
    /// started at `born_ns`, parent first: each a live task of the table,
    /// each its child's parent by the pid the table last saw (an event's
    /// `ppid`, or the snapshot's). The chain ends at the first unknown
    /// parent (pid 0 above init and kthreadd, or a task gone from the
    /// table). The Parquet writer and the outputs share this one walk.
    pub fn ancestors(&self, ppid: u32, born_ns: u64, n: usize) -> Vec<Ancestor> {
        let mut chain = Vec::new();
        let (mut pid, mut born) = (ppid, born_ns);
        while chain.len() < n.min(MAX_ANCESTORS) {
            let Some(e) = self.maker(pid, born) else {
                break;
            };
            chain.push(Ancestor {
                task_id: self.task_id(e),
                pid: e.pid,
                comm: e.comm.clone(),
                kind: e.kind(),
            });
            (pid, born) = (e.ppid, e.start_ns);
        }
        chain
    }

    /// The ids of an event whose subject is `t`, as the table stands after
    /// applying it.
    pub(super) fn ids_of(&self, t: &Task) -> Ids {
        Ids {
            namer: self.ids,
            parent: self.parent_id(t.ppid, t.start_ns),
            ancestors: (self.ancestry > 0)
                .then(|| self.ancestors(t.ppid, t.start_ns, self.ancestry)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        event::{Event, Record},
        procfs::ProcTask,
    };

    const USER: u32 = 0x400100;

    fn proc(pid: u32, ppid: u32, comm: &str, start_ticks: u64) -> ProcTask {
        ProcTask {
            pid,
            tgid: pid,
            ppid,
            flags: USER,
            comm: comm.into(),
            start_ticks,
            state: 'S',
            has_mm: true,
            kthread_line: Some(false),
            cgroup: Some("/user.slice".into()),
            argv: vec![comm.into()],
        }
    }

    fn task(pid: u32, ppid: u32, comm: &str, start_ns: u64) -> Task {
        Task {
            pid,
            tgid: pid,
            ppid,
            flags: USER,
            has_mm: true,
            comm: comm.into(),
            start_ns,
            context: None,
        }
    }

    /// init → sshd → bash (pid 300), at 100 ticks a second, of boot "b" of
    /// machine "m".
    fn table() -> TaskTable {
        let snapshot = vec![
            proc(1, 0, "systemd", 1),
            proc(200, 1, "sshd", 20),
            proc(300, 200, "bash", 30),
        ];
        let mut t = TaskTable::from_snapshot(snapshot, Some("/init.scope"), 100);
        t.identify(BootKey::new("m", "b"));
        t
    }

    fn fork(t: &mut TaskTable, child: Task) -> crate::model::tasks::Annotation {
        let creator = task(child.ppid, 1, "bash", 300_000_000);
        t.apply(&Record {
            boot_ns: child.start_ns,
            cpu: 0,
            event: Event::Fork {
                creator,
                child,
                clone_flags: 0,
            },
        })
    }

    #[test]
    fn events_name_the_parent_and_ancestors_by_task_id() {
        let mut t = table();
        t.keep_ancestors(2);
        let key = BootKey::new("m", "b");
        let a = fork(&mut t, task(400, 300, "make", 40_123_456_789));
        // Snapshot ticks and exact nanoseconds name the same tasks.
        assert_eq!(
            a.ids.of(&task(400, 300, "make", 40_123_456_789)),
            key.task(4012, 400)
        );
        assert_eq!(a.ids.parent, Some(key.task(30, 300)));
        let chain = a.ids.ancestors.expect("asked for");
        let got: Vec<_> = chain.iter().map(|a| (a.task_id, a.pid, &*a.comm)).collect();
        assert_eq!(
            got,
            [
                (key.task(30, 300), 300, "bash"),
                (key.task(20, 200), 200, "sshd")
            ]
        );
        assert_eq!(chain[0].kind, Kind::User);
        // Deeper than the tree: it ends above init.
        assert_eq!(t.ancestors(300, 30 * 10_000_000, 10).len(), 3);
    }

    #[test]
    fn no_ancestors_unless_asked_and_no_parent_by_a_reused_pid() {
        let mut t = table();
        let a = fork(&mut t, task(400, 300, "make", 40_000_000_000));
        assert_eq!(a.ids.ancestors, None);
        // A task older than pid 300's current holder: its parent had that
        // pid before, and is gone.
        let old = task(401, 300, "old", 29 * 10_000_000);
        assert_eq!(t.parent_id(old.ppid, old.start_ns), None);
        assert!(t.ancestors(old.ppid, old.start_ns, 4).is_empty());
        // A bound on a crafted depth.
        t.keep_ancestors(usize::MAX);
        assert_eq!(t.ancestry, MAX_ANCESTORS);
    }
}
