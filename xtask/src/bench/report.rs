//! The whole bench: what it measures, in which order, and how it prints
//! (the results table, each part's section, then the targets) and saves
//! them (bench.json).

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::{
    baseline::{change, Which},
    common::{fixed, machine, median, thousands, TABLE_TASKS},
    failed_execs, follow, hostile,
    nesting::NestingCost,
    parallel, rotate, ship,
    storms::{self, Bench, KernelCost, PeerResult, Row},
    throttle, workqueue,
};

/// Everything one bench run measured; also the content of bench.json.
#[derive(Serialize)]
pub(crate) struct Measured {
    pub(crate) machine: String,
    pub(crate) rounds: usize,
    /// Seconds all the measuring took.
    #[serde(skip)]
    pub(crate) took_s: f64,
    /// Median ms from starting the tracer to its `attached` line.
    #[serde(serialize_with = "fixed::<1, _>")]
    pub(crate) attach_ms: f64,
    /// The same for the `--baseline` build.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) baseline_attach_ms: Option<f64>,
    /// Peak RSS of `tracer bench-table` with [`TABLE_TASKS`] tasks.
    #[serde(serialize_with = "fixed_1_or_null")]
    pub(crate) table_100k_rss_mb: Option<f64>,
    pub(crate) runs: Vec<Row>,
    pub(crate) kernel_ns_per_run: Vec<KernelCost>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) baseline_kernel_ns_per_run: Vec<KernelCost>,
    pub(crate) nesting: Vec<NestingCost>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) baseline_nesting: Vec<NestingCost>,
    /// The 2-way recorded signal storm.
    pub(crate) pair: Option<parallel::Cell>,
    pub(crate) peers: Vec<PeerResult>,
    pub(crate) hostile: Vec<hostile::Hostile>,
    pub(crate) workqueue: Vec<workqueue::WorkqueueRate>,
    pub(crate) failed_execs: Option<failed_execs::FailedExecsCost>,
    pub(crate) ship: Vec<ship::ShipCost>,
    pub(crate) follow: Vec<follow::FollowCost>,
    pub(crate) rotate: Vec<rotate::RotateCost>,
    pub(crate) throttle: Option<throttle::ThrottleCost>,
}

/// [`fixed`] to 1 decimal, or null where not measured.
fn fixed_1_or_null<S: serde::Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(x) => fixed::<1, _>(x, s),
        None => s.serialize_none(),
    }
}

/// `XTASK_BENCH_QUICK` (set to anything) leaves out every part after the
/// storms, the in-kernel pass and the 2-way storm: for trying the bench
/// itself, never for numbers to quote.
fn quick() -> bool {
    std::env::var_os("XTASK_BENCH_QUICK").is_some()
}

pub(crate) fn measure_all(bench: &Bench, rounds: usize) -> Result<Measured> {
    let began = Instant::now();
    let (runs, [mut attach, mut old_attach]) = storms::measure_slowdowns(bench, rounds)?;
    let (kernel_ns_per_run, nesting) = storms::measure_kernel_costs(bench, Which::New)?;
    let (baseline_kernel_ns_per_run, baseline_nesting) = match bench.tracers.old {
        Some(_) => storms::measure_kernel_costs(bench, Which::Old)?,
        None => Default::default(),
    };
    let pair = Some(parallel::recorded_signal_pair(
        &bench.tracers,
        &bench.workload,
        &bench.tmp,
        rounds,
    )?);
    let mut m = Measured {
        machine: machine(),
        rounds,
        took_s: 0.0,
        attach_ms: median(&mut attach),
        baseline_attach_ms: bench.tracers.old.is_some().then(|| median(&mut old_attach)),
        table_100k_rss_mb: None,
        runs,
        kernel_ns_per_run,
        baseline_kernel_ns_per_run,
        nesting,
        baseline_nesting,
        pair,
        peers: Vec::new(),
        hostile: Vec::new(),
        workqueue: Vec::new(),
        failed_execs: None,
        ship: Vec::new(),
        follow: Vec::new(),
        rotate: Vec::new(),
        throttle: None,
    };
    if !quick() {
        measure_parts(bench, rounds, &mut m)?;
    }
    m.took_s = began.elapsed().as_secs_f64();
    Ok(m)
}

/// The parts after the storms, on the build under test only.
fn measure_parts(bench: &Bench, rounds: usize, m: &mut Measured) -> Result<()> {
    let (tracer, workload, tmp) = (&bench.tracers.new, &bench.workload, &bench.tmp);
    m.peers = storms::measure_peers(bench, rounds.min(3))?;
    m.table_100k_rss_mb = Some(measure_table_rss_mb(tracer)?);
    m.hostile = hostile::measure(tracer, tmp)?;
    m.workqueue = workqueue::measure(tracer, workload, tmp)?;
    m.failed_execs = Some(failed_execs::measure(tracer, workload, tmp, rounds)?);
    m.ship = ship::measure(tracer, workload, tmp, rounds)?;
    m.follow = follow::measure(tracer, workload, tmp)?;
    m.rotate = rotate::measure(tracer, workload, tmp, rounds.min(3))?;
    m.throttle = Some(throttle::measure(tracer, workload, tmp, rounds.min(3))?);
    Ok(())
}

/// What `tracer bench-table N` prints: `{"tasks":N,"maxrss_kb":N}`.
#[derive(serde::Deserialize)]
struct TableStats {
    maxrss_kb: u64,
}

/// Peak RSS in MB of the real task table with [`TABLE_TASKS`] tasks.
fn measure_table_rss_mb(tracer: &Path) -> Result<f64> {
    let table = std::process::Command::new(tracer)
        .args(["bench-table", &TABLE_TASKS.to_string()])
        .output()
        .context("tracer bench-table")?;
    let stdout = String::from_utf8_lossy(&table.stdout);
    let stats: TableStats = serde_json::from_str(&stdout).with_context(|| {
        format!(
            "malformed tracer bench-table output ({}): stdout {stdout:?}, stderr {:?}",
            table.status,
            String::from_utf8_lossy(&table.stderr)
        )
    })?;
    Ok(stats.maxrss_kb as f64 / 1024.0)
}

/// The results as printed: the workload x mode table (with the baseline's
/// ratio and the change, where the run had one), in-kernel costs, the
/// nesting protection, the 2-way storm, start-up, the task table, the
/// peers and each part's section.
pub(crate) fn format_results(m: &Measured) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "machine: {}", m.machine);
    let _ = writeln!(
        out,
        "rounds per cell: {}; took {:.0} s\n",
        m.rounds, m.took_s
    );
    let compared = m.runs.iter().any(|r| r.baseline.is_some());
    let old_head = if compared { " baseline  change" } else { "" };
    let _ = writeln!(
        out,
        "{:<9} {:<34} {:>8}{old_head} {:>12} {:>6} {:>8} {:>10} {:>8}",
        "workload", "mode", "slowdown", "events/s", "lost", "cpu ms", "cpu ns/ev", "RSS MB"
    );
    for r in &m.runs {
        let n = &r.new;
        let per_event = if n.events_per_s >= 1.0 {
            format!("{:.0}", n.cpu_ns_per_event)
        } else {
            "-".to_string()
        };
        let old = match &r.baseline {
            Some(b) => format!(
                " {:>7.2}x {:>7}",
                b.slowdown,
                change(n.slowdown, b.slowdown)
            ),
            None if compared => format!(" {:>8} {:>7}", "-", "-"),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "{:<9} {:<34} {:>7.2}x{old} {:>12.0} {:>6} {:>8.0} {:>10} {:>8.1}",
            r.workload,
            r.mode,
            n.slowdown,
            n.events_per_s,
            n.lost,
            n.cpu_ms,
            per_event,
            n.maxrss_mb
        );
    }
    let sides = [
        ("", &m.kernel_ns_per_run, &m.nesting),
        (
            "baseline's ",
            &m.baseline_kernel_ns_per_run,
            &m.baseline_nesting,
        ),
    ];
    for (whose, kernel, nesting) in sides {
        if kernel.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{whose}in-kernel ns per run (all workloads):");
        for k in kernel {
            let _ = writeln!(
                out,
                "  {:<31} {:<34} {:>7.0} ns  ({} runs)",
                k.program, k.mode, k.ns, k.runs
            );
        }
        let _ = writeln!(
            out,
            "{whose}nesting protection per event (rescues' ns over the first program's runs):"
        );
        for c in nesting {
            let _ = writeln!(
                out,
                "  {:<23} {:<34} {:>7.1} ns  ({} rescues, {} runs)",
                c.tracepoint, c.mode, c.ns_per_event, c.rescues, c.runs
            );
        }
    }
    if let Some(pair) = &m.pair {
        let _ = writeln!(
            out,
            "\n2-way recorded signal storm (each process: signal {}):",
            thousands(parallel::STORMS[2].1)
        );
        out.push_str(&parallel::format_cells(std::slice::from_ref(pair)));
    }
    let old_attach = m
        .baseline_attach_ms
        .map(|ms| format!("; baseline {ms:.0} ms"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\nstart-up to attached: {:.0} ms (median{old_attach})",
        m.attach_ms
    );
    if let Some(mb) = m.table_100k_rss_mb {
        let _ = writeln!(
            out,
            "task table with {} tasks: peak RSS {mb:.1} MB",
            thousands(TABLE_TASKS)
        );
        format_parts(m, &mut out);
    }
    out
}

/// The peers and each part's section (absent from a quick run).
fn format_parts(m: &Measured, out: &mut String) {
    if m.peers.is_empty() {
        let _ = writeln!(
            out,
            "bpftrace, libbpf-tools (sigsnoop, execsnoop, exitsnoop): not installed, not measured"
        );
    } else {
        let _ = writeln!(
            out,
            "\nother tracers on the same workloads (output to /dev/null):"
        );
        for p in &m.peers {
            let _ = writeln!(
                out,
                "  {:<9} {:<36} {:>6.2}x",
                p.workload, p.tracer, p.slowdown
            );
        }
    }
    out.push_str(&workqueue::format(&m.workqueue));
    if !m.ship.is_empty() {
        out.push_str(&ship::format(&m.ship));
    }
    if !m.follow.is_empty() {
        out.push_str(&follow::format(&m.follow));
    }
    if let Some(c) = &m.failed_execs {
        out.push_str(&failed_execs::format(c));
    }
    if !m.rotate.is_empty() {
        out.push_str(&rotate::format(&m.rotate));
    }
    if let Some(t) = &m.throttle {
        out.push_str(&throttle::format(t));
    }
    out.push_str(&hostile::format(&m.hostile));
}

/// Writes `dir`/bench.json (one line); returns its path.
pub(crate) fn write_json(m: &Measured, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("bench.json");
    let json = serde_json::to_string(m).expect("plain structs") + "\n";
    std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
