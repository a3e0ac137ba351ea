//! The Parquet export part of `cargo xtask bench` (`--only parquet`):
//! logs of 1M and 10M events of a busy machine (`tracer bench-log events`:
//! fork, exec, exit of 90,000 tasks in turn) exported with `export
//! --format parquet`: events a second, peak RSS, and the file's size
//! against the raw log and the log compressed by zstd -3 (as `record
//! --compress` would keep it). Peak RSS must stay under 256 MB and flat
//! in the number of events (the largest log within 1.5 times the
//! smallest's, plus 16 MB). No root needed.

use std::{path::Path, process::Command};

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

use super::{
    hostile::run_measured,
    scenario::{Ctx, Scenario},
};

/// Events in each log (bench-log `events` takes thousands).
const SIZES: [u64; 2] = [1_000_000, 10_000_000];
const MAX_RSS_MB: f64 = 256.0;

#[derive(Serialize)]
pub(crate) struct ParquetExport {
    events: u64,
    secs: f64,
    maxrss_mb: f64,
    log_mb: f64,
    zst_mb: f64,
    parquet_mb: f64,
}

fn mb(path: &Path) -> Result<f64> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    Ok(len as f64 / 1e6)
}

fn measure_one(tracer: &Path, tmp: &Path, events: u64) -> Result<ParquetExport> {
    let log = tmp.join(format!("events-{events}.log"));
    let status = Command::new(tracer)
        .args(["bench-log", "events"])
        .arg(&log)
        .arg((events / 1000).to_string())
        .status()
        .context("tracer bench-log events")?;
    if !status.success() {
        bail!("tracer bench-log events failed: {status}");
    }
    let status = Command::new("zstd")
        .args(["-3", "-T0", "-q", "-k", "-f"])
        .arg(&log)
        .status()
        .context("running zstd (cargo xtask setup installs it)")?;
    if !status.success() {
        bail!("zstd failed: {status}");
    }
    let zst = log.with_extension("log.zst");
    let out = tmp.join(format!("events-{events}.parquet"));
    let (secs, maxrss_mb, exit) = run_measured(
        tracer,
        &[
            "export",
            log.to_str().unwrap(),
            "--format",
            "parquet",
            "-o",
            out.to_str().unwrap(),
        ],
    )?;
    if exit != 0 {
        bail!("export --format parquet of {events} events exited {exit}");
    }
    let m = ParquetExport {
        events,
        secs,
        maxrss_mb,
        log_mb: mb(&log)?,
        zst_mb: mb(&zst)?,
        parquet_mb: mb(&out)?,
    };
    for f in [&log, &zst, &out] {
        let _ = std::fs::remove_file(f);
    }
    Ok(m)
}

pub(crate) fn measure(tracer: &Path, tmp: &Path) -> Result<Vec<ParquetExport>> {
    SIZES.iter().map(|&n| measure_one(tracer, tmp, n)).collect()
}

pub(crate) fn format(results: &[ParquetExport]) -> String {
    let mut s = String::from(
        "\nparquet export (bench-log events: fork/exec/exit of 90k tasks; sizes in MB):\n",
    );
    for r in results {
        s.push_str(&format!(
            "  {:>9} events  {:>6.2} s  {:>9.0} events/s  peak {:>6.1} MB  log {:>8.1}  zstd-3 {:>7.1}  \
             parquet {:>7.1} ({:.0}% of the log, {:.0}% of zstd)\n",
            r.events,
            r.secs,
            r.events as f64 / r.secs,
            r.maxrss_mb,
            r.log_mb,
            r.zst_mb,
            r.parquet_mb,
            100.0 * r.parquet_mb / r.log_mb,
            100.0 * r.parquet_mb / r.zst_mb,
        ));
    }
    s
}

pub(crate) fn targets(results: &[ParquetExport]) -> Vec<(String, bool)> {
    let mut t: Vec<(String, bool)> = results
        .iter()
        .map(|r| {
            (
                format!(
                    "parquet export of {} events: peak RSS <= {MAX_RSS_MB} MB ({:.1} MB)",
                    r.events, r.maxrss_mb
                ),
                r.maxrss_mb <= MAX_RSS_MB,
            )
        })
        .collect();
    if let (Some(small), Some(big)) = (results.first(), results.last()) {
        let bound = small.maxrss_mb * 1.5 + 16.0;
        t.push((
            format!(
                "parquet export peak RSS flat in events: {} events within {bound:.1} MB ({:.1} MB)",
                big.events, big.maxrss_mb
            ),
            big.maxrss_mb <= bound,
        ));
    }
    t
}

pub(crate) struct ParquetOnly;

impl Scenario for ParquetOnly {
    type Measured = Vec<ParquetExport>;

    fn measure(&self, ctx: &Ctx<'_>) -> Result<Self::Measured> {
        measure(&ctx.tracers.new, &ctx.tmp)
    }

    fn format(&self, m: &Self::Measured) -> String {
        format(m)
    }

    fn targets(&self, m: &Self::Measured) -> Option<Vec<(String, bool)>> {
        Some(targets(m))
    }

    fn save(&self, m: &Self::Measured, dir: &Path) -> Result<Option<std::path::PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("parquet.json");
        std::fs::write(&path, serde_json::to_string_pretty(m)?)?;
        Ok(Some(path))
    }
}
