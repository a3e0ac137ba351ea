//! `cargo xtask bench --parallel N[,N...]`: the bench's storms, N at a time
//! (N processes started together, each running the whole storm), untraced
//! and under each tracer mode.
//!
//! Each cell reports the slowdown of the storm's wall time (first start to
//! last end), the storm's events recorded per second, losses, the in-kernel
//! ns per program run (a separate run with `kernel.bpf_stats_enabled`) and
//! the tracer's CPU. Every traced run checks the accounting: the tracer
//! counts the storm's own events (`--bench-comm`), the workload knows how
//! many it made, and recorded + lost must equal generated for each kind
//! (lost may be higher only when other processes lost events of that kind
//! at the same time). A run that falls short fails the bench.
//!
//! With `--baseline`, each round runs the old build's storm too, beside
//! the new one's (see `bench::baseline`); the targets judge the new build.
//!
//! Then, for `record --all-signals` at the default ring size, a binary
//! search on a rate limit (`workload --rate`) finds the highest signal rate
//! recorded with nothing lost.

use std::{
    io::Read as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Instant,
};

use anyhow::{bail, Context as _, Result};
use serde::Deserialize;

mod accounting;
mod cells;
mod report;

use accounting::{Accounting, StormStats};
pub(crate) use cells::{Cell, STORMS};
use cells::{Measured, PeerCell, Side, ZeroLoss};
pub(crate) use report::{format_cells, storm_target};

use crate::bench::{
    baseline::{Tracers, Which},
    common::{
        machine, median, parse_stats, BpfStats, Mode, ProgramStats, Stats, TracedRun, MODES, RECORD,
    },
    peers::{installed, Tracefs, PEERS},
    scenario::{Ctx, Scenario},
};

/// The workload's comm: how the tracer tells the storm's events apart.
const COMM: &str = "workload";

/// Seconds one probe of the rate search runs for.
const PROBE_SECS: f64 = 1.0;
/// Probes of the rate search after the full-speed one.
const PROBES: usize = 7;

/// `--parallel N,...`: the storms N at a time, for each N.
pub(crate) struct Parallel {
    /// Storms at a time, one table row group each.
    pub(crate) counts: Vec<usize>,
}

/// What a `--wait-go` workload prints.
#[derive(Deserialize)]
struct Timed {
    ops: u64,
    start_ns: u64,
    end_ns: u64,
}

/// One parallel storm: wall ns from the first start to the last end.
struct StormRun {
    wall_ns: u64,
}

struct Runner {
    tracers: Tracers,
    workload: PathBuf,
    tmp: PathBuf,
}

impl Runner {
    /// Starts `n` workloads held at the start line; returns them.
    fn spawn(&self, name: &str, ops: u64, n: usize, rate: Option<u64>) -> Result<Vec<Child>> {
        (0..n)
            .map(|_| {
                let mut cmd = Command::new(&self.workload);
                cmd.args([name, &ops.to_string(), "--wait-go"]);
                if let Some(r) = rate {
                    cmd.args(["--rate", &r.to_string()]);
                }
                cmd.stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .context("starting the workload")
            })
            .collect()
    }

    /// Runs `n` storms together: all started, then released at once.
    fn storm(&self, name: &str, ops: u64, n: usize, rate: Option<u64>) -> Result<StormRun> {
        let mut children = self.spawn(name, ops, n, rate)?;
        for c in &mut children {
            // Closing stdin is the start signal (EOF).
            drop(c.stdin.take());
        }
        let (mut first, mut last) = (u64::MAX, 0);
        for c in children {
            let out = c.wait_with_output()?;
            if !out.status.success() {
                bail!(
                    "workload {name} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let t: Timed = serde_json::from_str(&text)
                .with_context(|| format!("malformed workload {name} output: {text}"))?;
            if t.ops != ops {
                bail!("workload {name} ran {} operations, not {ops}", t.ops);
            }
            first = first.min(t.start_ns);
            last = last.max(t.end_ns);
        }
        Ok(StormRun {
            wall_ns: last.saturating_sub(first),
        })
    }

    /// One traced parallel storm: its run, and the tracer's statistics.
    fn traced(
        &self,
        which: Which,
        mode: &Mode,
        name: &str,
        ops: u64,
        n: usize,
        rate: Option<u64>,
    ) -> Result<(StormRun, Stats, StormStats)> {
        let log = self.tmp.join("bench-parallel.log");
        let tracer = TracedRun::start(
            self.tracers.path(which),
            mode,
            &["--bench-comm", COMM],
            &log,
        )?;
        let run = self.storm(name, ops, n, rate);
        let json = tracer.stop(mode);
        let (run, json) = (run?, json?);
        let extra: StormStats = serde_json::from_str(&json)
            .with_context(|| format!("malformed tracer-stats line: {json}"))?;
        Ok((run, parse_stats(&json)?, extra))
    }

    /// `n` storms under a peer tool: (the storm's run, lines it printed).
    fn under_peer(
        &self,
        tool: &str,
        args: &[&str],
        name: &str,
        ops: u64,
        n: usize,
    ) -> Result<(StormRun, u64)> {
        let mut child = Command::new(tool)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {tool}"))?;
        let mut out = child.stdout.take().expect("piped");
        let counter = std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            let mut lines = 0u64;
            while let Ok(k) = out.read(&mut buf) {
                if k == 0 {
                    break;
                }
                lines += buf[..k].iter().filter(|&&b| b == b'\n').count() as u64;
            }
            lines
        });
        // No readiness signal from these tools: give them time to attach.
        std::thread::sleep(std::time::Duration::from_secs(2));
        if child.try_wait()?.is_some() {
            bail!("{tool} exited at start (try it by hand)");
        }
        let run = self.storm(name, ops, n, None);
        // Let the tool print what it has, then stop it.
        std::thread::sleep(std::time::Duration::from_millis(500));
        // SAFETY: kill() with the pid of our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        child.wait()?;
        let lines = counter.join().unwrap_or(0);
        Ok((run?, lines))
    }
}

impl Scenario for Parallel {
    /// What was measured, and the seconds it took.
    type Measured = (Measured, f64);

    const TMP: &'static str = "tracer-bench-par";

    /// The table opens with the machine.
    const MACHINE_LINE: bool = false;

    fn measure(&self, ctx: &Ctx<'_>) -> Result<Self::Measured> {
        let runner = Runner {
            tracers: ctx.tracers.clone(),
            workload: ctx.workload.to_path_buf(),
            tmp: ctx.tmp.clone(),
        };
        let began = Instant::now();
        let measured = measure(&runner, &self.counts, ctx.rounds)?;
        Ok((measured, began.elapsed().as_secs_f64()))
    }

    fn format(&self, (measured, took_s): &Self::Measured) -> String {
        report::format(measured, measured.rounds, *took_s)
    }

    fn targets(&self, (measured, _): &Self::Measured) -> Option<Vec<(String, bool)>> {
        Some(report::targets(measured))
    }

    /// bench-parallel.json
    fn save(&self, (measured, _): &Self::Measured, dir: &Path) -> Result<Option<PathBuf>> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("bench-parallel.json");
        let json = serde_json::to_string(measured).expect("plain structs") + "\n";
        std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
        Ok(Some(path))
    }

    /// Fails where the accounting fell short (the targets do not fail it).
    fn verdict(&self, (measured, _): &Self::Measured, _: &[(String, bool)]) -> Result<()> {
        let short: Vec<String> = measured
            .cells
            .iter()
            .filter(|c| !c.new.accounting.ok())
            .map(|c| {
                format!(
                    "{} x{} under {}: {}",
                    c.workload,
                    c.parallel,
                    c.mode,
                    c.new.accounting.describe()
                )
            })
            .collect();
        if !short.is_empty() {
            bail!(
                "events neither recorded nor counted lost (or counted twice):\n  {}",
                short.join("\n  ")
            );
        }
        Ok(())
    }
}

fn measure(runner: &Runner, counts: &[usize], rounds: usize) -> Result<Measured> {
    let mut cells = Vec::new();
    let mut zero_loss = Vec::new();
    let mut peers = Vec::new();
    for &n in counts {
        let mut signal_untraced_ns = 0.0;
        for (name, ops) in STORMS {
            for mode in &MODES {
                let cell = measure_cell(runner, mode, name, ops, n, rounds)?;
                if name == "signal" {
                    signal_untraced_ns = cell.untraced_ms * 1e6;
                }
                cells.push(cell);
            }
        }
        let full_rate = (n as u64 * STORMS[2].1) as f64 / (signal_untraced_ns / 1e9);
        zero_loss.push(search_zero_loss(runner, n, full_rate)?);
        peers.extend(measure_peers(runner, n, rounds.min(3))?);
    }
    Ok(Measured {
        machine: machine(),
        rounds,
        cells,
        zero_loss,
        peers,
    })
}

/// One tracer's traced runs of one cell.
#[derive(Default)]
struct Runs {
    traced: Vec<f64>,
    rates: Vec<f64>,
    worst: Option<Accounting>,
    last: Stats,
    last_extra: StormStats,
}

impl Runs {
    fn add(&mut self, run: &StormRun, stats: Stats, extra: StormStats, acc: Accounting) {
        self.traced.push(run.wall_ns as f64);
        self.rates
            .push(acc.recorded as f64 / (run.wall_ns as f64 / 1e9));
        // Keep the worst round's accounting: a shortfall in any fails.
        let key = |a: &Accounting| (a.missing, a.extra, a.throttled);
        if self.worst.as_ref().is_none_or(|w| key(&acc) > key(w)) {
            self.worst = Some(acc);
        }
        self.last = stats;
        self.last_extra = extra;
    }

    /// With the statistics run's programs and the untraced median.
    fn finish(mut self, kernel: Vec<ProgramStats>, untraced: f64) -> Side {
        let (runs, ns) = kernel
            .iter()
            .fold((0u64, 0u64), |(r, t), p| (r + p.runs, t + p.ns));
        let accounting = self.worst.unwrap_or_default();
        let traced = median(&mut self.traced);
        Side {
            slowdown: traced / untraced,
            traced_ms: traced / 1e6,
            events_per_s: median(&mut self.rates),
            lost: accounting.lost,
            kernel_ns_per_event: ns as f64 / runs.max(1) as f64,
            kernel: kernel
                .into_iter()
                .filter(|p| p.runs > 0)
                .map(|ProgramStats { name, runs, ns }| (name, runs, ns))
                .collect(),
            tracer_cpu_ms: self.last.cpu_ns as f64 / 1e6,
            tracer_cpu_ns_per_event: self.last.cpu_ns as f64 / self.last.events.max(1) as f64,
            rings: self.last_extra.rings,
            accounting,
        }
    }
}

/// One storm under one mode, `n` at a time: each round an untraced storm,
/// then one per tracer; then a run per tracer with BPF statistics on.
fn measure_cell(
    runner: &Runner,
    mode: &Mode,
    name: &'static str,
    ops: u64,
    n: usize,
    rounds: usize,
) -> Result<Cell> {
    eprintln!("bench: {n} x {name} under {} ({rounds} rounds)", mode.name);
    let mut base = Vec::new();
    let mut runs = [Runs::default(), Runs::default()];
    {
        let _off = BpfStats::set(false)?;
        for round in 0..rounds.max(1) {
            base.push(runner.storm(name, ops, n, None)?.wall_ns as f64);
            for which in runner.tracers.order(round) {
                let (run, stats, extra) = runner.traced(which, mode, name, ops, n, None)?;
                let acc = Accounting::of(name, n, ops, mode, &extra)?;
                runs[which as usize].add(&run, stats, extra, acc);
            }
        }
    }
    // In-kernel cost: one more traced run each with BPF statistics on.
    let mut kernel = [Vec::new(), Vec::new()];
    {
        let _on = BpfStats::set(true)?;
        for which in runner.tracers.each() {
            let (_, stats, _) = runner.traced(which, mode, name, ops, n, None)?;
            kernel[which as usize] = stats.programs;
        }
    }
    let untraced = median(&mut base);
    let [new, old] = runs;
    let [kernel_new, kernel_old] = kernel;
    Ok(Cell {
        parallel: n,
        workload: name,
        mode: mode.name,
        untraced_ms: untraced / 1e6,
        new: new.finish(kernel_new, untraced),
        baseline: runner
            .tracers
            .old
            .is_some()
            .then(|| old.finish(kernel_old, untraced)),
    })
}

/// The 2-way recorded signal storm alone, for the single storms' bench.
pub(crate) fn recorded_signal_pair(
    tracers: &Tracers,
    workload: &Path,
    tmp: &Path,
    rounds: usize,
) -> Result<Cell> {
    let runner = Runner {
        tracers: tracers.clone(),
        workload: workload.to_path_buf(),
        tmp: tmp.to_path_buf(),
    };
    let (name, ops) = STORMS[2];
    measure_cell(&runner, RECORD, name, ops, 2, rounds)
}

/// The highest total signal rate that `record --all-signals` (default ring
/// size) records with nothing lost, `n` storms at a time: the full-speed
/// storm first, then a binary search below it on the workload's rate limit.
fn search_zero_loss(runner: &Runner, n: usize, full_rate: f64) -> Result<ZeroLoss> {
    let _off = BpfStats::set(false)?;
    let mut probes = Vec::new();
    let mut best = (0.0, 0.0);
    let mut lossy = 0.0;
    // `None`: full speed, the whole storm.
    let mut probe = |total: Option<f64>| -> Result<bool> {
        let (per, ops) = match total {
            Some(total) => {
                let per = (total / n as f64).max(1000.0) as u64;
                (Some(per), ((per as f64 * PROBE_SECS) as u64).max(10_000))
            }
            None => (None, STORMS[2].1),
        };
        eprintln!(
            "bench: zero-loss search, {n} x signal at {} /s in all",
            per.map_or("full speed".to_string(), |p| (p * n as u64).to_string())
        );
        let (run, _, extra) = runner.traced(Which::New, RECORD, "signal", ops, n, per)?;
        let acc = Accounting::of("signal", n, ops, RECORD, &extra)?;
        let ok = acc.exact() && acc.lost == 0;
        let recorded = acc.recorded as f64 / (run.wall_ns as f64 / 1e9);
        let asked = per.map_or(recorded, |p| (p * n as u64) as f64);
        probes.push((asked as u64, ok));
        if ok {
            if recorded > best.1 {
                best = (asked, recorded);
            }
        } else if lossy == 0.0 || asked < lossy {
            lossy = asked;
        }
        Ok(ok)
    };
    let (mut lo, mut hi) = (0.0, full_rate.max(1e4));
    if !probe(None)? {
        for _ in 0..PROBES {
            let mid = (lo + hi) / 2.0;
            if probe(Some(mid))? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
    }
    Ok(ZeroLoss {
        parallel: n,
        asked_per_s: best.0,
        recorded_per_s: best.1,
        lossy_per_s: lossy,
        probes,
    })
}

/// The installed peers (bpftrace, libbpf-tools) on the same parallel storms.
fn measure_peers(runner: &Runner, n: usize, rounds: usize) -> Result<Vec<PeerCell>> {
    let installed: Vec<_> = PEERS.iter().filter(|p| installed(p.tool)).collect();
    if installed.is_empty() {
        return Ok(Vec::new());
    }
    let _tracefs = Tracefs::ensure();
    let _off = BpfStats::set(false)?;
    let mut out = Vec::new();
    for peer in installed {
        for &name in peer.workloads {
            let Some(&(name, ops)) = STORMS.iter().find(|w| w.0 == name) else {
                continue;
            };
            eprintln!("bench: {n} x {name} under {} ({rounds} rounds)", peer.label);
            let (mut base, mut traced, mut lines) = (Vec::new(), Vec::new(), 0);
            for _ in 0..rounds.max(1) {
                base.push(runner.storm(name, ops, n, None)?.wall_ns as f64);
                let (run, l) = runner.under_peer(peer.tool, peer.args, name, ops, n)?;
                traced.push(run.wall_ns as f64);
                lines = l;
            }
            out.push(PeerCell {
                parallel: n,
                tracer: peer.label,
                workload: name,
                slowdown: median(&mut traced) / median(&mut base),
                lines,
                generated: n as u64 * ops,
            });
        }
    }
    Ok(out)
}

/// `1,2,all` → [1, 2, online CPUs].
pub(crate) fn parse_counts(list: &[String]) -> Result<Vec<usize>> {
    // SAFETY: sysconf has no memory-safety preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize;
    let mut out = Vec::new();
    for item in list {
        let n = match item.trim() {
            "all" => cpus,
            s => match s.parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => bail!("--parallel takes storm counts or `all`, not `{s}`"),
            },
        };
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storm_counts_parse() {
        assert_eq!(
            parse_counts(&["1".into(), "2".into(), "1".into()]).unwrap(),
            [1, 2]
        );
        assert!(parse_counts(&["all".into()]).unwrap()[0] >= 1);
        assert!(parse_counts(&["0".into()]).is_err());
        assert!(parse_counts(&["x".into()]).is_err());
    }
}
