//! A requester stuck on its helper (issue 26): a shell dumping core into a
//! core_pattern helper that never reads its pipe is held in its dump.
//! `trace --stuck-after 2s` says so live once 2 s have passed (and says
//! when the dump ends), and `report` lists it as still dumping when the
//! recording ends before the dump does.

use std::{
    process::{Child, Command},
    time::Duration,
};

use serde_json::Value;

use crate::common::*;

/// Kills the helper if the test fails while it holds the dumper.
struct KillOnDrop(Option<u64>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            // SAFETY: kill() has no memory-safety preconditions.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

/// A shell with a megabyte in its heap that kills itself with SIGSEGV: its
/// core is far larger than a pipe holds.
fn big_crash() -> Child {
    Command::new("/bin/sh")
        .args([
            "-c",
            "x=$(head -c 1000000 /dev/zero | tr '\\0' a); kill -SEGV $$; echo \"$x\"",
        ])
        .spawn()
        .expect("spawning a crashing shell")
}

#[test]
fn a_requester_stuck_on_its_helper_is_said_live_and_reported() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // Never reads its stdin, the core: the dump fills the pipe and waits.
    let helper = script(dir.path(), "stuck-helper", "exec sleep 60\n");
    let log = dir.path().join("stuck.log");
    let recording = start_recording(&log, &[]);
    let mut tracer = Tracer::start(&["--stuck-after", "2s"]);
    let pattern = core_pattern_to(&helper);
    let mut crasher = big_crash();
    let crasher_pid = u64::from(crasher.id());

    let exec = tracer.wait_for("helper exec", |v| {
        is(v, "exec") && v["filename"] == helper.as_str()
    });
    let helper_pid = u64_of(&exec, "pid");
    let mut guard = KillOnDrop(Some(helper_pid));
    let said = format!(
        "tracer: warning: {crasher_pid} (sh, dumping core) has been dumping core into helper \
         {helper_pid} {helper} for "
    );
    let line = tracer.wait_for_stderr("the stuck line", Duration::from_secs(10), |l| {
        l.starts_with(&said)
    });
    let secs: f64 = line[said.len()..]
        .trim_end_matches('s')
        .parse()
        .unwrap_or_else(|_| panic!("a duration in seconds: {line}"));
    assert!((2.0..4.0).contains(&secs), "said once 2s passed: {line}");
    assert!(
        crasher.try_wait().unwrap().is_none(),
        "the shell is still in its dump"
    );

    // The recording ends while the shell is still held.
    stop_recording(recording);
    let log = log.to_str().unwrap();
    let (code, text, err) = run_tracer(&["report", log]);
    assert_eq!(code, 0, "{err}");
    let waits = text
        .split("longest waits on a helper (for its exit, or dumping core into it):\n")
        .nth(1)
        .expect("a waits section");
    let first = waits.lines().next().unwrap();
    assert!(
        first.contains(&format!(
            " {crasher_pid} (sh, dumping core) is still dumping core into {helper_pid} "
        )) && first.ends_with(" at the end of the log"),
        "the stuck shell comes first:\n{text}"
    );
    let (code, json, err) = run_tracer(&["report", "--format", "json", log]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&json).unwrap();
    let h = report["helpers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["pid"] == helper_pid)
        .unwrap_or_else(|| panic!("the helper in {json}"));
    assert_eq!(h["still_waiting"], true, "{h}");
    assert_eq!(h["waited_ns"], Value::Null, "{h}");

    // The helper goes: the dump fails on the closed pipe and is over.
    kill(helper_pid, libc::SIGKILL);
    guard.0 = None;
    let done = format!("tracer: note: {crasher_pid} (sh, dumping core) is done dumping core");
    tracer.wait_for_stderr("the end of the wait", Duration::from_secs(10), |l| {
        l.starts_with(&done)
    });
    crasher.wait().unwrap();
    drop(pattern);
    let (_, stderr) = tracer.stop();
    assert_eq!(
        stderr.matches("has been dumping core").count(),
        1,
        "said once: {stderr}"
    );
}
