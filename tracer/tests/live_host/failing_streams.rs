//! Live tests of failing streams and stops: a full or closed stderr, a
//! closed stdout, stop signals at any moment, SIGHUP's reopen, a failed
//! start, the size cap.
//! Each checks that nothing recorded is lost and the exit status says what
//! happened.

use std::{
    fs,
    os::unix::{fs::PermissionsExt as _, process::CommandExt as _},
    path::Path,
    process::{Command, Stdio},
    thread,
    time::Duration,
};

use crate::common::*;

/// `tracer record` started with `stderr` as its stderr, throttling off
/// (the storms here expect every event).
fn record(log: &Path, extra: &[&str], stderr: Stdio) -> std::process::Child {
    Command::new(tracer_exe())
        .args(["record", "-o", log.to_str().unwrap(), "--throttle", "off"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawning tracer record")
}

/// Waits until the log has its header (recording has started): up to 30 s,
/// as `Tracer::start` waits, since verifying every program takes seconds
/// under emulation (the kernel matrix runs under TCG).
fn wait_started(log: &Path) {
    for _ in 0..1200 {
        if fs::metadata(log).is_ok_and(|m| m.len() > 12) {
            return;
        }
        thread::sleep(Duration::from_millis(25));
    }
    panic!("{} never got a header", log.display());
}

/// `replay` of a whole log: exit 0, no damage, no "no end marker" note.
fn assert_clean_log(log: &Path) -> String {
    let (code, out, err) = run_tracer(&["replay", log.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("no end marker"), "{err}");
    assert!(!err.contains("damage"), "{err}");
    out
}

#[test]
fn record_survives_a_full_stderr_and_says_so_in_its_exit_status() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("full-stderr.log");
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut rec = record(&log, &[], Stdio::from(full));
    wait_started(&log);
    let marker = dir.path().join("after-start");
    let ok = Command::new("/bin/sh")
        .args(["-c", &format!("exec /bin/true {}", marker.display())])
        .status()
        .unwrap();
    assert!(ok.success());
    thread::sleep(Duration::from_millis(200));
    kill(rec.id(), libc::SIGINT);
    let status = rec.wait().unwrap();
    // No panic (101): the diagnostics that could not be written make it 1.
    assert_eq!(status.code(), Some(1), "{status}");
    let out = assert_clean_log(&log);
    assert!(
        out.contains(&marker.display().to_string()),
        "the exec after start-up was recorded:\n{out}"
    );
}

#[test]
fn sighup_reopens_record_output_with_everything_drained() {
    // logrotate's way: move the log away, SIGHUP, and record goes on in
    // FILE created afresh; the old one is finished (end record, on disk).
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hup.log");
    let moved = dir.path().join("hup.log.1");
    let rec = record(&log, &[], Stdio::piped());
    wait_started(&log);
    let before = dir.path().join("before-hup");
    Command::new("/bin/true").arg(&before).status().unwrap();
    fs::rename(&log, &moved).unwrap();
    kill(rec.id(), libc::SIGHUP);
    wait_started(&log);
    let after = dir.path().join("after-hup");
    Command::new("/bin/true").arg(&after).status().unwrap();
    // SIGHUP did not stop it: it stops now, on SIGINT.
    thread::sleep(Duration::from_millis(200));
    kill(rec.id(), libc::SIGINT);
    let out = rec.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("tracer: stopped: recorded"), "{err}");
    let old = assert_clean_log(&moved);
    let new = assert_clean_log(&log);
    let (before, after) = (before.display().to_string(), after.display().to_string());
    assert!(old.contains(&before) && !old.contains(&after), "{old}");
    assert!(new.contains(&after) && !new.contains(&before), "{new}");
    // Read together, they are one stream.
    let (code, both, err) = run_tracer(&["replay", moved.to_str().unwrap(), log.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(both.contains(&before) && both.contains(&after), "{both}");
}

#[test]
fn a_stop_signal_during_start_up_still_gives_a_whole_log() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    for (i, delay_ms) in [0u64, 5, 20, 80].into_iter().enumerate() {
        let log = dir.path().join(format!("early-{i}.log"));
        let rec = record(&log, &[], Stdio::piped());
        thread::sleep(Duration::from_millis(delay_ms));
        kill(rec.id(), libc::SIGTERM);
        let out = rec.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        // Either it had not created the file yet (killed by the signal, as
        // any program is before it starts), or the log is whole.
        match out.status.code() {
            Some(0) => {
                assert_clean_log(&log);
            }
            None => assert!(!log.exists(), "killed before start-up, yet {log:?} exists"),
            Some(code) => panic!("exit {code} after SIGTERM at {delay_ms} ms: {err}"),
        }
    }
}

#[test]
fn a_failed_start_leaves_no_file() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("bad-btf.log");
    let (code, _, err) = run_tracer(&[
        "record",
        "-o",
        log.to_str().unwrap(),
        "--btf",
        "/nonexistent/btf",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("kernel BTF not found"), "{err}");
    assert!(!log.exists(), "a failed start left {log:?}");

    // An unprivileged user in a directory it may write.
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let log = dir.path().join("nobody.log");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(tracer_exe())
        .args(["record", "-o", log.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!log.exists(), "a failed start left {log:?}: {err}");
}

#[test]
fn max_size_is_a_hard_cap() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let tiny = dir.path().join("tiny.log");
    let (code, _, err) = run_tracer(&["record", "-o", tiny.to_str().unwrap(), "--max-size=1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("too small for a log: at least 48K"), "{err}");
    assert!(!tiny.exists());
    // A header above the smallest size: 16 tasks with 4 KiB command lines
    // (what a snapshot keeps of each).
    let long = "x".repeat(4096);
    let mut big: Vec<_> = (0..16)
        .map(|_| {
            // `; :` keeps sh (and its command line) from being replaced;
            // a group of its own is killed whole, sleep included.
            Command::new("sh")
                .args(["-c", "sleep 30; :", &long])
                .process_group(0)
                .spawn()
                .unwrap()
        })
        .collect();
    let (code, _, err) = run_tracer(&["record", "-o", tiny.to_str().unwrap(), "--max-size=48K"]);
    for child in &mut big {
        kill(child.id(), 0); // still there: the header held it
                             // SAFETY: kill() on the process group of a child we spawned.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        let _ = child.wait();
    }
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot hold even the log's header"), "{err}");
    assert!(!tiny.exists());

    let log = dir.path().join("capped.log");
    // The header holds the task snapshot: leave room for some events.
    let cap: u64 = 1 << 20;
    let mut rec = record(
        &log,
        &["--all-signals", &format!("--max-size={cap}")],
        Stdio::piped(),
    );
    wait_started(&log);
    let mut stopped = None;
    for _ in 0..400 {
        for _ in 0..500 {
            kill(std::process::id(), libc::SIGWINCH);
        }
        if let Some(status) = rec.try_wait().unwrap() {
            stopped = Some(status);
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let status = match stopped {
        Some(s) => s,
        None => {
            kill(rec.id(), libc::SIGINT);
            panic!("the size limit was never reached");
        }
    };
    assert!(status.success(), "{status}");
    let size = fs::metadata(&log).unwrap().len();
    assert!(size <= cap, "{size} bytes > --max-size {cap}");
    assert!(
        size > cap - 2048,
        "{size} bytes: the log stopped well short of the cap"
    );
    assert_clean_log(&log);
}
