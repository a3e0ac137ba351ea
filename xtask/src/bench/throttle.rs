//! The throttle part of `cargo xtask bench`: what the per-source check
//! costs in kernel when no source is over budget (BPF statistics, `record`
//! with default filters, throttling off against on with a budget no storm
//! reaches), and the storm rates at which each kind starts to be throttled
//! under `record`'s default budget (the storm run as uid 65534, alone on
//! its budget, paced at rates around where it should start).

use std::{path::Path, process::Command};

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

use super::scenario::{Ctx, Scenario};
use crate::bench::common::{fixed, median, parse_stats, BpfStats, Mode, TracedRun};

/// `record` with default filters: what the always-on recorder runs.
const RECORD_DEFAULT: Mode = Mode {
    name: "record (default filters)",
    args: &["record"],
    record: true,
};

/// A budget no storm here reaches: the check runs, nothing is dropped.
const UNREACHED: [&str; 4] = ["--throttle", "1000000000/s", "--throttle-total", "off"];
const OFF: [&str; 2] = ["--throttle", "off"];

/// Storms for the cost: (workload, operations).
const COST_STORMS: [(&str, u64); 2] = [("forkexec", 2_000), ("rename", 200_000)];

/// `record`'s default per-source budget per CPU per second.
const DEFAULT_BUDGET: f64 = 1000.0;

/// Storms for the thresholds: (workload, the kind it storms most, the
/// extra flags). Budgets are per kind, so each should start to be
/// throttled at the budget's rate of operations, on one CPU.
const RATE_STORMS: [(&str, &str, &[&str]); 4] = [
    ("rename", "rename", &[]),
    ("signal", "signal_generate", &["--all-signals"]),
    ("fork", "fork", &[]),
    ("forkexec", "exec", &[]),
];

/// Rates tried, as multiples of where throttling should start on one CPU.
const RATE_FACTORS: [f64; 4] = [0.5, 0.8, 1.25, 2.0];
/// Seconds each paced storm lasts.
const STORM_S: f64 = 2.0;

#[derive(Serialize)]
pub(crate) struct ProgramCost {
    pub(crate) program: String,
    /// ns per run in kernel with throttling off, and on (nothing over).
    #[serde(serialize_with = "fixed::<1, _>")]
    pub(crate) off_ns: f64,
    #[serde(serialize_with = "fixed::<1, _>")]
    pub(crate) on_ns: f64,
    /// What the check adds per event.
    #[serde(serialize_with = "fixed::<1, _>")]
    pub(crate) check_ns: f64,
    pub(crate) runs: u64,
}

#[derive(Serialize)]
pub(crate) struct Threshold {
    pub(crate) workload: &'static str,
    /// The kind it storms (one event of it per operation).
    pub(crate) kind: &'static str,
    /// Operations per second tried, and the lowest at which `throttled`
    /// records appeared (`None`: none at any).
    pub(crate) rates: Vec<u64>,
    pub(crate) first_throttled: Option<u64>,
}

#[derive(Serialize)]
pub(crate) struct ThrottleCost {
    pub(crate) programs: Vec<ProgramCost>,
    pub(crate) thresholds: Vec<Threshold>,
}

/// (program, ns, runs) of one traced storm with BPF statistics on.
fn kernel_ns(
    tracer: &Path,
    workload: &Path,
    tmp: &Path,
    storm: (&str, u64),
    extra: &[&str],
) -> Result<Vec<(String, f64, u64)>> {
    let log = tmp.join("throttle.log");
    let run = TracedRun::start(tracer, &RECORD_DEFAULT, extra, &log)?;
    crate::bench::common::workload_ns(workload, storm.0, storm.1)?;
    let stats = parse_stats(&run.stop(&RECORD_DEFAULT)?)?;
    Ok(stats
        .programs
        .into_iter()
        .filter(|p| p.runs > 0 && !p.name.contains("rescue") && p.name != "workqueue_queue_work")
        .map(|p| (p.name, p.ns as f64 / p.runs as f64, p.runs))
        .collect())
}

fn measure_cost(
    tracer: &Path,
    workload: &Path,
    tmp: &Path,
    rounds: usize,
) -> Result<Vec<ProgramCost>> {
    let _on = BpfStats::set(true)?;
    // program → (off ns per round, on ns per round, runs).
    let mut by: Vec<(String, Vec<f64>, Vec<f64>, u64)> = Vec::new();
    for _ in 0..rounds {
        for storm in COST_STORMS {
            for (on, extra) in [(false, &OFF[..]), (true, &UNREACHED[..])] {
                for (name, ns, runs) in kernel_ns(tracer, workload, tmp, storm, extra)? {
                    let at = match by.iter().position(|(n, ..)| *n == name) {
                        Some(at) => at,
                        None => {
                            by.push((name, Vec::new(), Vec::new(), 0));
                            by.len() - 1
                        }
                    };
                    let e = &mut by[at];
                    if on {
                        e.2.push(ns);
                        e.3 += runs;
                    } else {
                        e.1.push(ns);
                    }
                }
            }
        }
    }
    Ok(by
        .into_iter()
        .filter(|(_, off, on, _)| !off.is_empty() && !on.is_empty())
        .map(|(program, mut off, mut on, runs)| {
            let (off_ns, on_ns) = (median(&mut off), median(&mut on));
            ProgramCost {
                program,
                off_ns,
                on_ns,
                check_ns: on_ns - off_ns,
                runs,
            }
        })
        .collect())
}

/// Whether a storm of `ops` operations at `rate` a second, as uid 65534,
/// made `record` (default budget) write `throttled` records.
fn throttled_at(
    tracer: &Path,
    workload: &Path,
    tmp: &Path,
    name: &str,
    extra: &[&str],
    rate: u64,
) -> Result<bool> {
    let log = tmp.join("throttle-rate.log");
    let run = TracedRun::start(tracer, &RECORD_DEFAULT, extra, &log)?;
    let ops = ((rate as f64 * STORM_S) as u64).max(1);
    let status = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(workload)
        .args([name, &ops.to_string(), "--rate", &rate.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .context("running the workload through setpriv")?;
    if !status.success() {
        bail!("workload {name} as uid 65534 failed: {status}");
    }
    let json = run.stop(&RECORD_DEFAULT)?;
    let v: serde_json::Value = serde_json::from_str(&json).context("tracer-stats")?;
    Ok(v["throttle_records"].as_u64().unwrap_or(0) > 0)
}

fn measure_thresholds(tracer: &Path, workload: &Path, tmp: &Path) -> Result<Vec<Threshold>> {
    let _off = BpfStats::set(false)?;
    let mut out = Vec::new();
    for (name, kind, extra) in RATE_STORMS {
        let rates: Vec<u64> = RATE_FACTORS
            .iter()
            .map(|f| (DEFAULT_BUDGET * f) as u64)
            .collect();
        let mut first = None;
        for &rate in &rates {
            if throttled_at(tracer, workload, tmp, name, extra, rate)? {
                first = Some(rate);
                break;
            }
        }
        out.push(Threshold {
            workload: name,
            kind,
            rates,
            first_throttled: first,
        });
    }
    Ok(out)
}

pub(crate) fn measure(
    tracer: &Path,
    workload: &Path,
    tmp: &Path,
    rounds: usize,
) -> Result<ThrottleCost> {
    eprintln!(
        "bench: the throttle check's cost ({rounds} rounds) and where storms start to be throttled"
    );
    Ok(ThrottleCost {
        programs: measure_cost(tracer, workload, tmp, rounds)?,
        thresholds: measure_thresholds(tracer, workload, tmp)?,
    })
}

pub(crate) fn format(c: &ThrottleCost) -> String {
    let mut s = String::from(
        "\nper-source throttle, `record` with default filters, no source over budget \
         (in-kernel ns per run, off -> on):\n",
    );
    for p in &c.programs {
        s.push_str(&format!(
            "  {:<22} {:>7.1} -> {:>7.1} ns  check {:+.1} ns ({} runs)\n",
            p.program, p.off_ns, p.on_ns, p.check_ns, p.runs
        ));
    }
    s.push_str("storm rates (ops/s, one process as uid 65534) at which throttling starts (default 1000/s per CPU):\n");
    for t in &c.thresholds {
        let first = t
            .first_throttled
            .map_or("not throttled at any".to_string(), |r| format!("{r}/s"));
        s.push_str(&format!(
            "  {:<9} ({}): {first} (tried {:?})\n",
            t.workload, t.kind, t.rates
        ));
    }
    s
}

/// `--only throttle`: the per-source throttle's in-kernel cost and the
/// storm rates at which each kind starts to be throttled.
pub(crate) struct ThrottleOnly;

impl Scenario for ThrottleOnly {
    type Measured = ThrottleCost;

    fn measure(&self, ctx: &Ctx<'_>) -> Result<Self::Measured> {
        measure(&ctx.tracers.new, ctx.workload, &ctx.tmp, ctx.rounds)
    }

    fn format(&self, m: &Self::Measured) -> String {
        format(m)
    }
}
