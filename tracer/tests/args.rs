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
