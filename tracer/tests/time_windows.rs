//! Time windows of a log (`--since`, `--until` on replay, report and
//! export): every form of time, the task table still seeing the whole log,
//! the report saying its window, and clear usage errors. Read from a log
//! spanning three days (`two_days`); no BPF needed.

mod two_days;

use serde_json::Value;
use two_days::*;

/// The event lines of a replay (not titles, date lines or wrapped details).
fn events(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.as_bytes().first().is_some_and(u8::is_ascii_digit))
        .collect()
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn since_an_rfc3339_time_keeps_lineage_and_helper_stories() {
    let dir = tempfile::tempdir().unwrap();
    let log = two_day_log(dir.path());
    let log = log.to_str().unwrap();
    let (code, out, err) = tracer_utc(&["replay", log, "--since", "2026-11-28T00:00:00Z"]);
    assert_eq!(code, 0, "{err}");
    // Folded details back on their event's line (a fold drops one space).
    let out = out.replace(&format!("\n{}", " ".repeat(114)), " ");
    let lines = events(&out);
    assert_eq!(lines.len(), 7, "events 8-14:\n{out}");
    assert!(lines[0].starts_with("00:00:00.173466 "), "{out}");
    // Forked before the window, the helper and its child keep their kinds
    // and stories.
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" umh_child ")
                && l.contains("umh_child 28139 /usr/bin/cat exited 0")),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("umh 28138 /tmp/fx/helper.sh exited 0 after 1.0s")),
        "{out}"
    );
    // The first date line is the window's first day.
    let dates: Vec<&str> = out.lines().filter(|l| l.starts_with("---")).collect();
    assert_eq!(
        dates,
        [
            "--- 2026-11-28 Saturday (UTC) ---",
            "--- 2026-11-29 Sunday (UTC) ---"
        ],
        "{out}"
    );
    // The summary counts the window's events.
    assert!(err.contains("tracer: 7 events:"), "{err}");
}

#[test]
fn every_form_of_time_names_the_same_moments() {
    let dir = tempfile::tempdir().unwrap();
    let log = two_day_log(dir.path());
    let log = log.to_str().unwrap();
    let count = |tz: &str, args: &[&str]| {
        let mut all = vec!["replay", log];
        all.extend_from_slice(args);
        let (code, out, err) = tracer_in(tz, &[], &all);
        assert_eq!(code, 0, "{args:?}: {err}");
        events(&out).len()
    };
    // Recording began at 23:59:57.169598: +2s ends before the second event.
    assert_eq!(count("UTC", &["--until", "+2s"]), 1);
    assert_eq!(count("UTC", &["--until", "+2000ms"]), 1);
    assert_eq!(count("UTC", &["--until", "+2001ms"]), 2);
    assert_eq!(count("UTC", &["--since", "+1s"]), 15);
    assert_eq!(count("UTC", &["--since", "+2s"]), 14);
    assert_eq!(count("UTC", &["--since", "+3s", "--until", "+2d"]), 7);
    assert_eq!(count("UTC", &["--since", "+1h", "--until", "+2d"]), 1);
    // A time of day is on the log's first (local) day; both ends count.
    assert_eq!(
        count(
            "UTC",
            &["--since", "23:59:59.170053", "--until", "23:59:59.171803"]
        ),
        4
    );
    assert_eq!(count("UTC", &["--until", "23:59"]), 0);
    // Local dates and times, in the zone of the reader.
    assert_eq!(count("UTC", &["--since", "2026-11-28 00:00:00"]), 7);
    assert_eq!(count("CET-1", &["--since", "2026-11-28 01:00"]), 7);
    assert_eq!(count("CET-1", &["--since", "2026-11-28T01:00:00+01:00"]), 7);
    assert_eq!(count("CET-1", &["--since", "2026-11-29"]), 1);
    // In CET the log starts on the 28th, at 00:59:57 local.
    assert_eq!(count("CET-1", &["--since", "01:00:00"]), 7);
    assert_eq!(count("UTC", &["--until", "2026-11-27T23:59:59.5Z"]), 8);
}

#[test]
fn export_and_report_count_only_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let log = two_day_log(dir.path());
    let log = log.to_str().unwrap();
    let until = "2026-11-27T23:59:59.5Z";
    let (code, out, err) = tracer_utc(&["export", log, "--until", until]);
    assert_eq!(code, 0, "{err}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 8, "{out}");
    assert!(lines.iter().all(|l| l["time"].as_str().unwrap() < until));

    let (code, out, err) = tracer_utc(&[
        "report",
        log,
        "--format",
        "json",
        "--since",
        "2026-11-28T00:00:00Z",
    ]);
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["json_version"], 10);
    assert_eq!(
        r["window"]["since"]["time"], "2026-11-28T00:00:00.000000Z",
        "{r}"
    );
    assert!(r["window"]["until"]["time"].is_null(), "{r}");
    assert_eq!(r["window"]["args"], "--since 2026-11-28T00:00:00Z");
    assert_eq!(r["events"], 7);
    assert_eq!(r["start"], "2026-11-28T00:00:00.173466Z");
    assert_eq!(r["end"], "2026-11-29T00:00:00.174847Z");
    // Only the sleep forked in the window.
    assert_eq!(r["tasks_new"], serde_json::json!({"user": 1}), "{r}");
    // The helper forked before the window and exited in it.
    let helpers = r["helpers"].as_array().unwrap();
    assert_eq!(helpers.len(), 1, "{r}");
    assert_eq!(helpers[0]["pid"], 28138);
    assert_eq!(helpers[0]["path"], "/tmp/fx/helper.sh");
    assert_eq!(helpers[0]["exit"]["exited"], 0);
    let signals = r["signals_to_kernel_side"].as_array().unwrap();
    assert_eq!(signals.len(), 1, "the SIGCHLD to the helper: {r}");

    let (code, text, err) = tracer_utc(&["report", log, "--since", "+2s", "--until", "23:59:59.5"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains(
            "window: 2026-11-27T23:59:59.169598Z .. 2026-11-27T23:59:59.500000Z \
             (--since +2s --until 23:59:59.5): only events in it are counted\n"
        ),
        "{text}"
    );
    assert!(text.contains("events: 7\n"), "{text}");
    // Without a window the report says nothing of one.
    let (_, text, _) = tracer_utc(&["report", log]);
    assert!(!text.contains("window:"), "{text}");
    let (_, out, _) = tracer_utc(&["report", log, "--format", "json"]);
    let r: Value = serde_json::from_str(&out).unwrap();
    assert!(r["window"].is_null() && r["events"] == 15, "{r}");
}

#[test]
fn a_window_with_no_events_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let log = two_day_log(dir.path());
    let (code, out, err) = tracer_utc(&[
        "replay",
        log.to_str().unwrap(),
        "--since",
        "2026-12-01T00:00:00Z",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(events(&out).is_empty(), "{out}");
    assert!(
        err.contains("is in the window (the log's events span 2026-11-27T23:59:59.169282Z .. 2026-11-29T00:00:00.174847Z)"),
        "{err}"
    );
}

#[test]
fn bad_times_and_backward_windows_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let log = two_day_log(dir.path());
    let log = log.to_str().unwrap();
    for cmd in ["replay", "report", "export"] {
        for (args, says) in [
            (
                vec!["--since", "yesterday"],
                "is not a time: use an RFC 3339 time",
            ),
            (vec!["--since", "+10"], "`10` has no unit: write 10s"),
            (
                vec!["--until", "+ten minutes"],
                "`ten minutes` is not a length of time",
            ),
            (vec!["--until", "+10y"], "unknown unit `y`"),
            (vec!["--since", "24:00"], "is not a time of day"),
            (vec!["--since", "2026-02-29"], "2026-02-29 is not a date"),
            (
                vec!["--since", "+10m", "--until", "2026-11-27T23:59:59Z"],
                "the window ends before it starts: --until 2026-11-27T23:59:59Z is \
                 2026-11-27T23:59:59.000000Z but --since +10m is 2026-11-28T00:09:57.169598Z",
            ),
            (
                vec!["--since", "2026-11-29T00:00:00Z", "--until", "+1m"],
                "the window ends before it starts",
            ),
        ] {
            let mut all = vec![cmd, log];
            all.extend_from_slice(&args);
            let (code, out, err) = tracer_utc(&all);
            assert_eq!(code, 2, "{cmd} {args:?}: {err}");
            assert!(err.contains(says), "{cmd} {args:?}: {err}");
            assert!(out.is_empty(), "{cmd} {args:?}: {out}");
        }
    }
}
