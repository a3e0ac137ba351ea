//! Hostile inputs: devices, FIFOs, sparse files and crafted logs get a clear
//! error or are read with bounded work, never hang or exhaust the machine.
//! (Time and memory bounds are measured by `cargo xtask bench`, not here.)

mod common;

use std::path::Path;

use common::*;
use tracer::log::{header::LogHeader, writer::LogWriter};

fn bench_log(kind: &str, path: &Path, mb: u64) {
    let (code, _, err) = run_tracer(&["bench-log", kind, path.to_str().unwrap(), &mb.to_string()]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn devices_and_fifos_are_refused_without_reading() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let fifo = fifo.to_str().unwrap();
    for (file, what) in [
        ("/dev/zero", "a character device"),
        ("/dev/urandom", "a character device"),
        (fifo, "a FIFO"),
    ] {
        for cmd in ["replay", "report", "export"] {
            let out = run_bounded(&[cmd, file]);
            let err = stderr_of(&out);
            assert_eq!(out.status.code(), Some(1), "{cmd} {file}: {err}");
            assert!(err.contains(what), "{cmd} {file}: {err}");
        }
    }
}

#[test]
fn a_sparse_file_is_not_a_log_and_is_not_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let sparse = dir.path().join("sparse");
    bench_log("sparse", &sparse, 2048);
    let out = run_bounded(&["report", sparse.to_str().unwrap()]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("not a tracer log"), "{err}");
}

#[test]
fn a_resync_bomb_reads_to_its_end_with_every_end_frame() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("resync.log");
    bench_log("resync", &log, 4);
    let out = run_bounded(&["report", log.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stretches = report["damage_stretches"].as_u64().unwrap();
    // One bad head per 25-byte unit in 2 MiB, then the zeros.
    assert!(stretches > 80_000, "{stretches} stretches");
    assert_eq!(report["damage"].as_array().unwrap().len(), 100);

    let out = run_bounded(&["replay", log.to_str().unwrap()]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.lines().count() < 20, "one warning per stretch:\n{err}");
    assert!(err.contains("more damaged stretches"), "{err}");
}

#[test]
fn garbage_after_a_header_is_one_damaged_stretch() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("garbage.log");
    bench_log("garbage", &log, 4);
    let out = run_bounded(&["export", log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    assert!(out.stdout.is_empty());
}

#[test]
fn an_argv_bomb_in_the_snapshot_is_read_with_bounded_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("argv.log");
    bench_log("argv", &log, 8);
    let (header, _) = tracer::log::open(&log).unwrap();
    assert_eq!(header.tasks.len(), 1);
    assert_eq!(
        header.tasks[0].argv.len(),
        tracer::model::procfs::MAX_SNAPSHOT_ARGS
    );
    let out = run_bounded(&["report", log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
}

/// A log of a header and the loss frames given.
fn log_with_losses(path: &Path, losses: &[(u16, u64)]) {
    let (code, _, err) = run_tracer(&["bench-log", "garbage", path.to_str().unwrap(), "0"]);
    assert_eq!(code, 0, "{err}");
    let (header, _): (LogHeader, _) = tracer::log::open(path).unwrap();
    let mut bytes = Vec::new();
    let mut w = LogWriter::new(&mut bytes, &header).unwrap();
    for &(tag, count) in losses {
        assert!(w.lost(tag, count, 1).unwrap());
    }
    w.end(2).unwrap();
    drop(w);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn loss_totals_saturate() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("losses.log");
    log_with_losses(&log, &[(1, u64::MAX - 5), (2, 10), (2, u64::MAX)]);
    let out = run_bounded(&["replay", log.to_str().unwrap()]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains(&format!("lost {} events", u64::MAX)), "{err}");
    let out = run_bounded(&["report", log.to_str().unwrap(), "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["lost"]["exec"], u64::MAX, "{report}");
}

#[test]
fn a_cycle_of_parents_in_the_snapshot_is_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cycle.log");
    bench_log("cycle", &log, 0);
    let out = run_bounded(&["report", log.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let at_start: u64 = report["tasks_at_start"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(at_start, 100_000, "{report}");
}
