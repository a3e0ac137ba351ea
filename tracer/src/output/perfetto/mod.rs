//! A Perfetto trace (protobuf TrackEvents) of a recorded log, to open in
//! ui.perfetto.dev or any trace processor: `tracer export LOG --format
//! perfetto -o FILE`.
//!
//! How tasks map onto the timeline:
//!
//! - tracks: one per task, nested by process, under kthreadd for kernel
//!   threads, in a group for user-mode helpers ([`tracks`]);
//! - slices: a task's life from its fork (or, for a task alive before the
//!   log, its first appearance) to its exit, one slice per exec segment,
//!   named `comm (program)` (a rename also starts a new slice, so the name
//!   is always the current one); slices still open at the end of the log
//!   close at the last time seen; the first slice of each segment has the
//!   task's identity in its args (`task_id`, `pid`, ..., and the subject's
//!   `parent_task_id`: docs/reference.md, "Task ids");
//! - instants: fork (on the creator's track), exec, failed exec, signals
//!   generated (on the sender's) and delivered or dropped (on the
//!   target's, with the kernel's result), renames, helper requests, and
//!   exits (how the task ended; for helpers, the one-line diagnosis);
//! - flows: creator → child, and a signal's sender → its target
//!   ([`flows`]).
//!
//! Every timestamp is the record's boot-clock time: Perfetto's default
//! trace clock is CLOCK_BOOTTIME, and a clock snapshot maps it to wall time.
//! Output is written as events come ([`packets`]); what is kept per task
//! lives until the task's exit.

mod flows;
mod packets;
mod proto;
mod tracks;

use flows::{Flows, Pending};
use packets::{Args, Packets};
use proto::track_event::Type;
use tracks::{Found, Live, Tracks};

use super::{formatter::Formatter, sentences};
use crate::model::{
    classify::Kind,
    clock::WallClock,
    event::{Event, HelperRequest, Record, Task, ThrottlePhase},
    flags::{PfNames, PF_KTHREAD},
    signals::{self, GenerateResult},
    task_id::TaskIds,
    tasks::Annotation,
};

/// The subject's `parent_task_id`, where its parent is known.
fn parented(args: Args, ann: &Annotation) -> Args {
    let parent = ann.ids.parent.map(|id| id.to_string());
    args.opt_str("parent_task_id", parent.as_deref())
}

pub fn formatter(clock: WallClock, pf: PfNames) -> Box<dyn Formatter> {
    Box::new(Timeline::new(clock, pf))
}

/// The formatter: turns each event into track declarations, slices,
/// instants and flows.
pub struct Timeline {
    clock: WallClock,
    pf: PfNames,
    packets: Packets,
    tracks: Tracks,
    flows: Flows,
    /// The latest time written. Records come in time order except for a
    /// rare late one (see docs/reference.md, "Ring buffers and order"), which is drawn
    /// at this time instead of its own (at most its delay later): so every
    /// slice ends after it begins and every arrow points forward.
    last_ns: u64,
    /// Whether the throttle track was declared.
    throttled_declared: bool,
    /// How the current record's annotation names its tasks.
    ids: TaskIds,
}

/// `comm (program)`, or the comm alone when the program is unknown.
fn slice_name(comm: &str, program: Option<&str>) -> String {
    match program {
        Some(p) => format!("{comm} ({p})"),
        None => comm.to_string(),
    }
}

/// A task's kind when the annotation does not say (it always should).
fn guess_kind(task: &Task) -> Kind {
    match (task.pid, task.flags & PF_KTHREAD != 0) {
        (2, true) => Kind::Kthreadd,
        (_, true) => Kind::Kthread,
        _ => Kind::User,
    }
}

impl Timeline {
    pub fn new(clock: WallClock, pf: PfNames) -> Self {
        Timeline {
            clock,
            pf,
            packets: Packets::default(),
            tracks: Tracks::default(),
            flows: Flows::default(),
            last_ns: 0,
            throttled_declared: false,
            ids: TaskIds::default(),
        }
    }

    /// Who a task is, on the first slice of each segment of its life.
    fn identity(&self, task: &Task, kind: Kind) -> Args {
        Args::default()
            .str("task_id", &self.ids.of(task).to_string())
            .int("pid", task.pid)
            .int("tgid", task.tgid)
            .int("ppid", task.ppid)
            .str("kind", kind.name())
            .str("flags", &self.pf.join(task.flags))
            .uint("start_ns", task.start_ns)
    }

    /// An instant on `track` that starts flows `from` and closes flows `to`.
    fn instant(
        &mut self,
        out: &mut Vec<u8>,
        (track, ts): (u64, u64),
        name: String,
        args: Args,
        (from, to): (&[u64], &[u64]),
    ) {
        let mut ev = packets::event(Type::Instant, track, Some(name), args);
        ev.flow_ids = from.to_vec();
        ev.terminating_flow_ids = to.to_vec();
        self.packets.event(out, ts, ev);
    }

    /// Opens a slice on `track`, closing flows `to` (a fork's arrow).
    fn begin_slice(
        &mut self,
        out: &mut Vec<u8>,
        (track, ts): (u64, u64),
        name: String,
        args: Args,
        to: &[u64],
    ) {
        let mut ev = packets::event(Type::SliceBegin, track, Some(name), args);
        ev.terminating_flow_ids = to.to_vec();
        self.packets.event(out, ts, ev);
    }

    /// Closes the slice open on `track`; `args` join the slice's own.
    fn end_slice(&mut self, out: &mut Vec<u8>, (track, ts): (u64, u64), args: Args) {
        let ev = packets::event(Type::SliceEnd, track, None, args);
        self.packets.event(out, ts, ev);
    }

    /// The track of `task`, added (with no slice yet) if it is new.
    fn add(&mut self, out: &mut Vec<u8>, task: &Task, kind: Kind, ts: u64) -> (u64, Found) {
        let (uuid, found, stale) = self.tracks.find_or_add(&mut self.packets, out, task, kind);
        if let Some(stale) = stale {
            self.close_lost(out, task, stale, ts);
        }
        (uuid, found)
    }

    /// The track of a task that takes part in an event. A task seen for
    /// the first time (alive before the log) starts its slice here.
    fn touch(&mut self, out: &mut Vec<u8>, task: &Task, kind: Kind, ts: u64) -> u64 {
        let (uuid, found) = self.add(out, task, kind, ts);
        if let Found::New = found {
            let args = self.identity(task, kind).bool("first_seen", true);
            self.begin_slice(out, (uuid, ts), slice_name(&task.comm, None), args, &[]);
        }
        uuid
    }

    /// A task under a reused pid whose exit the log lost: its slice and
    /// its pending signals close where the new task appears.
    fn close_lost(&mut self, out: &mut Vec<u8>, task: &Task, stale: Live, ts: u64) {
        let ids = self.flows.exit(task, false);
        let note = "its exit is not in the log; its pid was reused here";
        let args = Args::default().str("note", note);
        self.instant(
            out,
            (stale.uuid, ts),
            "exit not seen".into(),
            args,
            (&[], &ids),
        );
        self.end_slice(out, (stale.uuid, ts), Args::default().str("end", note));
    }

    fn fork(&mut self, out: &mut Vec<u8>, ts: u64, rec: &Record, ann: &Annotation) {
        let Event::Fork {
            creator,
            child,
            clone_flags,
        } = &rec.event
        else {
            return;
        };
        let creator_kind = ann.other.unwrap_or_else(|| guess_kind(creator));
        let from = self.touch(out, creator, creator_kind, ts);
        let flow = self.flows.new_id();
        let args = Args::default()
            .int("child_pid", child.pid)
            .str("child_comm", &child.comm)
            .uint("clone_flags", *clone_flags);
        let name = format!("fork {}", child.pid);
        self.instant(out, (from, ts), name, args, (&[flow], &[]));
        // A kernel thread's requester: a second arrow, to the thread.
        let asked = self.kthread_request(out, ts, child, ann);
        let flow = &[flow, asked.unwrap_or(0)][..1 + usize::from(asked.is_some())];
        // A fork copies the program; a new kernel thread runs none.
        let program = self
            .tracks
            .get_mut(creator.pid)
            .filter(|l| l.start_ns == creator.start_ns && child.flags & PF_KTHREAD == 0)
            .and_then(|l| l.program.clone());
        let (uuid, found) = self.add(out, child, ann.subject, ts);
        if let Found::New = found {
            let name = slice_name(&child.comm, program.as_deref());
            if let Some(l) = self.tracks.get_mut(child.pid) {
                l.program = program;
            }
            let args = parented(self.identity(child, ann.subject), ann)
                .int("creator_pid", creator.pid)
                .str("creator_comm", &creator.comm);
            self.begin_slice(out, (uuid, ts), name, args, flow);
        } else {
            // Its fork came after other events of it (never expected):
            // the arrow still lands on its track.
            let args = Args::default();
            self.instant(out, (uuid, ts), "forked".into(), args, (&[], flow));
        }
    }

    /// An instant on the requester's track that starts an arrow to the new
    /// kernel thread kthreadd made for it (`model::kthreads`).
    fn kthread_request(
        &mut self,
        out: &mut Vec<u8>,
        ts: u64,
        child: &Task,
        ann: &Annotation,
    ) -> Option<u64> {
        let k = ann.kthread.as_deref()?;
        let requester = k.request.requester.as_ref()?;
        let kind = k.requester_kind.unwrap_or_else(|| guess_kind(requester));
        let from = self.touch(out, requester, kind, ts);
        let flow = self.flows.new_id();
        let args = Args::default()
            .int("child_pid", child.pid)
            .str("child_comm", &child.comm)
            .str("link", k.request.link.name());
        let name = format!("asked for kthread {}", child.pid);
        self.instant(out, (from, ts), name, args, (&[flow], &[]));
        Some(flow)
    }

    fn exec(&mut self, out: &mut Vec<u8>, ts: u64, rec: &Record, ann: &Annotation) {
        let Event::Exec {
            task,
            old_pid,
            filename,
            argv,
            cut,
        } = &rec.event
        else {
            return;
        };
        if *old_pid != task.pid {
            if let Some(stale) = self.tracks.take_over(*old_pid, task) {
                self.close_lost(out, task, stale, ts);
            }
        }
        let (uuid, found) = self.add(out, task, ann.subject, ts);
        let instant = Args::default()
            .str("filename", filename)
            .strs("argv", argv)
            .int("old_pid", *old_pid);
        let instant_name = format!("exec {filename}");
        if let Found::Ended = found {
            // An exec after its exit (never expected): no slice to open.
            self.instant(out, (uuid, ts), instant_name, instant, (&[], &[]));
            return;
        }
        if let Some(l) = self.tracks.get_mut(task.pid) {
            l.comm = task.comm.as_str().into();
            l.program = Some(filename.as_str().into());
        }
        if let Found::Live = found {
            // The old image's segment ends where the new one begins.
            self.end_slice(out, (uuid, ts), Args::default());
            self.tracks.rename(&mut self.packets, out, task.pid);
        }
        let mut args = parented(self.identity(task, ann.subject), ann)
            .str("filename", filename)
            .strs("argv", argv);
        if let Some(c) = cut {
            args = args
                .bool("argv_truncated", c.argv_truncated)
                .bool("filename_truncated", c.filename_truncated);
        }
        if let Some(h) = &ann.helper {
            let spawner = h
                .spawner
                .as_ref()
                .map(|(pid, comm)| format!("{pid} ({comm})"));
            args = args
                .opt_str("helper_exe", h.exe.as_deref())
                .opt_str("helper_for", sentences::requested_for(h).as_deref())
                .opt_str("spawned_by", spawner.as_deref());
        }
        let name = slice_name(&task.comm, Some(filename));
        self.begin_slice(out, (uuid, ts), name, args, &[]);
        self.instant(out, (uuid, ts), instant_name, instant, (&[], &[]));
    }

    fn exit(&mut self, out: &mut Vec<u8>, ts: u64, rec: &Record, ann: &Annotation) {
        let Event::Exit {
            task,
            status,
            group_dead,
        } = &rec.event
        else {
            return;
        };
        let uuid = self.touch(out, task, ann.subject, ts);
        let mut args = Args::default()
            .str("status", &status.to_string())
            .str("end", &sentences::death(status, ann));
        if let Some(ns) = ann.lifetime_ns {
            args = args.uint("lifetime_ns", ns);
        }
        if let Some(k) = &ann.killer {
            let by = format!("{} {}", signals::name(k.sig), sentences::sender(k));
            args = args.str("killed_by", &by);
        }
        if let Some(d) = sentences::diagnosis(rec, ann) {
            args = args.str("diagnosis", &d);
        }
        if let Some(g) = group_dead {
            args = args.bool("group_dead", *g);
        }
        // Before 6.16 the kernel does not say; the leader's exit stands
        // for the process's.
        let group_exit = group_dead.unwrap_or(task.pid == task.tgid);
        let ids = self.flows.exit(task, group_exit);
        let name = format!("exit: {status}");
        self.instant(out, (uuid, ts), name, args.copy(), (&[], &ids));
        if self.tracks.remove(task.pid).is_some() {
            self.end_slice(out, (uuid, ts), args);
        }
    }

    fn signal_generate(&mut self, out: &mut Vec<u8>, ts: u64, rec: &Record, ann: &Annotation) {
        let Event::SignalGenerate {
            sender,
            sender_uid,
            target,
            sig,
            errno,
            code,
            group,
            result,
        } = &rec.event
        else {
            return;
        };
        let sender_kind = ann.other.unwrap_or_else(|| guess_kind(sender));
        let from = self.touch(out, sender, sender_kind, ts);
        let to = self.touch(out, target, ann.subject, ts);
        let flow = self.flows.new_id();
        let sig_name = signals::name(*sig);
        let args = Args::default()
            .int("target_pid", target.pid)
            .str("target_comm", &target.comm)
            .str("result", &result.name())
            .bool("group", *group)
            .int("code", *code)
            .int("errno", *errno)
            .int("sender_uid", *sender_uid);
        let name = format!("{sig_name} to {}", target.pid);
        self.instant(out, (from, ts), name, args, (&[flow], &[]));
        let target_alive = self
            .tracks
            .get_mut(target.pid)
            .is_some_and(|l| l.start_ns == target.start_ns);
        if *result == GenerateResult::Delivered && target_alive {
            let pending = Pending {
                sig: *sig,
                id: flow,
                track: to,
            };
            self.flows.pend(target, *group, pending);
        } else {
            // Not queued (or sent to a task already gone): nothing more
            // will come of it.
            let args = Args::default()
                .int("sender_pid", sender.pid)
                .str("sender_comm", &sender.comm)
                .str("result", &result.name());
            let name = format!("{sig_name} {}", result.name());
            self.instant(out, (to, ts), name, args, (&[], &[flow]));
        }
    }

    fn signal_deliver(&mut self, out: &mut Vec<u8>, ts: u64, rec: &Record, ann: &Annotation) {
        let Event::SignalDeliver {
            task,
            sig,
            errno,
            code,
            disposition,
            sa_flags,
        } = &rec.event
        else {
            return;
        };
        let uuid = self.touch(out, task, ann.subject, ts);
        let ids: Vec<u64> = self.flows.deliver(task, *sig).into_iter().collect();
        let args = Args::default()
            .str("handler", disposition.label())
            .uint("sa_flags", *sa_flags)
            .int("code", *code)
            .int("errno", *errno);
        let name = format!(
            "{} delivered ({})",
            signals::name(*sig),
            disposition.label()
        );
        self.instant(out, (uuid, ts), name, args, (&[], &ids));
    }

    fn rename(&mut self, out: &mut Vec<u8>, ts: u64, rec: &Record, ann: &Annotation) {
        let Event::Rename { task, new_comm } = &rec.event else {
            return;
        };
        let (uuid, found) = self.add(out, task, ann.subject, ts);
        let mut program = None;
        if let Some(l) = self.tracks.get_mut(task.pid) {
            l.comm = new_comm.as_str().into();
            program = l.program.clone();
        }
        if !matches!(found, Found::Ended) {
            // Slices carry the name the task has now: a task renamed right
            // after its birth (an io_uring worker, a kernel thread on older
            // kernels) would otherwise show its creator's name all its
            // life. The program stays.
            if let Found::Live = found {
                self.end_slice(out, (uuid, ts), Args::default());
            }
            self.tracks.rename(&mut self.packets, out, task.pid);
            let name = slice_name(new_comm, program.as_deref());
            let args =
                parented(self.identity(task, ann.subject), ann).str("renamed_from", &task.comm);
            self.begin_slice(out, (uuid, ts), name, args, &[]);
        }
        let args = Args::default()
            .str("old_comm", &task.comm)
            .str("new_comm", new_comm);
        let name = format!("rename {new_comm}");
        self.instant(out, (uuid, ts), name, args, (&[], &[]));
    }

    fn helper_request(&mut self, out: &mut Vec<u8>, ts: u64, rec: &Record, ann: &Annotation) {
        let Event::HelperRequest { kworker, request } = &rec.event else {
            return;
        };
        let uuid = self.touch(out, kworker, ann.subject, ts);
        let reason = ann.helper.as_ref().and_then(|h| h.reason.as_deref());
        let name = format!("helper request {}", request.path);
        let args = request_args(request, reason);
        self.instant(out, (uuid, ts), name, args, (&[], &[]));
    }

    fn exec_failed(&mut self, out: &mut Vec<u8>, ts: u64, rec: &Record, ann: &Annotation) {
        let Event::ExecFailed {
            task,
            errno,
            via,
            filename,
            filename_truncated,
        } = &rec.event
        else {
            return;
        };
        let uuid = self.touch(out, task, ann.subject, ts);
        let error = crate::model::errno::name(*errno);
        let args = Args::default()
            .str("filename", filename)
            .bool("filename_truncated", *filename_truncated)
            .str("error", &error)
            .str("via", via.name());
        let name = format!("exec failed {error}");
        self.instant(out, (uuid, ts), name, args, (&[], &[]));
    }
}

impl Timeline {
    /// A throttle record: an instant on a track of its own (episodes of
    /// several uids and CPUs overlap, so not slices), named for the uid.
    fn throttle(&mut self, out: &mut Vec<u8>, ts: u64, rec: &Record) {
        let Event::Throttle { task, throttle: t } = &rec.event else {
            return;
        };
        if !self.throttled_declared {
            self.packets
                .track(out, tracks::THROTTLED, None, "throttled sources");
            self.throttled_declared = true;
        }
        let mut args = Args::default()
            .int("uid", t.uid)
            .int("sample_pid", task.pid)
            .str("sample_comm", &task.comm)
            .int("cpu", t.cpu)
            .str("reasons", t.reasons_text())
            .uint("first_ns", t.first_ns)
            .uint("last_ns", t.last_ns);
        let name = match t.phase {
            ThrottlePhase::Begin => {
                args = args
                    .str("dropping", &t.kinds_text())
                    .int("recorded", t.recorded);
                format!("uid {} throttled ({})", t.uid, t.kinds_text())
            }
            ThrottlePhase::End => {
                args = args
                    .str("dropped", &t.kinds_text())
                    .uint("dropped_total", t.dropped_total())
                    .int("other_uids", t.other_uids);
                format!("uid {} dropped {}", t.uid, t.dropped_total())
            }
        };
        self.instant(out, (tracks::THROTTLED, ts), name, args, (&[], &[]));
    }
}

/// A helper request's details: whom it is for, what it runs, who waits.
fn request_args(req: &HelperRequest, reason: Option<&str>) -> Args {
    let mut args = Args::default()
        .str("request_path", &req.path)
        .bool("request_path_truncated", req.path_truncated)
        .str("waits", sentences::waits(req));
    if let Some(r) = &req.requester {
        args = args
            .int("requested_by_pid", r.pid)
            .str("requested_by_comm", &r.comm);
    }
    if let Some(ns) = req.queued_ns {
        args = args.uint("queued_ns", ns);
    }
    args.opt_str("reason", reason)
}

impl Formatter for Timeline {
    /// Nothing yet: the first packet carries the first record's time.
    fn begin(&mut self, _out: &mut Vec<u8>) {}

    fn record(&mut self, out: &mut Vec<u8>, rec: &Record, ann: &Annotation) {
        if !self.packets.started() {
            let wall = u64::try_from(self.clock.wall_ns(rec.boot_ns)).ok();
            self.packets.start(out, rec.boot_ns, wall);
        }
        let ts = rec.boot_ns.max(self.last_ns);
        self.last_ns = ts;
        self.ids = ann.ids.namer;
        match rec.event {
            Event::Fork { .. } => self.fork(out, ts, rec, ann),
            Event::Exec { .. } => self.exec(out, ts, rec, ann),
            Event::Exit { .. } => self.exit(out, ts, rec, ann),
            Event::SignalGenerate { .. } => self.signal_generate(out, ts, rec, ann),
            Event::SignalDeliver { .. } => self.signal_deliver(out, ts, rec, ann),
            Event::Rename { .. } => self.rename(out, ts, rec, ann),
            Event::HelperRequest { .. } => self.helper_request(out, ts, rec, ann),
            Event::ExecFailed { .. } => self.exec_failed(out, ts, rec, ann),
            Event::Throttle { .. } => self.throttle(out, ts, rec),
            // Folded into the fork's; the pipeline does not show it.
            Event::Kthread { .. } => {}
        }
    }

    /// Closes what the log left open, at the last time seen: signals never
    /// delivered, then the slices of tasks still alive.
    fn end(&mut self, out: &mut Vec<u8>) {
        if !self.packets.started() {
            return;
        }
        let ts = self.last_ns;
        for p in self.flows.drain() {
            let name = format!("{} still pending", signals::name(p.sig));
            self.instant(out, (p.track, ts), name, Args::default(), (&[], &[p.id]));
        }
        for l in self.tracks.drain() {
            let args = Args::default().str("end", "still alive at the end of the log");
            self.end_slice(out, (l.uuid, ts), args);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use prost::Message as _;

    use super::{proto::Trace, tracks::KTHREADD, *};
    use crate::model::signals::{Disposition, ExitStatus};

    fn task(pid: u32, tgid: u32, comm: &str, flags: u32) -> Task {
        Task {
            pid,
            tgid,
            ppid: 1,
            flags,
            has_mm: flags & PF_KTHREAD == 0,
            comm: comm.into(),
            start_ns: u64::from(pid) * 10,
            context: None,
        }
    }

    fn ann(subject: Kind, other: Option<Kind>) -> Annotation {
        Annotation {
            subject,
            other,
            helper: None,
            killer: None,
            lifetime_ns: None,
            ids: Default::default(),
            kthread: None,
        }
    }

    fn timeline() -> Timeline {
        Timeline::new(
            WallClock { boot_epoch_ns: 0 },
            PfNames::for_version((6, 18)),
        )
    }

    fn feed(t: &mut Timeline, out: &mut Vec<u8>, boot_ns: u64, event: Event, a: Annotation) {
        let rec = Record {
            boot_ns,
            cpu: 0,
            event,
        };
        t.record(out, &rec, &a);
    }

    /// What a reader sees: per track (name, parent), slices as (track,
    /// name, begin, end), flows as id → (start track, end track); panics on
    /// an unbalanced slice, an undeclared track or a flow without two ends.
    struct Seen {
        tracks: HashMap<u64, (String, Option<u64>)>,
        slices: Vec<(u64, String, u64, u64)>,
        flows: HashMap<u64, (u64, u64)>,
    }

    fn read(out: &[u8]) -> Seen {
        let trace = Trace::decode(out).expect("a Trace");
        let mut seen = Seen {
            tracks: HashMap::new(),
            slices: Vec::new(),
            flows: HashMap::new(),
        };
        let mut open: HashMap<u64, Vec<(String, u64)>> = HashMap::new();
        let (mut starts, mut ends) = (HashMap::new(), HashMap::new());
        for (i, p) in trace.packet.iter().enumerate() {
            assert_eq!(
                i == 0,
                p.sequence_flags == Some(1),
                "only the first packet clears"
            );
            match p.data.as_ref().expect("packet data") {
                proto::trace_packet::Data::TrackDescriptor(d) => {
                    let Some(proto::track_descriptor::StaticOrDynamicName::Name(name)) =
                        &d.static_or_dynamic_name
                    else {
                        panic!("unnamed track")
                    };
                    if let Some(parent) = d.parent_uuid {
                        assert!(seen.tracks.contains_key(&parent), "parent first");
                    }
                    seen.tracks
                        .insert(d.uuid.unwrap(), (name.clone(), d.parent_uuid));
                }
                proto::trace_packet::Data::TrackEvent(e) => {
                    let track = e.track_uuid.unwrap();
                    assert!(seen.tracks.contains_key(&track), "track {track} declared");
                    let ts = p.timestamp.unwrap();
                    for &id in &e.flow_ids {
                        assert!(starts.insert(id, track).is_none(), "flow {id} starts once");
                    }
                    for &id in &e.terminating_flow_ids {
                        assert!(ends.insert(id, track).is_none(), "flow {id} ends once");
                    }
                    let name = match &e.name_field {
                        Some(proto::track_event::NameField::Name(n)) => n.clone(),
                        None => String::new(),
                    };
                    match e.r#type() {
                        Type::SliceBegin => open.entry(track).or_default().push((name, ts)),
                        Type::SliceEnd => {
                            let (name, begin) = open
                                .get_mut(&track)
                                .and_then(Vec::pop)
                                .expect("an end closes an open slice");
                            assert!(begin <= ts);
                            seen.slices.push((track, name, begin, ts));
                        }
                        _ => {}
                    }
                }
                proto::trace_packet::Data::ClockSnapshot(_) => assert_eq!(i, 0),
            }
        }
        assert!(open.values().all(Vec::is_empty), "every slice closed");
        assert_eq!(starts.len(), ends.len(), "every flow has two ends");
        for (id, from) in starts {
            seen.flows.insert(id, (from, ends[&id]));
        }
        seen
    }

    fn track_named(seen: &Seen, name: &str) -> u64 {
        *seen
            .tracks
            .iter()
            .find(|(_, (n, _))| n == name)
            .unwrap_or_else(|| panic!("no track {name}"))
            .0
    }

    #[test]
    fn a_life_is_slices_with_flows_from_its_creator_and_its_killer() {
        let (mut t, mut out) = (timeline(), Vec::new());
        let (bash, child) = (task(100, 100, "bash", 0), task(200, 200, "bash", 0));
        let user = || ann(Kind::User, Some(Kind::User));
        let fork = Event::Fork {
            creator: bash.clone(),
            child: child.clone(),
            clone_flags: 0,
        };
        feed(&mut t, &mut out, 1_000, fork, user());
        let exec = Event::Exec {
            task: task(200, 200, "sleep", 0),
            old_pid: 200,
            filename: "/bin/sleep".into(),
            argv: vec!["sleep".into(), "9".into()],
            cut: None,
        };
        feed(&mut t, &mut out, 2_000, exec, user());
        let kill = Event::SignalGenerate {
            sender: bash.clone(),
            sender_uid: 0,
            target: child.clone(),
            sig: 9,
            errno: 0,
            code: 0,
            group: true,
            result: GenerateResult::Delivered,
        };
        feed(&mut t, &mut out, 3_000, kill, user());
        let exit = Event::Exit {
            task: child.clone(),
            status: ExitStatus::Signaled {
                sig: 9,
                core: false,
            },
            group_dead: Some(true),
        };
        feed(&mut t, &mut out, 3_100, exit, user());
        // The SIGCHLD a task sends as it dies comes after its exit: it
        // lands on its track without opening a new slice.
        let sigchld = Event::SignalGenerate {
            sender: child.clone(),
            sender_uid: 0,
            target: bash.clone(),
            sig: 17,
            errno: 0,
            code: 1,
            group: true,
            result: GenerateResult::Delivered,
        };
        feed(&mut t, &mut out, 3_200, sigchld, user());
        assert_eq!(t.tracks.held(), (1, 1), "only bash is still held");
        t.end(&mut out);
        assert_eq!(t.tracks.held(), (0, 0));
        assert_eq!(t.flows.held(), 0);

        let seen = read(&out);
        let (b, c) = (
            track_named(&seen, "bash 100"),
            track_named(&seen, "sleep 200"),
        );
        assert_eq!(seen.tracks[&c].1, None, "a process is a top-level track");
        let mut slices: Vec<_> = seen.slices.iter().filter(|s| s.0 == c).collect();
        slices.sort_by_key(|s| s.2);
        let names: Vec<(&str, u64, u64)> =
            slices.iter().map(|s| (s.1.as_str(), s.2, s.3)).collect();
        assert_eq!(
            names,
            [("bash", 1_000, 2_000), ("sleep (/bin/sleep)", 2_000, 3_100)]
        );
        let bash_life = seen.slices.iter().find(|s| s.0 == b).unwrap();
        assert_eq!(
            (bash_life.2, bash_life.3),
            (1_000, 3_200),
            "closed at the end"
        );
        let mut flows: Vec<_> = seen.flows.values().copied().collect();
        flows.sort();
        // fork and kill from bash to the child; the SIGCHLD back, still
        // pending at the end of the log.
        assert_eq!(flows, [(b, c), (b, c), (c, b)]);
    }

    #[test]
    fn kernel_threads_helpers_and_workers_nest_where_they_belong() {
        let (mut t, mut out) = (timeline(), Vec::new());
        let kthreadd = task(2, 2, "kthreadd", PF_KTHREAD);
        let kworker = task(50, 50, "kworker/u8:1", PF_KTHREAD);
        let fork = |creator: &Task, child: Task| Event::Fork {
            creator: creator.clone(),
            child,
            clone_flags: 0,
        };
        let jbd2 = task(300, 300, "jbd2/loop0-8", PF_KTHREAD);
        feed(
            &mut t,
            &mut out,
            10,
            fork(&kthreadd, jbd2),
            ann(Kind::Kthread, Some(Kind::Kthreadd)),
        );
        let helper = task(301, 301, "kworker/u8:1", 0);
        feed(
            &mut t,
            &mut out,
            20,
            fork(&kworker, helper.clone()),
            ann(Kind::Helper, Some(Kind::Kworker)),
        );
        // An io_uring worker of a process alive before the log, made by a
        // thread that is not its leader.
        let submitter = task(401, 400, "app", 0);
        let worker = task(402, 400, "iou-sqp-401", 0x10);
        feed(
            &mut t,
            &mut out,
            30,
            fork(&submitter, worker),
            ann(Kind::IoWorker, Some(Kind::User)),
        );
        // Signals to kernel threads are ignored: the arrow ends at once.
        let term = Event::SignalGenerate {
            sender: submitter.clone(),
            sender_uid: 0,
            target: kthreadd.clone(),
            sig: 15,
            errno: 0,
            code: 0,
            group: true,
            result: GenerateResult::Ignored,
        };
        feed(
            &mut t,
            &mut out,
            40,
            term,
            ann(Kind::Kthreadd, Some(Kind::User)),
        );
        let deliver = Event::SignalDeliver {
            task: helper.clone(),
            sig: 9,
            errno: 0,
            code: 0,
            disposition: Disposition::Default,
            sa_flags: 0,
        };
        feed(&mut t, &mut out, 50, deliver, ann(Kind::Helper, None));
        t.end(&mut out);

        let seen = read(&out);
        let parent = |name: &str| seen.tracks[&track_named(&seen, name)].1;
        assert_eq!(track_named(&seen, "kthreadd 2"), KTHREADD);
        assert_eq!(parent("jbd2/loop0-8 300"), Some(KTHREADD));
        assert_eq!(parent("kworker/u8:1 50"), Some(KTHREADD));
        let helpers = track_named(&seen, "user-mode helpers");
        assert_eq!(parent("kworker/u8:1 301"), Some(helpers));
        let process = track_named(&seen, "process 400");
        assert_eq!(parent("app 401"), Some(process));
        assert_eq!(parent("iou-sqp-401 402"), Some(process));
        let ids: HashMap<u64, &str> = seen
            .tracks
            .iter()
            .map(|(id, (n, _))| (*id, n.as_str()))
            .collect();
        let mut flows: Vec<(&str, &str)> =
            seen.flows.values().map(|(a, b)| (ids[a], ids[b])).collect();
        flows.sort();
        assert_eq!(
            flows,
            [
                ("app 401", "iou-sqp-401 402"),
                ("app 401", "kthreadd 2"),
                ("kthreadd 2", "jbd2/loop0-8 300"),
                ("kworker/u8:1 50", "kworker/u8:1 301"),
            ]
        );
    }

    #[test]
    fn a_late_record_never_ends_a_slice_before_it_began() {
        let (mut t, mut out) = (timeline(), Vec::new());
        let parent = task(100, 100, "sh", 0);
        let child = task(200, 200, "sh", 0);
        let fork = Event::Fork {
            creator: parent,
            child: child.clone(),
            clone_flags: 0,
        };
        feed(
            &mut t,
            &mut out,
            5_000,
            fork,
            ann(Kind::User, Some(Kind::User)),
        );
        // Delivered out of order, stamped before the fork.
        let exit = Event::Exit {
            task: child,
            status: ExitStatus::Exited(0),
            group_dead: Some(true),
        };
        feed(&mut t, &mut out, 4_000, exit, ann(Kind::User, None));
        t.end(&mut out);
        let seen = read(&out);
        let c = track_named(&seen, "sh 200");
        let life = seen.slices.iter().find(|s| s.0 == c).unwrap();
        assert_eq!((life.2, life.3), (5_000, 5_000));
    }
}
