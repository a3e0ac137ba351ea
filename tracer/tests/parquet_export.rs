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

/// Each row's `task_id`, `parent_task_id` and `ancestors` as JSON writes
/// them (an absent list as null), in row order.
fn ids(path: &Path) -> Vec<serde_json::Value> {
    use arrow_array::{cast::AsArray as _, types::Int32Type, Array as _};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let text = |a: &dyn arrow_array::Array, i: usize| -> serde_json::Value {
        if a.is_null(i) {
            return serde_json::Value::Null;
        }
        match a.as_dictionary_opt::<Int32Type>() {
            Some(d) => {
                let k = d.keys().value(i) as usize;
                d.values().as_string::<i32>().value(k).into()
            }
            None => a.as_string::<i32>().value(i).into(),
        }
    };
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let col = |name| batch.column_by_name(name).unwrap().clone();
        let (task, parent, chain) = (col("task_id"), col("parent_task_id"), col("ancestors"));
        let chain = chain.as_list::<i32>();
        for i in 0..batch.num_rows() {
            let ancestors = (!chain.is_null(i)).then(|| {
                let items = chain.value(i);
                let items = items.as_struct();
                let field = |n| items.column_by_name(n).unwrap().clone();
                let (id, pid, comm, kind) =
                    (field("task_id"), field("pid"), field("comm"), field("kind"));
                let pid = pid.as_primitive::<Int32Type>();
                (0..items.len())
                    .map(|j| {
                        serde_json::json!({
                            "task_id": text(&id, j), "pid": pid.value(j),
                            "comm": text(&comm, j), "kind": text(&kind, j),
                        })
                    })
                    .collect::<Vec<_>>()
            });
            rows.push(serde_json::json!({
                "task_id": text(&task, i),
                "parent_task_id": text(&parent, i),
                "ancestors": ancestors,
            }));
        }
    }
    rows
}

/// The same of each JSON line (`parent_task_id` null where absent).
fn json_ids(log: &Path, ancestors: &str) -> Vec<serde_json::Value> {
    let (code, out, err) = run_tracer(&["export", log.to_str().unwrap(), "--ancestors", ancestors]);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let get = |k: &str| v.get(k).cloned().unwrap_or_default();
            serde_json::json!({
                "task_id": get("task_id"),
                "parent_task_id": get("parent_task_id"),
                "ancestors": get("ancestors"),
            })
        })
        .collect()
}

/// Parquet names each row's parent and 4 ancestors (unless asked for
/// another number) as the JSON export with `--ancestors 4` does: the task
/// table's answers, one walk for both.
#[test]
fn parents_and_ancestors_agree_with_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut named = (0, 0);
    for log in fixtures() {
        let out = dir.path().join("out.parquet");
        let export = |extra: &[&str]| {
            let mut args = vec!["export", log.to_str().unwrap(), "--format", "parquet"];
            args.extend(["-o", out.to_str().unwrap()]);
            args.extend(extra);
            let (code, _, err) = run_tracer(&args);
            assert_eq!(code, 0, "{}: {err}", log.display());
            let rows = ids(&out);
            std::fs::remove_file(&out).unwrap();
            rows
        };
        let rows = export(&[]);
        let json = json_ids(&log, "4");
        assert_eq!(rows.len(), json.len(), "{}", log.display());
        for (row, line) in rows.iter().zip(&json) {
            // Lost and damaged rows name no task: JSON's lines name none.
            if line["task_id"].is_null() {
                continue;
            }
            assert_eq!(row, line, "{}", log.display());
            named.0 += usize::from(row["parent_task_id"].is_string());
            named.1 += row["ancestors"].as_array().map_or(0, Vec::len);
        }
        let one = export(&["--ancestors", "1"]);
        assert!(
            one.iter()
                .all(|r| r["ancestors"].as_array().is_none_or(|a| a.len() <= 1)),
            "{}",
            log.display()
        );
    }
    assert!(named.0 > 20 && named.1 > named.0, "{named:?}");
}
