//! Odd arguments: every refused value is a usage error (status 2) told in
//! one clear sentence, before anything is loaded or created, and no
//! argument makes tracer panic.

use std::path::Path;

use crate::common::*;

#[test]
fn following_pid_1_warns_that_it_traces_everything() {
    let _serial = serial();
    let (code, _, err) = run_tracer(&[
        "trace",
        "--format",
        "json",
        "--follow",
        "1",
        "--duration",
        "1s",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.lines().next().is_some_and(|l| l
            .starts_with("tracer: warning: --follow 1 follows init")
            && l.contains("it traces every process")),
        "{err}"
    );
}

#[test]
fn sizes_and_counts_below_their_minimums_are_refused_by_name() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let logs = logs.to_str().unwrap();
    let log = dir.path().join("one.log");
    let log = log.to_str().unwrap();
    // --duration bounds the run should a value be taken.
    for (args, says) in [
        (
            &[
                "record",
                "--dir",
                logs,
                "--duration",
                "2s",
                "--rotate-size",
                "1",
            ][..],
            "`1` is too small for a log: at least 48K",
        ),
        (
            &[
                "record",
                "--dir",
                logs,
                "--duration",
                "2s",
                "--rotate-size",
                "47K",
            ],
            "at least 48K",
        ),
        (
            &[
                "record",
                "--dir",
                logs,
                "--duration",
                "2s",
                "--rotate-every",
                "1ms",
            ],
            "at least 1s",
        ),
        (
            &["record", "-o", log, "--duration", "2s", "--max-size", "1"],
            "at least 48K",
        ),
        (
            &["trace", "--duration", "1s", "--cpus-per-ring", "4294967295"],
            "`4294967295` is not a number of CPUs from 1 to",
        ),
        (
            &["trace", "--duration", "1s", "--cpus-per-ring", "0"],
            "from 1 to",
        ),
        (&["ps", "--live", "5000s"], "at most 1h"),
        (&["ps", "--live", "nan"], "is not a length of time"),
    ] {
        refused(args, says);
    }
    assert!(!Path::new(logs).exists() && !Path::new(log).exists());
    // The smallest sizes are taken (the package's boot test rotates at 64K).
    let (code, _, err) = run_tracer(&[
        "record",
        "--dir",
        logs,
        "--duration",
        "1s",
        "--rotate-size",
        "48K",
        "--rotate-every",
        "1s",
    ]);
    assert_eq!(code, 0, "{err}");
}
