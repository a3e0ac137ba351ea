//! `--metrics` refused before anything loads (a port in use). No root; the
//! live tests are in `live_host/metrics/`.

mod common;

use std::{
    net::TcpListener,
    time::{Duration, Instant},
};

use common::*;

#[test]
fn a_port_in_use_fails_before_loading_anything() {
    let _serial = serial();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let started = Instant::now();
    let (code, _, err) = run_tracer(&["trace", "--metrics", &addr]);
    assert_ne!(code, 0, "{err}");
    assert!(
        err.contains(&format!("--metrics {addr}")) && err.contains("Address already in use"),
        "{err}"
    );
    assert!(!err.contains("attached"), "BPF was loaded: {err}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // `record` too, leaving no log behind.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("x.log");
    let (code, _, err) = run_tracer(&["record", "-o", log.to_str().unwrap(), "--metrics", &addr]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("Address already in use"), "{err}");
    assert!(!log.exists(), "a failed start leaves no log");
}
