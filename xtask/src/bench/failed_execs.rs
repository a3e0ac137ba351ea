//! The `--failed-execs` part of `cargo xtask bench`: its program runs at
//! every system call's exit on the machine (the kernel has no tracepoint
//! for a failed exec), so it is measured on the signal storm, one kill(2)
//! per operation: the slowdown with and without it, and its in-kernel ns
//! per run.

use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::scenario::{Ctx, Scenario};
use crate::bench::common::{fixed, median, parse_stats, BpfStats, TracedRun, TRACE_DEFAULT};

const WORKLOAD: (&str, u64) = ("signal", 1_000_000);

#[derive(Serialize)]
pub(crate) struct FailedExecsCost {
    /// Median slowdown of the storm under `trace`, and under
    /// `trace --failed-execs`.
    #[serde(serialize_with = "fixed::<3, _>")]
    pub(crate) slowdown_without: f64,
    #[serde(serialize_with = "fixed::<3, _>")]
    pub(crate) slowdown_with: f64,
    /// In-kernel ns per run of the `sys_exit` program, and its runs.
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) sys_exit_ns: f64,
    pub(crate) sys_exit_runs: u64,
}

/// Workload ns untraced, then under `trace` with `extra`.
fn run(tracer: &Path, workload: &Path, tmp: &Path, extra: &[&str]) -> Result<(f64, String)> {
    let log = tmp.join("failed-execs.log");
    let run = TracedRun::start(tracer, TRACE_DEFAULT, extra, &log)?;
    let ns = crate::bench::common::workload_ns(workload, WORKLOAD.0, WORKLOAD.1)?;
    Ok((ns as f64, run.stop(TRACE_DEFAULT)?))
}

pub(crate) fn measure(
    tracer: &Path,
    workload: &Path,
    tmp: &Path,
    rounds: usize,
) -> Result<FailedExecsCost> {
    eprintln!("bench: --failed-execs on the signal storm ({rounds} rounds)");
    let (mut base, mut without, mut with) = (Vec::new(), Vec::new(), Vec::new());
    {
        let _off = BpfStats::set(false)?;
        for _ in 0..rounds {
            base.push(crate::bench::common::workload_ns(workload, WORKLOAD.0, WORKLOAD.1)? as f64);
            without.push(run(tracer, workload, tmp, &[])?.0);
            with.push(run(tracer, workload, tmp, &["--failed-execs"])?.0);
        }
    }
    let _on = BpfStats::set(true)?;
    let (_, json) = run(tracer, workload, tmp, &["--failed-execs"])?;
    let stats = parse_stats(&json)?;
    let sys_exit = stats
        .programs
        .iter()
        .find(|p| p.name == "sys_exit")
        .context("tracer --failed-execs did not attach sys_exit")?;
    let base = median(&mut base);
    Ok(FailedExecsCost {
        slowdown_without: median(&mut without) / base,
        slowdown_with: median(&mut with) / base,
        sys_exit_ns: sys_exit.ns as f64 / sys_exit.runs.max(1) as f64,
        sys_exit_runs: sys_exit.runs,
    })
}

pub(crate) fn format(c: &FailedExecsCost) -> String {
    format!(
        "\n--failed-execs (a program at every system call's exit), signal storm of {} kill(2):\n  \
         slowdown {:.2}x with it, {:.2}x without; sys_exit {:.0} ns/run ({} runs)\n",
        WORKLOAD.1, c.slowdown_with, c.slowdown_without, c.sys_exit_ns, c.sys_exit_runs
    )
}

/// `--only failed-execs`: the cost of `--failed-execs` on a signal storm.
pub(crate) struct FailedExecsOnly;

impl Scenario for FailedExecsOnly {
    type Measured = FailedExecsCost;

    fn measure(&self, ctx: &Ctx<'_>) -> Result<Self::Measured> {
        measure(&ctx.tracers.new, ctx.workload, &ctx.tmp, ctx.rounds)
    }

    fn format(&self, m: &Self::Measured) -> String {
        format(m)
    }
}
