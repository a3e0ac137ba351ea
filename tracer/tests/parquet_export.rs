//! `export --format parquet` and `--dataset` on the fixture logs of every
//! earlier version (no BPF, no root): one row per JSON line, read back with
//! the `parquet` crate's own reader; a dataset that exporting again leaves
//! as it was; options refused with one sentence. Engines other than this
//! crate read the files in tests/live_host/parquet.rs.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use parquet::file::reader::{FileReader as _, SerializedFileReader};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with("log-") && (name.ends_with(".log") || name.ends_with(".log.zst"))
        })
        .collect();
    logs.sort();
    assert!(logs.len() >= 8, "{logs:?}");
    logs
}

/// Rows and the schema version of a Parquet file.
fn read(path: &Path) -> (i64, String) {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let meta = reader.metadata().file_metadata();
    let version = meta
        .key_value_metadata()
        .unwrap()
        .iter()
        .find(|kv| kv.key == "parquet_schema_version")
        .and_then(|kv| kv.value.clone())
        .unwrap();
    (meta.num_rows(), version)
}

fn json_lines(log: &Path) -> i64 {
    let (code, out, err) = run_tracer(&["export", log.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    out.lines().count() as i64
}

/// Every Parquet file under `dir`, sorted.
fn parts(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn every_fixture_log_exports_one_row_per_json_line() {
    let dir = tempfile::tempdir().unwrap();
    for log in fixtures() {
        let out = dir
            .path()
            .join(log.file_name().unwrap())
            .with_extension("parquet");
        let (code, _, err) = run_tracer(&[
            "export",
            log.to_str().unwrap(),
            "--format",
            "parquet",
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{}: {err}", log.display());
        let (rows, version) = read(&out);
        assert_eq!(version, "1");
        assert_eq!(rows, json_lines(&log), "{}", log.display());
        assert!(rows > 0, "{}", log.display());
    }
}

#[test]
fn a_dataset_gains_no_rows_from_a_log_exported_again() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet");
    let logs = fixtures();
    let mut args: Vec<&str> = vec!["export"];
    args.extend(logs.iter().map(|l| l.to_str().unwrap()));
    args.extend(["--dataset", fleet.to_str().unwrap()]);
    let (code, _, err) = run_tracer(&args);
    assert_eq!(code, 0, "{err}");
    let first = parts(&fleet);
    let rows: i64 = first.iter().map(|p| read(p).0).sum();
    let lines: i64 = logs.iter().map(|l| json_lines(l)).sum();
    assert_eq!(rows, lines);
    for p in &first {
        let rel = p.strip_prefix(&fleet).unwrap().to_str().unwrap();
        assert!(
            rel.starts_with("host=") && rel.contains("/date=") && rel.contains("/part-"),
            "{rel}"
        );
    }
    let (code, _, err) = run_tracer(&args);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("already in the dataset"), "{err}");
    assert_eq!(parts(&fleet), first, "no new part, no temporary left");
}

#[test]
fn dataset_options_are_refused_in_one_sentence() {
    let log = &fixtures()[0];
    let log = log.to_str().unwrap();
    let (code, _, err) =
        run_tracer(&["export", log, "--dataset", "/tmp/x", "--format", "perfetto"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--dataset writes Parquet"), "{err}");
    let (code, _, err) = run_tracer(&["export", log, "--dataset", "/tmp/x", "--since", "+1s"]);
    assert_eq!(code, 2, "{err}");
}
