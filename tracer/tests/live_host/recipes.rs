//! The docs' recipes, run as written where this machine can run them:
//! SQL over a recorded log with DuckDB (`duckdb-cli` from PyPI), read from
//! docs/recording.md. The log shipper recipes (Vector, Fluent Bit) need
//! programs that are neither in Debian nor on PyPI, so they are not run
//! here (docs/operations.md, "Recipes").

use std::{collections::BTreeMap, process::Command};

use serde_json::Value;

use crate::common::{serial, start_recording, stop_recording, test_py_tool, tracer_exe};

/// The doc the recipe is written in, and how its command line starts.
const RECIPE_DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/recording.md");
const RECIPE_START: &str = "tracer export night.log | duckdb -c ";

/// The recipe's query as the doc writes it, so the test runs what a reader
/// copies.
fn events_by_kind() -> String {
    let doc = std::fs::read_to_string(RECIPE_DOC).unwrap();
    let line = doc
        .lines()
        .find(|l| l.starts_with(RECIPE_START))
        .unwrap_or_else(|| panic!("{RECIPE_DOC} has no line starting {RECIPE_START:?}"));
    line[RECIPE_START.len()..]
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or_else(|| panic!("the recipe's query is not in double quotes: {line}"))
        .to_string()
}

#[test]
fn duckdb_counts_a_recorded_log_by_event() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("night.log");
    let recording = start_recording(&log, &[]);
    for _ in 0..5 {
        assert!(Command::new("/bin/true").status().unwrap().success());
    }
    stop_recording(recording);

    let export = Command::new(tracer_exe())
        .arg("export")
        .arg(&log)
        .output()
        .unwrap();
    assert!(export.status.success());
    let mut expected = BTreeMap::new();
    for line in String::from_utf8(export.stdout).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let event = v["event"]
            .as_str()
            .expect("every line has an event")
            .to_string();
        *expected.entry(event).or_insert(0u64) += 1;
    }
    assert!(
        expected.get("exec").copied().unwrap_or(0) >= 5,
        "{expected:?}"
    );

    // The pipe exactly as the doc writes it, but for the output mode.
    let shell = format!(
        "{} export {} | {} -json -c \"{}\"",
        tracer_exe(),
        log.display(),
        test_py_tool("duckdb").display(),
        events_by_kind()
    );
    let out = Command::new("sh").args(["-c", &shell]).output().unwrap();
    assert!(
        out.status.success(),
        "duckdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "duckdb -json output ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let got: BTreeMap<String, u64> = rows
        .iter()
        .map(|r| {
            (
                r["event"].as_str().unwrap().to_string(),
                r["n"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected);
}

/// The fenced block of docs/recording.md that starts with the line
/// `-- recipe: NAME` (SQL) or `# recipe: NAME` (Python), as written.
pub(crate) fn doc_block(name: &str) -> String {
    let doc = std::fs::read_to_string(RECIPE_DOC).unwrap();
    let marks = [format!("-- recipe: {name}"), format!("# recipe: {name}")];
    let mut lines = doc.lines().skip_while(|l| !marks.iter().any(|m| l == m));
    assert!(
        lines.next().is_some(),
        "{RECIPE_DOC} has no block marked `recipe: {name}`"
    );
    lines
        .take_while(|l| !l.starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Rows a query prints as JSON (`[]` for none).
fn json_rows(out: &std::process::Output, what: &str) -> Vec<Value> {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        return Vec::new();
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what} printed ({e}): {text}"))
}

/// The doc's SQL recipe `name`, run by DuckDB in `dir` (which holds the
/// dataset `fleet`), its rows.
pub(crate) fn duckdb_recipe(dir: &std::path::Path, name: &str) -> Vec<Value> {
    let out = Command::new(test_py_tool("duckdb"))
        .arg("-json")
        .arg("-c")
        .arg(doc_block(name))
        .current_dir(dir)
        .output()
        .unwrap();
    json_rows(&out, &format!("duckdb recipe {name}"))
}

/// The doc's polars recipe `name`, run as written in `dir`, the frame it
/// prints (as JSON rows: `print` is made to write JSON).
pub(crate) fn polars_recipe(dir: &std::path::Path, name: &str) -> Vec<Value> {
    let script = format!(
        "import sys\nprint = lambda df: sys.stdout.write(df.write_json())\n{}\n",
        doc_block(name)
    );
    let out = Command::new(test_py_tool("python"))
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    json_rows(&out, &format!("polars recipe {name}"))
}
