//! One vocabulary across commands (issue 26): the same format names on
//! every command, one answer for a pid that names no task, and errors
//! that name a file once and for what it is. No root: everything here is
//! refused or read before anything loads.

mod common;

use std::process::Command;

use clap::Parser as _;
use common::*;
use tracer::{
    cli::{Cli, Command as Sub},
    output::Format,
};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/log-v3-format5.log"
);

/// `json` is the name on every command, `export` included, and `jsonl` is
/// the same format wherever `json` is.
#[test]
fn json_is_one_name_on_every_command_and_jsonl_its_alias() {
    let _serial = serial();
    let export = |format: Option<&str>| {
        let mut args = vec!["export", FIXTURE];
        if let Some(f) = format {
            args.extend(["--format", f]);
        }
        let (code, out, err) = run_tracer(&args);
        assert_eq!(code, 0, "export {format:?}: {err}");
        out
    };
    let json = export(Some("json"));
    assert!(json.lines().count() > 5, "{json}");
    assert_eq!(export(Some("jsonl")), json, "jsonl is json");
    assert_eq!(export(None), json, "json is export's default");

    for cmd in ["replay", "report"] {
        let run = |f: &str| {
            let (code, out, err) = run_tracer(&[cmd, "--format", f, FIXTURE]);
            assert_eq!(code, 0, "{cmd} --format {f}: {err}");
            out
        };
        let json = run("json");
        assert!(json.starts_with('{'), "{cmd}: {json}");
        assert_eq!(run("jsonl"), json, "{cmd}: jsonl is json");
    }
    for args in [
        &["tree", "--format", "jsonl", "1"][..],
        &["ps", "--format", "jsonl", "--pid", "1"],
    ] {
        let (code, out, err) = run_tracer(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        let first: serde_json::Value =
            serde_json::from_str(out.lines().next().unwrap_or_default()).expect("JSON");
        assert_eq!(first["pid"], 1, "{args:?}: {out}");
    }
    // `trace` needs root to run; its parse is the same enum's.
    for f in ["json", "jsonl"] {
        let cli = Cli::try_parse_from(["tracer", "trace", "--format", f]).expect("parses");
        assert!(
            matches!(
                cli.command,
                Sub::Trace {
                    format: Format::Json,
                    ..
                }
            ),
            "trace --format {f}"
        );
    }
}

/// A pid that was just in use and is now free.
fn gone_pid() -> String {
    let mut gone = Command::new("/bin/true").spawn().expect("spawning true");
    let pid = gone.id().to_string();
    gone.wait().expect("waiting for true");
    pid
}

/// `ps --pid`, `tree PID` and `--follow PID` answer a pid that names no
/// task the same way: status 1, one line, nothing on stdout, nothing made.
#[test]
fn a_pid_that_names_no_task_is_status_1_in_one_line() {
    let _serial = serial();
    let gone = gone_pid();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("never.log");
    let log = log.to_str().unwrap();
    let want = format!("tracer: error: no task with pid {gone}");
    for args in [
        &["ps", "--pid", &gone][..],
        &["ps", "--format", "json", "--pid", &gone],
        &["tree", &gone],
        &["tree", "--format", "json", &gone],
        // --duration bounds the run should the pid be taken.
        &["trace", "--follow", &gone, "--duration", "1s"],
        &["record", "-o", log, "--follow", &gone, "--duration", "1s"],
    ] {
        let (code, out, err) = run_tracer(args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert_eq!(err.trim_end(), want, "{args:?}: one line");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
    assert!(!std::path::Path::new(log).exists(), "record created {log}");

    // Some pids found, one not: the rows found, and status 1 for the other.
    let (code, out, err) = run_tracer(&["ps", "--pid", &format!("1,{gone}")]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.trim_end(), want);
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().next() == Some("1")),
        "pid 1's row: {out}"
    );
}

/// A missing file is named once; a file in the way of `-o` is called a
/// file, whatever it holds (a Perfetto trace is not a log).
#[test]
fn errors_name_a_file_once_and_for_what_it_is() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.log");
    let missing = missing.to_str().unwrap();
    for cmd in ["report", "replay", "export"] {
        let (code, _, err) = run_tracer(&[cmd, missing]);
        assert_eq!(code, 1, "{cmd}: {err}");
        assert_eq!(err.matches(missing).count(), 1, "{cmd}: named once: {err}");
        assert_sentence(&[cmd], &err);
    }
    // Read with a log that is there: the damage is the missing one's.
    for cmd in ["report", "replay"] {
        let (code, out, err) = run_tracer(&[cmd, FIXTURE, missing]);
        assert_eq!(code, 4, "{cmd}: damaged input: {err}");
        // `report` says its damage in the report, `replay` on stderr.
        let said = format!("{out}{err}");
        assert_eq!(
            said.matches(missing).count(),
            1,
            "{cmd}: named once: {said}"
        );
        assert!(
            !err.contains(FIXTURE),
            "{cmd}: the intact log is not called damaged: {err}"
        );
    }
    let trace = dir.path().join("night.pftrace");
    std::fs::write(&trace, b"not a log, a trace").unwrap();
    let trace = trace.to_str().unwrap();
    let (code, _, err) = run_tracer(&["export", "--format", "perfetto", "-o", trace, FIXTURE]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(err.matches(trace).count(), 1, "named once: {err}");
    assert!(!err.contains(" log"), "a .pftrace is not a log: {err}");
    assert!(!err.contains("os error"), "no second wording: {err}");
}
