//! Events to OTLP log records: the JSON output's fields as attributes
//! (renamed where OpenTelemetry has a semantic convention, `tracer.*`
//! otherwise; written by [`Fields`] straight from the event), the text
//! output's line as the body. The mapping is in the parent module's
//! documentation.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::{
    common::v1::{any_value, AnyValue},
    logs::v1::{LogRecord, SeverityNumber},
};
use tracer_common::EventKind;

use super::{ancestry::AncestryCache, fields::Fields, names::string, wire::Built};
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

/// Builds one log record per event, over a reused one.
pub(super) struct Mapper {
    fields: Fields,
    text: Box<dyn Formatter>,
    clock: WallClock,
    buf: Vec<u8>,
    ancestry: AncestryCache,
}

/// What the tap hands the sender thread: the event as the pipeline had it
/// and when tracer saw it. The LogRecord is built on the sender thread.
// Items live in a batch's Vec, nearly all of them events: boxing the large
// variant would add an allocation per event and save nothing.
#[allow(clippy::large_enum_variant)]
pub(super) enum Item {
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
    pub(super) fn new(clock: WallClock, pf: PfNames) -> Mapper {
        Mapper {
            fields: Fields::new(clock, pf),
            text: output::formatter(Format::Text, clock, pf),
            clock,
            buf: Vec::with_capacity(4096),
            ancestry: AncestryCache::new(),
        }
    }

    /// The LogRecord for an item handed over by the tap, written over
    /// `out` (whose strings and vectors are reused).
    pub(super) fn item_into(&mut self, item: &Item, out: &mut Built) {
        let observed_ns = match item {
            Item::Event {
                rec,
                ann,
                observed_ns,
            } => {
                self.event_into(rec, ann, out);
                *observed_ns
            }
            Item::Lost {
                kind,
                count,
                boot_ns,
                observed_ns,
            } => {
                out.ancestors.clear();
                self.lost_into(*kind, *count, *boot_ns, &mut out.log);
                *observed_ns
            }
        };
        out.log.observed_time_unix_nano = observed_ns;
    }

    pub(super) fn event_into(&mut self, rec: &Record, ann: &Annotation, built: &mut Built) {
        built.ancestors.clear();
        if let Some(chain) = &ann.ids.ancestors {
            built
                .ancestors
                .extend_from_slice(self.ancestry.encoded(chain));
        }
        let out = &mut built.log;
        self.fields.record(&mut out.attributes, rec, ann);
        self.buf.clear();
        self.text.record(&mut self.buf, rec, ann);
        match std::str::from_utf8(&self.buf) {
            Ok(body) => set_body(out, body.trim()),
            Err(_) => set_body(out, String::from_utf8_lossy(&self.buf).trim()),
        }
        let warn = warns(rec, ann);
        self.header(out, rec.boot_ns, rec.event.kind().name(), warn);
    }

    /// `count` records of `kind` lost: a WARN record of event `lost`.
    pub(super) fn lost_into(
        &mut self,
        kind: Option<EventKind>,
        count: u64,
        boot_ns: u64,
        out: &mut LogRecord,
    ) {
        self.fields.lost(&mut out.attributes, kind, count, boot_ns);
        let body = format!(
            "{count} {} events lost",
            kind.map_or("unknown", EventKind::name)
        );
        set_body(out, &body);
        self.header(out, boot_ns, "lost", true);
    }

    /// A new LogRecord for an event, as a collector decodes it.
    #[cfg(test)]
    pub(super) fn event(&mut self, rec: &Record, ann: &Annotation) -> LogRecord {
        let mut out = Built::default();
        self.event_into(rec, ann, &mut out);
        out.log.observed_time_unix_nano = now_unix_nano();
        out.decoded()
    }

    /// A new LogRecord for a loss notice.
    #[cfg(test)]
    pub(super) fn lost(&mut self, kind: Option<EventKind>, count: u64, boot_ns: u64) -> LogRecord {
        let mut out = LogRecord::default();
        self.lost_into(kind, count, boot_ns, &mut out);
        out.observed_time_unix_nano = now_unix_nano();
        out
    }

    /// Everything but the attributes and the body.
    fn header(&self, out: &mut LogRecord, boot_ns: u64, event: &str, warn: bool) {
        let (severity, text) = if warn {
            (SeverityNumber::Warn, "WARN")
        } else {
            (SeverityNumber::Info, "INFO")
        };
        // The observed time is [`Mapper::item_into`]'s: when the
        // tap saw the item, not when the sender built its record.
        out.time_unix_nano = u64::try_from(self.clock.wall_ns(boot_ns)).unwrap_or(0);
        out.severity_number = severity as i32;
        out.severity_text.clear();
        out.severity_text.push_str(text);
        out.event_name.clear();
        out.event_name.push_str("tracer.");
        out.event_name.push_str(event);
    }
}

fn set_body(out: &mut LogRecord, body: &str) {
    match &mut out.body {
        Some(AnyValue {
            value: Some(any_value::Value::StringValue(s)),
        }) => {
            s.clear();
            s.push_str(body);
        }
        other => *other = Some(string(body)),
    }
}

pub(super) fn now_unix_nano() -> u64 {
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
            ids: Default::default(),
            kthread: None,
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
            spawner_id: None,
            exe: Some("/usr/lib/helper".into()),
            request: None,
            reason: None,
            requester_kind: None,
            exec_failed: false,
            exec_error: None,
        });
        a.killer = Some(Killer {
            task_id: crate::model::task_id::BootKey::new("", "").task(0, 0),
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
