//! Flow arrows: fresh ids, and the signals still on their way.
//!
//! Every flow here has exactly two ends: it starts on one event
//! (`flow_ids`) and is closed on another (`terminating_flow_ids`), so trace
//! processor pairs them without guessing and an id is never continued by a
//! later event. A fork's flow closes at once, on the child's first slice. A
//! signal's flow starts where it is generated and closes where it arrives:
//! at once on the target when the kernel did not queue it (ignored,
//! already pending, ...), else at the target's `signal_deliver` of that
//! signal, or at its exit (a fatal signal turns into a group exit, whose
//! threads show SIGKILL delivered, not the signal sent). Whatever is still
//! pending at the end of the log is closed there.

use std::collections::HashMap;

use crate::model::event::Task;

/// A queued signal not yet delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Pending {
    pub sig: i32,
    pub id: u64,
    /// The track of the task it was sent to (where it is closed at the end
    /// of the log).
    pub track: u64,
}

#[derive(Default)]
pub(super) struct Flows {
    last_id: u64,
    /// Thread-directed signals, by target pid.
    thread: HashMap<u32, Vec<Pending>>,
    /// Process-directed signals, by target tgid: any thread may take them.
    group: HashMap<u32, Vec<Pending>>,
}

impl Flows {
    pub(super) fn new_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }

    /// A signal queued for `target`.
    pub(super) fn pend(&mut self, target: &Task, group: bool, pending: Pending) {
        let (map, key) = if group {
            (&mut self.group, target.tgid)
        } else {
            (&mut self.thread, target.pid)
        };
        map.entry(key).or_default().push(pending);
    }

    /// `task` took `sig`: the oldest matching signal sent to it, or to its
    /// process.
    pub(super) fn deliver(&mut self, task: &Task, sig: i32) -> Option<u64> {
        take_first(&mut self.thread, task.pid, sig)
            .or_else(|| take_first(&mut self.group, task.tgid, sig))
    }

    /// `task` exited: every signal still pending for it, and for its
    /// process when the whole process is gone (`group_exit`).
    pub(super) fn exit(&mut self, task: &Task, group_exit: bool) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .thread
            .remove(&task.pid)
            .unwrap_or_default()
            .iter()
            .map(|p| p.id)
            .collect();
        if group_exit {
            if let Some(group) = self.group.remove(&task.tgid) {
                ids.extend(group.iter().map(|p| p.id));
            }
        }
        ids
    }

    /// Everything still pending (at the end of the log), oldest first.
    pub(super) fn drain(&mut self) -> Vec<Pending> {
        let mut all: Vec<Pending> = self
            .thread
            .drain()
            .chain(self.group.drain())
            .flat_map(|(_, p)| p)
            .collect();
        all.sort_by_key(|p| p.id);
        all
    }

    /// Targets with signals pending (for tests of the bound).
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        self.thread.len() + self.group.len()
    }
}

fn take_first(map: &mut HashMap<u32, Vec<Pending>>, key: u32, sig: i32) -> Option<u64> {
    let list = map.get_mut(&key)?;
    let i = list.iter().position(|p| p.sig == sig)?;
    let id = list.remove(i).id;
    if list.is_empty() {
        map.remove(&key);
    }
    Some(id)
}
