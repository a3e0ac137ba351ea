//! Recording's bad input that needs no recording: damaged logs, and
//! filters only a reader can apply. No root; the live tests are in
//! `live/record.rs`.

mod common;

use std::fs;

use common::*;

#[test]
fn bad_logs_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    fs::write(p("empty"), b"").unwrap();
    fs::write(p("text"), b"just some text, not a log at all\n").unwrap();
    let mut newer = b"TRACERLG".to_vec();
    newer.extend_from_slice(&[9, 0, 0, 0]);
    fs::write(p("newer"), &newer).unwrap();
    let cases = [
        (p("missing"), "No such file"),
        (p("empty"), "empty: not a tracer log"),
        (p("text"), "not a tracer log"),
        (p("newer"), "format version 9"),
        // A directory is read as rotated logs: this one holds none.
        (
            dir.path().to_str().unwrap().to_string(),
            "holds no tracer logs",
        ),
    ];
    for cmd in ["replay", "report", "export"] {
        for (file, expect) in &cases {
            let (code, _, err) = run_tracer(&[cmd, file]);
            assert_eq!(code, 1, "{cmd} {file}: {err}");
            assert!(err.contains(expect), "{cmd} {file}: {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }
}

#[test]
fn record_refuses_filters_only_a_reader_can_apply() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("never.log");
    let log = log.to_str().unwrap();
    for (args, flag) in [
        (&["--comm", "sleep"][..], "--comm"),
        (&["--kind", "kthread"][..], "--kind"),
        (&["--umh"][..], "--umh"),
        (&["--pid", "1,2"][..], "--pid"),
    ] {
        let mut argv = vec!["record", "-o", log];
        argv.extend_from_slice(args);
        let (code, _, err) = run_tracer(&argv);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("record cannot apply")
                && err.contains(&format!("tracer replay FILE {flag}")),
            "{err}"
        );
        assert!(!std::path::Path::new(log).exists(), "no log is left behind");
    }
}
