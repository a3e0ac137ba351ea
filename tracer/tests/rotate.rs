//! Reading a `record --dir` directory whose newest file is empty (a
//! recording that is starting) or whose older one is. No root; the live
//! tests are in `live_host/rotate.rs`.

mod common;

use std::fs;

use common::*;

#[test]
fn an_empty_newest_file_is_a_recording_that_is_starting() {
    // `record` creates its file before it attaches: a reader of the
    // directory meanwhile must not call that damage; an empty file before
    // others is.
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/log-v2-format4.log"
    );
    let dir = tempfile::tempdir().unwrap();
    fs::copy(
        fixture,
        dir.path().join("tracer-20261128T045527.000Z-000000.log"),
    )
    .unwrap();
    fs::File::create(dir.path().join("tracer-20261128T050000.000Z-000000.log")).unwrap();
    let d = dir.path().to_str().unwrap();
    let (code, out, err) = run_tracer(&["replay", d, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 10, "{out}");
    fs::File::create(dir.path().join("tracer-20261128T040000.000Z-000000.log")).unwrap();
    let (code, out, err) = run_tracer(&["replay", d, "--format", "json"]);
    assert_eq!(code, 4, "{err}");
    assert_eq!(out.lines().count(), 10, "{out}");
    assert!(err.contains("tracer-20261128T040000.000Z"), "{err}");
}
