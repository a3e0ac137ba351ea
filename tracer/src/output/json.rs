//! JSON Lines. Field names are a stable interface: add, never rename.
//!
//! Common fields: `time` (RFC 3339, UTC), `boot_ns`, `cpu`, `event`, and the
//! subject task's `pid`, `tgid`, `ppid`, `comm`, `flags` (names),
//! `flags_raw`, `has_mm`, `start_ns`. Other tasks (`creator`, `sender`) are
//! nested objects with the same task fields. Every task also carries its
//! context (see [`JSON_VERSION`] 6): `uid`, `gid`, `cgroup_id`, `cgroup`,
//! `container_id`, `container_runtime`, `pidns`, `ns_pid`, `mntns`; and a
//! `task_id` first (see [`JSON_VERSION`] 8).

use std::io::Write as _;

use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use tracer_common::EventKind;

use super::{formatter::Formatter, sentences};
use crate::model::{
    classify::Kind,
    clock::{TimeWriter, WallClock},
    context,
    event::{Event, HelperRequest, Record, Task, TaskContext, Throttle, ThrottlePhase},
    flags::PfNames,
    signals,
    signals::{Disposition, ExitStatus},
    task_id::TaskId,
    tasks::{Ancestor, Annotation},
    text,
};

/// Version of the JSON field set (event lines and the report), bumped with
/// every change to a field's name or meaning. 2: `flags` names bits as the
/// recording kernel does, unknown bits as hex strings; the report gained
/// `missing_events` and `json_version`. 3: each report helper has `exit`,
/// how it ended as data (`exited`, `signal`, `core_dumped`, `killer`); the
/// report lists at most 100 `damage` stretches and counts them all in
/// `damage_stretches`; live JSON has `lost` lines. 4: `helper_request`
/// events; `helper` objects say whom the helper ran for (`requested_by`,
/// `queued_ns`, `request_path`, `waits`, `waited_ns`) and whether its exec
/// failed (`exec_failed`, `exec_error_inferred`); `exec_failed` events
/// (with `--failed-execs`). 5: signal events add `code_name`, the siginfo
/// code's name (`SI_USER`, `CLD_EXITED`, `SEGV_MAPERR`, ...; null where it
/// has none), beside the raw `code`; the report has `window` (null, or the
/// `--since`/`--until` window it counted: `since` and `until`, each
/// `{"time", "boot_ns"}` with nulls for an open end, and `args` as given);
/// `tree --format json` writes the lineage as nested objects (`pid`,
/// `tgid`, `comm`, `kind`, `disagree`, `children`); the report has
/// `kthreads_exited` (by name pattern) and `deaths` (user processes killed
/// by a signal: `pid`, `comm`, `kind`, `time`, `boot_ns`, `exit`,
/// `lifetime_ns`; at most 100, all counted in `deaths_total`). 6: every
/// task (the subject and nested `creator`, `sender`, `requested_by`) has
/// its context at the event: `uid`, `gid` (real ids), `cgroup_id`, `cgroup`
/// (the cgroup v2 path, resolved when the line is written; null for a
/// cgroup gone by then), `container_id` and `container_runtime` (from the
/// path: docker, containerd, cri-o, podman), `pidns` and `mntns` (namespace
/// inodes, as /proc/PID/ns shows them) and `ns_pid` (the pid inside its
/// pid namespace); each null where unknown, all null in logs recorded
/// before record format 4. `ps --format json` has the same fields, from
/// procfs. 7: `throttled` records (`phase` begin or end, `uid`,
/// `throttle_cpu`, `reasons`, `per_source`, `total`, `first_ns`,
/// `last_ns`, begin: `dropped_kind` and `recorded`, end: `dropped` by kind,
/// `dropped_total`, `other_uids`); the report's `throttled` (per uid:
/// `uid`, `comm`, `episodes`, `dropped` by kind, `dropped_total`) and
/// `helper_requests_by_uid` (`uid`, null when not known, and `count`).
/// 8: every task (the subject, nested `creator`, `sender`, `requested_by`)
/// has `task_id`, unique across boots and hosts (docs/reference.md, "Task
/// ids"); the subject has `parent_task_id` (null where its parent is not
/// known), `killed_by` its `task_id`, `helper` its `spawner_task_id`; with
/// `--ancestors N`, `ancestors`: the subject's parent, grandparent, ...
/// (`task_id`, `pid`, `comm`, `kind`). The report has `machine_id` (null
/// before log version 4), and its helpers, deaths and their killers have
/// `task_id`; so have `ps --format json` (with `parent_task_id`) and each
/// node of `tree --format json`. (Issue 26, landed with it: each report
/// helper has `still_waiting`, and `waited_ns` is set for a requester
/// dumping core into its helper too.)
/// 9: fork events have `kthread`: null, or for a kernel thread kthreadd
/// made, whom for: `requested_by` (the requester's task fields, `kind`
/// and `work`, the function a kworker requester ran; null when not
/// known), `link` (`exact` or `unknown`), `reason`, `threadfn` (named on
/// the recording boot) and `threadfn_addr`; the report has
/// `kthreads_by_requester` (`requester`, `threads` name pattern, `count`).
/// Rename events have `kthread` too: null, or the object where a kernel
/// thread's requester, unknown at its fork, named it (the `reason` says
/// so); `ps --format json` has it for threads born under `--live`.
/// 10: `kthread` has `requested_ns` and `run_after_request_ns`, report
/// groups `timed` and `run_after_request_ns_{median,max}` (docs/guide.md).
pub const JSON_VERSION: u32 = 10;

pub struct Json {
    clock: WallClock,
    time: TimeWriter,
    pf: PfNames,
}

impl Json {
    pub fn new(clock: WallClock, pf: PfNames) -> Self {
        Json {
            clock,
            time: TimeWriter::new(clock),
            pf,
        }
    }
}

/// Appends `s` as a JSON string literal. Bytes that are not UTF-8 (see
/// `model::text`) are written as U+FFFD, as lossy decoding would; [`text`]
/// adds the exact bytes.
pub fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    // Most strings (comms, names, paths) need no escaping: copy them whole.
    if !s
        .bytes()
        .any(|b| b < 0x20 || b == b'"' || b == b'\\' || b == 0xf4)
    {
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return;
    }
    let s = text::lossy(s);
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// A JSON string, or `null`.
pub fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// `"k":"..."` for task data (no leading comma), with `"k_b64"` where it
/// is not UTF-8: for JSON written by hand outside the event hot path.
pub fn text_field(out: &mut Vec<u8>, k: &str, s: &str) {
    let start = out.len();
    text(out, k, s);
    out.remove(start);
}

/// `,"k":"..."` for task data; when it is not UTF-8, also `,"k_b64":"..."`
/// with its exact bytes (standard base64), so nothing is lost.
fn text(out: &mut Vec<u8>, k: &str, s: &str) {
    key(out, k);
    string(out, s);
    if text::has_mapped(s) {
        let _ = write!(out, ",\"{k}_b64\":\"{}\"", BASE64.encode(text::bytes(s)));
    }
}

/// The same rule for JSON built with serde_json (the report, `ps`): every
/// string field or array of strings holding bytes that are not UTF-8 is
/// made lossy, and gets a `<key>_b64` sibling with the exact bytes.
pub fn recover_text(v: &mut serde_json::Value) {
    use serde_json::Value;
    let b64 = |s: &str| Value::String(BASE64.encode(text::bytes(s)));
    match v {
        Value::Object(map) => {
            let mut extra = Vec::new();
            for (k, field) in map.iter_mut() {
                match field {
                    Value::String(s) if text::has_mapped(s) => {
                        extra.push((format!("{k}_b64"), b64(s)));
                        *s = text::lossy(s).into_owned();
                    }
                    Value::Array(items)
                        if items
                            .iter()
                            .any(|i| i.as_str().is_some_and(text::has_mapped)) =>
                    {
                        let exact = items
                            .iter()
                            .map(|i| b64(i.as_str().unwrap_or("")))
                            .collect();
                        extra.push((format!("{k}_b64"), Value::Array(exact)));
                        for i in items.iter_mut() {
                            if let Value::String(s) = i {
                                *s = text::lossy(s).into_owned();
                            }
                        }
                    }
                    other => recover_text(other),
                }
            }
            map.extend(extra);
        }
        Value::Array(items) => items.iter_mut().for_each(recover_text),
        _ => {}
    }
}

fn key(out: &mut Vec<u8>, k: &str) {
    out.push(b',');
    string(out, k);
    out.push(b':');
}

/// `,"k":n` (itoa: integer formatting is most of a JSON line's work).
fn int(out: &mut Vec<u8>, k: &str, n: impl itoa::Integer) {
    key(out, k);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// `,"k":"<task id>"`.
fn task_id(out: &mut Vec<u8>, k: &str, id: TaskId) {
    key(out, k);
    let _ = write!(out, "\"{id}\"");
}

/// `,"ancestors":[{"task_id":..,"pid":..,"comm":..,"kind":..},...]`.
fn ancestors(out: &mut Vec<u8>, chain: &[Ancestor]) {
    key(out, "ancestors");
    out.push(b'[');
    for (i, a) in chain.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = write!(out, "{{\"task_id\":\"{}\"", a.task_id);
        int(out, "pid", a.pid);
        text(out, "comm", &a.comm);
        key(out, "kind");
        string(out, a.kind.name());
        out.push(b'}');
    }
    out.push(b']');
}

/// The task fields, without braces, each preceded by a comma; `id` is
/// the task's id.
fn task_fields(out: &mut Vec<u8>, pf: &PfNames, t: &Task, kind: Option<Kind>, id: TaskId) {
    task_id(out, "task_id", id);
    int(out, "pid", t.pid);
    int(out, "tgid", t.tgid);
    int(out, "ppid", t.ppid);
    text(out, "comm", &t.comm);
    if let Some(kind) = kind {
        key(out, "kind");
        string(out, kind.name());
    }
    key(out, "flags");
    pf.write_json(out, t.flags);
    int(out, "flags_raw", t.flags);
    out.extend_from_slice(if t.has_mm {
        b",\"has_mm\":true"
    } else {
        b",\"has_mm\":false"
    });
    int(out, "start_ns", t.start_ns);
    context_fields(out, t.context.as_ref());
}

/// `,"k":n` or `,"k":null`.
fn opt_int(out: &mut Vec<u8>, k: &str, n: Option<impl itoa::Integer>) {
    match n {
        Some(n) => int(out, k, n),
        None => {
            key(out, k);
            out.extend_from_slice(b"null");
        }
    }
}

/// A task's context fields (JSON version 6); each null where unknown, all
/// null in logs of record formats before 4.
fn context_fields(out: &mut Vec<u8>, ctx: Option<&TaskContext>) {
    let ctx = ctx.copied().unwrap_or_default();
    opt_int(out, "uid", ctx.uid);
    opt_int(out, "gid", ctx.gid);
    opt_int(out, "cgroup_id", ctx.cgroup_id);
    let path = ctx.cgroup_id.and_then(context::cgroup_path);
    key(out, "cgroup");
    match path.as_deref() {
        Some(p) => string(out, p),
        None => out.extend_from_slice(b"null"),
    }
    let container = path.as_deref().and_then(context::container_id);
    key(out, "container_id");
    opt_string(out, container.map(|c| c.1));
    key(out, "container_runtime");
    opt_string(out, container.map(|c| c.0));
    opt_int(out, "pidns", ctx.pidns);
    opt_int(out, "ns_pid", ctx.ns_pid);
    opt_int(out, "mntns", ctx.mntns);
}

fn task_object(
    out: &mut Vec<u8>,
    pf: &PfNames,
    name: &str,
    t: &Task,
    (kind, id): (Option<Kind>, TaskId),
) {
    key(out, name);
    out.push(b'{');
    let start = out.len();
    task_fields(out, pf, t, kind, id);
    // Drop the leading comma the field writer put first.
    out.remove(start);
    out.push(b'}');
}

fn signal_fields(out: &mut Vec<u8>, sig: i32, errno: i32, code: i32) {
    key(out, "signal");
    string(out, &signals::name(sig));
    int(out, "signo", sig);
    int(out, "errno", errno);
    int(out, "code", code);
    key(out, "code_name");
    opt_string(out, signals::code_name(sig, code));
}

/// A helper request's fields: `"requested_by"` (the requester, its kind
/// and `reason`, or null), `"queued_ns"`, `"request_path"`, `"waits"`.
fn request_fields(
    out: &mut Vec<u8>,
    pf: &PfNames,
    (req, ann): (&HelperRequest, &Annotation),
    kind: Option<Kind>,
    reason: Option<&str>,
) {
    match &req.requester {
        Some(r) => {
            task_object(out, pf, "requested_by", r, (kind, ann.ids.of(r)));
            out.pop();
            key(out, "reason");
            opt_string(out, reason);
            out.push(b'}');
        }
        None => out.extend_from_slice(b",\"requested_by\":null"),
    }
    match req.queued_ns {
        Some(ns) => int(out, "queued_ns", ns),
        None => out.extend_from_slice(b",\"queued_ns\":null"),
    }
    text(out, "request_path", &req.path);
    let _ = write!(out, ",\"request_path_truncated\":{}", req.path_truncated);
    key(out, "waits");
    string(out, sentences::waits(req));
}

/// For tasks of a helper's lineage: `"helper":{"spawner_pid":..,
/// "spawner_comm":..,"exe":.., the request's fields or nulls,
/// "exec_failed":.., "exec_error_inferred":.., "waited_ns":..}`; otherwise
/// `"helper":null`. `exit_ns` is the time of an exit event.
fn spawner(out: &mut Vec<u8>, pf: &PfNames, ann: &Annotation, exit_ns: Option<u64>) {
    key(out, "helper");
    let Some(h) = &ann.helper else {
        out.extend_from_slice(b"null");
        return;
    };
    out.push(b'{');
    match &h.spawner {
        Some((pid, comm)) => {
            let _ = write!(out, "\"spawner_pid\":{pid}");
            text(out, "spawner_comm", comm);
        }
        None => out.extend_from_slice(b"\"spawner_pid\":null,\"spawner_comm\":null"),
    }
    match h.spawner_id {
        Some(id) => task_id(out, "spawner_task_id", id),
        None => out.extend_from_slice(b",\"spawner_task_id\":null"),
    }
    match h.exe.as_deref() {
        Some(exe) => text(out, "exe", exe),
        None => out.extend_from_slice(b",\"exe\":null"),
    }
    match &h.request {
        Some(req) => request_fields(out, pf, (req, ann), h.requester_kind, h.reason.as_deref()),
        None => out.extend_from_slice(
            b",\"requested_by\":null,\"queued_ns\":null,\"request_path\":null,\"request_path_truncated\":null,\"waits\":null",
        ),
    }
    let _ = write!(out, ",\"exec_failed\":{}", h.exec_failed);
    key(out, "exec_error_inferred");
    opt_string(out, h.exec_error);
    let waited = h
        .request
        .as_ref()
        .filter(|r| r.waits_for_exit() && r.requester.is_some())
        .and_then(|r| exit_ns?.checked_sub(r.queued_ns?));
    match waited {
        Some(ns) => int(out, "waited_ns", ns),
        None => out.extend_from_slice(b",\"waited_ns\":null"),
    }
    out.push(b'}');
}

/// `,"kthread":null` or the object of [`JSON_VERSION`] 9.
fn kthread_object(out: &mut Vec<u8>, pf: &PfNames, ann: &Annotation) {
    let Some(k) = ann.kthread.as_deref() else {
        out.extend_from_slice(b",\"kthread\":null");
        return;
    };
    key(out, "kthread");
    out.push(b'{');
    let start = out.len();
    match &k.request.requester {
        Some(r) => {
            task_object(
                out,
                pf,
                "requested_by",
                r,
                (k.requester_kind, ann.ids.of(r)),
            );
            out.pop();
            key(out, "work");
            opt_string(out, k.work.as_deref());
            out.push(b'}');
        }
        None => out.extend_from_slice(b",\"requested_by\":null"),
    }
    // Drop the leading comma the first field put.
    out.remove(start);
    key(out, "link");
    string(out, k.request.link.name());
    key(out, "reason");
    string(out, k.request.link.reason());
    key(out, "threadfn");
    opt_string(out, k.threadfn.as_deref());
    opt_int(out, "threadfn_addr", k.request.threadfn);
    opt_int(out, "requested_ns", k.request.requested_ns);
    opt_int(out, "run_after_request_ns", k.run_after_request_ns());
    out.push(b'}');
}

/// A throttle record's fields (see [`JSON_VERSION`] 7).
fn throttle_fields(out: &mut Vec<u8>, t: &Throttle) {
    key(out, "phase");
    string(out, t.phase.name());
    int(out, "throttle_cpu", t.cpu);
    key(out, "reasons");
    string(out, t.reasons_text());
    int(out, "per_source", t.per_source);
    opt_int(out, "total", t.total);
    int(out, "first_ns", t.first_ns);
    int(out, "last_ns", t.last_ns);
    match t.phase {
        ThrottlePhase::Begin => {
            key(out, "dropped_kind");
            string(out, t.kind.map_or("unknown", EventKind::name));
            int(out, "recorded", t.recorded);
        }
        ThrottlePhase::End => {
            key(out, "dropped");
            out.push(b'{');
            for (i, (kind, n)) in t.dropped.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(out, kind.name());
                let _ = write!(out, ":{n}");
            }
            out.push(b'}');
            int(out, "dropped_total", t.dropped_total());
            int(out, "other_uids", t.other_uids);
        }
    }
}

impl Formatter for Json {
    fn begin(&mut self, _out: &mut Vec<u8>) {}

    fn lost(
        &mut self,
        out: &mut Vec<u8>,
        kind: Option<EventKind>,
        count: u64,
        boot_ns: u64,
    ) -> bool {
        out.extend_from_slice(b"{\"time\":\"");
        self.time.write(out, boot_ns);
        out.push(b'"');
        int(out, "boot_ns", boot_ns);
        key(out, "event");
        string(out, "lost");
        key(out, "lost_event");
        string(out, kind.map_or("unknown", EventKind::name));
        int(out, "count", count);
        out.extend_from_slice(b"}\n");
        true
    }

    fn record(&mut self, out: &mut Vec<u8>, rec: &Record, ann: &Annotation) {
        out.extend_from_slice(b"{\"time\":\"");
        self.time.write(out, rec.boot_ns);
        out.push(b'"');
        int(out, "boot_ns", rec.boot_ns);
        int(out, "cpu", rec.cpu);
        key(out, "event");
        string(out, rec.event.kind().name());
        let subject = rec.event.subject();
        task_fields(
            out,
            &self.pf,
            subject,
            Some(ann.subject),
            ann.ids.of(subject),
        );
        match ann.ids.parent {
            Some(id) => task_id(out, "parent_task_id", id),
            None => out.extend_from_slice(b",\"parent_task_id\":null"),
        }
        match &rec.event {
            Event::Fork {
                creator,
                clone_flags,
                ..
            } => {
                let creator_id = ann.ids.of(creator);
                task_object(out, &self.pf, "creator", creator, (ann.other, creator_id));
                let _ = write!(out, ",\"clone_flags\":{clone_flags}");
                kthread_object(out, &self.pf, ann);
            }
            Event::Exec {
                old_pid,
                filename,
                argv,
                cut,
                ..
            } => {
                text(out, "filename", filename);
                key(out, "argv");
                out.push(b'[');
                for (i, arg) in argv.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    string(out, arg);
                }
                out.push(b']');
                // Every argument's exact bytes, when any is not UTF-8.
                if argv.iter().any(|a| text::has_mapped(a)) {
                    out.extend_from_slice(b",\"argv_b64\":[");
                    for (i, arg) in argv.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        let _ = write!(out, "\"{}\"", BASE64.encode(text::bytes(arg)));
                    }
                    out.push(b']');
                }
                let _ = write!(out, ",\"old_pid\":{old_pid}");
                match cut {
                    Some(c) => {
                        let _ = write!(
                            out,
                            ",\"argv_truncated\":{},\"argc\":{},\"args_bytes\":{},\"filename_truncated\":{}",
                            c.argv_truncated, c.argc, c.args_bytes, c.filename_truncated
                        );
                    }
                    // Logs of record format 1 do not say.
                    None => out.extend_from_slice(
                        b",\"argv_truncated\":null,\"argc\":null,\"args_bytes\":null,\"filename_truncated\":null",
                    ),
                }
                spawner(out, &self.pf, ann, None);
            }
            Event::Exit {
                status, group_dead, ..
            } => {
                match *status {
                    ExitStatus::Exited(code) => {
                        let _ = write!(
                            out,
                            ",\"exit_status\":{code},\"exit_signal\":null,\"core_dumped\":false"
                        );
                    }
                    ExitStatus::Signaled { sig, core } => {
                        out.extend_from_slice(b",\"exit_status\":null,\"exit_signal\":");
                        string(out, &signals::name(sig));
                        let _ = write!(out, ",\"core_dumped\":{core}");
                    }
                }
                match group_dead {
                    Some(v) => {
                        let _ = write!(out, ",\"group_dead\":{v}");
                    }
                    None => out.extend_from_slice(b",\"group_dead\":null"),
                }
                match ann.lifetime_ns {
                    Some(ns) => {
                        let _ = write!(out, ",\"lifetime_ns\":{ns}");
                    }
                    None => out.extend_from_slice(b",\"lifetime_ns\":null"),
                }
                key(out, "killed_by");
                match &ann.killer {
                    Some(k) => {
                        let _ = write!(out, "{{\"task_id\":\"{}\",\"signal\":", k.task_id);
                        string(out, &signals::name(k.sig));
                        let _ = write!(
                            out,
                            ",\"pid\":{},\"tgid\":{},\"uid\":{},\"boot_ns\":{}",
                            k.pid, k.tgid, k.uid, k.boot_ns
                        );
                        text(out, "comm", &k.comm);
                        key(out, "time");
                        string(out, &self.clock.rfc3339(k.boot_ns));
                        out.push(b'}');
                    }
                    None => out.extend_from_slice(b"null"),
                }
                spawner(out, &self.pf, ann, Some(rec.boot_ns));
                key(out, "diagnosis");
                opt_string(out, sentences::diagnosis(rec, ann).as_deref());
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
                signal_fields(out, *sig, *errno, *code);
                key(out, "result");
                string(out, &result.name());
                out.extend_from_slice(if *group {
                    b",\"group\":true"
                } else {
                    b",\"group\":false"
                });
                int(out, "sender_uid", *sender_uid);
                let sender_id = ann.ids.of(sender);
                task_object(out, &self.pf, "sender", sender, (ann.other, sender_id));
            }
            Event::SignalDeliver {
                sig,
                errno,
                code,
                disposition,
                sa_flags,
                ..
            } => {
                signal_fields(out, *sig, *errno, *code);
                key(out, "handler");
                string(out, disposition.label());
                match disposition {
                    Disposition::Handler(addr) => {
                        let _ = write!(out, ",\"handler_addr\":{addr}");
                    }
                    _ => out.extend_from_slice(b",\"handler_addr\":null"),
                }
                let _ = write!(out, ",\"sa_flags\":{sa_flags}");
            }
            Event::Rename { new_comm, .. } => {
                text(out, "new_comm", new_comm);
                kthread_object(out, &self.pf, ann);
            }
            Event::ExecFailed {
                errno,
                via,
                filename,
                filename_truncated,
                ..
            } => {
                text(out, "filename", filename);
                let _ = write!(out, ",\"filename_truncated\":{filename_truncated}");
                int(out, "errno", *errno);
                key(out, "error");
                string(out, &crate::model::errno::name(*errno));
                key(out, "via");
                string(out, via.name());
                spawner(out, &self.pf, ann, None);
            }
            Event::HelperRequest { request, .. } => {
                let reason = ann.helper.as_ref().and_then(|h| h.reason.as_deref());
                request_fields(out, &self.pf, (request, ann), ann.other, reason);
            }
            Event::Throttle { throttle, .. } => throttle_fields(out, throttle),
            // Folded into the fork's `kthread`; the pipeline does not show it.
            Event::Kthread { .. } => {}
        }
        if let Some(chain) = &ann.ids.ancestors {
            ancestors(out, chain);
        }
        out.extend_from_slice(b"}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        signals::GenerateResult,
        task_id::{BootKey, TaskIds},
        tasks::Ids,
    };

    fn task(pid: u32, comm: &str, flags: u32) -> Task {
        Task {
            pid,
            tgid: pid,
            ppid: 0,
            flags,
            has_mm: false,
            comm: comm.into(),
            start_ns: 5,
            context: None,
        }
    }

    #[test]
    fn writes_stable_fields() {
        let rec = Record {
            boot_ns: 1_000,
            cpu: 1,
            event: Event::SignalGenerate {
                sender: Task {
                    context: Some(TaskContext {
                        uid: Some(1000),
                        gid: Some(100),
                        cgroup_id: None,
                        pidns: Some(4026532000),
                        ns_pid: Some(1),
                        mntns: Some(4026532001),
                    }),
                    ..task(900, "ki\"ll", 0x400100)
                },
                sender_uid: 0,
                target: task(2, "kthreadd", 0x208040),
                sig: 15,
                errno: 0,
                code: 0,
                group: true,
                result: GenerateResult::Ignored,
            },
        };
        let mut out = Vec::new();
        let key = BootKey::new("m", "b");
        let ann = Annotation {
            subject: Kind::Kthreadd,
            other: Some(Kind::User),
            helper: None,
            killer: None,
            lifetime_ns: None,
            ids: Ids {
                namer: TaskIds::new(key, 100),
                parent: None,
                ancestors: Some(vec![Ancestor {
                    task_id: key.task(0, 1),
                    pid: 1,
                    comm: "in\"it".into(),
                    kind: Kind::Init,
                }]),
            },
            kthread: None,
        };
        Json::new(
            WallClock { boot_epoch_ns: 0 },
            PfNames::for_version((6, 18)),
        )
        .record(&mut out, &rec, &ann);
        let line = String::from_utf8(out).unwrap();
        let id = |pid| key.task(0, pid).to_string();
        let expect = [
            r#"{"time":"1970-01-01T00:00:00.000001Z","boot_ns":1000,"cpu":1,"event":"signal_generate","#,
            &format!(r#""task_id":"{}","#, id(2)),
            r#""pid":2,"tgid":2,"ppid":0,"comm":"kthreadd","kind":"kthreadd","flags":["KTHREAD","FORKNOEXEC","NOFREEZE"],"#,
            r#""flags_raw":2129984,"has_mm":false,"start_ns":5,"#,
            r#""uid":null,"gid":null,"cgroup_id":null,"cgroup":null,"container_id":null,"container_runtime":null,"#,
            r#""pidns":null,"ns_pid":null,"mntns":null,"parent_task_id":null,"#,
            r#""signal":"SIGTERM","signo":15,"errno":0,"code":0,"code_name":"SI_USER","#,
            r#""result":"ignored","group":true,"sender_uid":0,"#,
            &format!(r#""sender":{{"task_id":"{}","pid":900,"tgid":900,"ppid":0,"#, id(900)),
            r#""comm":"ki\"ll","kind":"user","flags":["SUPERPRIV","RANDOMIZE"],"flags_raw":4194560,"has_mm":false,"start_ns":5,"#,
            r#""uid":1000,"gid":100,"cgroup_id":null,"cgroup":null,"container_id":null,"container_runtime":null,"#,
            r#""pidns":4026532000,"ns_pid":1,"mntns":4026532001},"#,
            &format!(r#""ancestors":[{{"task_id":"{}","pid":1,"comm":"in\"it","kind":"init"}}]}}"#, id(1)),
            "\n",
        ]
        .concat();
        assert_eq!(line, expect);
    }

    #[test]
    fn escapes_control_characters() {
        let mut out = Vec::new();
        string(&mut out, "a\u{1}b\\");
        assert_eq!(out, br#""a\u0001b\\""#);
    }
}
