//! The single storms: every workload untraced and under every mode,
//! rounds alternating untraced and traced runs (and, with `--baseline`,
//! the old build's runs in the same rounds); the in-kernel pass with BPF
//! statistics on; the peers on the same workloads.

use std::{
    path::PathBuf,
    process::{Command, Stdio},
};

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

use super::{
    baseline::{Tracers, Which},
    common::{
        fixed, median, parse_stats, workload_ns, BpfStats, Mode, ProgramStats, Stats, TracedRun,
        MODES, RECORD, TRACE_DEFAULT,
    },
    nesting::{self, NestingCost},
    peers::{installed, Peer, Tracefs, PEERS},
};

/// (name, operations): each runs for roughly a second untraced here.
pub(crate) const WORKLOADS: [(&str, u64); 3] =
    [("forkexec", 2000), ("fork", 5000), ("signal", 1_000_000)];

pub(crate) struct Bench {
    pub(crate) tracers: Tracers,
    pub(crate) workload: PathBuf,
    pub(crate) tmp: PathBuf,
}

impl Bench {
    /// Runs a workload; returns its own timing in ns.
    pub(crate) fn workload(&self, name: &str, ops: u64) -> Result<u64> {
        workload_ns(&self.workload, name, ops)
    }

    /// One traced run: (workload ns, tracer stats, ms from spawn to attached).
    fn traced(&self, which: Which, mode: &Mode, name: &str, ops: u64) -> Result<(u64, Stats, f64)> {
        let log = self.tmp.join("bench.log");
        let tracer = TracedRun::start(self.tracers.path(which), mode, &[], &log)?;
        let attach_ms = tracer.attach_ms;
        let ns = self.workload(name, ops)?;
        let json = tracer.stop(mode)?;
        Ok((ns, parse_stats(&json)?, attach_ms))
    }
}

/// One tracer's results in one cell.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Side {
    /// Median traced time over the median untraced time.
    #[serde(serialize_with = "fixed::<3, _>")]
    pub(crate) slowdown: f64,
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) events_per_s: f64,
    /// The most any round lost.
    pub(crate) lost: u64,
    #[serde(serialize_with = "fixed::<1, _>")]
    pub(crate) cpu_ms: f64,
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) cpu_ns_per_event: f64,
    #[serde(serialize_with = "fixed::<1, _>")]
    pub(crate) maxrss_mb: f64,
    /// Rounds that lost or throttled anything ("nothing lost" is every
    /// round, not the median).
    pub(crate) lossy_rounds: usize,
    /// The most `throttled` records a round made (storms run with
    /// `--throttle off`, so any is a fault).
    pub(crate) throttle_records: u64,
}

/// One workload under one mode; also a `runs` entry of bench.json.
#[derive(Serialize)]
pub(crate) struct Row {
    pub(crate) workload: &'static str,
    pub(crate) mode: &'static str,
    /// The build under test.
    #[serde(flatten)]
    pub(crate) new: Side,
    /// The `--baseline` build, in the same rounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) baseline: Option<Side>,
}

/// One tracer's traced runs of one cell.
#[derive(Default)]
struct Runs {
    traced: Vec<f64>,
    rates: Vec<f64>,
    side: Side,
    maxrss_kb: u64,
    last: Stats,
}

impl Runs {
    fn add(&mut self, ns: u64, stats: Stats) {
        self.traced.push(ns as f64);
        self.rates.push(stats.events as f64 / (ns as f64 / 1e9));
        let throttled = stats.throttle_records;
        if stats.lost > 0 || throttled > 0 {
            self.side.lossy_rounds += 1;
        }
        self.side.lost = self.side.lost.max(stats.lost);
        self.side.throttle_records = self.side.throttle_records.max(throttled);
        self.maxrss_kb = self.maxrss_kb.max(stats.maxrss_kb);
        self.last = stats;
    }

    fn finish(mut self, untraced: f64) -> Side {
        Side {
            slowdown: median(&mut self.traced) / untraced,
            events_per_s: median(&mut self.rates),
            cpu_ns_per_event: self.last.cpu_ns as f64 / self.last.events.max(1) as f64,
            cpu_ms: self.last.cpu_ns as f64 / 1e6,
            maxrss_mb: self.maxrss_kb as f64 / 1024.0,
            ..self.side
        }
    }
}

/// Every workload under every mode, with BPF statistics off: the rows and
/// each tracer's ms from start to attached, every run (new, old).
pub(crate) fn measure_slowdowns(bench: &Bench, rounds: usize) -> Result<(Vec<Row>, [Vec<f64>; 2])> {
    let _off = BpfStats::set(false)?;
    let mut rows = Vec::new();
    let mut attach = [Vec::new(), Vec::new()];
    for (name, ops) in WORKLOADS {
        for mode in &MODES {
            rows.push(measure_cell(bench, mode, name, ops, rounds, &mut attach)?);
        }
    }
    Ok((rows, attach))
}

/// One workload under one mode: each round an untraced run, then a
/// traced run per tracer; adds each run's ms from start to attached.
fn measure_cell(
    bench: &Bench,
    mode: &Mode,
    name: &'static str,
    ops: u64,
    rounds: usize,
    attach: &mut [Vec<f64>; 2],
) -> Result<Row> {
    eprintln!("bench: {name} under {} ({rounds} rounds)", mode.name);
    let mut base = Vec::new();
    let mut runs = [Runs::default(), Runs::default()];
    for round in 0..rounds {
        base.push(bench.workload(name, ops)? as f64);
        for which in bench.tracers.order(round) {
            let (ns, stats, ms) = bench.traced(which, mode, name, ops)?;
            runs[which as usize].add(ns, stats);
            attach[which as usize].push(ms);
        }
    }
    let untraced = median(&mut base);
    let [new, old] = runs;
    Ok(Row {
        workload: name,
        mode: mode.name,
        new: new.finish(untraced),
        baseline: bench.tracers.old.is_some().then(|| old.finish(untraced)),
    })
}

/// In-kernel cost of one program under one mode, over all workloads; a
/// `kernel_ns_per_run` entry of bench.json.
#[derive(Serialize)]
pub(crate) struct KernelCost {
    pub(crate) program: String,
    pub(crate) mode: &'static str,
    /// Per run.
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) ns: f64,
    pub(crate) runs: u64,
}

/// In-kernel cost per program and the nesting protection's per tracepoint,
/// with BPF statistics on: one traced run of each workload per mode,
/// summed.
pub(crate) fn measure_kernel_costs(
    bench: &Bench,
    which: Which,
) -> Result<(Vec<KernelCost>, Vec<NestingCost>)> {
    let _on = BpfStats::set(true)?;
    let (mut kernel, mut nest) = (Vec::new(), Vec::new());
    for mode in [TRACE_DEFAULT, RECORD] {
        let mut sums: Vec<(String, u64, u64)> = Vec::new();
        for (name, ops) in WORKLOADS {
            let (_, stats, _) = bench.traced(which, mode, name, ops)?;
            for ProgramStats {
                name: prog,
                runs,
                ns,
            } in stats.programs
            {
                match sums.iter_mut().find(|(p, _, _)| *p == prog) {
                    Some(e) => {
                        e.1 += runs;
                        e.2 += ns;
                    }
                    None => sums.push((prog, runs, ns)),
                }
            }
        }
        nest.extend(nesting::costs(mode.name, &sums));
        for (prog, runs, ns) in sums {
            kernel.push(KernelCost {
                program: prog,
                mode: mode.name,
                ns: ns as f64 / runs.max(1) as f64,
                runs,
            });
        }
    }
    Ok((kernel, nest))
}

/// A peer's slowdown on one workload; a `peers` entry of bench.json.
#[derive(Serialize)]
pub(crate) struct PeerResult {
    /// The peer's label.
    pub(crate) tracer: &'static str,
    pub(crate) workload: &'static str,
    #[serde(serialize_with = "fixed::<3, _>")]
    pub(crate) slowdown: f64,
}

/// Slowdown of each installed peer on its workloads.
pub(crate) fn measure_peers(bench: &Bench, rounds: usize) -> Result<Vec<PeerResult>> {
    let installed: Vec<&Peer> = PEERS.iter().filter(|p| installed(p.tool)).collect();
    if installed.is_empty() {
        return Ok(Vec::new());
    }
    let _tracefs = Tracefs::ensure();
    let mut out = Vec::new();
    for peer in installed {
        for &name in peer.workloads {
            let ops = WORKLOADS.iter().find(|w| w.0 == name).map_or(0, |w| w.1);
            eprintln!("bench: {name} under {} ({rounds} rounds)", peer.label);
            let (mut base, mut traced) = (Vec::new(), Vec::new());
            for _ in 0..rounds {
                base.push(bench.workload(name, ops)? as f64);
                let mut child = Command::new(peer.tool)
                    .args(peer.args)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .with_context(|| format!("starting {}", peer.tool))?;
                // No readiness signal from these tools: give them time to attach.
                std::thread::sleep(std::time::Duration::from_secs(2));
                if child.try_wait()?.is_some() {
                    bail!("{} exited at start (try it by hand)", peer.tool);
                }
                traced.push(bench.workload(name, ops)? as f64);
                // SAFETY: kill() with the pid of our own child.
                unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
                child.wait()?;
            }
            out.push(PeerResult {
                tracer: peer.label,
                workload: name,
                slowdown: median(&mut traced) / median(&mut base),
            });
        }
    }
    Ok(out)
}
