//! The `--compress` part of `cargo xtask bench`: `record --dir` of the
//! fork+exec and signal storms (all signals recorded), with and without
//! `--compress`.
//! How much smaller zstd makes the logs, and what it costs: the tracer's
//! whole CPU time (user + system, every thread, until it exits, so the
//! compression of the last file counts too) with and without it, per event
//! and per MB compressed.

use std::{path::Path, process::Command};

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

use super::scenario::{Ctx, Scenario};
use crate::bench::common::{fixed, median, workload_ns};

const STORMS: [(&str, u64); 2] = [("forkexec", 4000), ("signal", 300_000)];
/// Small enough that each storm's log rotates, so files are compressed
/// while recording goes on.
const ROTATE_SIZE: &str = "4M";

#[derive(Serialize)]
pub(crate) struct RotateCost {
    pub(crate) workload: &'static str,
    pub(crate) events: u64,
    /// Bytes of the logs, plain and compressed (medians).
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) plain_bytes: f64,
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) packed_bytes: f64,
    /// Files a run wrote.
    pub(crate) files: usize,
    /// The tracer's CPU ns per event, without and with `--compress`.
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) cpu_ns_per_event: f64,
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) cpu_ns_per_event_compress: f64,
    /// Extra CPU with `--compress`, per MB of plain log.
    #[serde(serialize_with = "fixed::<2, _>")]
    pub(crate) compress_ms_per_mb: f64,
}

/// CPU ns this process's waited-for children used so far.
fn children_cpu_ns() -> u64 {
    // SAFETY: getrusage fills the struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// One recording of the storm into `dir`: (tracer CPU ns, events, bytes of
/// the logs, files).
fn one_run(
    tracer: &Path,
    workload: &Path,
    storm: (&str, u64),
    dir: &Path,
    compress: bool,
) -> Result<(u64, u64, u64, usize)> {
    let _ = std::fs::remove_dir_all(dir);
    let mut cmd = Command::new(tracer);
    cmd.args(["record", "--all-signals", "--throttle", "off", "--dir"])
        .arg(dir)
        .args(["--rotate-size", ROTATE_SIZE]);
    if compress {
        cmd.arg("--compress");
    }
    let (mut child, mut stderr) = crate::bench::common::start_attached(&mut cmd)?;
    workload_ns(workload, storm.0, storm.1)?;
    // The workload has been waited for: what the children's CPU grows by
    // from here is the tracer's.
    let before = children_cpu_ns();
    // SAFETY: kill() with the pid of our child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest)?;
    let status = child.wait()?;
    if !status.success() {
        bail!("tracer record failed ({status}): {rest}");
    }
    let cpu = children_cpu_ns() - before;
    let events = rest
        .split("recorded ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no event count in: {rest}"))?;
    let mut bytes = 0;
    let mut files = 0;
    for entry in std::fs::read_dir(dir)? {
        bytes += entry?.metadata()?.len();
        files += 1;
    }
    Ok((cpu, events, bytes, files))
}

pub(crate) fn measure(
    tracer: &Path,
    workload: &Path,
    tmp: &Path,
    rounds: usize,
) -> Result<Vec<RotateCost>> {
    STORMS
        .iter()
        .map(|&storm| measure_storm(tracer, workload, storm, tmp, rounds))
        .collect()
}

fn measure_storm(
    tracer: &Path,
    workload: &Path,
    storm: (&'static str, u64),
    tmp: &Path,
    rounds: usize,
) -> Result<RotateCost> {
    let dir = tmp.join("rotate");
    let (mut cpu, mut cpu_z) = (Vec::new(), Vec::new());
    let (mut plain, mut packed) = (Vec::new(), Vec::new());
    let (mut events, mut files) = (0, 0);
    eprintln!(
        "bench: record --dir with and without --compress, {} storm ({rounds} rounds)",
        storm.0
    );
    for _ in 0..rounds {
        let (c, e, b, f) = one_run(tracer, workload, storm, &dir, false)?;
        cpu.push(c as f64 / e.max(1) as f64);
        plain.push(b as f64);
        events = e;
        files = f;
        let (c, e, b, _) = one_run(tracer, workload, storm, &dir, true)?;
        cpu_z.push(c as f64 / e.max(1) as f64);
        packed.push(b as f64);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (cpu, cpu_z) = (median(&mut cpu), median(&mut cpu_z));
    let (plain, packed) = (median(&mut plain), median(&mut packed));
    Ok(RotateCost {
        workload: storm.0,
        events,
        plain_bytes: plain,
        packed_bytes: packed,
        files,
        cpu_ns_per_event: cpu,
        cpu_ns_per_event_compress: cpu_z,
        compress_ms_per_mb: (cpu_z - cpu) * events as f64 / 1e6 / (plain / 1e6),
    })
}

pub(crate) fn format(costs: &[RotateCost]) -> String {
    let mut out = format!(
        "\nrecord --all-signals --dir --rotate-size {ROTATE_SIZE}, without and with --compress \
         (zstd: ruzstd, fastest level):\n\
         workload   events  files  plain MB  zstd MB  ratio  CPU/event  with --compress  \
         compressing\n"
    );
    for c in costs {
        out.push_str(&format!(
            "{:<9} {:>7} {:>6} {:>9.1} {:>8.2} {:>5.1}x {:>7.0} ns {:>13.0} ns {:>6.1} ms/MB\n",
            c.workload,
            c.events,
            c.files,
            c.plain_bytes / 1e6,
            c.packed_bytes / 1e6,
            c.plain_bytes / c.packed_bytes.max(1.0),
            c.cpu_ns_per_event,
            c.cpu_ns_per_event_compress,
            c.compress_ms_per_mb
        ));
    }
    out
}

/// `--only rotate`: zstd's ratio and cost under `record --dir --compress`.
pub(crate) struct RotateOnly;

impl Scenario for RotateOnly {
    type Measured = Vec<RotateCost>;

    fn measure(&self, ctx: &Ctx<'_>) -> Result<Self::Measured> {
        measure(&ctx.tracers.new, ctx.workload, &ctx.tmp, ctx.rounds)
    }

    fn format(&self, m: &Self::Measured) -> String {
        format(m)
    }
}
