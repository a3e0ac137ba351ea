//! Counting a bench storm's own events (hidden `--bench-comm NAME`), so
//! `cargo xtask bench --parallel` can check that every event the storm
//! made was either recorded or counted lost, while the rest of the machine
//! goes on making events of its own.
//!
//! The storm's processes are the thread groups seen named NAME (creating a
//! task, exec'ing, sending a signal). Its events are: the tasks they create
//! (`fork`), their children's `exec` and `exit`, and the signals they send
//! themselves (`signal_generate`). The workload's own exec and exit, and the
//! SIGCHLDs of its children, are not part of the storm.

use std::{collections::HashSet, mem::offset_of};

use tracer_common::{
    read_plain, EventKind, ExecEvent, ExitEvent, ForkEvent, Header, SignalGenerateEvent, TaskInfo,
    COMM_LEN,
};

pub struct StormCount {
    comm: [u8; COMM_LEN],
    tgids: HashSet<u32>,
    /// Storm events seen, by kind tag.
    pub by_kind: [u64; EventKind::COUNTERS as usize],
}

fn task_at(raw: &[u8], off: usize) -> Option<TaskInfo> {
    read_plain(raw.get(off..)?)
}

impl StormCount {
    pub fn new(comm: &str) -> StormCount {
        let mut padded = [0u8; COMM_LEN];
        let n = comm.len().min(COMM_LEN - 1);
        padded[..n].copy_from_slice(&comm.as_bytes()[..n]);
        StormCount {
            comm: padded,
            tgids: HashSet::new(),
            by_kind: [0; EventKind::COUNTERS as usize],
        }
    }

    /// Notes `task` as a storm process if it has the storm's name (when it
    /// creates a task or execs: its children, named so too, do neither);
    /// whether it is one.
    fn note(&mut self, task: &TaskInfo) -> bool {
        if task.comm == self.comm {
            self.tgids.insert(task.tgid);
            return true;
        }
        false
    }

    /// One record, in time order.
    pub fn observe(&mut self, raw: &[u8]) {
        let Some(kind) = Header::peek_kind(raw) else {
            return;
        };
        let counted = match kind {
            EventKind::Fork => {
                task_at(raw, offset_of!(ForkEvent, creator)).is_some_and(|t| self.note(&t))
            }
            EventKind::Exec => task_at(raw, offset_of!(ExecEvent, task)).is_some_and(|t| {
                // The workload's own exec names it; a child's exec counts.
                !self.note(&t) && self.tgids.contains(&t.ppid)
            }),
            EventKind::Exit => task_at(raw, offset_of!(ExitEvent, task))
                .is_some_and(|t| self.tgids.contains(&t.ppid)),
            EventKind::SignalGenerate => {
                let sender = task_at(raw, offset_of!(SignalGenerateEvent, sender));
                let target = task_at(raw, offset_of!(SignalGenerateEvent, target));
                match (sender, target) {
                    (Some(s), Some(t)) => s.comm == self.comm && s.tgid == t.tgid,
                    _ => false,
                }
            }
            EventKind::SignalDeliver
            | EventKind::Rename
            | EventKind::HelperRequest
            | EventKind::ExecFailed
            | EventKind::Throttle
            | EventKind::Kthread => false,
        };
        if counted {
            let n = &mut self.by_kind[usize::from(kind.tag())];
            *n = n.saturating_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use tracer_common::{Plain, FORMAT_VERSION};

    use super::*;

    fn bytes<T: Plain>(v: &T) -> Vec<u8> {
        // SAFETY: T is Plain (repr(C), no implicit padding), so all of its
        // bytes are initialized.
        unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
    }

    fn task(tgid: u32, ppid: u32, comm: &str) -> TaskInfo {
        let mut c = [0u8; COMM_LEN];
        c[..comm.len()].copy_from_slice(comm.as_bytes());
        TaskInfo {
            start_boottime: 1,
            pid: tgid,
            tgid,
            ppid,
            flags: 0,
            comm: c,
            has_mm: 1,
            _pad: [0; 7],
            uid: 0,
            gid: 0,
            cgroup_id: 0,
            pidns_inum: 0,
            ns_pid: 0,
            mntns_inum: 0,
            context: 0,
        }
    }

    fn header(kind: EventKind) -> Header {
        Header {
            version: FORMAT_VERSION,
            ..Header::new(kind, 0, 1)
        }
    }

    fn fork(creator: TaskInfo, child: TaskInfo) -> Vec<u8> {
        bytes(&ForkEvent {
            header: header(EventKind::Fork),
            creator,
            child,
            clone_flags: 0,
        })
    }

    fn exit(t: TaskInfo) -> Vec<u8> {
        bytes(&ExitEvent {
            header: header(EventKind::Exit),
            task: t,
            exit_code: 0,
            group_dead: 1,
            _pad: [0; 3],
        })
    }

    fn signal(sender: TaskInfo, target: TaskInfo) -> Vec<u8> {
        bytes(&SignalGenerateEvent {
            header: header(EventKind::SignalGenerate),
            sender,
            target,
            sig: 23,
            errno: 0,
            code: 0,
            group: 1,
            result: 1,
            sender_uid: 0,
        })
    }

    #[test]
    fn counts_the_storm_and_nothing_else() {
        let mut c = StormCount::new("workload");
        let wl = task(100, 50, "workload");
        let child = task(101, 100, "workload");
        let other = task(200, 1, "bash");
        // The bench starting the workload: not the storm.
        c.observe(&fork(task(50, 1, "xtask"), task(100, 50, "xtask")));
        c.observe(&fork(wl, child));
        c.observe(&exit(child));
        c.observe(&signal(child, wl)); // SIGCHLD: not the storm
        c.observe(&signal(wl, wl));
        c.observe(&signal(other, other));
        c.observe(&fork(other, task(201, 200, "bash")));
        c.observe(&exit(task(201, 200, "bash")));
        c.observe(&exit(wl)); // the workload itself
        let n = |k: EventKind| c.by_kind[usize::from(k.tag())];
        assert_eq!(n(EventKind::Fork), 1);
        assert_eq!(n(EventKind::Exit), 1);
        assert_eq!(n(EventKind::SignalGenerate), 1);
        c.observe(&[1, 0]);
    }
}
