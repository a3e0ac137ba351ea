//! One row per event: what each event kind and the table's annotation
//! set in the columns of [`super::schema`].

use tracer_common::EventKind;

use super::{origin::Origin, schema::Columns};
use crate::{
    log::header::Part,
    model::{
        classify::Kind,
        context, errno,
        event::{Event, HelperRequest, Record, Task, Throttle, ThrottlePhase},
        kthreads::KthreadInfo,
        signals::{self, Disposition, ExitStatus},
        task_id::TaskId,
        tasks::Annotation,
    },
    output,
};

/// The columns of the rows not yet written, and what every row repeats.
pub(super) struct Rows {
    pub(super) cols: Columns,
    origin: Origin,
}

impl Rows {
    pub(super) fn new(origin: Origin) -> Rows {
        Rows {
            cols: Columns::new(),
            origin,
        }
    }

    pub(super) fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The id of task `t` (see `model::task_id`).
    fn id(&self, t: &Task) -> TaskId {
        self.origin
            .boot_key()
            .task(t.start_ns / self.origin.ns_per_tick(), t.pid)
    }

    /// The columns every row has.
    fn common(&mut self, boot_ns: u64, event: &str) {
        let o = &self.origin;
        let c = &mut self.cols;
        c.time.set(o.clock.wall_ns(boot_ns));
        c.boot_ns.set(boot_ns);
        c.host.set(&o.host);
        c.machine_id.opt(o.machine_id.as_deref());
        c.boot_id.set(&o.boot_id);
        c.recording_id.set(&o.recording_id);
        c.event.set(event);
    }

    /// `count` records of `kind` lost in the kernel.
    pub(super) fn lost(&mut self, kind: Option<EventKind>, count: u64, boot_ns: u64) {
        self.common(boot_ns, "lost");
        self.cols
            .lost_event
            .set(kind.map_or("unknown", EventKind::name));
        self.cols.count.set(count);
        self.cols.end_row();
    }

    /// A damaged stretch of the log, at about `boot_ns` (the last event
    /// read before it).
    pub(super) fn damaged(&mut self, what: &str, boot_ns: u64) {
        self.common(boot_ns, "damaged");
        self.cols.damage.set(what);
        self.cols.end_row();
    }

    /// The stream goes on in the next file of its recording.
    pub(super) fn next_file(&mut self, part: Part) {
        if part.session != 0 {
            self.origin.recording_id = format!("{:016x}", part.session);
        }
        self.origin.part = part;
    }

    pub(super) fn record(&mut self, rec: &Record, ann: &Annotation) {
        self.common(rec.boot_ns, rec.event.kind().name());
        self.cols.cpu.set(rec.cpu);
        self.subject(rec.event.subject(), ann);
        match &rec.event {
            Event::Fork {
                creator,
                clone_flags,
                ..
            } => {
                let id = self.id(creator).to_string();
                let c = &mut self.cols;
                c.creator_task_id.set(&id);
                c.creator_pid.set(creator.pid);
                c.creator_tgid.set(creator.tgid);
                c.creator_comm.set(&creator.comm);
                c.creator_kind.opt(ann.other.map(Kind::name));
                c.clone_flags.set(*clone_flags);
                if let Some(k) = &ann.kthread {
                    self.kthread(k, ann);
                }
            }
            Event::Exec {
                old_pid,
                filename,
                argv,
                cut,
                ..
            } => {
                let c = &mut self.cols;
                c.filename.set(filename);
                c.filename_bytes.exact(filename);
                c.argv.set(argv.iter().map(String::as_str));
                c.argv_bytes.exact(argv);
                c.old_pid.set(*old_pid);
                if let Some(cut) = cut {
                    c.argv_truncated.set(cut.argv_truncated);
                    c.argc.set(cut.argc);
                    c.args_bytes.set(cut.args_bytes);
                    c.filename_truncated.set(cut.filename_truncated);
                }
                self.helper(ann, None);
            }
            Event::Exit {
                status, group_dead, ..
            } => {
                let c = &mut self.cols;
                match *status {
                    ExitStatus::Exited(code) => {
                        c.exit_status.set(code);
                        c.core_dumped.set(false);
                    }
                    ExitStatus::Signaled { sig, core } => {
                        c.exit_signal.set(&signals::name(sig));
                        c.core_dumped.set(core);
                    }
                }
                if let Some(v) = group_dead {
                    c.group_dead.set(*v);
                }
                c.lifetime_ns.opt(ann.lifetime_ns);
                if let Some(k) = &ann.killer {
                    c.killer_signal.set(&signals::name(k.sig));
                    c.killer_pid.set(k.pid);
                    c.killer_tgid.set(k.tgid);
                    c.killer_uid.set(k.uid);
                    c.killer_comm.set(&k.comm);
                    c.killer_boot_ns.set(k.boot_ns);
                }
                c.diagnosis.opt(output::diagnosis(rec, ann).as_deref());
                self.helper(ann, Some(rec.boot_ns));
            }
            Event::SignalGenerate {
                sender,
                sender_uid,
                sig,
                errno,
                code,
                group,
                result,
                ..
            } => {
                self.signal(*sig, *errno, *code);
                let id = self.id(sender).to_string();
                let c = &mut self.cols;
                c.result.set(&result.name());
                c.group.set(*group);
                c.sender_uid.set(*sender_uid);
                c.sender_task_id.set(&id);
                c.sender_pid.set(sender.pid);
                c.sender_tgid.set(sender.tgid);
                c.sender_comm.set(&sender.comm);
                c.sender_kind.opt(ann.other.map(Kind::name));
            }
            Event::SignalDeliver {
                sig,
                errno,
                code,
                disposition,
                sa_flags,
                ..
            } => {
                self.signal(*sig, *errno, *code);
                let c = &mut self.cols;
                c.handler.set(disposition.label());
                if let Disposition::Handler(addr) = disposition {
                    c.handler_addr.set(*addr);
                }
                c.sa_flags.set(*sa_flags);
            }
            Event::Rename { new_comm, .. } => {
                self.cols.new_comm.set(new_comm);
                self.cols.new_comm_bytes.exact(new_comm);
            }
            Event::ExecFailed {
                errno,
                via,
                filename,
                filename_truncated,
                ..
            } => {
                let c = &mut self.cols;
                c.filename.set(filename);
                c.filename_bytes.exact(filename);
                c.filename_truncated.set(*filename_truncated);
                c.errno.set(*errno);
                c.error.set(&errno::name(*errno));
                c.via.set(via.name());
                self.helper(ann, None);
            }
            Event::HelperRequest { request, .. } => {
                self.cols.helper.set(true);
                let reason = ann.helper.as_ref().and_then(|h| h.reason.as_deref());
                self.request(request, ann.other, reason);
            }
            Event::Throttle { throttle, .. } => self.throttle(throttle),
            // Folded into the fork's annotation; the pipeline never taps it.
            Event::Kthread { .. } => {}
        }
        self.cols.end_row();
    }

    /// The subject task's columns; its parent and ancestors as the task
    /// table knew them (as in JSON).
    fn subject(&mut self, t: &Task, ann: &Annotation) {
        let id = self.id(t).to_string();
        let parent = ann.ids.parent.map(|p| p.to_string());
        let kind = ann.subject;
        let pf = &self.origin.pf;
        let c = &mut self.cols;
        c.task_id.set(&id);
        c.parent_task_id.opt(parent.as_deref());
        c.ancestors.opt(ann.ids.ancestors.as_deref());
        c.pid.set(t.pid);
        c.tgid.set(t.tgid);
        c.ppid.set(t.ppid);
        c.comm.set(&t.comm);
        c.comm_bytes.exact(&t.comm);
        c.kind.set(kind.name());
        c.flags.set(pf.names(t.flags));
        c.flags_raw.set(t.flags);
        c.has_mm.set(t.has_mm);
        c.start_ns.set(t.start_ns);
        let ctx = t.context.unwrap_or_default();
        c.uid.opt(ctx.uid);
        c.gid.opt(ctx.gid);
        c.cgroup_id.opt(ctx.cgroup_id);
        let path = ctx.cgroup_id.and_then(context::cgroup_path);
        c.cgroup.opt(path.as_deref());
        let container = path.as_deref().and_then(context::container_id);
        c.container_id.opt(container.map(|c| c.1));
        c.container_runtime.opt(container.map(|c| c.0));
        c.pidns.opt(ctx.pidns);
        c.ns_pid.opt(ctx.ns_pid);
        c.mntns.opt(ctx.mntns);
    }

    /// Who asked kthreadd for the new kernel thread (JSON's `kthread`).
    fn kthread(&mut self, k: &KthreadInfo, ann: &Annotation) {
        if let Some(r) = &k.request.requester {
            let id = ann.ids.of(r).to_string();
            let c = &mut self.cols;
            c.kthread_requester_task_id.set(&id);
            c.kthread_requester_pid.set(r.pid);
            c.kthread_requester_comm.set(&r.comm);
            c.kthread_requester_kind
                .opt(k.requester_kind.map(Kind::name));
            c.kthread_work.opt(k.work.as_deref());
        }
        let c = &mut self.cols;
        c.kthread_link.set(k.request.link.name());
        c.kthread_reason.set(k.request.link.reason());
        c.kthread_threadfn.opt(k.threadfn.as_deref());
        c.kthread_threadfn_addr.opt(k.request.threadfn);
    }

    fn signal(&mut self, sig: i32, errno: i32, code: i32) {
        let c = &mut self.cols;
        c.signal.set(&signals::name(sig));
        c.signo.set(sig);
        c.errno.set(errno);
        c.code.set(code);
        c.code_name.opt(signals::code_name(sig, code));
    }

    /// A request's columns: the requester, when seen, and what was asked.
    fn request(&mut self, req: &HelperRequest, kind: Option<Kind>, reason: Option<&str>) {
        if let Some(r) = &req.requester {
            let id = self.id(r).to_string();
            let c = &mut self.cols;
            c.requester_task_id.set(&id);
            c.requester_pid.set(r.pid);
            c.requester_tgid.set(r.tgid);
            c.requester_comm.set(&r.comm);
            c.requester_kind.opt(kind.map(Kind::name));
            c.requester_uid.opt(r.context.and_then(|ctx| ctx.uid));
            c.reason.opt(reason);
        }
        let c = &mut self.cols;
        c.queued_ns.opt(req.queued_ns);
        c.request_path.set(&req.path);
        c.request_path_truncated.set(req.path_truncated);
        c.waits.set(output::waits(req));
    }

    /// The helper story of a helper's lineage (JSON's `helper` object);
    /// `exit_ns` is the time of an exit event.
    fn helper(&mut self, ann: &Annotation, exit_ns: Option<u64>) {
        let Some(h) = &ann.helper else {
            return;
        };
        let c = &mut self.cols;
        c.helper.set(true);
        if let Some((pid, comm)) = &h.spawner {
            c.helper_spawner_pid.set(*pid);
            c.helper_spawner_comm.set(comm);
        }
        c.helper_exe.opt(h.exe.as_deref());
        c.helper_exec_failed.set(h.exec_failed);
        c.helper_exec_error_inferred.opt(h.exec_error);
        let waited = h
            .request
            .as_ref()
            .filter(|r| r.waits_for_exit() && r.requester.is_some())
            .and_then(|r| exit_ns?.checked_sub(r.queued_ns?));
        c.helper_waited_ns.opt(waited);
        if let Some(req) = &h.request {
            self.request(req, h.requester_kind, h.reason.as_deref());
        }
    }

    fn throttle(&mut self, t: &Throttle) {
        let c = &mut self.cols;
        c.phase.set(t.phase.name());
        c.throttle_cpu.set(t.cpu);
        c.reasons.set(t.reasons_text());
        c.per_source.set(t.per_source);
        c.total.opt(t.total);
        c.first_ns.set(t.first_ns);
        c.last_ns.set(t.last_ns);
        match t.phase {
            ThrottlePhase::Begin => {
                c.dropped_kind
                    .set(t.kind.map_or("unknown", EventKind::name));
                c.recorded.set(t.recorded);
            }
            ThrottlePhase::End => {
                c.dropped_total.set(t.dropped_total());
                c.other_uids.set(t.other_uids);
            }
        }
    }
}
