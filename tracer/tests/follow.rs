//! Following (`trace -- CMD`, `record -- CMD`, `--follow PID`) that fails
//! before anything loads: commands that cannot start, pids that do not
//! exist. No root; the live tests are in `live/follow.rs`.

mod common;

use std::process::Command;

use common::*;

#[test]
fn commands_that_cannot_start_and_pids_that_do_not_exist() {
    let _serial = serial();
    let (code, _, err) = run_tracer(&["trace", "--", "no-such-command-for-tracer"]);
    assert_eq!(code, 127, "as a shell: {err}");
    assert!(
        err.contains("no-such-command-for-tracer: command not found"),
        "{err}"
    );
    assert!(!err.contains("attached"), "fails before loading: {err}");
    let (code, _, err) = run_tracer(&["trace", "--", "/"]);
    assert_eq!(code, 126, "{err}");

    // record leaves no log behind.
    let dir = tempdir();
    let log = dir.join("never.log");
    let log_arg = log.to_str().expect("a UTF-8 path");
    let (code, _, err) = run_tracer(&["record", "-o", log_arg, "--", "/no/such/program"]);
    assert_eq!(code, 127, "{err}");
    assert!(!log.exists(), "a log was left behind: {err}");

    // A pid nobody has: one that just ended.
    let mut gone = Command::new("/bin/true").spawn().expect("spawning true");
    let gone_pid = gone.id().to_string();
    gone.wait().expect("waiting for true");
    let (code, _, err) = run_tracer(&["trace", "--follow", &gone_pid]);
    assert_eq!(code, 1, "as `ps --pid` and `tree` say it: {err}");
    assert!(
        err.contains(&format!("no task with pid {gone_pid}")),
        "{err}"
    );
    assert!(!err.contains("attached"), "fails before loading: {err}");

    // --follow and a command are one or the other.
    let (code, _, err) = run_tracer(&["trace", "--follow", "1", "--", "true"]);
    assert_eq!(code, 2, "a usage error: {err}");
    let (code, _, err) = run_tracer(&["trace", "--keep-following"]);
    assert_eq!(code, 2, "--keep-following needs something to follow: {err}");
    std::fs::remove_dir_all(&dir).expect("removing the test directory");
}
