//! A log read into report data: counts, helpers and signals as values. No
//! prose here; the printers word it.
//!
//! With a time window (`--since`/`--until`), every record still goes
//! through the task table, and only the events (and losses) in the window
//! are counted: tasks born in it, helpers with an event in it (one whose
//! fork came before the window is listed from its first event in it),
//! signals and failed execs in it, and the span of its events. Damage is
//! the file's, and always counted.

use std::{
    collections::{BTreeMap, HashMap},
    path::PathBuf,
};

use anyhow::Result;
use tracer_common::EventKind;

use super::kthreads::name_pattern;
use crate::{
    log::{
        header::LogHeader,
        reader::{Damage, Item},
        set::{LogSet, Step},
    },
    model::{
        classify::Kind,
        decode::decode,
        event::{Event, Record, ThrottlePhase},
        signals::{self, ExitStatus},
        tasks::{Annotation, Killer, TaskTable},
        window::{Window, WindowSpec},
    },
};

/// A user-mode helper's life, as the log saw it.
#[derive(Default)]
pub(super) struct Helper {
    pub pid: u32,
    pub path: Option<String>,
    pub argv: Vec<String>,
    /// Pid and comm of the task that forked it (a kworker).
    pub spawner: Option<(u32, String)>,
    pub start_ns: u64,
    pub end: Option<HelperEnd>,
    /// Tasks it forked.
    pub children: u64,
    /// Whom it ran for, when its request was seen.
    pub request: Option<Requester>,
    /// It exited without a successful exec: the kernel could not run it.
    pub exec_failed: bool,
}

/// The task a helper ran for, and how long it was held by it.
#[derive(Clone)]
pub(super) struct Requester {
    /// `None` when the request was queued before recording began.
    pub who: Option<(u32, String)>,
    pub reason: Option<String>,
    /// The program the kernel was asked to run.
    pub path: String,
    /// What holds the requester, when something does and its queueing was
    /// seen.
    pub held: Option<Held>,
    /// The requester's start time: with its pid, which task it is.
    pub start_ns: Option<u64>,
    pub queued_ns: Option<u64>,
    /// From queueing to the end of the hold: the helper's exit, or the
    /// dumping requester's own.
    pub waited_ns: Option<u64>,
}

/// What holds a requester.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Held {
    /// It waits for the helper's exit (request-key, a waiting modprobe).
    HelperExit,
    /// It writes its core dump into the helper's pipe until its own exit.
    Dumping,
}

/// One requester's wait on its helper, for the waits section.
pub(super) struct Wait<'a> {
    pub helper: &'a Helper,
    pub held: Held,
    pub ns: u64,
    /// Not over when the log (or window) ends: `ns` runs to that end.
    pub still: bool,
}

pub(super) struct HelperEnd {
    pub boot_ns: u64,
    pub status: ExitStatus,
    /// Who sent the fatal signal, when its generation was seen.
    pub killer: Option<Killer>,
}

impl Helper {
    /// Takes whom it ran for from the table's story, at an exec or (with
    /// its time) an exit.
    fn note_request(&mut self, ann: &Annotation, exit_ns: Option<u64>) {
        let Some(info) = &ann.helper else { return };
        let Some(req) = &info.request else { return };
        let held = match (&req.requester, req.queued_ns) {
            (Some(_), Some(_)) if req.waits_for_exit() => Some(Held::HelperExit),
            (Some(_), Some(_)) if req.dumping_core() => Some(Held::Dumping),
            _ => None,
        };
        // A dump's end is the requester's exit, noted when it came.
        let mut waited_ns = self.request.as_ref().and_then(|r| r.waited_ns);
        if held == Some(Held::HelperExit) {
            waited_ns = exit_ns.and_then(|at| at.checked_sub(req.queued_ns?));
        }
        self.request = Some(Requester {
            who: req.requester.as_ref().map(|r| (r.pid, r.comm.clone())),
            reason: info.reason.clone(),
            path: req.path.clone(),
            held,
            start_ns: req.requester.as_ref().map(|r| r.start_ns),
            queued_ns: req.queued_ns,
            waited_ns,
        });
    }

    /// The requester that dumps core into this helper, by (pid, start).
    fn dumper(&self) -> Option<(u32, u64)> {
        let req = self.request.as_ref()?;
        let who = req.who.as_ref()?;
        (req.held == Some(Held::Dumping) && req.waited_ns.is_none())
            .then_some((who.0, req.start_ns?))
    }

    pub(super) fn lifetime_ns(&self) -> Option<u64> {
        self.end
            .as_ref()
            .map(|e| e.boot_ns.saturating_sub(self.start_ns))
    }
}

/// A user process that died of a signal (a core dump included).
pub(super) struct Death {
    pub pid: u32,
    pub comm: String,
    pub kind: Kind,
    pub boot_ns: u64,
    pub status: ExitStatus,
    /// Who sent the fatal signal, when its generation was seen.
    pub killer: Option<Killer>,
    pub lifetime_ns: Option<u64>,
}

/// Deaths listed one by one; the rest are only counted.
pub(super) const DEATHS_KEPT: usize = 100;

/// Signals to kernel-side tasks are counted by this key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct SignalKey {
    pub sender_pid: u32,
    pub sender_comm: String,
    pub target_pid: u32,
    pub target_comm: String,
    pub target_kind: Kind,
    pub signal: String,
    pub result: String,
}

#[derive(Default)]
pub(super) struct Report {
    /// The window counted, resolved, and as given.
    pub window: Window,
    pub window_args: String,
    pub first_ns: Option<u64>,
    pub last_ns: u64,
    /// Where recording stopped (the log's end record), when in the window.
    pub end_ns: u64,
    /// Tasks by kind when recording began, and tasks born during it.
    pub snapshot: BTreeMap<Kind, u64>,
    pub new_tasks: BTreeMap<Kind, u64>,
    /// Kthread (pid, start) → current name, for grouping by final name.
    kthreads: HashMap<(u32, u64), String>,
    /// Kthreads that exited, by [`name_pattern`] of their last name.
    pub kthreads_exited: BTreeMap<String, u64>,
    /// Kernel threads kthreadd made, by requester.
    pub kthreads_by_requester: super::kthreads::ByRequester,
    pub helpers: Vec<Helper>,
    helper_index: HashMap<(u32, u64), usize>,
    /// Requesters dumping core into a helper, by (pid, start): the helper's
    /// index, until the requester's exit ends the dump.
    dumpers: HashMap<(u32, u64), usize>,
    /// The last exits seen, by (pid, start): a helper whose exec failed is
    /// known as a dump's reader only at its own exit, which the dumping
    /// task's can precede (the kernel lets it go at the failed exec).
    recent_exits: std::collections::VecDeque<((u32, u64), u64)>,
    /// The first [`DEATHS_KEPT`] user processes that died of a signal, and
    /// how many in all.
    pub deaths: Vec<Death>,
    pub deaths_total: u64,
    pub signals: BTreeMap<SignalKey, u64>,
    /// Failed execs (with `--failed-execs`), by (path, errno name).
    pub failed_execs: BTreeMap<(String, String), u64>,
    /// Throttled sources, by uid.
    pub throttled: BTreeMap<u32, Throttled>,
    /// Helper requests by the requester's real uid (`None`: the requester
    /// was not seen, or its log predates the task context): an
    /// unprivileged user can cause helpers, which are never throttled.
    pub helper_requests_by_uid: BTreeMap<Option<u32>, u64>,
    pub lost: BTreeMap<&'static str, u64>,
    /// The first [`DAMAGE_KEPT`] damaged stretches, and how many in all.
    pub damage: Vec<Damage>,
    pub damage_total: usize,
    pub events: u64,
    pub undecodable: u64,
}

/// One throttled source (a real uid) over the report's span.
#[derive(Default)]
pub(super) struct Throttled {
    /// The first sample task's comm.
    pub comm: String,
    /// Episodes begun (each on one CPU).
    pub episodes: u64,
    /// Events dropped, by kind name, as the episodes' ends said.
    pub dropped: BTreeMap<&'static str, u64>,
    pub first_ns: Option<u64>,
    pub last_ns: u64,
}

impl Throttled {
    pub(super) fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

/// Damaged stretches listed one by one; a hostile file can hold millions.
pub(super) const DAMAGE_KEPT: usize = 100;

/// Reads the whole log (or set of rotated logs) `inputs` names, counting
/// what is in `window`.
pub(super) fn collect(inputs: &[PathBuf], window: &WindowSpec) -> Result<(LogHeader, Report)> {
    let (mut header, mut reader) = LogSet::open(inputs)?;
    let mut r = Report {
        window: window
            .resolve(header.wall_clock(), header.started_boot_ns)
            .map_err(anyhow::Error::msg)?,
        window_args: window.args(),
        ..Report::default()
    };
    let mut table = header.take_task_table();
    for e in table.iter() {
        *r.snapshot.entry(e.kind()).or_default() += 1;
    }
    while let Some(item) = reader.next() {
        match item {
            Ok(Step::Boundary { tasks }) => table.merge_snapshot(tasks),
            Ok(Step::Item(Item::Event(raw))) => r.event(raw, &mut table),
            Ok(Step::Item(Item::Lost {
                tag,
                count,
                boot_ns,
            })) => {
                table.note_lost(EventKind::from_tag(tag));
                if !r.window.contains(boot_ns) {
                    continue;
                }
                let name = EventKind::from_tag(tag).map_or("unknown", |k| k.name());
                let n = r.lost.entry(name).or_default();
                *n = n.saturating_add(count);
            }
            Ok(Step::Item(Item::End { boot_ns })) => {
                if r.window.contains(boot_ns) {
                    r.end_ns = r.end_ns.max(boot_ns);
                }
            }
            Err(damage) => {
                table.note_lost(None);
                r.damage_total += 1;
                if r.damage.len() < DAMAGE_KEPT {
                    r.damage.push(damage);
                }
            }
        }
    }
    Ok((header, r))
}

impl Report {
    /// Kthreads created, grouped by [`name_pattern`] of their final name.
    /// Helpers the kernel could not run first, the rest in order.
    pub(super) fn helpers_failed_first(&self) -> impl Iterator<Item = &Helper> {
        let failed = self.helpers.iter().filter(|h| h.exec_failed);
        failed.chain(self.helpers.iter().filter(|h| !h.exec_failed))
    }

    /// The `n` longest waits of a requester on its helper: those still
    /// held when the log ends first (counted to that end), then the
    /// longest.
    pub(super) fn longest_waits(&self, n: usize) -> Vec<Wait<'_>> {
        let end = self.last_ns.max(self.end_ns);
        let mut waits: Vec<Wait<'_>> = self
            .helpers
            .iter()
            .filter_map(|h| {
                let req = h.request.as_ref()?;
                let held = req.held?;
                let (ns, still) = match req.waited_ns {
                    Some(ns) => (ns, false),
                    None => (end.saturating_sub(req.queued_ns?), true),
                };
                Some(Wait {
                    helper: h,
                    held,
                    ns,
                    still,
                })
            })
            .collect();
        waits.sort_by_key(|w| (std::cmp::Reverse(w.still), std::cmp::Reverse(w.ns)));
        waits.truncate(n);
        waits
    }

    pub(super) fn kthread_groups(&self) -> BTreeMap<String, u64> {
        let mut groups = BTreeMap::new();
        for name in self.kthreads.values() {
            *groups.entry(name_pattern(name)).or_default() += 1;
        }
        groups
    }

    fn event(&mut self, raw: &[u8], table: &mut TaskTable) {
        let Ok(rec) = decode(raw) else {
            self.undecodable += 1;
            return;
        };
        let ann = table.apply(&rec);
        if !self.window.contains(rec.boot_ns) {
            return;
        }
        // A kernel-thread record is folded into its fork (or, at a first
        // run, into the thread): not an event of its own, as in `replay`.
        if let Event::Kthread { child, .. } = &rec.event {
            self.kthreads_by_requester.started(child, &ann);
            return;
        }
        self.events += 1;
        self.first_ns.get_or_insert(rec.boot_ns);
        self.last_ns = self.last_ns.max(rec.boot_ns);
        if let Event::Exit { task, .. } = &rec.event {
            self.dump_over(task.pid, task.start_ns, rec.boot_ns);
        }
        match &rec.event {
            Event::Fork { child, creator, .. } => self.fork(child, creator, &ann),
            Event::Rename { task, new_comm } => {
                self.kthreads_by_requester.renamed(task, new_comm, &ann);
                if let Some(name) = self.kthreads.get_mut(&(task.pid, task.start_ns)) {
                    name.clone_from(new_comm);
                }
            }
            Event::Exec {
                task,
                filename,
                argv,
                ..
            } if ann.subject == Kind::Helper => {
                let h = self.helper_entry(task.pid, task.start_ns, &ann);
                h.path = Some(filename.clone());
                h.argv = argv.clone();
                h.note_request(&ann, None);
                self.note_dumper(task.pid, task.start_ns);
            }
            Event::Exit { task, status, .. } if task.pid == task.tgid => {
                self.exit(task, *status, &ann, rec.boot_ns);
                let key = (task.pid, task.start_ns);
                if ann.subject == Kind::Helper
                    && !self.window.is_all()
                    && !self.helper_index.contains_key(&key)
                {
                    // Forked (and maybe exec'd) before the window.
                    let exe = ann
                        .helper
                        .as_ref()
                        .and_then(|h| h.exe.as_deref().map(String::from));
                    self.helper_entry(task.pid, task.start_ns, &ann).path = exe;
                }
                if let Some(&idx) = self.helper_index.get(&key) {
                    let h = &mut self.helpers[idx];
                    h.end = Some(HelperEnd {
                        boot_ns: rec.boot_ns,
                        status: *status,
                        killer: ann.killer.clone(),
                    });
                    h.note_request(&ann, Some(rec.boot_ns));
                    h.exec_failed = ann.helper.as_ref().is_some_and(|i| i.exec_failed);
                    self.note_dumper(task.pid, task.start_ns);
                }
            }
            Event::SignalGenerate { .. } if ann.subject.kernel_side() => self.signal(&rec, &ann),
            Event::ExecFailed {
                filename, errno, ..
            } => {
                let key = (filename.clone(), crate::model::errno::name(*errno));
                *self.failed_execs.entry(key).or_default() += 1;
            }
            Event::HelperRequest { request, .. } => {
                let uid = request
                    .requester
                    .as_ref()
                    .and_then(|r| r.context)
                    .and_then(|c| c.uid);
                *self.helper_requests_by_uid.entry(uid).or_default() += 1;
            }
            Event::Throttle { task, throttle } => {
                let t = self.throttled.entry(throttle.uid).or_default();
                if t.comm.is_empty() {
                    t.comm.clone_from(&task.comm);
                }
                t.first_ns.get_or_insert(throttle.first_ns);
                t.last_ns = t.last_ns.max(throttle.last_ns);
                match throttle.phase {
                    ThrottlePhase::Begin => t.episodes += 1,
                    ThrottlePhase::End => {
                        for &(kind, n) in &throttle.dropped {
                            *t.dropped.entry(kind.name()).or_default() += n;
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// A process's end: kthreads counted, user deaths by signal listed
    /// (helpers have their own section).
    fn exit(
        &mut self,
        task: &crate::model::event::Task,
        status: ExitStatus,
        ann: &Annotation,
        boot_ns: u64,
    ) {
        match ann.subject {
            Kind::Kthread | Kind::Kworker => {
                *self
                    .kthreads_exited
                    .entry(name_pattern(&task.comm))
                    .or_default() += 1;
            }
            Kind::User | Kind::Init if matches!(status, ExitStatus::Signaled { .. }) => {
                self.deaths_total += 1;
                if self.deaths.len() < DEATHS_KEPT {
                    self.deaths.push(Death {
                        pid: task.pid,
                        comm: task.comm.clone(),
                        kind: ann.subject,
                        boot_ns,
                        status,
                        killer: ann.killer.clone(),
                        lifetime_ns: ann.lifetime_ns,
                    });
                }
            }
            _ => {}
        }
    }

    fn fork(
        &mut self,
        child: &crate::model::event::Task,
        creator: &crate::model::event::Task,
        ann: &Annotation,
    ) {
        *self.new_tasks.entry(ann.subject).or_default() += 1;
        self.kthreads_by_requester.note(child, ann);
        if matches!(ann.subject, Kind::Kthread | Kind::Kworker) {
            self.kthreads
                .insert((child.pid, child.start_ns), child.comm.clone());
        }
        if ann.subject == Kind::Helper && child.pid == child.tgid {
            self.helper_index
                .insert((child.pid, child.start_ns), self.helpers.len());
            self.helpers.push(Helper {
                pid: child.pid,
                spawner: Some((creator.pid, creator.comm.clone())),
                start_ns: child.start_ns,
                ..Default::default()
            });
        }
        if ann.subject == Kind::HelperChild {
            // Credit the helper that made it (grandchildren count for the
            // child that made them, not the helper).
            if let Some(h) = self
                .helpers
                .iter_mut()
                .rev()
                .find(|h| h.pid == creator.tgid)
            {
                h.children += 1;
            }
        }
    }

    /// Helper (pid, start)'s requester, if it dumps core into it, is
    /// watched for the exit that ends the dump.
    fn note_dumper(&mut self, pid: u32, start_ns: u64) {
        if let Some(&idx) = self.helper_index.get(&(pid, start_ns)) {
            if let Some(key) = self.helpers[idx].dumper() {
                self.dumpers.insert(key, idx);
                // Its exit came first: the dump is over.
                if let Some(&(_, at)) = self.recent_exits.iter().find(|(k, _)| *k == key) {
                    self.dump_over(key.0, key.1, at);
                }
            }
        }
    }

    /// Task (pid, start) exited: a core dump it was writing into a helper
    /// is over.
    fn dump_over(&mut self, pid: u32, start_ns: u64, boot_ns: u64) {
        let Some(idx) = self.dumpers.remove(&(pid, start_ns)) else {
            // Kept a while, for a helper not yet known as its reader.
            if self.recent_exits.len() == 64 {
                self.recent_exits.pop_front();
            }
            self.recent_exits.push_back(((pid, start_ns), boot_ns));
            return;
        };
        if let Some(req) = self.helpers[idx].request.as_mut() {
            req.waited_ns = req.queued_ns.and_then(|q| boot_ns.checked_sub(q));
        }
    }

    /// The helper (pid, start), created on its first sighting if its fork
    /// came before the recording.
    fn helper_entry(&mut self, pid: u32, start_ns: u64, ann: &Annotation) -> &mut Helper {
        let helpers = &mut self.helpers;
        let idx = *self.helper_index.entry((pid, start_ns)).or_insert_with(|| {
            helpers.push(Helper {
                pid,
                start_ns,
                spawner: ann
                    .helper
                    .as_ref()
                    .and_then(|h| h.spawner.as_ref().map(|(p, c)| (*p, c.to_string()))),
                ..Default::default()
            });
            helpers.len() - 1
        });
        &mut self.helpers[idx]
    }

    fn signal(&mut self, rec: &Record, ann: &Annotation) {
        let Event::SignalGenerate {
            sender,
            target,
            sig,
            result,
            ..
        } = &rec.event
        else {
            return;
        };
        let key = SignalKey {
            sender_pid: sender.pid,
            sender_comm: sender.comm.clone(),
            target_pid: target.pid,
            target_comm: target.comm.clone(),
            target_kind: ann.subject,
            signal: signals::name(*sig).into_owned(),
            result: result.name().into_owned(),
        };
        *self.signals.entry(key).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use tracer_common::{
        throttle::{THROTTLE_BEGIN, THROTTLE_BY_SOURCE, THROTTLE_END},
        EventKind, Header, HelperRequestEvent, Plain, ThrottleEvent, CTX_CREDS,
    };

    use super::{super::kthreads::name_pattern, Report};
    use crate::model::tasks::TaskTable;

    fn bytes<T: Plain>(v: &T) -> Vec<u8> {
        // SAFETY: T is Plain (repr(C), no implicit padding).
        unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
    }

    #[test]
    fn counts_throttled_sources_and_helper_requesters_by_uid() {
        let mut r = Report::default();
        let mut table = TaskTable::from_snapshot(Vec::new(), None, 100);
        // SAFETY: integers and byte arrays only: zero is a valid value.
        let mut t: ThrottleEvent = unsafe { std::mem::zeroed() };
        t.header = Header::new(EventKind::Throttle, 0, 10);
        t.task.pid = 77;
        t.task.comm[..5].copy_from_slice(b"storm");
        t.uid = 65534;
        t.phase = THROTTLE_BEGIN;
        t.kind = EventKind::Rename.tag() as u8;
        t.reasons = THROTTLE_BY_SOURCE;
        t.first_ns = 10;
        t.last_ns = 10;
        r.event(&bytes(&t), &mut table);
        t.header = Header::new(EventKind::Throttle, 0, 3_000);
        t.phase = THROTTLE_END;
        t.last_ns = 2_000;
        t.dropped[usize::from(EventKind::Rename.tag())] = 5000;
        r.event(&bytes(&t), &mut table);
        let s = &r.throttled[&65534];
        assert_eq!((s.comm.as_str(), s.episodes), ("storm", 1));
        assert_eq!(
            (s.dropped_total(), s.first_ns, s.last_ns),
            (5000, Some(10), 2_000)
        );

        // SAFETY: as above.
        let mut h: HelperRequestEvent = unsafe { std::mem::zeroed() };
        h.header = Header::new(EventKind::HelperRequest, 1, 4_000);
        h.requester.pid = 88;
        h.requester.uid = 65534;
        h.requester.context = CTX_CREDS;
        r.event(&bytes(&h), &mut table);
        h.requester.pid = 0;
        r.event(&bytes(&h), &mut table);
        assert_eq!(r.helper_requests_by_uid.get(&Some(65534)), Some(&1));
        assert_eq!(r.helper_requests_by_uid.get(&None), Some(&1));
    }

    #[test]
    fn groups_kthread_names() {
        assert_eq!(name_pattern("kworker/u8:3"), "kworker/*");
        assert_eq!(name_pattern("jbd2/loop0-8"), "jbd2/*");
        assert_eq!(name_pattern("scsi_eh_1"), "scsi_eh_*");
        assert_eq!(name_pattern("ext4lazyinit"), "ext4lazyinit");
    }
}
