//! The track layout: which track each task's slices go on, and where that
//! track sits in the tree the UI draws.
//!
//! Every task (thread) has its own track. Tracks nest with `parent_uuid`
//! only, never with Perfetto's Process/ThreadDescriptors: those make trace
//! processor merge tracks by pid and tid, and lay kernel threads out as
//! processes of their own, while a task here is a pid *and* a start time
//! (pids are reused within a night) and kernel threads belong under
//! kthreadd. The tree:
//!
//! - a process's leader track is the process's track, and its other
//!   threads (io_uring and other workers included) nest under it; a
//!   process whose leader never appears gets a placeholder `process TGID`;
//! - kernel threads and kworkers nest under kthreadd's track (pid 2);
//! - user-mode helpers and their descendants (kinds `umh`, `umh_child`)
//!   sit in one `user-mode helpers` group; their threads nest under them;
//! - everything else (init, user processes, idle) is at the top.
//!
//! The state per task lives from the task's first appearance to its exit,
//! so memory follows the live tasks; a bounded memory of recent exits lets
//! the events a task causes as it dies (the SIGCHLD to its parent comes
//! after its exit) land on its track without reopening it.

use std::collections::{HashMap, VecDeque};

use super::packets::Packets;
use crate::model::{classify::Kind, event::Task};

/// The helpers group.
pub(super) const HELPERS: u64 = 1;
/// kthreadd's track, which is also the kernel threads' group.
pub(super) const KTHREADD: u64 = 2;
/// The throttle records' track.
pub(super) const THROTTLED: u64 = 3;
/// Uuids from here on are handed out in order of first appearance.
const FIRST_UUID: u64 = 16;
/// Recent exits remembered for post-exit events.
const ENDED: usize = 4096;

/// A task seen and not yet exited.
pub(super) struct Live {
    pub start_ns: u64,
    pub uuid: u64,
    pub comm: Box<str>,
    /// What it exec'd last (inherited at fork); `None` when unknown, as for
    /// kernel threads or tasks alive before the log.
    pub program: Option<Box<str>>,
    /// The track it nests under (kept so a rename re-declares the same place).
    parent: Option<u64>,
    /// Its process's tgid, when it counts as a member of a process track
    /// (kernel threads sit under kthreadd instead).
    process: Option<u32>,
}

/// A process track and how many of the live tasks sit in it.
struct Process {
    uuid: u64,
    /// Where the process track itself sits: helpers, or the top.
    parent: Option<u64>,
    members: u32,
}

/// What [`Tracks::find_or_add`] found.
pub(super) enum Found {
    /// A live task.
    Live,
    /// Newly added: the caller opens its first slice.
    New,
    /// A task that exited recently: its track takes instants, no slices.
    Ended,
}

pub(super) struct Tracks {
    next_uuid: u64,
    live: HashMap<u32, Live>,
    processes: HashMap<u32, Process>,
    /// Recent exits: pid → (start_ns, uuid), oldest first in `ended_order`.
    ended: HashMap<u32, (u64, u64)>,
    ended_order: VecDeque<(u32, u64)>,
    helpers_declared: bool,
    kthreadd_declared: bool,
}

impl Default for Tracks {
    fn default() -> Self {
        Tracks {
            next_uuid: FIRST_UUID,
            live: HashMap::new(),
            processes: HashMap::new(),
            ended: HashMap::new(),
            ended_order: VecDeque::new(),
            helpers_declared: false,
            kthreadd_declared: false,
        }
    }
}

/// `comm pid`, as Perfetto names threads.
fn track_name(comm: &str, pid: u32) -> String {
    format!("{comm} {pid}")
}

fn is_helper(kind: Kind) -> bool {
    matches!(kind, Kind::Helper | Kind::HelperChild)
}

impl Tracks {
    pub(super) fn get_mut(&mut self, pid: u32) -> Option<&mut Live> {
        self.live.get_mut(&pid)
    }

    /// The track of `task`, declared (with its parents) if it is new. A
    /// live entry under the same pid with another start time is a task
    /// whose exit was lost: it is taken out and returned, for the caller to
    /// close, before the new one is added.
    pub(super) fn find_or_add(
        &mut self,
        packets: &mut Packets,
        out: &mut Vec<u8>,
        task: &Task,
        kind: Kind,
    ) -> (u64, Found, Option<Live>) {
        let mut stale = None;
        match self.live.get(&task.pid) {
            Some(l) if l.start_ns == task.start_ns => return (l.uuid, Found::Live, None),
            Some(_) => stale = self.remove(task.pid),
            None => {
                if let Some(&(start, uuid)) = self.ended.get(&task.pid) {
                    if start == task.start_ns {
                        return (uuid, Found::Ended, None);
                    }
                }
            }
        }
        let (uuid, parent, process) = self.place(packets, out, task, kind);
        self.live.insert(
            task.pid,
            Live {
                start_ns: task.start_ns,
                uuid,
                comm: task.comm.as_str().into(),
                program: None,
                parent,
                process,
            },
        );
        (uuid, Found::New, stale)
    }

    /// Declares a new task's track under its parent; its uuid, that
    /// parent, and the process it joins.
    fn place(
        &mut self,
        packets: &mut Packets,
        out: &mut Vec<u8>,
        task: &Task,
        kind: Kind,
    ) -> (u64, Option<u64>, Option<u32>) {
        let name = track_name(&task.comm, task.pid);
        match kind {
            Kind::Kthreadd => {
                if !self.kthreadd_declared {
                    packets.track(out, KTHREADD, None, &name);
                    self.kthreadd_declared = true;
                }
                (KTHREADD, None, None)
            }
            Kind::Kthread | Kind::Kworker if task.pid == task.tgid => {
                let parent = self.kthreadd(packets, out);
                let uuid = self.new_uuid();
                packets.track(out, uuid, Some(parent), &name);
                (uuid, Some(parent), None)
            }
            _ if task.pid == task.tgid => {
                // The leader: its track is the process's, unless its
                // threads came first and made a placeholder.
                if let Some(p) = self.processes.get_mut(&task.tgid) {
                    p.members += 1;
                    // Now that the leader is known, the placeholder gets its name.
                    packets.track(out, p.uuid, p.parent, &name);
                    return (p.uuid, p.parent, Some(task.tgid));
                }
                let parent = self.group_of(packets, out, kind);
                let uuid = self.new_uuid();
                packets.track(out, uuid, parent, &name);
                self.processes.insert(
                    task.tgid,
                    Process {
                        uuid,
                        parent,
                        members: 1,
                    },
                );
                (uuid, parent, Some(task.tgid))
            }
            _ => {
                let parent = match self.processes.get_mut(&task.tgid) {
                    Some(p) => {
                        p.members += 1;
                        p.uuid
                    }
                    None => {
                        let group = self.group_of(packets, out, kind);
                        let uuid = self.new_uuid();
                        packets.track(out, uuid, group, &format!("process {}", task.tgid));
                        self.processes.insert(
                            task.tgid,
                            Process {
                                uuid,
                                parent: group,
                                members: 1,
                            },
                        );
                        uuid
                    }
                };
                let uuid = self.new_uuid();
                packets.track(out, uuid, Some(parent), &name);
                (uuid, Some(parent), Some(task.tgid))
            }
        }
    }

    /// The group a process of `kind` sits in: helpers, or the top.
    fn group_of(&mut self, packets: &mut Packets, out: &mut Vec<u8>, kind: Kind) -> Option<u64> {
        if !is_helper(kind) {
            return None;
        }
        if !self.helpers_declared {
            packets.track(out, HELPERS, None, "user-mode helpers");
            self.helpers_declared = true;
        }
        Some(HELPERS)
    }

    /// kthreadd's track, declared under its usual name if kthreadd itself
    /// has not appeared yet.
    fn kthreadd(&mut self, packets: &mut Packets, out: &mut Vec<u8>) -> u64 {
        if !self.kthreadd_declared {
            packets.track(out, KTHREADD, None, &track_name("kthreadd", 2));
            self.kthreadd_declared = true;
        }
        KTHREADD
    }

    fn new_uuid(&mut self) -> u64 {
        let uuid = self.next_uuid;
        self.next_uuid += 1;
        uuid
    }

    /// Re-declares a task's track under its current comm (after an exec
    /// or a rename), in the same place.
    pub(super) fn rename(&self, packets: &mut Packets, out: &mut Vec<u8>, pid: u32) {
        if let Some(l) = self.live.get(&pid) {
            packets.track(out, l.uuid, l.parent, &track_name(&l.comm, pid));
        }
    }

    /// A thread that exec'd took over its leader's pid (`de_thread`): its
    /// state moves with it, keeping its track. Returns a stale entry
    /// found under the new pid (the old leader, if its exit was lost).
    pub(super) fn take_over(&mut self, old_pid: u32, task: &Task) -> Option<Live> {
        let mut moving = self.live.remove(&old_pid)?;
        let stale = self.remove(task.pid);
        // The kernel gives the thread its leader's start time.
        moving.start_ns = task.start_ns;
        self.live.insert(task.pid, moving);
        stale
    }

    /// The task exited: its state goes, its track is remembered a while.
    pub(super) fn remove(&mut self, pid: u32) -> Option<Live> {
        let l = self.live.remove(&pid)?;
        if let Some(tgid) = l.process {
            if let Some(p) = self.processes.get_mut(&tgid) {
                p.members -= 1;
                if p.members == 0 {
                    self.processes.remove(&tgid);
                }
            }
        }
        self.ended.insert(pid, (l.start_ns, l.uuid));
        self.ended_order.push_back((pid, l.start_ns));
        if self.ended_order.len() > ENDED {
            if let Some((old, start)) = self.ended_order.pop_front() {
                if self.ended.get(&old).is_some_and(|&(s, _)| s == start) {
                    self.ended.remove(&old);
                }
            }
        }
        Some(l)
    }

    /// Every live task, in the order their tracks were made (at the end).
    pub(super) fn drain(&mut self) -> Vec<Live> {
        let mut all: Vec<Live> = self.live.drain().map(|(_, l)| l).collect();
        all.sort_by_key(|l| l.uuid);
        self.processes.clear();
        all
    }

    /// Live tasks and process tracks held (for tests of the bound).
    #[cfg(test)]
    pub(super) fn held(&self) -> (usize, usize) {
        (self.live.len(), self.processes.len())
    }
}
