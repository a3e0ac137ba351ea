//! Logs written by earlier builds (every `tests/fixtures/log-*.log`, found
//! by listing the directory, so a new fixture is covered as soon as it is
//! added) still replay and report: each replays as JSON events that
//! `report` counts, none missing; a fixture with a row in [`ROWS`] also
//! gets that row's checks of what its format did and did not carry.
//! No BPF, no root.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Value};

/// What a fixture's row checks, beyond what every fixture must do.
struct Row {
    /// The fixture's file name in tests/fixtures.
    file: &'static str,
    /// Which build wrote it, and so what the row checks.
    what: &'static str,
    check: fn(&Path, &[Value]),
}

const ROWS: &[Row] = &[
    Row {
        file: "log-v1.log",
        what: "log version 1",
        check: version_1,
    },
    Row {
        file: "log-v2-format1.log",
        what: "record format 1, before exec cuts were marked",
        check: record_format_1,
    },
    Row {
        file: "log-v2-format2.log",
        what: "record format 2, the release before helper requests",
        check: record_format_2,
    },
    Row {
        file: "log-v2-format3.log",
        what: "record format 3, the build before task context",
        check: record_format_3,
    },
    Row {
        file: "log-v2-format4.log",
        what: "log version 2, the build before rotation: a sleep, SIGTERM to kthreadd",
        check: log_version_2,
    },
    Row {
        file: "log-v3-format4.log",
        what: "record format 4, the build before throttling",
        check: record_format_4,
    },
    Row {
        file: "log-v3-format5.log",
        what: "log version 3, the build before machine ids",
        check: log_version_3,
    },
    Row {
        file: "log-v4-format6.log",
        what: "record format 6, the build before kernel threads were timed",
        check: record_format_6,
    },
];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `tracer replay LOG --format json`, which must succeed: its events.
fn replay_json(log: &Path) -> (Vec<Value>, String) {
    let (code, out, err) = run_tracer(&["replay", log.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let events = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON ({e}): {l}")))
        .collect();
    (events, out)
}

/// `tracer report LOG [ARGS]`, which must succeed: its stdout.
fn report(log: &Path, args: &[&str]) -> String {
    let mut all = vec!["report", log.to_str().unwrap()];
    all.extend_from_slice(args);
    let (code, out, err) = run_tracer(&all);
    assert_eq!(code, 0, "{err}");
    out
}

/// Events one JSON line each, as `replay --format json` printed them.
fn dump(events: &[Value]) -> String {
    let lines: Vec<String> = events.iter().map(Value::to_string).collect();
    lines.join("\n")
}

#[test]
fn every_fixture_log_replays_and_reports() {
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("tests/fixtures")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("log-") && n.ends_with(".log"))
        })
        .collect();
    fixtures.sort();
    // A row whose fixture went away would check nothing without a word.
    for row in ROWS {
        assert!(
            fixtures.iter().any(|p| p.ends_with(row.file)),
            "{} ({}) is not in tests/fixtures",
            row.file,
            row.what
        );
    }
    assert!(!fixtures.is_empty(), "no tests/fixtures/log-*.log");
    for log in &fixtures {
        let name = log.file_name().unwrap().to_str().unwrap();
        eprintln!("{name}");
        let (events, out) = replay_json(log);
        assert!(!events.is_empty(), "{name}: no events");
        assert!(
            events.iter().all(|v| v["event"].is_string()),
            "{name}: a line that is not an event:\n{out}"
        );
        report(log, &[]);
        let json = report(log, &["--format", "json"]);
        let summary: Value = serde_json::from_str(&json).expect("report JSON");
        assert_eq!(summary["events"], events.len(), "{name}: {json}");
        assert_eq!(summary["missing_events"], json!([]), "{name}: {json}");
        if let Some(row) = ROWS.iter().find(|r| r.file == name) {
            eprintln!("{name}: {}", row.what);
            (row.check)(log, &events);
        }
    }
}

fn version_1(log: &Path, events: &[Value]) {
    assert_eq!(events.len(), 9, "{}", dump(events));
    let exec = events
        .iter()
        .find(|v| is(v, "exec"))
        .expect("an exec event");
    assert_eq!(str_of(exec, "filename"), "/bin/true");
    assert_eq!(field(exec, "argv"), &json!(["/bin/true"]));
    let json = report(log, &["--format", "json"]);
    let report: Value = serde_json::from_str(&json).expect("report JSON");
    assert_eq!(report["events"], 9);
    assert_eq!(report["missing_events"], json!([]));
}

fn record_format_1(log: &Path, events: &[Value]) {
    assert_eq!(events.len(), 19, "{}", dump(events));
    let echo = events
        .iter()
        .find(|v| {
            is(v, "exec")
                && v["filename"]
                    .as_str()
                    .is_some_and(|f| f.starts_with("/bin/echo"))
        })
        .unwrap_or_else(|| panic!("no exec of /bin/echo"));
    assert_eq!(echo["argv"][1], "first");
    assert_eq!(echo["argv"][2], "two\nlines");
    assert_eq!(echo["argv_truncated"], Value::Null);
    assert_eq!(echo["argc"], Value::Null);
    report(log, &[]);
}

fn record_format_2(log: &Path, events: &[Value]) {
    let exec = events
        .iter()
        .find(|v| is(v, "exec") && v["filename"] == "/tmp/fx/helper.sh")
        .expect("the helper's exec");
    assert_eq!(exec["kind"], "umh", "{exec}");
    assert_eq!(
        exec["helper"].get("requested_by"),
        Some(&Value::Null),
        "{exec}"
    );
    assert!(events.iter().all(|v| !is(v, "helper_request")));
    let text = report(log, &[]);
    assert!(
        text.contains("/tmp/fx/helper.sh [/bin/sh /tmp/fx/helper.sh 28137] for ?, spawned by 13770 (kworker/u8:3)"),
        "{text}"
    );
    // Empty sections say so rather than print a bare heading.
    assert!(text.contains("kthreads created:\n  none\n"), "{text}");
    assert!(
        text.contains(
            "longest waits on a helper (for its exit, or dumping core into it):\n  none\n"
        ),
        "{text}"
    );
}

fn record_format_3(log: &Path, events: &[Value]) {
    assert_eq!(events.len(), 8, "{}", dump(events));
    let exec = events
        .iter()
        .find(|v| {
            v["event"] == "exec"
                && v["filename"] == "/bin/true"
                && v["argv"].as_array().and_then(|a| a.last()) == Some(&Value::from("/bin/true"))
        })
        .unwrap_or_else(|| panic!("no exec of /bin/true /bin/true in {}", dump(events)));
    assert_eq!(exec["comm"], "true");
    for v in events {
        for key in [
            "uid",
            "gid",
            "cgroup_id",
            "cgroup",
            "container_id",
            "pidns",
            "ns_pid",
            "mntns",
        ] {
            assert_eq!(v[key], Value::Null, "{key} in {v}");
        }
    }
    let fork = events.iter().find(|v| v["event"] == "fork").unwrap();
    assert_eq!(fork["creator"]["uid"], Value::Null, "{fork}");
    assert_eq!(fork["creator"]["comm"], "sh", "{fork}");
    let (code, text, err) = run_tracer(&["replay", log.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("/bin/true [/bin/true]"), "{text}");
    assert!(!text.contains("user="), "{text}");
}

fn log_version_2(log: &Path, events: &[Value]) {
    assert_eq!(events.len(), 10, "{}", dump(events));
    let term = events
        .iter()
        .find(|v| v["event"] == "signal_generate" && v["pid"] == 2)
        .unwrap_or_else(|| panic!("no signal to kthreadd in {}", dump(events)));
    assert_eq!(term["signal"], "SIGTERM", "{term}");
    assert_eq!(term["result"], "ignored", "{term}");
    assert!(
        events
            .iter()
            .any(|v| v["event"] == "exec" && v["filename"] == "/usr/bin/sleep"),
        "{}",
        dump(events)
    );
    let text = report(log, &[]);
    assert!(text.contains("kthreadd"), "{text}");
}

/// A `sh` that ran `true fixture-v3-format5` and sent SIGTERM to kthreadd,
/// recorded before the header carried the machine id.
fn log_version_3(log: &Path, events: &[Value]) {
    marker_and_sigterm_to_kthreadd(log, events, "fixture-v3-format5");
    // No machine id before log version 4: task ids are still there, of the
    // empty machine id and the log's boot id.
    let (header, _) = tracer::log::reader::LogReader::open(log).unwrap();
    assert_eq!(header.machine_id, "");
    let boot = tracer::model::task_id::BootKey::new("", &header.boot_id);
    let ns_per_tick = 1_000_000_000 / header.ticks_per_sec;
    for v in events.iter().filter(|v| v["event"] != "lost") {
        let (pid, start) = (v["pid"].as_u64().unwrap(), v["start_ns"].as_u64().unwrap());
        let want = boot.task(start / ns_per_tick, pid as u32).to_string();
        assert_eq!(v["task_id"], want.as_str(), "{v}");
    }
    assert!(
        events.iter().any(|v| v["parent_task_id"].is_string()),
        "{}",
        dump(events)
    );
    let json: Value = serde_json::from_str(&report(log, &["--format", "json"])).unwrap();
    assert_eq!(json["machine_id"], Value::Null);
}

/// The v3 scenario, then the same `sh` restarting khugepaged (a THP
/// toggle), recorded before the kernel-thread record had the request's
/// time: whom for is there, the times are null.
fn record_format_6(log: &Path, events: &[Value]) {
    marker_and_sigterm_to_kthreadd(log, events, "fixture-v4-format6");
    let sh = events
        .iter()
        .find(|v| v["event"] == "signal_generate" && v["pid"] == 2)
        .expect("the SIGTERM to kthreadd")["sender"]["pid"]
        .clone();
    let k = events
        .iter()
        .find(|v| v["event"] == "fork" && v["comm"] == "khugepaged")
        .map(|v| &v["kthread"])
        .unwrap_or_else(|| panic!("no khugepaged fork: {}", dump(events)));
    assert_eq!(k["requested_by"]["pid"], sh, "{k}");
    assert_eq!(k["requested_ns"], Value::Null, "{k}");
    assert_eq!(k["run_after_request_ns"], Value::Null, "{k}");
    let json: Value = serde_json::from_str(&report(log, &["--format", "json"])).unwrap();
    let group = json["kthreads_by_requester"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["threads"] == "khugepaged"))
        .unwrap_or_else(|| panic!("{json}"))
        .clone();
    assert_eq!(
        (group["count"].as_u64(), group["timed"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(group["run_after_request_ns_median"], Value::Null);
}

fn record_format_4(log: &Path, events: &[Value]) {
    marker_and_sigterm_to_kthreadd(log, events, "fixture-v3-format4");
}

/// The scenario the v3 fixtures recorded: a `sh` that ran `true MARKER`
/// and sent SIGTERM to kthreadd, which `report` names.
fn marker_and_sigterm_to_kthreadd(log: &Path, events: &[Value], marker: &str) {
    let marked = events.iter().any(|v| {
        v["event"] == "exec"
            && v["argv"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == marker))
    });
    assert!(marked, "{}", dump(events));
    let term = events
        .iter()
        .find(|v| v["event"] == "signal_generate" && v["pid"] == 2)
        .expect("the SIGTERM to kthreadd");
    assert_eq!(term["signal"], "SIGTERM", "{term}");
    let text = report(log, &[]);
    assert!(text.contains("kthreadd"), "{text}");
}
