//! Failing streams without a recording: a closed stdout, a dangling
//! symlink as output, `ps` with a full stderr. No root; the live tests
//! (full stderr while recording, stop signals, SIGHUP, a failed start, the
//! size cap) are in `live/failing_streams.rs`.

mod common;

use std::{
    fs,
    process::{Command, Stdio},
};

use common::*;

#[test]
fn a_closed_stdout_is_an_error() {
    let _serial = serial();
    for cmd in ["ps", "tree"] {
        let out = Command::new("/bin/sh")
            .args(["-c", &format!("exec \"$0\" {cmd} >&-"), tracer_exe()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {err}");
        assert!(err.contains("stdout is closed"), "{cmd}: {err}");
    }
}

#[test]
fn ps_with_a_full_stderr_does_not_panic() {
    let _serial = serial();
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Command::new(tracer_exe())
        .args(["ps", "-v"])
        .stderr(Stdio::from(full))
        .output()
        .unwrap();
    // Its notes could not be written: the table is, and the status says 1.
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("kthreadd"));
}

#[test]
fn a_dangling_symlink_is_named_as_such() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).unwrap();
    let (code, _, err) = run_tracer(&["record", "-o", link.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("dangling symbolic link"), "{err}");
    assert!(
        !dir.path().join("nowhere").exists(),
        "wrote through the link"
    );
}
