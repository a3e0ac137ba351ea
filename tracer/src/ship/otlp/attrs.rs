//! Events to OTLP log records: the JSON output's fields as attributes
//! (renamed where OpenTelemetry has a semantic convention, `tracer.*`
//! otherwise), the text output's line as the body. The mapping is in the
//! parent module's documentation.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::{
    common::v1::{any_value, AnyValue, ArrayValue, KeyValue, KeyValueList},
    logs::v1::{LogRecord, SeverityNumber},
};
use serde_json::{Map, Value};
use tracer_common::EventKind;

use crate::{
    model::{
        classify::Kind,
        clock::WallClock,
        event::{Event, Record},
        flags::PfNames,
        signals::ExitStatus,
        tasks::Annotation,
    },
    output::{self, Format, Formatter},
};

/// Builds one log record per event, reusing its buffers.
pub struct Mapper {
    json: Box<dyn Formatter>,
    text: Box<dyn Formatter>,
    clock: WallClock,
    buf: Vec<u8>,
}

/// What the tap hands the sender thread: the event as the pipeline had it
/// and when tracer saw it. The LogRecord is built on the sender thread, so
/// the ring-buffer consumer only clones (building one costs microseconds).
// Items live in a batch's Vec, nearly all of them events: boxing the large
// variant would add an allocation per event and save nothing.
#[allow(clippy::large_enum_variant)]
pub enum Item {
    Event {
        rec: Record,
        ann: Annotation,
        observed_ns: u64,
    },
    Lost {
        kind: Option<EventKind>,
        count: u64,
        boot_ns: u64,
        observed_ns: u64,
    },
}

impl Mapper {
    /// The LogRecord for an item handed over by the tap.
    pub fn item(&mut self, item: Item) -> LogRecord {
        let (mut rec, observed_ns) = match item {
            Item::Event {
                rec,
                ann,
                observed_ns,
            } => (self.event(&rec, &ann), observed_ns),
            Item::Lost {
                kind,
                count,
                boot_ns,
                observed_ns,
            } => (self.lost(kind, count, boot_ns), observed_ns),
        };
        rec.observed_time_unix_nano = observed_ns;
        rec
    }

    pub fn new(clock: WallClock, pf: PfNames) -> Mapper {
        Mapper {
            json: output::formatter(Format::Json, clock, pf),
            text: output::formatter(Format::Text, clock, pf),
            clock,
            buf: Vec::with_capacity(4096),
        }
    }

    pub fn event(&mut self, rec: &Record, ann: &Annotation) -> LogRecord {
        self.buf.clear();
        self.json.record(&mut self.buf, rec, ann);
        let attributes = self.attributes();
        self.buf.clear();
        self.text.record(&mut self.buf, rec, ann);
        let body = String::from_utf8_lossy(&self.buf).trim().to_string();
        let warn = warns(rec, ann);
        self.log_record(rec.boot_ns, rec.event.kind().name(), warn, body, attributes)
    }

    /// `count` records of `kind` lost: a WARN record of event `lost`.
    pub fn lost(&mut self, kind: Option<EventKind>, count: u64, boot_ns: u64) -> LogRecord {
        self.buf.clear();
        self.json.lost(&mut self.buf, kind, count, boot_ns);
        let attributes = self.attributes();
        let body = format!(
            "{count} {} events lost",
            kind.map_or("unknown", EventKind::name)
        );
        self.log_record(boot_ns, "lost", true, body, attributes)
    }

    /// The JSON line in `buf` as attributes.
    fn attributes(&self) -> Vec<KeyValue> {
        match serde_json::from_slice::<Map<String, Value>>(&self.buf) {
            Ok(fields) => attributes(fields),
            // The JSON formatter writes valid JSON; were it ever not to, the
            // record still goes, with its body and the line as it is.
            Err(_) => vec![kv(
                "tracer.json",
                string(String::from_utf8_lossy(&self.buf).trim().to_string()),
            )],
        }
    }

    fn log_record(
        &self,
        boot_ns: u64,
        event: &str,
        warn: bool,
        body: String,
        attributes: Vec<KeyValue>,
    ) -> LogRecord {
        let (severity, text) = if warn {
            (SeverityNumber::Warn, "WARN")
        } else {
            (SeverityNumber::Info, "INFO")
        };
        LogRecord {
            time_unix_nano: u64::try_from(self.clock.wall_ns(boot_ns)).unwrap_or(0),
            observed_time_unix_nano: now_unix_nano(),
            severity_number: severity as i32,
            severity_text: text.into(),
            body: Some(string(body)),
            attributes,
            event_name: format!("tracer.{event}"),
            ..LogRecord::default()
        }
    }
}

pub fn now_unix_nano() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// WARN: a user-mode helper (or its descendant) killed by a signal, a
/// helper whose exec failed, a throttled source (events not recorded).
/// Everything else is INFO.
fn warns(rec: &Record, ann: &Annotation) -> bool {
    if ann.helper.as_ref().is_some_and(|h| h.exec_failed)
        || matches!(rec.event, Event::Throttle { .. })
    {
        return true;
    }
    matches!(
        (&rec.event, ann.subject),
        (
            Event::Exit {
                status: ExitStatus::Signaled { .. },
                ..
            },
            Kind::Helper | Kind::HelperChild
        )
    )
}

/// The JSON fields of one event as attributes: top-level fields renamed
/// ([`top_level_name`]), nested objects flattened to `tracer.<path>`,
/// nulls left out.
pub fn attributes(fields: Map<String, Value>) -> Vec<KeyValue> {
    let event = fields
        .get("event")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    // The main thread of a user process: its comm is the process's name.
    let main_thread = fields.get("pid").is_some()
        && fields.get("pid") == fields.get("tgid")
        && fields.get("has_mm") == Some(&Value::Bool(true));
    let mut out = Vec::with_capacity(fields.len() + 8);
    for (key, value) in fields {
        if key == "comm" && main_thread {
            if let Value::String(s) = &value {
                out.push(kv("process.executable.name", string(s.clone())));
            }
        }
        match top_level_name(&key, &event) {
            Some(name) => push(&mut out, name.to_string(), value),
            None => continue,
        }
    }
    out
}

/// The attribute name of a top-level JSON field; `None`: not an attribute
/// (`time` is the record's timestamp).
fn top_level_name<'a>(key: &'a str, event: &str) -> Option<std::borrow::Cow<'a, str>> {
    use std::borrow::Cow::{Borrowed, Owned};
    Some(match key {
        "time" => return None,
        "cpu" => Borrowed("cpu.logical_number"),
        "pid" => Borrowed("thread.id"),
        "tgid" => Borrowed("process.pid"),
        "ppid" => Borrowed("process.parent_pid"),
        "comm" => Borrowed("thread.name"),
        "filename" if event == "exec" => Borrowed("process.executable.path"),
        "argv" => Borrowed("process.command_args"),
        "argc" => Borrowed("process.args_count"),
        "exit_status" => Borrowed("process.exit.code"),
        // The subject's context (JSON version 6): uid and gid are the real
        // ids (`real_cred`).
        "uid" => Borrowed("process.real_user.id"),
        "gid" => Borrowed("process.real_group.id"),
        "cgroup" => Borrowed("process.linux.cgroup"),
        "container_id" => Borrowed("container.id"),
        "container_runtime" => Borrowed("container.runtime"),
        other => Owned(format!("tracer.{other}")),
    })
}

/// `name` = `value`; objects become `name.<key>` attributes.
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

/// A JSON value as an OTLP value (`None` for null).
fn any(value: Value) -> Option<AnyValue> {
    use any_value::Value as V;
    let v = match value {
        Value::Null => return None,
        Value::Bool(b) => V::BoolValue(b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => V::IntValue(i),
            // Above i64::MAX: the exact decimal, not a wrapped number.
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

pub fn kv(key: impl Into<String>, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(value),
        ..KeyValue::default()
    }
}

pub fn string(s: impl Into<String>) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s.into())),
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::model::{
        event::{ExecCut, Task},
        tasks::{HelperInfo, Killer},
    };

    fn task(pid: u32, tgid: u32, comm: &str) -> Task {
        Task {
            pid,
            tgid,
            ppid: 1,
            flags: 0x400100,
            has_mm: true,
            comm: comm.into(),
            start_ns: 5,
            context: None,
        }
    }

    fn ann(subject: Kind) -> Annotation {
        Annotation {
            subject,
            other: Some(Kind::User),
            helper: None,
            killer: None,
            lifetime_ns: None,
        }
    }

    fn exec() -> Record {
        Record {
            boot_ns: 2_000_000_000,
            cpu: 3,
            event: Event::Exec {
                task: task(4243, 4243, "true"),
                old_pid: 4243,
                filename: "/bin/true".into(),
                argv: vec!["true".into(), "a b".into()],
                cut: Some(ExecCut {
                    argc: 2,
                    args_bytes: 9,
                    argv_truncated: false,
                    filename_truncated: false,
                }),
            },
        }
    }

    fn mapper() -> Mapper {
        Mapper::new(
            WallClock {
                boot_epoch_ns: 1_700_000_000_000_000_000,
            },
            PfNames::for_version((6, 18)),
        )
    }

    fn get<'a>(rec: &'a LogRecord, key: &str) -> &'a any_value::Value {
        rec.attributes
            .iter()
            .find(|a| a.key == key)
            .and_then(|a| a.value.as_ref()?.value.as_ref())
            .unwrap_or_else(|| panic!("no attribute {key}: {:?}", rec.attributes))
    }

    fn int(rec: &LogRecord, key: &str) -> i64 {
        match get(rec, key) {
            any_value::Value::IntValue(i) => *i,
            other => panic!("{key} is not an int: {other:?}"),
        }
    }

    fn text<'a>(rec: &'a LogRecord, key: &str) -> &'a str {
        match get(rec, key) {
            any_value::Value::StringValue(s) => s,
            other => panic!("{key} is not a string: {other:?}"),
        }
    }

    #[test]
    fn exec_maps_to_semantic_conventions() {
        let mut m = mapper();
        let rec = m.event(&exec(), &ann(Kind::User));
        assert_eq!(rec.time_unix_nano, 1_700_000_002_000_000_000);
        assert!(rec.observed_time_unix_nano > 1_700_000_000_000_000_000);
        assert_eq!(rec.severity_number, SeverityNumber::Info as i32);
        assert_eq!(rec.severity_text, "INFO");
        assert_eq!(rec.event_name, "tracer.exec");
        assert_eq!(int(&rec, "thread.id"), 4243);
        assert_eq!(int(&rec, "process.pid"), 4243);
        assert_eq!(int(&rec, "process.parent_pid"), 1);
        assert_eq!(int(&rec, "cpu.logical_number"), 3);
        assert_eq!(int(&rec, "process.args_count"), 2);
        assert_eq!(text(&rec, "thread.name"), "true");
        assert_eq!(text(&rec, "process.executable.name"), "true");
        assert_eq!(text(&rec, "process.executable.path"), "/bin/true");
        assert_eq!(text(&rec, "tracer.event"), "exec");
        assert_eq!(text(&rec, "tracer.kind"), "user");
        let any_value::Value::ArrayValue(args) = get(&rec, "process.command_args") else {
            panic!("command_args is not an array");
        };
        let args: Vec<_> = args
            .values
            .iter()
            .map(|v| match &v.value {
                Some(any_value::Value::StringValue(s)) => s.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(args, ["true", "a b"]);
        let any_value::Value::ArrayValue(flags) = get(&rec, "tracer.flags") else {
            panic!("flags is not an array");
        };
        assert_eq!(flags.values.len(), 2);
        assert!(rec.attributes.iter().all(|a| a.key != "tracer.time"
            && a.key != "tracer.helper"
            && !a.key.starts_with("tracer.pid")));
        let Some(AnyValue {
            value: Some(any_value::Value::StringValue(body)),
        }) = &rec.body
        else {
            panic!("no body");
        };
        assert!(
            body.contains("exec") && body.contains("/bin/true"),
            "{body}"
        );
        assert_eq!(body.trim(), body);
    }

    #[test]
    fn nested_tasks_flatten_and_helper_deaths_warn() {
        let mut m = mapper();
        let fork = Record {
            boot_ns: 1,
            cpu: 0,
            event: Event::Fork {
                creator: task(10, 10, "sh"),
                child: task(11, 10, "sh"),
                clone_flags: 0x3d0f00,
            },
        };
        let rec = m.event(&fork, &ann(Kind::User));
        assert_eq!(int(&rec, "tracer.creator.pid"), 10);
        assert_eq!(text(&rec, "tracer.creator.comm"), "sh");
        assert_eq!(int(&rec, "tracer.clone_flags"), 0x3d0f00);
        // A thread: its comm names the thread only.
        assert!(rec
            .attributes
            .iter()
            .all(|a| a.key != "process.executable.name"));

        let exit = Record {
            boot_ns: 3,
            cpu: 0,
            event: Event::Exit {
                task: task(12, 12, "helper"),
                status: ExitStatus::Signaled {
                    sig: 9,
                    core: false,
                },
                group_dead: Some(true),
            },
        };
        let mut a = ann(Kind::Helper);
        a.helper = Some(HelperInfo {
            spawner: Some((7, "kworker/u8:1".into())),
            exe: Some("/usr/lib/helper".into()),
            request: None,
            reason: None,
            requester_kind: None,
            exec_failed: false,
            exec_error: None,
        });
        a.killer = Some(Killer {
            sig: 9,
            pid: 99,
            tgid: 99,
            comm: "kill".into(),
            uid: 0,
            boot_ns: 2,
        });
        let rec = m.event(&exit, &a);
        assert_eq!(rec.severity_text, "WARN");
        assert_eq!(rec.severity_number, SeverityNumber::Warn as i32);
        assert_eq!(int(&rec, "tracer.helper.spawner_pid"), 7);
        assert_eq!(int(&rec, "tracer.killed_by.pid"), 99);
        assert_eq!(text(&rec, "tracer.exit_signal"), "SIGKILL");
        assert!(rec.attributes.iter().all(|a| a.key != "process.exit.code"));

        let rec = m.lost(Some(EventKind::Exec), 17, 5);
        assert_eq!(rec.severity_text, "WARN");
        assert_eq!(rec.event_name, "tracer.lost");
        assert_eq!(int(&rec, "tracer.count"), 17);
        assert_eq!(text(&rec, "tracer.lost_event"), "exec");
    }
}
