//! Odd arguments: every refused value is a usage error (status 2) told in
//! one clear sentence, before anything is loaded or created, and no
//! argument makes tracer panic.

mod common;

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use common::*;

/// Runs tracer with `args`; asserts it refused them as a usage error at
/// once (status 2, quickly, nothing attached, no Rust debug output or
/// panic) with a message holding `says`; returns stderr.
fn refused(args: &[&str], says: &str) -> String {
    let started = Instant::now();
    let (code, out, err) = run_tracer(args);
    assert_eq!(code, 2, "{args:?}: {err}");
    assert!(err.contains(says), "{args:?}: {err}");
    assert_sentence(args, &err);
    assert!(out.is_empty(), "{args:?}: {out}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{args:?} took {:?}",
        started.elapsed()
    );
    err
}

/// An error that is a sentence: clap's one `error:` line (and its hint),
/// no panic, backtrace or Rust debug output.
fn assert_sentence(args: &[&str], err: &str) {
    for bad in [
        "panicked",
        "RUST_BACKTRACE",
        "Custom {",
        "kind: ",
        "Os {",
        "attached",
    ] {
        assert!(!err.contains(bad), "{args:?}: {err}");
    }
    let errors = err.lines().filter(|l| l.contains("error")).count();
    assert_eq!(errors, 1, "{args:?}: one error line: {err}");
}

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

/// A pid that names no process is a usage error, for `--follow` and for
/// `tree`: the value is wrong, not tracer.
#[test]
fn a_pid_that_names_no_process_is_a_usage_error() {
    let _serial = serial();
    // A pid nobody has: one that just ended.
    let mut gone = Command::new("/bin/true").spawn().expect("spawning true");
    let gone_pid = gone.id().to_string();
    gone.wait().expect("waiting for true");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("never.log");
    let log = log.to_str().unwrap();
    // --duration bounds the run should the pid be taken.
    for args in [
        &["trace", "--follow", &gone_pid, "--duration", "1s"][..],
        &[
            "record",
            "-o",
            log,
            "--follow",
            &gone_pid,
            "--duration",
            "1s",
        ],
    ] {
        refused(args, &format!("--follow {gone_pid}: no such process"));
    }
    assert!(!Path::new(log).exists(), "record created {log}");
    for args in [
        &["tree", "4000000"][..],
        &["tree", "--format", "json", "4000000"],
    ] {
        refused(args, "no task with pid 4000000");
    }
}

#[test]
fn following_pid_1_warns_that_it_traces_everything() {
    let _serial = serial();
    let (code, _, err) = run_tracer(&[
        "trace",
        "--format",
        "json",
        "--follow",
        "1",
        "--duration",
        "1s",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.lines().next().is_some_and(|l| l
            .starts_with("tracer: warning: --follow 1 follows init")
            && l.contains("it traces every process")),
        "{err}"
    );
}

#[test]
fn sizes_and_counts_below_their_minimums_are_refused_by_name() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let logs = logs.to_str().unwrap();
    let log = dir.path().join("one.log");
    let log = log.to_str().unwrap();
    // --duration bounds the run should a value be taken.
    for (args, says) in [
        (
            &[
                "record",
                "--dir",
                logs,
                "--duration",
                "2s",
                "--rotate-size",
                "1",
            ][..],
            "`1` is too small for a log: at least 48K",
        ),
        (
            &[
                "record",
                "--dir",
                logs,
                "--duration",
                "2s",
                "--rotate-size",
                "47K",
            ],
            "at least 48K",
        ),
        (
            &[
                "record",
                "--dir",
                logs,
                "--duration",
                "2s",
                "--rotate-every",
                "1ms",
            ],
            "at least 1s",
        ),
        (
            &["record", "-o", log, "--duration", "2s", "--max-size", "1"],
            "at least 48K",
        ),
        (
            &["trace", "--duration", "1s", "--cpus-per-ring", "4294967295"],
            "`4294967295` is not a number of CPUs from 1 to",
        ),
        (
            &["trace", "--duration", "1s", "--cpus-per-ring", "0"],
            "from 1 to",
        ),
        (&["ps", "--live", "5000"], "from 0 to 3600"),
        (&["ps", "--live", "nan"], "from 0 to 3600"),
    ] {
        refused(args, says);
    }
    assert!(!Path::new(logs).exists() && !Path::new(log).exists());
    // The smallest sizes are taken (the package's boot test rotates at 64K).
    let (code, _, err) = run_tracer(&[
        "record",
        "--dir",
        logs,
        "--duration",
        "1s",
        "--rotate-size",
        "48K",
        "--rotate-every",
        "1s",
    ]);
    assert_eq!(code, 0, "{err}");
}
