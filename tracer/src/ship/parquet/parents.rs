//! The start time of each process the stream has named, by its tgid: what
//! a row needs to give its subject's parent a task id (`ppid` is the
//! parent process's tgid, and a process's id is its leader's).
//!
//! Kept here rather than asked of the task table, which taps do not see.
//! Bounded by the pid space: a reused pid replaces its entry.

use std::collections::HashMap;

use crate::model::{
    event::{Event, Task},
    procfs::ProcTask,
};

pub(super) struct Parents {
    starts: HashMap<u32, u64>,
    ns_per_tick: u64,
}

impl Parents {
    pub(super) fn new(ns_per_tick: u64) -> Parents {
        Parents {
            starts: HashMap::new(),
            ns_per_tick,
        }
    }

    /// The leaders of a start-up snapshot (tick precision: the ids agree).
    pub(super) fn snapshot(&mut self, tasks: &[ProcTask]) {
        for t in tasks.iter().filter(|t| t.pid == t.tgid) {
            self.starts
                .insert(t.pid, t.start_ticks.saturating_mul(self.ns_per_tick));
        }
    }

    /// The processes an event names. An exec by a thread makes it the
    /// leader with the leader's start, as the kernel does.
    pub(super) fn note(&mut self, event: &Event) {
        let mut leader = |t: &Task| {
            if t.pid == t.tgid {
                self.starts.insert(t.pid, t.start_ns);
            }
        };
        leader(event.subject());
        if let Some(other) = event.other() {
            leader(other);
        }
    }

    /// Boot-clock start of process `tgid`, if the stream named it.
    pub(super) fn start_of(&self, tgid: u32) -> Option<u64> {
        self.starts.get(&tgid).copied()
    }
}
