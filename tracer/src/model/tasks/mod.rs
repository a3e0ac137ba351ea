//! The task table: every known task, keyed by pid with its start time as
//! the identity check (so PID reuse never merges two tasks), seeded from a
//! procfs snapshot and kept current by live events.
//!
//! Lineage and helper standing are decided when a task is born (from the
//! task that made it) and kept, because they are facts about its origin:
//! later reparenting does not change who forked it.
//!
//! An [`Entry`] is one task (`entry.rs`); `origin.rs` holds the rule that
//! gives a new task its lineage and helper standing; an [`Annotation`] is
//! what the table adds to one event (`annotation.rs`), its task ids and
//! ancestry among it (`ancestry.rs`).

mod ancestry;
mod annotation;
mod entry;
mod kthread_links;
mod origin;

use std::collections::VecDeque;

pub use self::{
    ancestry::{Ancestor, Ids, MAX_ANCESTORS, OTLP_ANCESTORS},
    annotation::{Annotation, HelperInfo},
    entry::{Entry, Killer},
};
use self::{
    entry::{Origin, UNKNOWN_ORIGIN},
    origin::{origin, Maker},
};
use crate::model::{
    classify::{self, HelperStanding, Kind, Lineage, Verdicts},
    event::{Event, HelperRequest, Record, Task},
    flags::PF_KTHREAD,
    hash::{FastMap, FastSet},
    kallsyms::Kallsyms,
    kthreads::{self, KthreadInfo, KthreadLink},
    procfs::ProcTask,
    signals::{ExitStatus, GenerateResult},
    task_id::TaskIds,
};

/// The cgroup of a snapshot entry made from the live table that is not in
/// the root cgroup (its path is not known there).
pub const NOT_ROOT_CGROUP: &str = "(not the root cgroup)";

/// Exited tasks kept for late references (the SIGCHLD an exiting task
/// sends after its exit event, say).
const GRAVEYARD: usize = 1024;

pub struct TaskTable {
    live: FastMap<u32, Entry>,
    graveyard: FastMap<(u32, u64), Entry>,
    graveyard_order: VecDeque<(u32, u64)>,
    ns_per_tick: u64,
    root_cgroup_reliable: bool,
    /// Helper requests a kworker started, by its pid, until it makes the
    /// helper.
    requests: FastMap<u32, Box<HelperRequest>>,
    /// Names kernel functions in helper reasons; set only where the
    /// addresses are this boot's.
    kallsyms: Option<Kallsyms>,
    /// Live on the traced machine: a failed helper's exec error may be
    /// inferred from its path.
    infer_exec_errors: bool,
    /// Kernel-thread requests until their fork (`model::kthreads`).
    kthreads: kthreads::Pending,
    /// A kernel thread's requester just learnt at its naming, for the
    /// rename that follows (by the thread's pid).
    named_now: Option<(u32, Box<KthreadInfo>)>,
    /// Exec records lost so far (or records of unknown kind): a helper born
    /// before one of them may have exec'd unseen.
    exec_losses: u64,
    /// The exec program did not run: no missing exec says anything.
    execs_unseen: bool,
    /// `-- CMD`'s pid: forked before tracing started, its life counts
    /// from its exec, then (pid, start, exec time).
    life_from_exec: Option<u32>,
    life_start: Option<(u32, u64, u64)>,
    /// How the table names its tasks (`ancestry.rs`).
    ids: TaskIds,
    /// Ancestors each annotation carries (`--ancestors`).
    ancestry: usize,
}

impl TaskTable {
    pub fn new(ticks_per_sec: u64, root_cgroup_reliable: bool) -> TaskTable {
        let ids = TaskIds::new(TaskIds::default().boot, ticks_per_sec);
        TaskTable {
            live: FastMap::default(),
            graveyard: FastMap::default(),
            graveyard_order: VecDeque::new(),
            // At least 1: a damaged log's clock rate must not divide by zero.
            ns_per_tick: ids.ns_per_tick,
            root_cgroup_reliable,
            requests: FastMap::default(),
            kallsyms: None,
            kthreads: kthreads::Pending::default(),
            named_now: None,
            infer_exec_errors: false,
            exec_losses: 0,
            execs_unseen: false,
            life_from_exec: None,
            life_start: None,
            ids,
            ancestry: 0,
        }
    }

    /// Task `pid` (a command tracer forked before tracing, then let run)
    /// lives from its next exec: its start-up wait is tracer's, not its.
    pub fn life_from_exec(&mut self, pid: u32) {
        self.life_from_exec = Some(pid);
    }

    /// Records of `kind` (`None`: unknown) were lost.
    pub fn note_lost(&mut self, kind: Option<tracer_common::EventKind>) {
        if matches!(kind, None | Some(tracer_common::EventKind::Exec)) {
            self.exec_losses += 1;
        }
    }

    /// The kernel refused the exec program: execs are never seen.
    pub fn execs_unseen(&mut self) {
        self.execs_unseen = true;
    }

    /// Live tracing: a failed helper's path is looked at as it exits, to
    /// infer why its exec failed.
    pub fn infer_exec_errors(&mut self) {
        self.infer_exec_errors = true;
    }

    /// Names kernel function addresses from `kallsyms`: only for events of
    /// the boot whose table it is.
    pub fn name_functions_from(&mut self, kallsyms: Kallsyms) {
        self.kallsyms = Some(kallsyms);
    }

    /// A table seeded from a procfs snapshot. `init_cgroup` is PID 1's
    /// cgroup v2 path: root membership is meaningful only if it is not "/".
    pub fn from_snapshot(
        tasks: Vec<ProcTask>,
        init_cgroup: Option<&str>,
        ticks_per_sec: u64,
    ) -> TaskTable {
        let reliable = init_cgroup.is_some_and(|c| c != "/");
        let mut table = TaskTable::new(ticks_per_sec, reliable);
        for t in tasks {
            let entry = Entry::from_proc(t, table.ns_per_tick);
            table.live.insert(entry.pid, entry);
        }
        let pids: Vec<u32> = table.live.keys().copied().collect();
        let mut seen = FastSet::default();
        for pid in pids {
            table.resolve_origin(pid, 0, &mut seen);
        }
        table
    }

    pub fn root_cgroup_reliable(&self) -> bool {
        self.root_cgroup_reliable
    }

    /// Adds the tasks of a later snapshot (the header of the next file of a
    /// rotated recording) that the table does not hold: none when the
    /// files follow on without a gap, so a reader reading across files
    /// keeps what it knew (lineage seen live) and makes no noise; after a
    /// missing file, the tasks born in it. Tasks known already are kept.
    pub fn merge_snapshot(&mut self, tasks: Vec<ProcTask>) {
        let mut added = Vec::new();
        for t in tasks {
            let entry = Entry::from_proc(t, self.ns_per_tick);
            // The snapshot's start is good to the tick only.
            let tick = self.ns_per_tick;
            let known = self
                .live
                .get(&entry.pid)
                .is_some_and(|e| e.start_ns / tick == entry.start_ns / tick);
            if !known {
                added.push(entry.pid);
                self.live.insert(entry.pid, entry);
            }
        }
        let mut seen = FastSet::default();
        for pid in added {
            self.resolve_origin(pid, 0, &mut seen);
        }
    }

    /// The live tasks as a procfs snapshot lists them: the start-up table
    /// of a log that begins mid-recording (a rotated file), so that file
    /// replays on its own. Start times drop to clock ticks, as procfs gives
    /// them; of the cgroup only root membership is known, which is all a
    /// table takes from the path ([`NOT_ROOT_CGROUP`] stands for the rest).
    pub fn snapshot(&self) -> Vec<ProcTask> {
        let mut tasks: Vec<ProcTask> = self
            .live
            .values()
            .map(|e| ProcTask {
                pid: e.pid,
                tgid: e.tgid,
                ppid: e.ppid,
                flags: e.flags,
                comm: e.comm.to_string(),
                start_ticks: e.start_ns / self.ns_per_tick,
                // Not tracked live; nothing reads it back.
                state: '?',
                has_mm: e.has_mm,
                kthread_line: e.kthread_line,
                cgroup: e
                    .root_cgroup
                    .map(|root| if root { "/" } else { NOT_ROOT_CGROUP }.to_string()),
                argv: e
                    .argv
                    .as_deref()
                    .map(<[String]>::to_vec)
                    .unwrap_or_default(),
            })
            .collect();
        tasks.sort_unstable_by_key(|t| t.pid);
        tasks
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }

    pub fn get(&self, pid: u32) -> Option<&Entry> {
        self.live.get(&pid)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.live.values()
    }

    /// Thread groups of helpers and their descendants, with the in-kernel
    /// lineage mark for each (to seed the kernel's filter map).
    pub fn helper_groups(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.live
            .values()
            .filter(|e| e.pid == e.tgid)
            .filter_map(|e| match e.helper {
                HelperStanding::Helper => Some((e.tgid, tracer_common::HELPER_MARK)),
                HelperStanding::Child => Some((e.tgid, tracer_common::HELPER_CHILD_MARK)),
                HelperStanding::No => None,
            })
    }

    pub fn verdicts(&self, e: &Entry) -> Verdicts {
        Verdicts::of(&e.facts(), self.root_cgroup_reliable)
    }

    /// Snapshot lineage and helper standing, from the ppid chain (threads
    /// take their leader's). Each task is resolved once (`seen`), so a
    /// crafted snapshot with a cycle of parents costs linear time: a task
    /// met again on its own walk keeps the origin it has so far (unknown).
    fn resolve_origin(&mut self, pid: u32, depth: u32, seen: &mut FastSet<u32>) -> Origin {
        let Some(e) = self.live.get(&pid) else {
            return UNKNOWN_ORIGIN;
        };
        if e.lineage != Lineage::Unknown || depth > 4096 || !seen.insert(pid) {
            return e.origin();
        }
        let (tid, tgid, ppid, flags) = (e.pid, e.tgid, e.ppid, e.flags);
        let leader = (tid != tgid && self.live.contains_key(&tgid))
            .then(|| self.resolve_origin(tgid, depth + 1, seen));
        let origin = origin(tid, ppid, flags, leader, || Maker {
            pid: ppid,
            // kthreadd is a kernel thread, whatever the snapshot read of it.
            flags: if ppid == 2 {
                PF_KTHREAD
            } else {
                self.live.get(&ppid).map_or(0, |p| p.flags)
            },
            origin: self.resolve_origin(ppid, depth + 1, seen),
            forked: false,
        });
        if let Some(e) = self.live.get_mut(&pid) {
            (e.lineage, e.helper) = origin;
        }
        origin
    }

    /// The live entry of the task an event saw as `t`, if it is that task.
    fn live_entry(&self, t: &Task) -> Option<&Entry> {
        self.live
            .get(&t.pid)
            .filter(|e| e.same_task(t, self.ns_per_tick))
    }

    fn live_entry_mut(&mut self, t: &Task) -> Option<&mut Entry> {
        let ns_per_tick = self.ns_per_tick;
        self.live
            .get_mut(&t.pid)
            .filter(|e| e.same_task(t, ns_per_tick))
    }

    /// The entry of the task an event saw as `t`, live or lately exited.
    fn find(&self, t: &Task) -> Option<&Entry> {
        self.live_entry(t)
            .or_else(|| self.graveyard.get(&(t.pid, t.start_ns)))
    }

    /// Kind of a task as an event saw it.
    pub fn kind_of(&self, t: &Task) -> Kind {
        match self.find(t) {
            Some(e) => e.kind(),
            None => classify::kind_from_flags(t.pid, t.flags, &t.comm),
        }
    }

    /// Refreshes (or creates) the entry of a task an event reports.
    fn touch(&mut self, t: &Task) -> &mut Entry {
        if self.live_entry(t).is_none() {
            // Unknown, or the pid was reused: a task born before we looked.
            let entry = self.new_entry(t, None);
            self.live.insert(t.pid, entry);
        }
        let e = self.live.get_mut(&t.pid).expect("inserted above");
        e.start_ns = t.start_ns;
        e.start_exact = true;
        e.flags = t.flags;
        e.has_mm = t.has_mm;
        if *e.comm != *t.comm {
            e.comm = t.comm.as_str().into();
        }
        e
    }

    /// A new entry for `t`, its origin taken from `creator` (live forks) or
    /// from its parent as far as the table knows it.
    fn new_entry(&self, t: &Task, creator: Option<&Task>) -> Entry {
        let leader = (t.pid != t.tgid).then(|| self.live.get(&t.tgid)).flatten();
        let parent = self.live.get(&t.ppid);
        let creator_entry = creator.and_then(|c| self.find(c));
        let maker = || match creator {
            Some(c) => Maker::creator(c, creator_entry),
            None => parent.map_or_else(|| Maker::unknown_parent(t.ppid), Maker::parent),
        };
        let (lineage, helper) = origin(t.pid, t.ppid, t.flags, leader.map(Entry::origin), maker);
        let root_cgroup = if t.flags & PF_KTHREAD != 0 {
            // Kernel threads always live in the root cgroup.
            Some(true)
        } else {
            creator_entry
                .or(leader)
                .or(parent)
                .and_then(|e| e.root_cgroup)
        };
        Entry {
            lineage,
            helper,
            root_cgroup,
            creator: creator.map(|c| (c.pid, c.comm.as_str().into())),
            creator_id: creator.map(|c| self.ids.of(c)),
            ..Entry::new(t)
        }
    }

    /// Applies one event and returns what the table knows about it, as it
    /// stands at the event. An exited task leaves the live table here, once
    /// its exit has been annotated.
    pub fn apply(&mut self, rec: &Record) -> Annotation {
        let mut a = self.annotate(rec);
        a.ids = self.ids_of(rec.event.subject());
        a
    }

    /// [`TaskTable::apply`] but for the task ids.
    fn annotate(&mut self, rec: &Record) -> Annotation {
        match &rec.event {
            Event::Fork { creator, child, .. } => {
                let mut a = self.fork(creator, child);
                a.kthread = self.kthread_info(creator, child);
                if let (Some(k), Some(e)) = (&a.kthread, self.live.get_mut(&child.pid)) {
                    e.kthread = Some(k.clone());
                }
                a
            }
            // Sent at a rename: the rename that follows carries it.
            Event::Kthread { child, request } if request.link == KthreadLink::Named => {
                self.kthread_named(child, request);
                let requester = request.requester.as_ref().map(|r| self.kind_of(r));
                Annotation::kinds(self.kind_of(child), requester)
            }
            // The thread's first run: its entry's object is timed.
            Event::Kthread { child, request } if request.link == KthreadLink::Started => {
                let mut a = Annotation::kinds(self.kind_of(child), None);
                a.kthread = self.kthread_started(child, rec.boot_ns);
                a
            }
            // Folded into the fork that follows.
            Event::Kthread { child, request } => {
                self.kthreads.note(child, request);
                let requester = request.requester.as_ref().map(|r| self.kind_of(r));
                Annotation::kinds(self.kind_of(child), requester)
            }
            Event::Exec {
                task,
                filename,
                argv,
                old_pid,
                ..
            } => {
                if *old_pid != task.pid {
                    self.thread_exec(task, *old_pid);
                }
                if self.life_from_exec.take_if(|p| *p == task.pid).is_some() {
                    self.life_start = Some((task.pid, task.start_ns, rec.boot_ns));
                }
                let e = self.touch(task);
                e.filename = Some(filename.as_str().into());
                e.argv = Some(argv.clone().into_boxed_slice());
                let mut a = Annotation::kinds(e.kind(), None);
                if e.helper != HelperStanding::No {
                    a.helper = self.helper_story(task.pid, None);
                }
                a
            }
            Event::Exit { task, status, .. } => self.exit(task, status, rec.boot_ns),
            Event::SignalGenerate {
                sender,
                sender_uid,
                target,
                sig,
                result,
                ..
            } => {
                if matches!(
                    result,
                    GenerateResult::Delivered | GenerateResult::AlreadyPending
                ) {
                    let killer = Killer {
                        task_id: self.ids.of(sender),
                        sig: *sig,
                        pid: sender.pid,
                        tgid: sender.tgid,
                        comm: sender.comm.as_str().into(),
                        uid: *sender_uid,
                        boot_ns: rec.boot_ns,
                    };
                    if let Some(e) = self.live_entry_mut(target) {
                        e.killer = Some(Box::new(killer));
                    }
                }
                // Sender and target are not refreshed: an interrupt-context
                // sender is whatever task happened to be running.
                Annotation::kinds(self.kind_of(target), Some(self.kind_of(sender)))
            }
            Event::SignalDeliver { task, .. } => Annotation::kinds(self.touch(task).kind(), None),
            Event::Rename { task, new_comm } => {
                let e = self.touch(task);
                e.comm = new_comm.as_str().into();
                let mut a = Annotation::kinds(e.kind(), None);
                a.kthread = self
                    .named_now
                    .take()
                    .filter(|k| k.0 == task.pid)
                    .map(|k| k.1);
                a
            }
            Event::ExecFailed { task, .. } => {
                let e = self.touch(task);
                let mut a = Annotation::kinds(e.kind(), None);
                if e.helper != HelperStanding::No {
                    a.helper = self.helper_story(task.pid, None);
                }
                a
            }
            // The table is not touched: the task is only what the throttle
            // kept of it, and it may be long gone.
            Event::Throttle { task, .. } => Annotation::kinds(self.kind_of(task), None),
            Event::HelperRequest { kworker, request } => {
                self.touch(kworker);
                let requester = request.requester.as_ref().map(|r| self.kind_of(r));
                let mut a = Annotation::kinds(self.kind_of(kworker), requester);
                a.helper = Some(HelperInfo {
                    spawner: None,
                    spawner_id: None,
                    exe: None,
                    request: Some(Box::new(request.clone())),
                    reason: self.reason(request),
                    requester_kind: requester,
                    exec_failed: false,
                    exec_error: None,
                });
                self.requests.insert(kworker.pid, Box::new(request.clone()));
                a
            }
        }
    }

    /// Why a helper was requested, functions named where this table can.
    fn reason(&self, r: &HelperRequest) -> Option<String> {
        r.reason(|addr| self.kallsyms.as_ref().and_then(|k| k.name_of(addr)))
    }

    /// [`TaskTable::helper_info`] of live task `pid`: looked up again only
    /// for tasks of a helper's lineage, after their entry was updated.
    fn helper_story(&self, pid: u32, exit: Option<&ExitStatus>) -> Option<HelperInfo> {
        self.helper_info(self.live.get(&pid)?, exit)
    }

    /// The helper story of a task of a helper's lineage; at its exit
    /// (`exit`), whether it ended without running its program.
    fn helper_info(&self, e: &Entry, exit: Option<&ExitStatus>) -> Option<HelperInfo> {
        if !matches!(e.helper, HelperStanding::Helper | HelperStanding::Child) {
            return None;
        }
        let reason = e.request.as_ref().and_then(|r| self.reason(r));
        // The kernel ends a helper whose exec (or its set-up) failed with
        // do_exit(0). Claimed only for a process seen born, with every exec
        // record since then accounted for.
        let exec_failed = exit == Some(&ExitStatus::Exited(0))
            && e.helper == HelperStanding::Helper
            && e.pid == e.tgid
            && e.born_seen
            && e.filename.is_none()
            && !self.execs_unseen
            && self.exec_losses == e.exec_losses_at_birth;
        let exec_error = match &e.request {
            Some(r) if exec_failed && self.infer_exec_errors => infer_exec_error(&r.path),
            _ => None,
        };
        Some(HelperInfo {
            spawner: e.creator.clone(),
            spawner_id: e.creator_id,
            exe: e.filename.clone(),
            request: e.request.clone(),
            reason,
            requester_kind: e
                .request
                .as_ref()
                .and_then(|r| r.requester.as_ref())
                .map(|r| self.kind_of(r)),
            exec_failed,
            exec_error,
        })
    }

    /// A live fork: the child's entry, its origin from the creator. A child
    /// the snapshot saw already keeps what procfs said that events do not
    /// carry, and takes the rest from the event.
    fn fork(&mut self, creator: &Task, child: &Task) -> Annotation {
        self.touch(creator);
        let known = self.live_entry(child).is_some();
        let mut entry = self.new_entry(child, Some(creator));
        entry.born_seen = true;
        entry.exec_losses_at_birth = self.exec_losses;
        if entry.helper == HelperStanding::Helper && child.pid == child.tgid {
            // The request this kworker started is what the helper runs for.
            entry.request = self.requests.remove(&creator.pid);
        }
        if known {
            let old = self.live.remove(&child.pid).expect("found above");
            let merged = Entry {
                kthread_line: old.kthread_line,
                root_cgroup: old.root_cgroup.or(entry.root_cgroup),
                argv: old.argv,
                ..entry
            };
            self.live.insert(child.pid, merged);
        } else {
            self.live.insert(child.pid, entry);
        }
        Annotation::kinds(self.kind_of(child), Some(self.kind_of(creator)))
    }

    /// An exit, annotated with the task's story (its helper standing, its
    /// lifetime, who killed it) before it leaves the live table.
    fn exit(&mut self, task: &Task, status: &ExitStatus, boot_ns: u64) -> Annotation {
        let exec_born = self
            .life_start
            .filter(|&(pid, start, _)| pid == task.pid && start == task.start_ns)
            .map(|(_, _, exec_ns)| exec_ns);
        let e = self.touch(task);
        let mut a = Annotation::kinds(e.kind(), None);
        a.lifetime_ns = boot_ns.checked_sub(exec_born.unwrap_or(e.start_ns));
        let lineage = e.helper != HelperStanding::No;
        if let ExitStatus::Signaled { sig, .. } = *status {
            let own = e.killer.as_deref().filter(|k| k.sig == sig).cloned();
            a.killer = own.or_else(|| {
                let leader = self.live.get(&task.tgid)?;
                leader.killer.as_deref().filter(|k| k.sig == sig).cloned()
            });
        }
        if lineage {
            a.helper = self.helper_story(task.pid, Some(status));
        }
        if task.flags & PF_KTHREAD != 0 {
            // A kworker's pending request dies with it.
            self.requests.remove(&task.pid);
        }
        self.retire(task.pid);
        a
    }

    /// A non-leader thread exec'd: it took the leader's pid and start time
    /// (de_thread()), and its own pid vanished without an exit event. The
    /// task keeps the leader's identity and origin.
    fn thread_exec(&mut self, task: &Task, old_pid: u32) {
        let old = self.live.remove(&old_pid);
        if self.live_entry(task).is_some() {
            return;
        }
        // The leader died first (every other thread is killed by the exec).
        let revived = self
            .graveyard
            .remove(&(task.pid, task.start_ns))
            .or_else(|| {
                old.map(|o| Entry {
                    pid: task.pid,
                    start_ns: task.start_ns,
                    ..o
                })
            });
        if let Some(e) = revived {
            self.live.insert(task.pid, e);
        }
    }

    fn retire(&mut self, pid: u32) {
        let Some(e) = self.live.remove(&pid) else {
            return;
        };
        let key = (e.pid, e.start_ns);
        self.graveyard.insert(key, e);
        self.graveyard_order.push_back(key);
        while self.graveyard_order.len() > GRAVEYARD {
            if let Some(old) = self.graveyard_order.pop_front() {
                self.graveyard.remove(&old);
            }
        }
    }
}

/// Why an exec of `path` would fail, from the file as it is now: what
/// `execve` checks first (it exists, is a regular file, has an execute
/// bit). `None` where the file looks runnable (a bad format, say).
fn infer_exec_error(path: &str) -> Option<&'static str> {
    use std::os::unix::fs::PermissionsExt as _;
    // A relative path resolves against the kernel's root and cwd for the
    // helper, not ours.
    if !path.starts_with('/') {
        return None;
    }
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("ENOENT"),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Some("EACCES"),
        Err(_) => None,
        Ok(m) if !m.is_file() || m.permissions().mode() & 0o111 == 0 => Some("EACCES"),
        Ok(_) => None,
    }
}

#[cfg(test)]
mod tests {
    //! The classifier on small in-memory snapshots, and on synthetic events.

    use super::*;
    use crate::model::{
        event::{Event, HelperRequest, Record, Task},
        signals::{ExitStatus, GenerateResult},
    };

    const KTHREADD: u32 = 0x208040;
    const KWORKER: u32 = 0x4208060;
    const KTHREAD: u32 = 0x208040;
    const USER: u32 = 0x400100;
    const IO_WORKER: u32 = 0x404050;

    /// One fake task: (pid, tgid, ppid, comm, flags, has_mm, start ticks).
    struct Fake<'a>(u32, u32, u32, &'a str, u32, bool, u64);

    /// What procfs would report for a fake task: the cgroup of its thread
    /// group, `Kthread:` from its flags, argv (its comm) on a leader with an
    /// address space only.
    fn proc_task(fake: &Fake<'_>, cgroup_of: impl Fn(u32) -> &'static str) -> ProcTask {
        let Fake(pid, tgid, ppid, comm, flags, has_mm, start_ticks) = *fake;
        ProcTask {
            pid,
            tgid,
            ppid,
            flags,
            comm: comm.into(),
            start_ticks,
            state: 'S',
            has_mm,
            kthread_line: Some(flags & PF_KTHREAD != 0),
            cgroup: Some(cgroup_of(tgid).into()),
            argv: if pid == tgid && has_mm {
                vec![comm.into()]
            } else {
                Vec::new()
            },
        }
    }

    /// A table seeded from fake tasks, at 100 ticks a second, PID 1's
    /// cgroup as `init_cgroup`.
    fn table(tasks: &[Fake<'_>], cgroup_of: impl Fn(u32) -> &'static str) -> TaskTable {
        let snapshot = tasks.iter().map(|f| proc_task(f, &cgroup_of)).collect();
        TaskTable::from_snapshot(snapshot, Some(cgroup_of(1)), 100)
    }

    /// A host with a helper (a core-dump pipe, child of kthreadd) that forked
    /// a child, a request-key style helper under a kworker, a process with an
    /// io_uring worker thread, and a zombie.
    fn host() -> Vec<Fake<'static>> {
        vec![
            Fake(1, 1, 0, "systemd", USER, true, 1),
            Fake(2, 2, 0, "kthreadd", KTHREADD, false, 1),
            Fake(40, 40, 2, "kworker/u8:3", KWORKER, false, 5),
            Fake(41, 41, 2, "jbd2/loop0-8", KTHREAD, false, 6),
            Fake(300, 300, 1, "bash", USER, true, 50),
            Fake(301, 301, 300, "app", USER, true, 60),
            Fake(302, 301, 300, "iou-sqp-301", IO_WORKER, true, 61),
            Fake(303, 303, 300, "defunct", 0x40010c, false, 62),
            Fake(500, 500, 2, "core-helper", USER, true, 70),
            Fake(501, 501, 500, "gzip", USER, true, 71),
            Fake(600, 600, 40, "request-key", USER, true, 80),
        ]
    }

    fn kind(t: &TaskTable, pid: u32) -> Kind {
        t.get(pid).unwrap_or_else(|| panic!("no task {pid}")).kind()
    }

    #[test]
    fn systemd_like_host() {
        // PID 1 left the root cgroup: root membership is a real test.
        let t = table(&host(), |tgid| match tgid {
            1 => "/init.scope",
            2 | 40 | 41 => "/",
            _ => "/user.slice",
        });
        assert!(t.root_cgroup_reliable());
        let expect = [
            (1, Kind::Init),
            (2, Kind::Kthreadd),
            (40, Kind::Kworker),
            (41, Kind::Kthread),
            (300, Kind::User),
            (301, Kind::User),
            (302, Kind::IoWorker),
            (500, Kind::Helper),
            (501, Kind::HelperChild),
            (600, Kind::Helper),
        ];
        for (pid, k) in expect {
            assert_eq!(kind(&t, pid), k, "pid {pid}");
        }
        let v = |pid| t.verdicts(t.get(pid).unwrap());
        assert_eq!(v(2).kthreadd_lineage, Lineage::Kthreadd);
        assert_eq!(v(41).kthreadd_lineage, Lineage::Yes);
        assert!(!v(41).disagree(), "a kthread: every test agrees");
        assert!(!v(300).disagree(), "a user process: every test agrees");
        assert!(v(500).disagree(), "a helper: kernel ancestry, user mm");
        assert!(v(501).disagree(), "the helper's child too");
        assert!(
            v(302).disagree(),
            "io worker: user-like, never in user mode"
        );
        assert!(v(303).disagree(), "a zombie has no mm");
        assert_eq!(v(300).root_cgroup, Some(false));
    }

    #[test]
    fn snapshot_of_the_table_seeds_the_same_table() {
        let t = table(&host(), |tgid| match tgid {
            1 => "/init.scope",
            2 | 40 | 41 => "/",
            _ => "/user.slice",
        });
        let again = TaskTable::from_snapshot(t.snapshot(), Some("/init.scope"), 100);
        assert_eq!(again.len(), t.len());
        for e in t.iter() {
            let back = again.get(e.pid).expect("every task kept");
            assert_eq!(back.kind(), e.kind(), "pid {}", e.pid);
            assert_eq!(again.verdicts(back), t.verdicts(e), "pid {}", e.pid);
            assert_eq!((back.start_ns, &back.argv), (e.start_ns, &e.argv));
        }
    }

    #[test]
    fn container_like_host_everything_in_root_cgroup() {
        let t = table(&host(), |_| "/");
        assert!(!t.root_cgroup_reliable());
        let user = t.verdicts(t.get(300).unwrap());
        assert_eq!(user.root_cgroup, Some(true));
        assert!(!user.disagree(), "an unreliable test casts no vote");
        assert_eq!(kind(&t, 500), Kind::Helper);
    }

    fn task(pid: u32, tgid: u32, ppid: u32, comm: &str, flags: u32, start_ns: u64) -> Task {
        Task {
            pid,
            tgid,
            ppid,
            flags,
            has_mm: flags & PF_KTHREAD == 0,
            comm: comm.into(),
            start_ns,
            context: None,
        }
    }

    fn fork(creator: Task, child: Task) -> Record {
        Record {
            boot_ns: child.start_ns,
            cpu: 0,
            event: Event::Fork {
                creator,
                child,
                clone_flags: 0,
            },
        }
    }

    fn exit(t: Task) -> Record {
        Record {
            boot_ns: t.start_ns + 1,
            cpu: 0,
            event: Event::Exit {
                task: t,
                status: ExitStatus::Exited(0),
                group_dead: Some(true),
            },
        }
    }

    #[test]
    fn live_helper_and_child_and_io_worker() {
        let mut t = table(&host(), |_| "/");
        let kworker = task(40, 40, 2, "kworker/u8:3", KWORKER, 50_000_000);
        // UMH_NO_WAIT: CLONE_PARENT from the kworker, real parent kthreadd.
        let helper = task(700, 700, 2, "kworker/u8:3", 0x40, 9_000_000_000);
        let kinds = t.apply(&fork(kworker.clone(), helper.clone()));
        assert_eq!(kinds.subject, Kind::Helper);
        assert_eq!(kinds.other, Some(Kind::Kworker));
        assert_eq!(
            t.get(700).unwrap().creator,
            Some((40, "kworker/u8:3".into()))
        );
        let child = task(701, 701, 700, "helper", USER, 9_100_000_000);
        assert_eq!(
            t.apply(&fork(helper.clone(), child)).subject,
            Kind::HelperChild
        );

        let app = task(301, 301, 300, "app", USER, 600_000_000);
        let worker = task(710, 301, 300, "app", IO_WORKER, 9_200_000_000);
        let kinds = t.apply(&fork(app, worker));
        assert_eq!(kinds.subject, Kind::IoWorker);
        assert_eq!(kinds.other, Some(Kind::User));
    }

    #[test]
    fn a_killed_helper_names_its_killer() {
        let mut t = table(&host(), |_| "/");
        let kworker = task(40, 40, 2, "kworker/u8:3", KWORKER, 50_000_000);
        let helper = task(700, 700, 2, "kworker/u8:3", 0x40, 9_000_000_000);
        t.apply(&fork(kworker, helper.clone()));
        let exec = Record {
            boot_ns: 9_000_100_000,
            cpu: 0,
            event: Event::Exec {
                task: helper.clone(),
                old_pid: 700,
                filename: "/usr/lib/helper".into(),
                argv: vec!["/usr/lib/helper".into(), "42".into()],
                cut: None,
            },
        };
        let a = t.apply(&exec);
        assert_eq!(a.subject, Kind::Helper);
        let info = a.helper.expect("helper info at exec");
        assert_eq!(info.spawner, Some((40, "kworker/u8:3".into())));
        assert_eq!(info.exe.as_deref(), Some("/usr/lib/helper"));

        let killer = task(999, 999, 300, "kill", USER, 10_000_000_000);
        t.apply(&Record {
            boot_ns: 10_300_000_000,
            cpu: 0,
            event: Event::SignalGenerate {
                sender: killer,
                sender_uid: 1000,
                target: helper.clone(),
                sig: 9,
                errno: 0,
                code: 0,
                group: true,
                result: GenerateResult::Delivered,
            },
        });
        let a = t.apply(&Record {
            boot_ns: 10_300_000_500,
            cpu: 0,
            event: Event::Exit {
                task: helper,
                status: ExitStatus::Signaled {
                    sig: 9,
                    core: false,
                },
                group_dead: Some(true),
            },
        });
        let k = a.killer.expect("the killer is known");
        assert_eq!((k.sig, k.pid, &*k.comm, k.uid), (9, 999, "kill", 1000));
        assert_eq!(a.lifetime_ns, Some(1_300_000_500));
        assert_eq!(a.helper.unwrap().exe.as_deref(), Some("/usr/lib/helper"));
        assert!(
            !t.helper_groups().any(|(tgid, _)| tgid == 700),
            "the dead helper is forgotten"
        );
        assert!(t
            .helper_groups()
            .any(|g| g == (500, tracer_common::HELPER_MARK)));
        assert!(t
            .helper_groups()
            .any(|g| g == (501, tracer_common::HELPER_CHILD_MARK)));
    }

    #[test]
    fn snapshot_and_fork_of_one_task_merge() {
        // Snapshot saw pid 301 starting at tick 60; its fork event (exact
        // ns, same tick) arrives after: one task, not two.
        let mut t = table(&host(), |_| "/");
        let before = t.len();
        let bash = task(300, 300, 1, "bash", USER, 500_000_000);
        t.apply(&fork(bash, task(301, 301, 300, "app", USER, 605_000_123)));
        assert_eq!(t.len(), before);
        let e = t.get(301).unwrap();
        assert!(e.start_exact);
        assert_eq!(e.start_ns, 605_000_123);
        assert_eq!(
            e.argv.as_deref(),
            Some(&["app".to_string()][..]),
            "procfs argv kept"
        );
    }

    #[test]
    fn a_thread_exec_takes_over_its_leader() {
        let mut t = table(&host(), |_| "/");
        let before = t.len();
        let kworker = task(40, 40, 2, "kworker/u8:3", KWORKER, 50_000_000);
        let helper = task(700, 700, 2, "helper", 0x40, 9_000_000_000);
        t.apply(&fork(kworker, helper.clone()));
        let thread = task(701, 700, 2, "helper", 0x40, 9_100_000_000);
        t.apply(&fork(helper.clone(), thread));
        // The leader is killed by the exec (exit event), then the thread's
        // exec reports the leader's pid and start time.
        t.apply(&exit(helper.clone()));
        let exec = Record {
            boot_ns: 9_200_000_000,
            cpu: 0,
            event: Event::Exec {
                task: Task {
                    comm: "prog".into(),
                    ..helper.clone()
                },
                old_pid: 701,
                filename: "/bin/prog".into(),
                argv: vec![],
                cut: None,
            },
        };
        let a = t.apply(&exec);
        assert_eq!(a.subject, Kind::Helper, "keeps the helper standing");
        assert_eq!(
            a.helper.unwrap().spawner,
            Some((40, "kworker/u8:3".into())),
            "keeps its creator"
        );
        assert!(t.get(701).is_none(), "the old thread pid is gone");
        assert_eq!(t.len(), before + 1);
    }

    #[test]
    fn pid_reuse_never_merges() {
        let mut t = table(&host(), |_| "/");
        // pid 600 (a helper, started at tick 80) exits; a plain user task
        // later gets the same pid.
        let old = task(600, 600, 40, "request-key", USER, 800_000_000);
        assert_eq!(t.apply(&exit(old.clone())).subject, Kind::Helper);
        assert!(t.get(600).is_none());
        let bash = task(300, 300, 1, "bash", USER, 500_000_000);
        let new = task(600, 600, 300, "ls", USER, 20_000_000_000);
        assert_eq!(t.apply(&fork(bash, new.clone())).subject, Kind::User);
        assert_eq!(t.kind_of(&new), Kind::User);
        // The old task is still known under its own identity.
        assert_eq!(t.kind_of(&old), Kind::Helper);

        // Reuse without an exit seen (missed): the start time tells them apart.
        let stale = task(41, 41, 2, "jbd2/loop0-8", KTHREAD, 60_000_000);
        let reused = task(41, 41, 300, "sh", USER, 30_000_000_000);
        assert_eq!(t.kind_of(&stale), Kind::Kthread);
        assert_eq!(
            t.kind_of(&reused),
            Kind::User,
            "not the kthread that had pid 41"
        );
    }

    #[test]
    fn memory_stays_bounded_with_100k_tasks() {
        let mut t = table(&host(), |_| "/");
        let base = t.len();
        let bash = task(300, 300, 1, "bash", USER, 500_000_000);
        let children: Vec<Task> = (0..100_000u32)
            .map(|i| {
                task(
                    10_000 + i,
                    10_000 + i,
                    300,
                    "worker",
                    USER,
                    1_000_000_000 + u64::from(i),
                )
            })
            .collect();
        for c in &children {
            t.apply(&fork(bash.clone(), c.clone()));
        }
        assert_eq!(t.len(), base + 100_000);
        for c in &children {
            t.apply(&exit(c.clone()));
        }
        assert_eq!(t.len(), base, "exited tasks leave the table");
        assert!(t.graveyard.len() <= GRAVEYARD && t.graveyard_order.len() <= GRAVEYARD);
    }

    // The helper story: requests, and helpers that never ran.

    /// A record of `event` at `boot_ns`.
    fn rec(boot_ns: u64, event: Event) -> Record {
        Record {
            boot_ns,
            cpu: 0,
            event,
        }
    }

    /// `t`'s exit with `status`, just after it started.
    fn exit_with(t: &Task, status: ExitStatus) -> Record {
        rec(
            t.start_ns + 10,
            Event::Exit {
                task: t.clone(),
                status,
                group_dead: Some(true),
            },
        )
    }

    /// A kworker (40) that starts a request from `sh` (900) and makes
    /// helper 700.
    fn helper_started(t: &mut TaskTable) -> (Task, Task) {
        let kworker = task(40, 40, 2, "kworker/u8:3", KWORKER, 1_000);
        let sh = task(
            900,
            900,
            1,
            "sh",
            USER | tracer_common::pf::PF_DUMPCORE,
            2_000,
        );
        let request = HelperRequest {
            requester: Some(sh),
            queued_ns: Some(5_000),
            requester_func: None,
            wait: tracer_common::UMH_WAIT_EXEC,
            path: "/usr/lib/helper".into(),
            path_truncated: false,
        };
        t.apply(&rec(
            6_000,
            Event::HelperRequest {
                kworker: kworker.clone(),
                request,
            },
        ));
        let helper = task(700, 700, 2, "kworker/u8:3", 0x40, 7_000);
        let a = t.apply(&rec(
            7_000,
            Event::Fork {
                creator: kworker.clone(),
                child: helper.clone(),
                clone_flags: 0,
            },
        ));
        assert_eq!(a.subject, Kind::Helper);
        (kworker, helper)
    }

    #[test]
    fn a_helper_runs_for_its_requester() {
        let mut t = TaskTable::new(100, false);
        let (_, helper) = helper_started(&mut t);
        let a = t.apply(&exit_with(&helper, ExitStatus::Exited(0)));
        let info = a.helper.expect("a helper's story");
        let req = info.request.expect("its request");
        assert_eq!(req.requester.as_ref().map(|r| r.pid), Some(900));
        assert_eq!(info.reason.as_deref(), Some("dumping core"));
        assert!(info.exec_failed, "exited 0 without an exec");
    }

    #[test]
    fn only_a_helper_process_that_exited_0_without_exec_failed() {
        // Killed before its exec: not an exec failure.
        let mut t = TaskTable::new(100, false);
        let (_, helper) = helper_started(&mut t);
        let killed = ExitStatus::Signaled {
            sig: 9,
            core: false,
        };
        let a = t.apply(&exit_with(&helper, killed));
        assert!(!a.helper.unwrap().exec_failed);

        // A thread of a helper process never execs itself.
        let mut t = TaskTable::new(100, false);
        let (_, helper) = helper_started(&mut t);
        let thread = task(701, 700, 2, "helper", 0x40, 8_000);
        t.apply(&rec(
            8_000,
            Event::Fork {
                creator: helper.clone(),
                child: thread.clone(),
                clone_flags: 0,
            },
        ));
        let a = t.apply(&exit_with(&thread, ExitStatus::Exited(0)));
        assert!(!a.helper.unwrap().exec_failed, "a thread is not a failure");

        // Exec records lost since its birth: its exec may have been one.
        let mut t = TaskTable::new(100, false);
        let (_, helper) = helper_started(&mut t);
        t.note_lost(Some(tracer_common::EventKind::Exec));
        let a = t.apply(&exit_with(&helper, ExitStatus::Exited(0)));
        assert!(!a.helper.unwrap().exec_failed, "an exec may have been lost");

        // No exec program: nothing can be said.
        let mut t = TaskTable::new(100, false);
        t.execs_unseen();
        let (_, helper) = helper_started(&mut t);
        let a = t.apply(&exit_with(&helper, ExitStatus::Exited(0)));
        assert!(!a.helper.unwrap().exec_failed);
    }

    #[test]
    fn a_dead_kworkers_request_is_not_handed_on() {
        let mut t = TaskTable::new(100, false);
        let kworker = task(40, 40, 2, "kworker/u8:3", KWORKER, 1_000);
        t.apply(&rec(
            6_000,
            Event::HelperRequest {
                kworker: kworker.clone(),
                request: HelperRequest {
                    requester: None,
                    queued_ns: None,
                    requester_func: None,
                    wait: 0,
                    path: "/x".into(),
                    path_truncated: false,
                },
            },
        ));
        t.apply(&exit_with(&kworker, ExitStatus::Exited(0)));
        // A new kworker reusing the pid makes a helper: no request of its.
        let reborn = task(40, 40, 2, "kworker/u8:3", KWORKER, 9_000);
        let helper = task(700, 700, 2, "kworker/u8:3", 0x40, 9_500);
        t.apply(&rec(
            9_500,
            Event::Fork {
                creator: reborn,
                child: helper.clone(),
                clone_flags: 0,
            },
        ));
        let a = t.apply(&exit_with(&helper, ExitStatus::Exited(0)));
        assert!(a.helper.unwrap().request.is_none());
    }
}
