//! `cargo xtask bench`: workload slowdown, events/s, losses, in-kernel ns
//! per event, tracer CPU per event, peak RSS, start-up time and memory at
//! 100,000 tasks, all measured in one run on this machine.
//!
//! Slowdowns compare medians of alternating untraced and traced runs, with
//! `kernel.bpf_stats_enabled` off (its clock reads would inflate them);
//! in-kernel costs come from a separate pass with it on (restored after).

use std::{
    fmt::Write as _,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, ChildStderr, Command, Stdio},
    time::Instant,
};

use anyhow::{bail, Context as _, Result};
use serde::{
    de::{MapAccess, Visitor},
    Deserialize, Deserializer, Serialize, Serializer,
};

use crate::{
    bench_failed_execs, bench_follow, bench_hostile, bench_metrics, bench_rotate, bench_ship,
    bench_throttle, bench_workqueue,
};

/// (name, operations): each runs for roughly a second untraced here.
const WORKLOADS: [(&str, u64); 3] = [("forkexec", 2000), ("fork", 5000), ("signal", 1_000_000)];

pub(crate) struct Mode {
    pub(crate) name: &'static str,
    pub(crate) args: &'static [&'static str],
    pub(crate) record: bool,
}

pub(crate) const MODES: [Mode; 3] = [
    Mode {
        name: "trace (default filters)",
        args: &["trace"],
        record: false,
    },
    Mode {
        name: "trace --format json --all-signals",
        args: &["trace", "--format", "json", "--all-signals"],
        record: false,
    },
    Mode {
        name: "record --all-signals",
        // Storms are measured with throttling off: every event recorded.
        args: &["record", "--all-signals", "--throttle", "off"],
        record: true,
    },
];

/// The modes the in-kernel pass and the targets look at.
pub(crate) const TRACE_DEFAULT: &Mode = &MODES[0];
pub(crate) const RECORD: &Mode = &MODES[2];

/// Tasks in the `tracer bench-table` run (bench.json's `table_100k_rss_mb`).
const TABLE_TASKS: u64 = 100_000;

/// What `tracer --bench-stats` printed on its `tracer-stats:` line.
#[derive(Default, Clone, Debug, PartialEq, Deserialize)]
pub(crate) struct Stats {
    pub(crate) events: u64,
    pub(crate) lost: u64,
    pub(crate) cpu_ns: u64,
    pub(crate) maxrss_kb: u64,
    /// Per program, in the order the tracer lists them.
    #[serde(deserialize_with = "programs_in_order")]
    pub(crate) programs: Vec<ProgramStats>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ProgramStats {
    pub(crate) name: String,
    pub(crate) runs: u64,
    pub(crate) ns: u64,
}

/// `"programs":{"<name>":{"runs":N,"ns":N},...}` as a list in the tracer's
/// order (a map would sort it by name).
fn programs_in_order<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ProgramStats>, D::Error> {
    #[derive(Deserialize)]
    struct RunsNs {
        runs: u64,
        ns: u64,
    }
    struct InOrder;
    impl<'de> Visitor<'de> for InOrder {
        type Value = Vec<ProgramStats>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of program name to {\"runs\",\"ns\"}")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((name, RunsNs { runs, ns })) = map.next_entry::<String, RunsNs>()? {
                out.push(ProgramStats { name, runs, ns });
            }
            Ok(out)
        }
    }
    d.deserialize_map(InOrder)
}

/// The tracer's stderr line with its [`Stats`], once it has stopped.
pub(crate) const STATS_PREFIX: &str = "tracer-stats: ";

/// Parses the JSON after [`STATS_PREFIX`].
/// Starts tracer and waits until it says it attached; its stderr, for
/// what it says at the end.
pub(crate) fn start_attached(
    cmd: &mut Command,
) -> Result<(std::process::Child, BufReader<std::process::ChildStderr>)> {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting tracer")?;
    let mut stderr = BufReader::new(child.stderr.take().expect("piped"));
    let mut line = String::new();
    loop {
        line.clear();
        if stderr.read_line(&mut line)? == 0 {
            bail!("tracer exited before attaching");
        }
        if line.contains("attached") {
            return Ok((child, stderr));
        }
    }
}

pub(crate) fn parse_stats(json: &str) -> Result<Stats> {
    serde_json::from_str(json).with_context(|| format!("malformed tracer-stats line: {json}"))
}

/// What `tracer bench-table N` prints: `{"tasks":N,"maxrss_kb":N}`.
#[derive(Deserialize)]
struct TableStats {
    maxrss_kb: u64,
}

/// What the workload prints: `{"workload":..,"ops":N,"ns":T}`.
#[derive(Deserialize)]
struct WorkloadStats {
    ns: u64,
}

struct Bench {
    tracer: PathBuf,
    workload: PathBuf,
    tmp: PathBuf,
}

impl Bench {
    /// Runs a workload; returns its own timing in ns.
    fn workload(&self, name: &str, ops: u64) -> Result<u64> {
        workload_ns(&self.workload, name, ops)
    }

    /// One traced run: (workload ns, tracer stats, ms from spawn to attached).
    fn traced(&self, mode: &Mode, name: &str, ops: u64) -> Result<(u64, Stats, f64)> {
        let log = self.tmp.join("bench.log");
        let tracer = TracedRun::start(&self.tracer, mode, &[], &log)?;
        let attach_ms = tracer.attach_ms;
        let ns = self.workload(name, ops)?;
        let json = tracer.stop(mode)?;
        Ok((ns, parse_stats(&json)?, attach_ms))
    }
}

/// Runs the workload generator; returns the workload's own timing in ns.
pub(crate) fn workload_ns(workload: &Path, name: &str, ops: u64) -> Result<u64> {
    let out = Command::new(workload)
        .args([name, &ops.to_string()])
        .output()
        .context("running the workload")?;
    if !out.status.success() {
        bail!(
            "workload {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stats: WorkloadStats = serde_json::from_str(&stdout)
        .with_context(|| format!("malformed workload {name} output: {stdout}"))?;
    Ok(stats.ns)
}

/// A tracer started for one bench run, attached.
pub(crate) struct TracedRun {
    child: Child,
    stderr: BufReader<ChildStderr>,
    log: Option<PathBuf>,
    /// ms from spawn to its `attached` line.
    pub(crate) attach_ms: f64,
}

impl TracedRun {
    /// Starts `tracer MODE --bench-stats EXTRA` (writing `log` when the mode
    /// records) and waits until its programs are attached.
    pub(crate) fn start(tracer: &Path, mode: &Mode, extra: &[&str], log: &Path) -> Result<Self> {
        let log = mode.record.then(|| log.to_path_buf());
        let mut cmd = Command::new(tracer);
        cmd.args(mode.args).arg("--bench-stats").args(extra);
        if let Some(log) = &log {
            let _ = std::fs::remove_file(log);
            cmd.arg("-o").arg(log);
        }
        let started = Instant::now();
        let (child, stderr) = start_attached(&mut cmd)?;
        Ok(TracedRun {
            child,
            stderr,
            log,
            attach_ms: started.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// Stops it with SIGINT; its `tracer-stats:` JSON, once it exited cleanly.
    pub(crate) fn stop(mut self, mode: &Mode) -> Result<String> {
        // SAFETY: kill() with the pid of our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let mut stats = None;
        for l in (&mut self.stderr).lines() {
            if let Some(json) = l?.strip_prefix(STATS_PREFIX) {
                stats = Some(json.to_string());
            }
        }
        let status = self.child.wait()?;
        if let Some(log) = &self.log {
            let _ = std::fs::remove_file(log);
        }
        match (status.success(), stats) {
            (true, Some(json)) => Ok(json),
            _ => bail!("tracer {} failed: {status}", mode.name),
        }
    }
}

pub(crate) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

/// Sets kernel.bpf_stats_enabled for its lifetime, restoring the old value.
pub(crate) struct BpfStats(String);

impl BpfStats {
    const PATH: &'static str = "/proc/sys/kernel/bpf_stats_enabled";
    pub(crate) fn set(on: bool) -> Result<BpfStats> {
        let old = std::fs::read_to_string(Self::PATH).context("reading bpf_stats_enabled")?;
        std::fs::write(Self::PATH, if on { "1" } else { "0" })
            .context("writing bpf_stats_enabled (needs root)")?;
        Ok(BpfStats(old.trim().to_string()))
    }
}

impl Drop for BpfStats {
    fn drop(&mut self) {
        let _ = std::fs::write(Self::PATH, &self.0);
    }
}

/// One workload under one mode; also a `runs` entry of bench.json.
#[derive(Serialize)]
struct Row {
    workload: &'static str,
    mode: &'static str,
    #[serde(serialize_with = "fixed::<3, _>")]
    slowdown: f64,
    #[serde(serialize_with = "fixed::<0, _>")]
    events_per_s: f64,
    lost: u64,
    #[serde(serialize_with = "fixed::<1, _>")]
    cpu_ms: f64,
    #[serde(serialize_with = "fixed::<0, _>")]
    cpu_ns_per_event: f64,
    #[serde(serialize_with = "fixed::<1, _>")]
    maxrss_mb: f64,
}

/// In-kernel cost of one program under one mode, over all workloads; a
/// `kernel_ns_per_run` entry of bench.json.
#[derive(Serialize)]
struct KernelCost {
    program: String,
    mode: &'static str,
    /// Per run.
    #[serde(serialize_with = "fixed::<0, _>")]
    ns: f64,
    runs: u64,
}

/// A peer's slowdown on one workload; a `peers` entry of bench.json.
#[derive(Serialize)]
struct PeerResult {
    /// The peer's label.
    tracer: &'static str,
    workload: &'static str,
    #[serde(serialize_with = "fixed::<3, _>")]
    slowdown: f64,
}

/// Writes `x` as the number `{x:.D}` prints: an integer for `D` = 0, null
/// where it is not finite.
pub(crate) fn fixed<const D: usize, S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    match format!("{x:.prec$}", prec = D).parse::<serde_json::Number>() {
        Ok(n) => n.serialize(s),
        Err(_) => s.serialize_none(),
    }
}

/// Another tracer measured on the same workloads, where installed.
pub(crate) struct Peer {
    pub(crate) tool: &'static str,
    pub(crate) label: &'static str,
    pub(crate) args: &'static [&'static str],
    pub(crate) workloads: &'static [&'static str],
}

pub(crate) const PEERS: [Peer; 5] = [
    Peer {
        tool: "bpftrace",
        label: "bpftrace printf on signal_generate",
        args: &[
            "-e",
            "tracepoint:signal:signal_generate { printf(\"%d %d %d %d\\n\", pid, args->pid, args->sig, args->result); }",
        ],
        workloads: &["signal"],
    },
    Peer {
        tool: "bpftrace",
        label: "bpftrace printf on exec and exit",
        args: &[
            "-e",
            "tracepoint:sched:sched_process_exec { printf(\"%d %s\\n\", pid, str(args->filename)); } \
             tracepoint:sched:sched_process_exit { printf(\"%d\\n\", pid); }",
        ],
        workloads: &["forkexec", "fork"],
    },
    Peer {
        tool: "sigsnoop",
        label: "libbpf-tools sigsnoop",
        args: &[],
        workloads: &["signal"],
    },
    Peer {
        tool: "execsnoop",
        label: "libbpf-tools execsnoop",
        args: &[],
        workloads: &["forkexec"],
    },
    Peer {
        tool: "exitsnoop",
        label: "libbpf-tools exitsnoop",
        args: &[],
        workloads: &["forkexec", "fork"],
    },
];

/// Mounts tracefs for the peers (they attach through it) if it is not
/// mounted, and unmounts it again on drop.
pub(crate) struct Tracefs(bool);

impl Tracefs {
    const DIR: &'static str = "/sys/kernel/tracing";
    pub(crate) fn ensure() -> Tracefs {
        if Path::new(Self::DIR).join("events").exists() {
            return Tracefs(false);
        }
        let ok = Command::new("mount")
            .args(["-t", "tracefs", "nodev", Self::DIR])
            .status()
            .is_ok_and(|s| s.success());
        Tracefs(ok)
    }
}

impl Drop for Tracefs {
    fn drop(&mut self) {
        if self.0 {
            let _ = Command::new("umount").arg(Self::DIR).status();
        }
    }
}

/// Slowdown of each installed peer on its workloads: (label, workload, ratio).
fn measure_peers(bench: &Bench, rounds: usize) -> Result<Vec<PeerResult>> {
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

pub(crate) fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Only the hostile-input bounds (quick: no workloads, no peers).
pub fn run_hostile(tracer: &Path) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!("tracer-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let results = bench_hostile::measure(tracer, &tmp);
    let metrics = results
        .is_ok()
        .then(|| bench_metrics::measure(tracer, &tmp));
    let _ = std::fs::remove_dir_all(&tmp);
    let results = results?;
    let metrics = metrics.transpose()?.flatten();
    let mut targets = bench_hostile::targets(&results);
    targets.extend(bench_metrics::targets(&metrics));
    print!(
        "machine: {}\n{}{}{}",
        machine(),
        bench_hostile::format(&results),
        bench_metrics::format(&metrics),
        format_targets(&targets)
    );
    fail_if_missed(&targets)
}

/// The hostile-input bounds fail the bench when missed.
fn fail_if_missed(targets: &[(String, bool)]) -> Result<()> {
    let missed: Vec<&str> = targets
        .iter()
        .filter(|(what, ok)| !ok && what.starts_with("hostile"))
        .map(|(what, _)| what.as_str())
        .collect();
    if missed.is_empty() {
        Ok(())
    } else {
        bail!("hostile-input bounds missed:\n  {}", missed.join("\n  "))
    }
}

pub fn run(rounds: usize, tracer: &Path, workload: &Path, out_dir: &Path) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!("tracer-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let bench = Bench {
        tracer: tracer.to_path_buf(),
        workload: workload.to_path_buf(),
        tmp: tmp.clone(),
    };
    let result = measure(&bench, rounds, out_dir);
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// Only the in-kernel cost of following a command.
pub fn run_follow(tracer: &Path, workload: &Path) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!("tracer-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let costs = bench_follow::measure(tracer, workload, &tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    print!("{}", bench_follow::format(&costs?));
    Ok(())
}

/// Only the cost of `--metrics` and `--otlp` beside plain `record`.
pub fn run_ship(rounds: usize, tracer: &Path, workload: &Path) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!("tracer-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let costs = bench_ship::measure(tracer, workload, &tmp, rounds);
    let _ = std::fs::remove_dir_all(&tmp);
    let costs = costs?;
    let targets = bench_ship::targets(&costs);
    print!(
        "machine: {}\n{}{}",
        machine(),
        bench_ship::format(&costs),
        format_targets(&targets)
    );
    fail_if_missed(&targets)
}

/// Only zstd's ratio and cost under `record --dir --compress`.
pub fn run_throttle(rounds: usize, tracer: &Path, workload: &Path) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!("tracer-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let cost = bench_throttle::measure(tracer, workload, &tmp, rounds);
    let _ = std::fs::remove_dir_all(&tmp);
    print!("machine: {}\n{}", machine(), bench_throttle::format(&cost?));
    Ok(())
}

pub fn run_rotate(rounds: usize, tracer: &Path, workload: &Path) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!("tracer-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let cost = bench_rotate::measure(tracer, workload, &tmp, rounds);
    let _ = std::fs::remove_dir_all(&tmp);
    print!("machine: {}\n{}", machine(), bench_rotate::format(&cost?));
    Ok(())
}

/// Measures, prints the results and the targets, writes bench.json.
fn measure(bench: &Bench, rounds: usize, out_dir: &Path) -> Result<()> {
    let measured = measure_all(bench, rounds)?;
    print!(
        "{}{}",
        format_results(&measured),
        format_targets(&targets(&measured))
    );
    let path = write_json(&measured, out_dir)?;
    println!("\nJSON: {}", path.display());
    fail_if_missed(&targets(&measured))
}

/// Everything one bench run measured; also the content of bench.json.
#[derive(Serialize)]
struct Measured {
    machine: String,
    rounds: usize,
    /// Seconds all the measuring took.
    #[serde(skip)]
    took_s: f64,
    /// Median ms from starting the tracer to its `attached` line.
    #[serde(serialize_with = "fixed::<1, _>")]
    attach_ms: f64,
    /// Peak RSS of `tracer bench-table` with [`TABLE_TASKS`] tasks.
    #[serde(serialize_with = "fixed::<1, _>")]
    table_100k_rss_mb: f64,
    runs: Vec<Row>,
    kernel_ns_per_run: Vec<KernelCost>,
    peers: Vec<PeerResult>,
    hostile: Vec<bench_hostile::Hostile>,
    workqueue: Vec<bench_workqueue::WorkqueueRate>,
    failed_execs: Option<bench_failed_execs::FailedExecsCost>,
    ship: Vec<bench_ship::ShipCost>,
    follow: Vec<bench_follow::FollowCost>,
    rotate: Vec<bench_rotate::RotateCost>,
    throttle: Option<bench_throttle::ThrottleCost>,
}

fn measure_all(bench: &Bench, rounds: usize) -> Result<Measured> {
    let began = Instant::now();
    let (runs, mut attach) = measure_slowdowns(bench, rounds)?;
    let kernel_ns_per_run = measure_kernel_costs(bench)?;
    let peers = measure_peers(bench, rounds.min(3))?;
    let table_100k_rss_mb = measure_table_rss_mb(bench)?;
    let hostile = bench_hostile::measure(&bench.tracer, &bench.tmp)?;
    let workqueue = bench_workqueue::measure(&bench.tracer, &bench.workload, &bench.tmp)?;
    let failed_execs = Some(bench_failed_execs::measure(
        &bench.tracer,
        &bench.workload,
        &bench.tmp,
        rounds,
    )?);
    let ship = bench_ship::measure(&bench.tracer, &bench.workload, &bench.tmp, rounds)?;
    let follow = bench_follow::measure(&bench.tracer, &bench.workload, &bench.tmp)?;
    let rotate = bench_rotate::measure(&bench.tracer, &bench.workload, &bench.tmp, rounds.min(3))?;
    let throttle = Some(bench_throttle::measure(
        &bench.tracer,
        &bench.workload,
        &bench.tmp,
        rounds.min(3),
    )?);
    Ok(Measured {
        machine: machine(),
        rounds,
        took_s: began.elapsed().as_secs_f64(),
        attach_ms: median(&mut attach),
        table_100k_rss_mb,
        runs,
        kernel_ns_per_run,
        peers,
        hostile,
        workqueue,
        failed_execs,
        ship,
        rotate,
        follow,
        throttle,
    })
}

/// Every workload under every mode, with BPF statistics off: the rows and
/// every run's ms from start to attached.
fn measure_slowdowns(bench: &Bench, rounds: usize) -> Result<(Vec<Row>, Vec<f64>)> {
    let _off = BpfStats::set(false)?;
    let mut rows = Vec::new();
    let mut attach = Vec::new();
    for (name, ops) in WORKLOADS {
        for mode in &MODES {
            rows.push(measure_cell(bench, mode, name, ops, rounds, &mut attach)?);
        }
    }
    Ok((rows, attach))
}

/// One workload under one mode, alternating untraced and traced runs;
/// adds each run's ms from start to attached to `attach`.
fn measure_cell(
    bench: &Bench,
    mode: &Mode,
    name: &'static str,
    ops: u64,
    rounds: usize,
    attach: &mut Vec<f64>,
) -> Result<Row> {
    eprintln!("bench: {name} under {} ({rounds} rounds)", mode.name);
    let (mut base, mut traced) = (Vec::new(), Vec::new());
    let mut last = Stats::default();
    let mut events_per_s = Vec::new();
    for _ in 0..rounds {
        base.push(bench.workload(name, ops)? as f64);
        let (ns, stats, ms) = bench.traced(mode, name, ops)?;
        traced.push(ns as f64);
        events_per_s.push(stats.events as f64 / (ns as f64 / 1e9));
        attach.push(ms);
        last = Stats {
            lost: last.lost.max(stats.lost),
            maxrss_kb: last.maxrss_kb.max(stats.maxrss_kb),
            ..stats
        };
    }
    Ok(Row {
        workload: name,
        mode: mode.name,
        slowdown: median(&mut traced) / median(&mut base),
        events_per_s: median(&mut events_per_s),
        lost: last.lost,
        cpu_ns_per_event: last.cpu_ns as f64 / last.events.max(1) as f64,
        cpu_ms: last.cpu_ns as f64 / 1e6,
        maxrss_mb: last.maxrss_kb as f64 / 1024.0,
    })
}

/// In-kernel cost per program, with BPF statistics on: one traced run of
/// each workload per mode, summed.
fn measure_kernel_costs(bench: &Bench) -> Result<Vec<KernelCost>> {
    let _on = BpfStats::set(true)?;
    let mut kernel = Vec::new();
    for mode in [TRACE_DEFAULT, RECORD] {
        let mut sums: Vec<(String, u64, u64)> = Vec::new();
        for (name, ops) in WORKLOADS {
            let (_, stats, _) = bench.traced(mode, name, ops)?;
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
        for (prog, runs, ns) in sums {
            kernel.push(KernelCost {
                program: prog,
                mode: mode.name,
                ns: ns as f64 / runs.max(1) as f64,
                runs,
            });
        }
    }
    Ok(kernel)
}

/// Peak RSS in MB of the real task table with [`TABLE_TASKS`] tasks.
fn measure_table_rss_mb(bench: &Bench) -> Result<f64> {
    let table = Command::new(&bench.tracer)
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

/// The results as printed: the workload x mode table, in-kernel costs,
/// start-up, the task table and the peers.
fn format_results(m: &Measured) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "machine: {}", m.machine);
    let _ = writeln!(
        out,
        "rounds per cell: {}; took {:.0} s\n",
        m.rounds, m.took_s
    );
    let _ = writeln!(
        out,
        "{:<9} {:<34} {:>8} {:>12} {:>6} {:>8} {:>10} {:>8}",
        "workload", "mode", "slowdown", "events/s", "lost", "cpu ms", "cpu ns/ev", "RSS MB"
    );
    for r in &m.runs {
        let per_event = if r.events_per_s >= 1.0 {
            format!("{:.0}", r.cpu_ns_per_event)
        } else {
            "-".to_string()
        };
        let _ = writeln!(
            out,
            "{:<9} {:<34} {:>7.2}x {:>12.0} {:>6} {:>8.0} {:>10} {:>8.1}",
            r.workload,
            r.mode,
            r.slowdown,
            r.events_per_s,
            r.lost,
            r.cpu_ms,
            per_event,
            r.maxrss_mb
        );
    }
    let _ = writeln!(out, "\nin-kernel ns per run (all workloads):");
    for k in &m.kernel_ns_per_run {
        let _ = writeln!(
            out,
            "  {:<20} {:<34} {:>7.0} ns  ({} runs)",
            k.program, k.mode, k.ns, k.runs
        );
    }
    let _ = writeln!(
        out,
        "\nstart-up to attached: {:.0} ms (median)",
        m.attach_ms
    );
    let _ = writeln!(
        out,
        "task table with {} tasks: peak RSS {:.1} MB",
        thousands(TABLE_TASKS),
        m.table_100k_rss_mb
    );
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
    out.push_str(&bench_workqueue::format(&m.workqueue));
    if !m.ship.is_empty() {
        out.push_str(&bench_ship::format(&m.ship));
    }
    if !m.follow.is_empty() {
        out.push_str(&bench_follow::format(&m.follow));
    }
    if let Some(c) = &m.failed_execs {
        out.push_str(&bench_failed_execs::format(c));
    }
    if !m.rotate.is_empty() {
        out.push_str(&bench_rotate::format(&m.rotate));
    }
    if let Some(t) = &m.throttle {
        out.push_str(&bench_throttle::format(t));
    }
    out.push_str(&bench_hostile::format(&m.hostile));
    out
}

/// The performance targets: (what, met).
fn targets(m: &Measured) -> Vec<(String, bool)> {
    let cell = |w: &str, mode: &Mode| {
        m.runs
            .iter()
            .find(|r| r.workload == w && r.mode == mode.name)
    };
    let mut out = Vec::new();
    let worst_kernel = m.kernel_ns_per_run.iter().map(|k| k.ns).fold(0.0, f64::max);
    out.push((
        format!("in-kernel cost <= 150 ns for every program (worst {worst_kernel:.0} ns)"),
        worst_kernel <= 150.0,
    ));
    if let Some(r) = cell("signal", RECORD) {
        out.push((
            format!(
                "signal storm recorded: <= 1.5x ({:.2}x), 0 lost ({}), >= 1M events/s ({:.0})",
                r.slowdown, r.lost, r.events_per_s
            ),
            r.slowdown <= 1.5 && r.lost == 0 && r.events_per_s >= 1e6,
        ));
    }
    if let Some(r) = cell("signal", TRACE_DEFAULT) {
        out.push((
            format!(
                "signal storm, default filters: <= 1.2x ({:.2}x)",
                r.slowdown
            ),
            r.slowdown <= 1.2,
        ));
    }
    if let Some(r) = cell("forkexec", RECORD) {
        out.push((
            format!("fork+exec storm recorded: <= 1.1x ({:.2}x)", r.slowdown),
            r.slowdown <= 1.1,
        ));
    }
    out.push((
        format!(
            "peak RSS with {} tasks <= 50 MB ({:.1} MB)",
            thousands(TABLE_TASKS),
            m.table_100k_rss_mb
        ),
        m.table_100k_rss_mb <= 50.0,
    ));
    out.push((
        format!("attached within 300 ms of start ({:.0} ms)", m.attach_ms),
        m.attach_ms <= 300.0,
    ));
    out.extend(bench_hostile::targets(&m.hostile));
    out.extend(bench_ship::targets(&m.ship));
    out
}

pub(crate) fn format_targets(targets: &[(String, bool)]) -> String {
    let mut out = String::from("\ntargets:\n");
    for (what, ok) in targets {
        let _ = writeln!(out, "  [{}] {what}", if *ok { "met" } else { "NOT met" });
    }
    out
}

/// Writes `dir`/bench.json (one line); returns its path.
fn write_json(m: &Measured, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("bench.json");
    let json = serde_json::to_string(m).expect("plain structs") + "\n";
    std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// `n` with a comma between each group of three digits.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    // SAFETY: sysconf has no memory-safety preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    format!("{cpus} CPUs, {cpu}, Linux {}", kernel.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_tracer_stats_line() {
        let line = "tracer-stats: {\"events\":12,\"lost\":3,\"cpu_ns\":4500,\"maxrss_kb\":8192,\
                    \"programs\":{\"sched_exec\":{\"runs\":10,\"ns\":900},\"exit\":{\"runs\":2,\"ns\":80}}}";
        let stats = parse_stats(line.strip_prefix(STATS_PREFIX).unwrap()).unwrap();
        assert_eq!(
            stats,
            Stats {
                events: 12,
                lost: 3,
                cpu_ns: 4500,
                maxrss_kb: 8192,
                // The tracer's order, not sorted by name.
                programs: vec![
                    ProgramStats {
                        name: "sched_exec".into(),
                        runs: 10,
                        ns: 900
                    },
                    ProgramStats {
                        name: "exit".into(),
                        runs: 2,
                        ns: 80
                    },
                ],
            }
        );
        let none =
            parse_stats(r#"{"events":0,"lost":0,"cpu_ns":0,"maxrss_kb":0,"programs":{}}"#).unwrap();
        assert!(none.programs.is_empty());
    }

    #[test]
    fn a_malformed_tracer_stats_line_is_an_error() {
        for bad in [
            "",
            "{\"events\":1",
            // A missing field is not read as 0.
            r#"{"events":1,"lost":0,"cpu_ns":0,"programs":{}}"#,
            r#"{"events":-1,"lost":0,"cpu_ns":0,"maxrss_kb":0,"programs":{}}"#,
            r#"{"events":1,"lost":0,"cpu_ns":0,"maxrss_kb":0,"programs":{"p":{"runs":1}}}"#,
        ] {
            let err = parse_stats(bad).unwrap_err();
            assert!(
                format!("{err:#}").starts_with("malformed tracer-stats line"),
                "{err:#}"
            );
        }
    }

    #[test]
    fn parses_bench_table_and_workload_output() {
        let table: TableStats =
            serde_json::from_str("{\"tasks\":100000,\"maxrss_kb\":40960}\n").unwrap();
        assert_eq!(table.maxrss_kb, 40960);
        let run: WorkloadStats =
            serde_json::from_str("{\"workload\":\"fork\",\"ops\":5000,\"ns\":123456789}\n")
                .unwrap();
        assert_eq!(run.ns, 123456789);
        assert!(serde_json::from_str::<TableStats>("{\"tasks\":100000}").is_err());
    }

    /// One of each, with numbers that show the rounding.
    fn sample() -> Measured {
        Measured {
            machine: "2 CPUs, \"Fancy\" CPU, Linux 6.1".into(),
            rounds: 5,
            took_s: 61.4,
            attach_ms: 42.04,
            table_100k_rss_mb: 38.25,
            runs: vec![
                Row {
                    workload: "signal",
                    mode: RECORD.name,
                    slowdown: 1.23456,
                    events_per_s: 1234567.4,
                    lost: 0,
                    cpu_ms: 12.34,
                    cpu_ns_per_event: 99.6,
                    maxrss_mb: 10.0,
                },
                Row {
                    workload: "signal",
                    mode: TRACE_DEFAULT.name,
                    slowdown: 1.25,
                    events_per_s: 0.0,
                    lost: 0,
                    cpu_ms: 1.0,
                    cpu_ns_per_event: 5.0,
                    maxrss_mb: 9.5,
                },
            ],
            kernel_ns_per_run: vec![KernelCost {
                program: "signal_generate".into(),
                mode: RECORD.name,
                ns: 57.2,
                runs: 1000,
            }],
            peers: vec![PeerResult {
                tracer: "libbpf-tools sigsnoop",
                workload: "signal",
                slowdown: 3.5,
            }],
            hostile: Vec::new(),
            workqueue: Vec::new(),
            failed_execs: None,
            ship: Vec::new(),
            follow: Vec::new(),
            rotate: Vec::new(),
            throttle: None,
        }
    }

    #[test]
    fn bench_json_keeps_its_fields_order_and_precision() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-test-{}", std::process::id()));
        let path = write_json(&sample(), &dir).unwrap();
        let json = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(path.file_name().unwrap(), "bench.json");
        assert_eq!(
            json,
            concat!(
                r#"{"machine":"2 CPUs, \"Fancy\" CPU, Linux 6.1","rounds":5,"attach_ms":42.0,"#,
                r#""table_100k_rss_mb":38.2,"runs":[{"workload":"signal","#,
                r#""mode":"record --all-signals","slowdown":1.235,"events_per_s":1234567,"#,
                r#""lost":0,"cpu_ms":12.3,"cpu_ns_per_event":100,"maxrss_mb":10.0},"#,
                r#"{"workload":"signal","mode":"trace (default filters)","slowdown":1.25,"#,
                r#""events_per_s":0,"lost":0,"cpu_ms":1.0,"cpu_ns_per_event":5,"maxrss_mb":9.5}],"#,
                r#""kernel_ns_per_run":[{"program":"signal_generate","#,
                r#""mode":"record --all-signals","ns":57,"runs":1000}],"#,
                r#""peers":[{"tracer":"libbpf-tools sigsnoop","workload":"signal","#,
                r#""slowdown":3.5}],"hostile":[],"workqueue":[],"failed_execs":null,"ship":[],"follow":[],"#,
                r#""rotate":[],"throttle":null}"#,
                "\n"
            )
        );
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["runs"][0]["slowdown"], 1.235);
        assert_eq!(back["kernel_ns_per_run"][0]["runs"], 1000);
    }

    #[test]
    fn prints_results_and_targets() {
        let m = sample();
        let text = format_results(&m);
        assert!(text.starts_with(
            "machine: 2 CPUs, \"Fancy\" CPU, Linux 6.1\nrounds per cell: 5; took 61 s\n\n"
        ));
        assert!(text.contains(
            "\nsignal    record --all-signals                  1.23x      1234567      0       12        100     10.0\n"
        ));
        // No events: no per-event CPU cost.
        assert!(text.contains(
            "\nsignal    trace (default filters)               1.25x            0      0        1          -      9.5\n"
        ));
        assert!(text.contains(
            "\n  signal_generate      record --all-signals                    57 ns  (1000 runs)\n"
        ));
        assert!(text.contains("\ntask table with 100,000 tasks: peak RSS 38.2 MB\n"));
        assert!(text.contains("\n  signal    libbpf-tools sigsnoop                  3.50x\n"));

        assert_eq!(
            format_targets(&targets(&m)),
            "\ntargets:\n\
             \x20 [met] in-kernel cost <= 150 ns for every program (worst 57 ns)\n\
             \x20 [met] signal storm recorded: <= 1.5x (1.23x), 0 lost (0), >= 1M events/s (1234567)\n\
             \x20 [NOT met] signal storm, default filters: <= 1.2x (1.25x)\n\
             \x20 [met] peak RSS with 100,000 tasks <= 50 MB (38.2 MB)\n\
             \x20 [met] attached within 300 ms of start (42 ms)\n"
        );
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn a_ratio_that_is_not_a_number_is_null() {
        let peer = PeerResult {
            tracer: "x",
            workload: "fork",
            slowdown: f64::NAN,
        };
        assert_eq!(
            serde_json::to_string(&peer).unwrap(),
            r#"{"tracer":"x","workload":"fork","slowdown":null}"#
        );
    }
}
