//! Odd arguments: every refused value is a usage error (status 2) told in
//! one clear sentence, before anything is loaded or created, and no
//! argument makes tracer panic.

mod common;
mod two_days;

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use common::*;
use tracer::log::{reader::Item, writer::LogWriter};
use two_days::{tracer_utc, two_day_log};

#[test]
fn a_time_that_cuts_a_character_is_refused_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("any.log");
    let log = log.to_str().unwrap();
    for time in ["2026-11-2\u{e9}", "2026-11-\u{e9}", "2026-11-27T21:3\u{e9}"] {
        for cmd in ["report", "replay", "export"] {
            for flag in ["--since", "--until"] {
                refused(&[cmd, flag, time, log], &format!("`{time}` is not a time"));
            }
        }
    }
}

#[test]
fn dash_dash_alone_is_a_usage_error() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("never.log");
    let log = log.to_str().unwrap();
    // --duration bounds the run should the `--` be taken as no command.
    for args in [
        &["trace", "--duration", "1s", "--"][..],
        &["record", "-o", log, "--duration", "1s", "--"],
    ] {
        refused(args, "`--` must be followed by the command to run");
    }
    assert!(!Path::new(log).exists(), "record created {log}");
}

#[test]
fn following_tracer_itself_is_refused() {
    let _serial = serial();
    // `exec` keeps the shell's pid: tracer is asked to follow itself.
    let started = Instant::now();
    let out = Command::new("sh")
        .args([
            "-c",
            r#"exec "$0" trace --follow $$ --duration 5s"#,
            tracer_exe(),
        ])
        .output()
        .expect("running sh");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is tracer's own pid"), "{err}");
    assert_sentence(&["--follow", "$$"], &err);
    assert!(started.elapsed() < Duration::from_secs(2), "{err}");
}

// A pid that names no task is not a usage error (status 1, the same for
// `ps --pid`, `tree` and `--follow`): see `vocabulary.rs`.

/// Every option that takes a length of time reads it the same way: units
/// add up (`1h30m`), and a number without a unit is refused with the
/// example (issue 26: `--duration 5` was silently 5 seconds).
#[test]
fn lengths_of_time_need_units_and_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("never.log");
    let log = log.to_str().unwrap();
    let logdir = dir.path().join("logs");
    let logdir = logdir.to_str().unwrap();
    for args in [
        &["trace", "--duration", "5"][..],
        &["record", "-o", log, "--duration", "5"],
        &["record", "--dir", logdir, "--rotate-every", "5"],
        &["ps", "--live", "5"],
        &["replay", log, "--since", "+5"],
        &["report", log, "--until", "-5"],
    ] {
        refused(
            args,
            "`5` has no unit: write 5s for seconds, 5m for minutes",
        );
    }
    refused(&["trace", "--duration", "1h30"], "`30` has no unit");
    refused(
        &["trace", "--duration", "5 days"],
        "`5 days`: `5` has no unit",
    );
    refused(&["trace", "--duration", "2y"], "unknown unit `y`");
    // Zero is a clear answer, not "not a duration".
    for zero in ["0", "0s"] {
        refused(
            &["trace", "--duration", zero],
            &format!(
                "--duration {zero} would stop before anything is traced: give how long to \
                 trace (30s, 10m, 1h30m), or leave --duration out to trace until Ctrl-C"
            ),
        );
    }
    refused(&["ps", "--live", "61m"], "at most 1h");
    assert!(!Path::new(log).exists(), "record created {log}");
    assert!(!Path::new(logdir).exists(), "record created {logdir}");
    // `1h30m` and its like are taken (by clap; nothing runs).
    for args in [
        &["trace", "--duration", "1h30m", "--help"][..],
        &["ps", "--live", "1m30s", "--help"],
    ] {
        let (code, _, err) = run_tracer(args);
        assert_eq!(code, 0, "{args:?}: {err}");
    }
}

/// How many events a JSON replay of `args` prints.
fn replayed(args: &[&str]) -> usize {
    let mut all = vec!["replay", "--format", "json"];
    all.extend_from_slice(args);
    let (code, out, err) = tracer_utc(&all);
    assert_eq!(code, 0, "{all:?}: {err}");
    out.lines().filter(|l| l.starts_with('{')).count()
}

/// `--since -10m`: the last ten minutes of a finished log, counted back
/// from its end (its last event or end marker).
#[test]
fn since_minus_counts_back_from_the_logs_end() {
    let dir = tempfile::tempdir().unwrap();
    let log = two_day_log(dir.path());
    let log = log.to_str().unwrap();
    // The log ends at 2026-11-29T00:00:00.174848Z (its end marker, 1 ns
    // after its last event); events 8-13 are a day and under 1 ms before.
    assert_eq!(replayed(&[log]), 15);
    assert_eq!(replayed(&[log, "--since", "-10m"]), 1);
    assert_eq!(replayed(&[log, "--since", "-1d1s"]), 7);
    assert_eq!(replayed(&[log, "--since", "-1d1s", "--until", "-1d"]), 6);
    assert_eq!(replayed(&[log, "--until", "-1d"]), 14);
    // The same window as the absolute times it stands for.
    assert_eq!(
        replayed(&[log, "--since", "2026-11-27T23:59:59.174848Z"]),
        7
    );
    // Report and export take it too; a backward window is refused.
    let (code, out, err) = tracer_utc(&["report", log, "--since", "-10m", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("-10m"), "the report names its window: {out}");
    let (code, out, err) = tracer_utc(&["export", log, "--since", "-1d1s"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().filter(|l| l.contains("\"event\"")).count(),
        7,
        "{out}"
    );
    refused(
        &["replay", log, "--since", "-1m", "--until", "-2m"],
        "the window ends before it starts: --until -2m",
    );
}

/// A log still being written (no end marker yet, recorded in this boot):
/// `--since -10m` counts back from now, not from its last event.
#[test]
fn since_minus_counts_back_from_now_while_a_log_is_written() {
    let (mut header, mut reader) =
        tracer::log::open(Path::new(two_days::fixture())).expect("the fixture");
    let mut events = Vec::new();
    while let Some(item) = reader.next() {
        if let Ok(Item::Event(raw)) = item {
            events.push(raw.to_vec());
        }
    }
    header.boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .expect("this boot's id")
        .trim()
        .to_string();
    // Boot-clock times as they are now, so the log's clock agrees with
    // this machine's: events 0-9 twenty units ago, the rest five. A unit
    // is a minute, or less where the machine booted under 22 minutes ago
    // (a fresh CI machine): the boot clock does not go below zero.
    let now = tracer::model::clock::boottime_ns();
    let unit_s = (now / two_days::SEC / 22).clamp(1, 60);
    let unit = unit_s * two_days::SEC;
    let clock = tracer::model::clock::WallClock::now();
    header.boot_epoch_ns = i64::try_from(clock.boot_epoch_ns).unwrap();
    header.started_boot_ns = now - 21 * unit;
    let mut out = Vec::new();
    let mut w = LogWriter::new(&mut out, &header).expect("a header");
    for (i, raw) in events.iter_mut().enumerate() {
        let ago = if i < 10 { 20 } else { 5 };
        let t = now - ago * unit + i as u64;
        raw[8..16].copy_from_slice(&t.to_le_bytes());
        assert!(w.event(raw).expect("writing"));
    }
    drop(w);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("being-written.log");
    std::fs::write(&log, out).expect("writing the log");
    let log = log.to_str().unwrap();
    let back = |units: u64| format!("-{}s", units * unit_s);
    assert_eq!(replayed(&[log, "--since", &back(10)]), 5);
    assert_eq!(replayed(&[log, "--since", &back(30)]), 15);
    // Counted from its last event, 4 units back would hold those five;
    // from now, none.
    assert_eq!(replayed(&[log, "--since", &back(4)]), 0);
}
