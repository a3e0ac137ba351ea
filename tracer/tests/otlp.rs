//! The OTLP logs exporter's bad collector URLs, refused before anything
//! loads. No root; the live tests are in `live_host/otlp.rs`.

mod common;

use std::{
    path::Path,
    time::{Duration, Instant},
};

use common::*;

#[test]
fn bad_collector_urls_are_refused_before_anything_loads() {
    // Held in case a URL were taken: the programs would load.
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("never.log");
    let log = log.to_str().unwrap();
    for (url, says) in [
        (
            "https://127.0.0.1:4318",
            "https is not supported (this build has no TLS)",
        ),
        ("notaurl", "not an http:// URL"),
        ("http://127.0.0.1:port", "not a valid"),
    ] {
        for args in [
            vec!["trace", "--duration", "1s", "--otlp", url],
            vec!["record", "-o", log, "--duration", "1s", "--otlp", url],
            vec!["export", log, "--format", "otlp", "--otlp", url],
        ] {
            let started = Instant::now();
            let (code, out, err) = run_tracer(&args);
            // A refused option value: a usage error.
            assert_eq!(code, 2, "{args:?}: {err}");
            assert!(
                err.contains(&format!("--otlp {url}: {says}")),
                "{args:?}: {err}"
            );
            assert!(!err.contains("attached"), "{args:?}: {err}");
            assert!(out.is_empty(), "{args:?}: {out}");
            assert!(started.elapsed() < Duration::from_secs(2), "{args:?}");
        }
        assert!(!Path::new(log).exists(), "record left a log for {url}");
    }
}
