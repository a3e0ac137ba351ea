//! The JSON output's fields as OTLP attributes, written straight from the
//! decoded event: no JSON line is rendered and parsed back (that round
//! trip was most of a record's cost). The fields, their order, nulls and
//! values follow [`crate::output::json`] one for one; the unit tests render
//! every kind of record both ways and compare them, so the two cannot
//! drift apart. Attributes of the previous record are overwritten in
//! place, so a steady stream reuses their strings.

use std::borrow::Cow;

use opentelemetry_proto::tonic::common::v1::{
    any_value::Value as V, AnyValue, ArrayValue, KeyValue, KeyValueList,
};
use tracer_common::EventKind;

use super::names::{top_level_name, Name};
use crate::{
    model::{
        classify::Kind,
        clock::WallClock,
        context,
        event::{Event, HelperRequest, Record, Task, TaskContext, Throttle, ThrottlePhase},
        flags::PfNames,
        signals::{self, Disposition, ExitStatus},
        task_id::TaskId,
        tasks::{Ancestor, Annotation},
        text,
    },
    output,
};

/// Writes the attributes of one record into a reused `Vec<KeyValue>`.
pub(super) struct Fields {
    clock: WallClock,
    pf: PfNames,
    /// `tracer.creator.` while inside a nested object; empty at the top.
    prefix: String,
    /// A field name with `_b64` added (rare: text that is not UTF-8).
    b64_key: String,
}

/// One record's attributes being written over `out`'s old ones.
struct Out<'a> {
    out: &'a mut Vec<KeyValue>,
    len: usize,
    /// The record's `event`: `filename` is the executable's path in an exec.
    event: &'a str,
    prefix: &'a mut String,
}

impl Out<'_> {
    /// The next attribute, named for `key` at this depth; its old value
    /// is there to reuse.
    fn slot(&mut self, key: &str) -> &mut Option<AnyValue> {
        if self.len == self.out.len() {
            self.out.push(KeyValue::default());
        }
        let kv = &mut self.out[self.len];
        self.len += 1;
        kv.key.clear();
        if self.prefix.is_empty() {
            // (`time` is never written here: it is the record's timestamp.)
            match top_level_name(key, self.event) {
                Some(Name::Semantic(name)) => kv.key.push_str(name),
                _ => {
                    kv.key.push_str("tracer.");
                    kv.key.push_str(key);
                }
            }
        } else {
            kv.key.push_str(self.prefix);
            kv.key.push_str(key);
        }
        &mut kv.value
    }

    fn int(&mut self, key: &str, n: i64) {
        *self.slot(key) = Some(AnyValue {
            value: Some(V::IntValue(n)),
        });
    }

    /// Above i64::MAX, the exact decimal as a string (as a JSON number
    /// that large was parsed).
    fn uint(&mut self, key: &str, n: u64) {
        match i64::try_from(n) {
            Ok(i) => self.int(key, i),
            Err(_) => self.str(key, itoa::Buffer::new().format(n)),
        }
    }

    fn opt_uint(&mut self, key: &str, n: Option<u64>) {
        if let Some(n) = n {
            self.uint(key, n);
        }
    }

    fn bool(&mut self, key: &str, b: bool) {
        *self.slot(key) = Some(AnyValue {
            value: Some(V::BoolValue(b)),
        });
    }

    fn opt_bool(&mut self, key: &str, b: Option<bool>) {
        if let Some(b) = b {
            self.bool(key, b);
        }
    }

    /// A string, as the JSON line has it (bytes that are not UTF-8 as
    /// U+FFFD).
    fn str(&mut self, key: &str, s: &str) {
        let s = text::lossy(s);
        set_string(self.slot(key), &s);
    }

    fn opt_str(&mut self, key: &str, s: Option<&str>) {
        if let Some(s) = s {
            self.str(key, s);
        }
    }

    /// Task data: with `<key>_b64`, its exact bytes, where it is not UTF-8.
    fn text(&mut self, key: &str, s: &str, b64_key: &mut String) {
        self.str(key, s);
        if text::has_mapped(s) {
            use base64::{engine::general_purpose::STANDARD, Engine as _};
            b64_key.clear();
            b64_key.push_str(key);
            b64_key.push_str("_b64");
            let exact = STANDARD.encode(text::bytes(s));
            set_string(self.slot(b64_key), &exact);
        }
    }

    /// An array of strings.
    fn strings<'s>(&mut self, key: &str, items: impl Iterator<Item = Cow<'s, str>>) {
        let slot = self.slot(key);
        let array = array_in(slot);
        let mut n = 0;
        for item in items {
            if n == array.values.len() {
                array.values.push(AnyValue::default());
            }
            set_value_string(&mut array.values[n], &item);
            n += 1;
        }
        array.values.truncate(n);
    }

    /// A task id, in its text form (written over the old string).
    fn task_id(&mut self, key: &str, id: TaskId) {
        set_task_id(self.slot(key), id);
    }

    /// Fields of the object `key` follow, until [`Out::end`] with the
    /// mark this returns.
    fn begin(&mut self, key: &str) -> usize {
        let mark = self.prefix.len();
        if self.prefix.is_empty() {
            match top_level_name(key, self.event) {
                Some(Name::Semantic(name)) => self.prefix.push_str(name),
                _ => {
                    self.prefix.push_str("tracer.");
                    self.prefix.push_str(key);
                }
            }
        } else {
            self.prefix.push_str(key);
        }
        self.prefix.push('.');
        mark
    }

    fn end(&mut self, mark: usize) {
        self.prefix.truncate(mark);
    }
}

/// The `tracer.ancestors` attribute, over `kv`: an array of one key-value
/// list per generation, as the JSON objects are (`task_id`, `pid`, `comm`,
/// `comm_b64` where it is not UTF-8, `kind`). It is the last attribute of
/// a record; the sender encodes each chain once ([`super::ancestry`]).
pub(super) fn ancestors(chain: &[Ancestor], kv: &mut KeyValue) {
    if kv.key != "tracer.ancestors" {
        kv.key.clear();
        kv.key.push_str("tracer.ancestors");
    }
    let array = array_in(&mut kv.value);
    array.values.resize_with(chain.len(), AnyValue::default);
    for (a, v) in chain.iter().zip(&mut array.values) {
        if !matches!(v.value, Some(V::KvlistValue(_))) {
            v.value = Some(V::KvlistValue(KeyValueList::default()));
        }
        let Some(V::KvlistValue(list)) = &mut v.value else {
            unreachable!("a list was just put there");
        };
        let list = &mut list.values;
        let mut n = 0;
        set_task_id(kv_slot(list, &mut n, "task_id"), a.task_id);
        *kv_slot(list, &mut n, "pid") = Some(AnyValue {
            value: Some(V::IntValue(i64::from(a.pid))),
        });
        set_string(kv_slot(list, &mut n, "comm"), &text::lossy(&a.comm));
        if text::has_mapped(&a.comm) {
            use base64::{engine::general_purpose::STANDARD, Engine as _};
            let exact = STANDARD.encode(text::bytes(&a.comm));
            set_string(kv_slot(list, &mut n, "comm_b64"), &exact);
        }
        set_string(kv_slot(list, &mut n, "kind"), a.kind.name());
        list.truncate(n);
    }
}

/// The array in `slot`, over its old one where it holds one (its values
/// there to reuse).
fn array_in(slot: &mut Option<AnyValue>) -> &mut ArrayValue {
    if !matches!(
        slot,
        Some(AnyValue {
            value: Some(V::ArrayValue(_))
        })
    ) {
        *slot = Some(AnyValue {
            value: Some(V::ArrayValue(ArrayValue::default())),
        });
    }
    match slot {
        Some(AnyValue {
            value: Some(V::ArrayValue(array)),
        }) => array,
        _ => unreachable!("an array was just put there"),
    }
}

/// The `n`th entry of a key-value list, named `key`, its old value there
/// to reuse; `n` moves on.
fn kv_slot<'l>(list: &'l mut Vec<KeyValue>, n: &mut usize, key: &str) -> &'l mut Option<AnyValue> {
    if *n == list.len() {
        list.push(KeyValue::default());
    }
    let kv = &mut list[*n];
    *n += 1;
    if kv.key != key {
        kv.key.clear();
        kv.key.push_str(key);
    }
    &mut kv.value
}

/// A task id's text form, over the old string where there is one.
fn set_task_id(slot: &mut Option<AnyValue>, id: TaskId) {
    use std::fmt::Write as _;
    match slot {
        Some(AnyValue {
            value: Some(V::StringValue(old)),
        }) => {
            old.clear();
            let _ = write!(old, "{id}");
        }
        _ => set_string(slot, &id.to_string()),
    }
}

fn set_value_string(v: &mut AnyValue, s: &str) {
    match &mut v.value {
        Some(V::StringValue(old)) => {
            old.clear();
            old.push_str(s);
        }
        other => *other = Some(V::StringValue(s.to_string())),
    }
}

fn set_string(slot: &mut Option<AnyValue>, s: &str) {
    match slot {
        Some(v) => set_value_string(v, s),
        None => {
            *slot = Some(AnyValue {
                value: Some(V::StringValue(s.to_string())),
            })
        }
    }
}

impl Fields {
    pub(super) fn new(clock: WallClock, pf: PfNames) -> Fields {
        Fields {
            clock,
            pf,
            prefix: String::with_capacity(64),
            b64_key: String::new(),
        }
    }

    /// The attributes of a lost-records notice, over `out`.
    pub(super) fn lost(
        &mut self,
        out: &mut Vec<KeyValue>,
        kind: Option<EventKind>,
        count: u64,
        boot_ns: u64,
    ) {
        self.prefix.clear();
        let mut o = Out {
            out,
            len: 0,
            event: "lost",
            prefix: &mut self.prefix,
        };
        o.uint("boot_ns", boot_ns);
        o.str("event", "lost");
        o.str("lost_event", kind.map_or("unknown", EventKind::name));
        o.uint("count", count);
        let len = o.len;
        out.truncate(len);
    }

    /// The attributes of one event, over `out`, but its ancestors
    /// ([`ancestors`], written last).
    pub(super) fn record(&mut self, out: &mut Vec<KeyValue>, rec: &Record, ann: &Annotation) {
        self.prefix.clear();
        let event = rec.event.kind().name();
        let mut o = Out {
            out,
            len: 0,
            event,
            prefix: &mut self.prefix,
        };
        let b64 = &mut self.b64_key;
        let pf = &self.pf;
        o.uint("boot_ns", rec.boot_ns);
        o.uint("cpu", u64::from(rec.cpu));
        o.str("event", event);
        let subject = rec.event.subject();
        // The main thread of a user process: its comm is the process's name.
        let main_thread = subject.pid == subject.tgid && subject.has_mm;
        let id = ann.ids.of(subject);
        task_fields(
            &mut o,
            b64,
            pf,
            subject,
            (Some(ann.subject), id),
            main_thread,
        );
        if let Some(parent) = ann.ids.parent {
            o.task_id("parent_task_id", parent);
        }
        match &rec.event {
            Event::Fork {
                creator,
                clone_flags,
                ..
            } => {
                let id = ann.ids.of(creator);
                task_object(&mut o, b64, pf, "creator", creator, (ann.other, id));
                o.uint("clone_flags", *clone_flags);
                kthread(&mut o, b64, pf, ann);
            }
            Event::Exec {
                old_pid,
                filename,
                argv,
                cut,
                ..
            } => {
                o.text("filename", filename, b64);
                o.strings("argv", argv.iter().map(|a| text::lossy(a)));
                if argv.iter().any(|a| text::has_mapped(a)) {
                    use base64::{engine::general_purpose::STANDARD, Engine as _};
                    o.strings(
                        "argv_b64",
                        argv.iter()
                            .map(|a| Cow::Owned(STANDARD.encode(text::bytes(a)))),
                    );
                }
                o.uint("old_pid", u64::from(*old_pid));
                if let Some(c) = cut {
                    o.bool("argv_truncated", c.argv_truncated);
                    o.uint("argc", u64::from(c.argc));
                    o.uint("args_bytes", u64::from(c.args_bytes));
                    o.bool("filename_truncated", c.filename_truncated);
                }
                helper(&mut o, b64, pf, ann, None);
            }
            Event::Exit {
                status, group_dead, ..
            } => {
                match *status {
                    ExitStatus::Exited(code) => {
                        o.int("exit_status", i64::from(code));
                        o.bool("core_dumped", false);
                    }
                    ExitStatus::Signaled { sig, core } => {
                        o.str("exit_signal", &signals::name(sig));
                        o.bool("core_dumped", core);
                    }
                }
                o.opt_bool("group_dead", *group_dead);
                o.opt_uint("lifetime_ns", ann.lifetime_ns);
                if let Some(k) = &ann.killer {
                    let mark = o.begin("killed_by");
                    o.task_id("task_id", k.task_id);
                    o.str("signal", &signals::name(k.sig));
                    o.uint("pid", u64::from(k.pid));
                    o.uint("tgid", u64::from(k.tgid));
                    o.uint("uid", u64::from(k.uid));
                    o.uint("boot_ns", k.boot_ns);
                    o.text("comm", &k.comm, b64);
                    o.str("time", &self.clock.rfc3339(k.boot_ns));
                    o.end(mark);
                }
                helper(&mut o, b64, pf, ann, Some(rec.boot_ns));
                o.opt_str("diagnosis", output::diagnosis(rec, ann).as_deref());
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
                signal_fields(&mut o, *sig, *errno, *code);
                o.str("result", &result.name());
                o.bool("group", *group);
                o.uint("sender_uid", u64::from(*sender_uid));
                let id = ann.ids.of(sender);
                task_object(&mut o, b64, pf, "sender", sender, (ann.other, id));
            }
            Event::SignalDeliver {
                sig,
                errno,
                code,
                disposition,
                sa_flags,
                ..
            } => {
                signal_fields(&mut o, *sig, *errno, *code);
                o.str("handler", disposition.label());
                if let Disposition::Handler(addr) = disposition {
                    o.uint("handler_addr", *addr);
                }
                o.uint("sa_flags", *sa_flags);
            }
            Event::Rename { new_comm, .. } => o.text("new_comm", new_comm, b64),
            Event::ExecFailed {
                errno,
                via,
                filename,
                filename_truncated,
                ..
            } => {
                o.text("filename", filename, b64);
                o.bool("filename_truncated", *filename_truncated);
                o.int("errno", i64::from(*errno));
                o.str("error", &crate::model::errno::name(*errno));
                o.str("via", via.name());
                helper(&mut o, b64, pf, ann, None);
            }
            Event::HelperRequest { request, .. } => {
                let reason = ann.helper.as_ref().and_then(|h| h.reason.as_deref());
                request_fields(&mut o, b64, pf, (request, ann), ann.other, reason);
            }
            Event::Throttle { throttle, .. } => throttle_fields(&mut o, throttle),
            // Folded into the fork's; the pipeline does not show it.
            Event::Kthread { .. } => {}
        }
        let len = o.len;
        out.truncate(len);
    }
}

/// The task fields (the JSON formatter's `task_fields`).
fn task_fields(
    o: &mut Out<'_>,
    b64: &mut String,
    pf: &PfNames,
    t: &Task,
    (kind, id): (Option<Kind>, TaskId),
    main_thread: bool,
) {
    o.task_id("task_id", id);
    o.uint("pid", u64::from(t.pid));
    o.uint("tgid", u64::from(t.tgid));
    o.uint("ppid", u64::from(t.ppid));
    if main_thread {
        let name = text::lossy(&t.comm);
        set_string(o.slot_named("process.executable.name"), &name);
    }
    o.text("comm", &t.comm, b64);
    if let Some(kind) = kind {
        o.str("kind", kind.name());
    }
    o.strings("flags", pf.names(t.flags).map(Cow::Borrowed));
    o.uint("flags_raw", u64::from(t.flags));
    o.bool("has_mm", t.has_mm);
    o.uint("start_ns", t.start_ns);
    context_fields(o, t.context.as_ref());
}

impl Out<'_> {
    /// An attribute named as it is, whatever the depth.
    fn slot_named(&mut self, name: &str) -> &mut Option<AnyValue> {
        if self.len == self.out.len() {
            self.out.push(KeyValue::default());
        }
        let kv = &mut self.out[self.len];
        self.len += 1;
        kv.key.clear();
        kv.key.push_str(name);
        &mut kv.value
    }
}

fn context_fields(o: &mut Out<'_>, ctx: Option<&TaskContext>) {
    let ctx = ctx.copied().unwrap_or_default();
    o.opt_uint("uid", ctx.uid.map(u64::from));
    o.opt_uint("gid", ctx.gid.map(u64::from));
    o.opt_uint("cgroup_id", ctx.cgroup_id);
    let path = ctx.cgroup_id.and_then(context::cgroup_path);
    o.opt_str("cgroup", path.as_deref());
    if let Some((runtime, id)) = path.as_deref().and_then(context::container_id) {
        o.str("container_id", id);
        o.str("container_runtime", runtime);
    }
    o.opt_uint("pidns", ctx.pidns.map(u64::from));
    o.opt_uint("ns_pid", ctx.ns_pid.map(u64::from));
    o.opt_uint("mntns", ctx.mntns.map(u64::from));
}

fn task_object(
    o: &mut Out<'_>,
    b64: &mut String,
    pf: &PfNames,
    name: &str,
    t: &Task,
    kind: (Option<Kind>, TaskId),
) {
    let mark = o.begin(name);
    task_fields(o, b64, pf, t, kind, false);
    o.end(mark);
}

fn signal_fields(o: &mut Out<'_>, sig: i32, errno: i32, code: i32) {
    o.str("signal", &signals::name(sig));
    o.int("signo", i64::from(sig));
    o.int("errno", i64::from(errno));
    o.int("code", i64::from(code));
    o.opt_str("code_name", signals::code_name(sig, code));
}

fn request_fields(
    o: &mut Out<'_>,
    b64: &mut String,
    pf: &PfNames,
    (req, ann): (&HelperRequest, &Annotation),
    kind: Option<Kind>,
    reason: Option<&str>,
) {
    if let Some(r) = &req.requester {
        let mark = o.begin("requested_by");
        task_fields(o, b64, pf, r, (kind, ann.ids.of(r)), false);
        o.opt_str("reason", reason);
        o.end(mark);
    }
    o.opt_uint("queued_ns", req.queued_ns);
    o.text("request_path", &req.path, b64);
    o.bool("request_path_truncated", req.path_truncated);
    o.str("waits", output::waits(req));
}

/// The JSON formatter's `kthread` object, on the fork of a kernel thread
/// kthreadd made.
fn kthread(o: &mut Out<'_>, b64: &mut String, pf: &PfNames, ann: &Annotation) {
    let Some(k) = ann.kthread.as_deref() else {
        return;
    };
    let mark = o.begin("kthread");
    if let Some(r) = &k.request.requester {
        let inner = o.begin("requested_by");
        task_fields(o, b64, pf, r, (k.requester_kind, ann.ids.of(r)), false);
        o.opt_str("work", k.work.as_deref());
        o.end(inner);
    }
    o.str("link", k.request.link.name());
    o.str("reason", k.request.link.reason());
    o.opt_str("threadfn", k.threadfn.as_deref());
    o.opt_uint("threadfn_addr", k.request.threadfn);
    o.opt_uint("requested_ns", k.request.requested_ns);
    o.opt_uint("run_after_request_ns", k.run_after_request_ns());
    o.end(mark);
}

/// The JSON formatter's `helper` object, for tasks of a helper's lineage.
fn helper(o: &mut Out<'_>, b64: &mut String, pf: &PfNames, ann: &Annotation, exit_ns: Option<u64>) {
    let Some(h) = &ann.helper else {
        return;
    };
    let mark = o.begin("helper");
    if let Some((pid, comm)) = &h.spawner {
        o.uint("spawner_pid", u64::from(*pid));
        o.text("spawner_comm", comm, b64);
    }
    if let Some(id) = h.spawner_id {
        o.task_id("spawner_task_id", id);
    }
    if let Some(exe) = h.exe.as_deref() {
        o.text("exe", exe, b64);
    }
    if let Some(req) = &h.request {
        request_fields(
            o,
            b64,
            pf,
            (req, ann),
            h.requester_kind,
            h.reason.as_deref(),
        );
    }
    o.bool("exec_failed", h.exec_failed);
    o.opt_str("exec_error_inferred", h.exec_error);
    let waited = h
        .request
        .as_ref()
        .filter(|r| r.waits_for_exit() && r.requester.is_some())
        .and_then(|r| exit_ns?.checked_sub(r.queued_ns?));
    o.opt_uint("waited_ns", waited);
    o.end(mark);
}

fn throttle_fields(o: &mut Out<'_>, t: &Throttle) {
    o.str("phase", t.phase.name());
    o.uint("throttle_cpu", u64::from(t.cpu));
    o.str("reasons", t.reasons_text());
    o.uint("per_source", u64::from(t.per_source));
    o.opt_uint("total", t.total.map(u64::from));
    o.uint("first_ns", t.first_ns);
    o.uint("last_ns", t.last_ns);
    match t.phase {
        ThrottlePhase::Begin => {
            o.str("dropped_kind", t.kind.map_or("unknown", EventKind::name));
            o.uint("recorded", u64::from(t.recorded));
        }
        ThrottlePhase::End => {
            let mark = o.begin("dropped");
            for (kind, n) in &t.dropped {
                o.uint(kind.name(), *n);
            }
            o.end(mark);
            o.uint("dropped_total", t.dropped_total());
            o.uint("other_uids", u64::from(t.other_uids));
        }
    }
}

#[cfg(test)]
mod tests {
    //! The cross-check: every kind of record, rendered by the JSON
    //! formatter and turned into attributes by the rules of the mapping
    //! (the way the exporter built them before [`Fields`]), must give
    //! exactly the attributes [`Fields`] writes, in the same order.

    use opentelemetry_proto::tonic::common::v1::KeyValueList;
    use serde_json::{Map, Value};

    use super::*;
    use crate::{
        model::{
            event::{ExecCut, ExecVia},
            signals::GenerateResult,
            task_id::{BootKey, TaskIds},
            tasks::{HelperInfo, Ids, Killer},
        },
        output::Format,
        ship::otlp::names::kv,
    };

    /// The JSON fields of one line as attributes: top-level fields renamed
    /// ([`top_level_name`]), nested objects flattened to `tracer.<path>`,
    /// nulls left out.
    fn from_json(fields: Map<String, Value>) -> Vec<KeyValue> {
        let event = fields
            .get("event")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let main_thread = fields.get("pid").is_some()
            && fields.get("pid") == fields.get("tgid")
            && fields.get("has_mm") == Some(&Value::Bool(true));
        let mut out = Vec::new();
        for (key, value) in fields {
            if key == "comm" && main_thread {
                if let Value::String(s) = &value {
                    out.push(kv("process.executable.name", string(s.clone())));
                }
            }
            let name = match top_level_name(&key, &event) {
                None => continue,
                Some(Name::Semantic(name)) => name.to_string(),
                Some(Name::Tracer) => format!("tracer.{key}"),
            };
            push(&mut out, name, value);
        }
        out
    }

    fn string(s: impl Into<String>) -> AnyValue {
        AnyValue {
            value: Some(V::StringValue(s.into())),
        }
    }

    fn push(out: &mut Vec<KeyValue>, name: String, value: Value) {
        match value {
            Value::Null => {}
            Value::Object(map) => {
                for (k, v) in map {
                    push(out, format!("{name}.{k}"), v);
                }
            }
            other => {
                if let Some(v) = any(other) {
                    out.push(kv(name, v));
                }
            }
        }
    }

    fn any(value: Value) -> Option<AnyValue> {
        let v = match value {
            Value::Null => return None,
            Value::Bool(b) => V::BoolValue(b),
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => V::IntValue(i),
                (None, _) if n.is_u64() => V::StringValue(n.to_string()),
                (None, Some(f)) => V::DoubleValue(f),
                (None, None) => V::StringValue(n.to_string()),
            },
            Value::String(s) => V::StringValue(s),
            Value::Array(items) => V::ArrayValue(ArrayValue {
                values: items
                    .into_iter()
                    .map(|i| any(i).unwrap_or_default())
                    .collect(),
            }),
            Value::Object(map) => V::KvlistValue(KeyValueList {
                values: map
                    .into_iter()
                    .filter_map(|(k, v)| Some(kv(k, any(v)?)))
                    .collect(),
            }),
        };
        Some(AnyValue { value: Some(v) })
    }

    fn clock() -> WallClock {
        WallClock {
            boot_epoch_ns: 1_700_000_000_000_000_000,
        }
    }

    fn pf() -> PfNames {
        PfNames::for_version((6, 18))
    }

    /// Not UTF-8: the JSON line has it lossy, plus `_b64`.
    fn odd(prefix: &str) -> String {
        let mut b = prefix.as_bytes().to_vec();
        b.extend_from_slice(&[0xff, b'x', 0xfe]);
        text::decode(&b)
    }

    fn task(pid: u32, tgid: u32, comm: &str, has_mm: bool, context: bool) -> Task {
        Task {
            pid,
            tgid,
            ppid: 1,
            // An unknown bit (0x80000000) too: named as hex.
            flags: 0x8040_0100,
            has_mm,
            comm: comm.into(),
            start_ns: 5,
            context: context.then_some(TaskContext {
                uid: Some(1000),
                gid: Some(100),
                // The root cgroup (v2): resolves where it is mounted.
                cgroup_id: Some(1),
                pidns: Some(4026531836),
                ns_pid: Some(7),
                mntns: None,
            }),
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

    fn request(requester: Option<Task>) -> HelperRequest {
        HelperRequest {
            requester,
            queued_ns: Some(10),
            requester_func: None,
            wait: tracer_common::UMH_WAIT_PROC,
            path: odd("/sbin/req"),
            path_truncated: false,
        }
    }

    fn helper_info(with_request: bool) -> HelperInfo {
        HelperInfo {
            spawner: Some((7, odd("kworker/u8:").into())),
            spawner_id: Some(BootKey::new("m", "b").task(3, 7)),
            exe: Some("/usr/lib/helper".into()),
            request: with_request
                .then(|| Box::new(request(Some(task(40, 40, "keyctl", true, true))))),
            reason: with_request.then(|| "running work call_usermodehelper_exec_work".into()),
            requester_kind: with_request.then_some(Kind::User),
            exec_failed: !with_request,
            exec_error: (!with_request).then_some("ENOENT"),
        }
    }

    /// Every kind of record, with and without what is optional.
    fn cases() -> Vec<(Record, Annotation)> {
        let rec = |boot_ns, event| Record {
            boot_ns,
            cpu: 1,
            event,
        };
        let user = ann(Kind::User, Some(Kind::User));
        let mut cases = vec![
            (
                rec(
                    1,
                    Event::Fork {
                        creator: task(10, 10, "sh", true, true),
                        child: task(11, 10, "sh", true, true),
                        clone_flags: 0x3d0f00,
                    },
                ),
                user.clone(),
            ),
            (
                rec(
                    2,
                    Event::Fork {
                        creator: task(2, 2, "kthreadd", false, false),
                        child: task(12, 12, &odd("kw"), false, false),
                        // Above i64::MAX: a string.
                        clone_flags: u64::MAX - 3,
                    },
                ),
                ann(Kind::Kthread, None),
            ),
            (
                rec(
                    3,
                    Event::Exec {
                        task: task(13, 13, "true", true, true),
                        old_pid: 13,
                        filename: "/bin/true".into(),
                        argv: vec!["true".into(), "a b".into(), "q\"\\\n".into()],
                        cut: Some(ExecCut {
                            argc: 3,
                            args_bytes: 14,
                            argv_truncated: false,
                            filename_truncated: false,
                        }),
                    },
                ),
                user.clone(),
            ),
            (
                rec(
                    4,
                    Event::Exec {
                        task: task(14, 13, "t", true, false),
                        old_pid: 15,
                        filename: odd("/bin/"),
                        argv: vec![odd("x"), "y".into()],
                        cut: None,
                    },
                ),
                Annotation {
                    helper: Some(helper_info(true)),
                    ..ann(Kind::Helper, None)
                },
            ),
            (
                rec(
                    5,
                    Event::Exit {
                        task: task(16, 16, "sleep", true, true),
                        status: ExitStatus::Exited(3),
                        group_dead: Some(true),
                    },
                ),
                Annotation {
                    lifetime_ns: Some(99),
                    ..user.clone()
                },
            ),
            (
                rec(
                    6,
                    Event::Exit {
                        task: task(17, 17, "helper", true, true),
                        status: ExitStatus::Signaled { sig: 9, core: true },
                        group_dead: None,
                    },
                ),
                Annotation {
                    helper: Some(helper_info(true)),
                    killer: Some(Killer {
                        task_id: BootKey::new("", "").task(0, 0),
                        sig: 9,
                        pid: 99,
                        tgid: 98,
                        comm: odd("ki").into(),
                        uid: 0,
                        boot_ns: 2,
                    }),
                    ids: Ids {
                        namer: TaskIds::new(BootKey::new("m", "b"), 100),
                        parent: Some(BootKey::new("m", "b").task(1, 2)),
                        ancestors: Some(vec![
                            Ancestor {
                                task_id: BootKey::new("m", "b").task(1, 2),
                                pid: 2,
                                comm: odd("kthre").into(),
                                kind: Kind::Kthreadd,
                            },
                            Ancestor {
                                task_id: BootKey::new("", "").task(0, 0),
                                pid: 0,
                                comm: "".into(),
                                kind: Kind::Kthread,
                            },
                        ]),
                    },
                    ..ann(Kind::Helper, None)
                },
            ),
            (
                rec(
                    7,
                    Event::Exit {
                        task: task(18, 18, "helper", false, false),
                        status: ExitStatus::Exited(0),
                        group_dead: Some(false),
                    },
                ),
                Annotation {
                    helper: Some(helper_info(false)),
                    ..ann(Kind::Helper, None)
                },
            ),
            (
                rec(
                    8,
                    Event::SignalGenerate {
                        sender: task(900, 900, "kill", true, true),
                        sender_uid: 1000,
                        target: task(2, 2, "kthreadd", false, false),
                        sig: 15,
                        errno: 0,
                        code: 0,
                        group: true,
                        result: GenerateResult::Ignored,
                    },
                ),
                ann(Kind::Kthreadd, Some(Kind::User)),
            ),
            (
                rec(
                    9,
                    Event::SignalGenerate {
                        sender: task(901, 900, "t", true, false),
                        sender_uid: 0,
                        target: task(902, 902, "x", true, true),
                        sig: 64,
                        errno: -4,
                        code: -6,
                        group: false,
                        result: GenerateResult::Unknown(9),
                    },
                ),
                ann(Kind::User, None),
            ),
            (
                rec(
                    10,
                    Event::SignalDeliver {
                        task: task(903, 903, "w", true, true),
                        sig: 10,
                        errno: 0,
                        code: 0,
                        disposition: Disposition::Handler(0xffff_ffff_ffff_0000),
                        sa_flags: 0x4000_0000,
                    },
                ),
                ann(Kind::User, None),
            ),
            (
                rec(
                    11,
                    Event::SignalDeliver {
                        task: task(904, 904, "w", true, false),
                        sig: 2,
                        errno: 0,
                        code: 0,
                        disposition: Disposition::Default,
                        sa_flags: 0,
                    },
                ),
                ann(Kind::User, None),
            ),
            (
                rec(
                    12,
                    Event::Rename {
                        task: task(905, 905, "old", true, true),
                        new_comm: odd("new"),
                    },
                ),
                ann(Kind::User, None),
            ),
            (
                rec(
                    13,
                    Event::ExecFailed {
                        task: task(906, 906, "sh", true, true),
                        errno: 2,
                        via: ExecVia::Execveat,
                        filename: "/nope".into(),
                        filename_truncated: true,
                    },
                ),
                user.clone(),
            ),
            (
                rec(
                    14,
                    Event::HelperRequest {
                        kworker: task(30, 30, "kworker/u8:1", false, true),
                        request: request(Some(task(40, 40, "keyctl", true, true))),
                    },
                ),
                Annotation {
                    helper: Some(helper_info(true)),
                    ..ann(Kind::Kthread, Some(Kind::User))
                },
            ),
            (
                rec(
                    15,
                    Event::HelperRequest {
                        kworker: task(30, 30, "kworker/u8:1", false, false),
                        request: HelperRequest {
                            queued_ns: None,
                            path_truncated: true,
                            ..request(None)
                        },
                    },
                ),
                ann(Kind::Kthread, None),
            ),
        ];
        for phase in [ThrottlePhase::Begin, ThrottlePhase::End] {
            cases.push((
                rec(
                    16,
                    Event::Throttle {
                        task: task(907, 907, "storm", true, true),
                        throttle: Throttle {
                            phase,
                            uid: 1000,
                            cpu: 1,
                            kind: Some(EventKind::SignalGenerate),
                            by_source: true,
                            by_total: phase == ThrottlePhase::End,
                            per_source: 5000,
                            total: (phase == ThrottlePhase::End).then_some(20000),
                            recorded: 5000,
                            other_uids: 2,
                            first_ns: 1,
                            last_ns: 2,
                            dropped: vec![
                                (EventKind::SignalGenerate, 10),
                                (EventKind::SignalDeliver, 9),
                            ],
                        },
                    },
                ),
                ann(Kind::User, None),
            ));
        }
        // A kernel thread kthreadd made, whom for; and its record.
        let request = crate::model::kthreads::KthreadRequest {
            requester: Some(task(4242, 4242, "mount", true, true)),
            requester_func: None,
            threadfn: Some(0xffff_ffff_8100_0000),
            link: crate::model::kthreads::KthreadLink::Exact,
            named: Default::default(),
            requested_ns: Some(16_000),
        };
        let mut made = ann(Kind::Kthread, Some(Kind::Kthreadd));
        made.kthread = Some(Box::new(crate::model::kthreads::KthreadInfo {
            request: request.clone(),
            requester_kind: Some(Kind::User),
            threadfn: Some("kjournald2".into()),
            work: None,
            first_run_ns: Some(16_500),
        }));
        let kthreadd = task(2, 2, "kthreadd", false, false);
        let child = task(13, 13, "jbd2/loop0-8", false, false);
        cases.push((
            rec(
                17,
                Event::Kthread {
                    child: child.clone(),
                    request,
                },
            ),
            ann(Kind::Kthread, Some(Kind::User)),
        ));
        cases.push((
            rec(
                18,
                Event::Fork {
                    creator: kthreadd,
                    child,
                    clone_flags: 0x800700,
                },
            ),
            made,
        ));
        cases
    }

    fn json_attrs(line: &[u8]) -> Vec<KeyValue> {
        let fields: Map<String, Value> =
            serde_json::from_slice(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        from_json(fields)
    }

    /// The attributes as a collector decodes them: the record's, then its
    /// ancestors, encoded as the sender encodes them (once per chain).
    fn otlp_attrs(
        fields: &mut Fields,
        cache: &mut super::super::ancestry::AncestryCache,
        attrs: &mut Vec<KeyValue>,
        rec: &Record,
        ann: &Annotation,
    ) {
        use prost::Message as _;
        fields.record(attrs, rec, ann);
        if let Some(chain) = &ann.ids.ancestors {
            let encoded = cache.encoded(chain);
            let decoded = opentelemetry_proto::tonic::logs::v1::LogRecord::decode(encoded)
                .expect("an encoded attribute");
            attrs.extend(decoded.attributes);
        }
    }

    #[test]
    fn every_record_kind_matches_the_json_output() {
        let mut json = output::formatter(Format::Json, clock(), pf());
        let mut fields = Fields::new(clock(), pf());
        // One vector for all, as the sender reuses it: a longer record's
        // leftovers must not show in a shorter one's.
        let mut attrs = Vec::new();
        let mut cache = super::super::ancestry::AncestryCache::new();
        let mut kinds = std::collections::BTreeSet::new();
        for round in 0..2 {
            for (rec, ann) in cases() {
                kinds.insert(rec.event.kind().name());
                let mut line = Vec::new();
                json.record(&mut line, &rec, &ann);
                otlp_attrs(&mut fields, &mut cache, &mut attrs, &rec, &ann);
                let want = json_attrs(&line);
                assert_eq!(
                    attrs,
                    want,
                    "round {round}: {}",
                    String::from_utf8_lossy(&line)
                );
            }
            for kind in [Some(EventKind::Exec), None] {
                let mut line = Vec::new();
                json.lost(&mut line, kind, u64::MAX, 77);
                fields.lost(&mut attrs, kind, u64::MAX, 77);
                assert_eq!(attrs, json_attrs(&line));
            }
        }
        // Every kind of event the kernel side can send is covered.
        for kind in EventKind::ALL {
            assert!(kinds.contains(kind.name()), "no case for {}", kind.name());
        }
    }

    #[test]
    fn the_cross_check_sees_a_difference() {
        let (rec, ann) = cases().swap_remove(2);
        let mut line = Vec::new();
        output::formatter(Format::Json, clock(), pf()).record(&mut line, &rec, &ann);
        let want = json_attrs(&line);
        let mut attrs = Vec::new();
        Fields::new(clock(), pf()).record(&mut attrs, &rec, &ann);
        assert_eq!(attrs, want);
        // A field the JSON output gains shows.
        let mut longer = line.clone();
        let at = longer.len() - 2;
        longer.splice(at..at, br#","new_field":1"#.iter().copied());
        assert_ne!(attrs, json_attrs(&longer));
    }
}
