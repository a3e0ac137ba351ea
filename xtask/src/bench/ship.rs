//! The `--metrics` and `--otlp` part of `cargo xtask bench`: `record` with
//! each beside plain `record`, on the fork+exec and signal storms, and
//! `export --format otlp` of the recorded signal storm's log.
//! `record` decodes (on its decode thread) for its task table either way
//! (each rotated log's header holds it); the exporters add building and
//! sending their records, so the tracer's CPU per event is shown with the
//! workload's slowdown. The collector is a sink on 127.0.0.1 that answers
//! 200 to every request and counts what it got. The export runs as a user
//! runs it (4 ancestors per record, the OTLP default) and again with
//! `--ancestors 0` in the same rounds, so what ancestry costs shows.
//!
//! Targets: `export --format otlp` builds and sends at least
//! [`EXPORT_TARGET`] records per CPU-second of tracer (user + system), and
//! `record --otlp` during the signal storm loses nothing in the rings (the
//! exporter may drop, counted: those are printed).

use std::{
    io::BufRead as _,
    path::Path,
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use anyhow::{anyhow, bail, Context as _, Result};
use serde::Serialize;

use super::scenario::{Ctx, Scenario};
use crate::bench::common::{
    fixed, median, parse_stats, start_attached, workload_ns, BpfStats, Stats, RECORD, STATS_PREFIX,
};

const WORKLOADS: [(&str, u64); 2] = [("forkexec", 2000), ("signal", 1_000_000)];

/// Records per CPU-second of tracer that `export --format otlp` must reach.
pub(crate) const EXPORT_TARGET: f64 = 100_000.0;

#[derive(Serialize)]
pub(crate) struct ShipCost {
    pub(crate) workload: &'static str,
    /// `record --all-signals`, then with `--metrics`, then with `--otlp`.
    pub(crate) modes: Vec<ShipMode>,
    /// OTLP requests the sink received in the `--otlp` runs, and bytes.
    pub(crate) otlp_requests: u64,
    pub(crate) otlp_bytes: u64,
    /// Log records the `--otlp` runs' exporter dropped (it was behind),
    /// most in a round.
    pub(crate) otlp_dropped: u64,
    /// `export --format otlp` of this workload's recorded log (the signal
    /// storm only).
    pub(crate) export: Option<ExportCost>,
}

#[derive(Serialize)]
pub(crate) struct ShipMode {
    pub(crate) mode: &'static str,
    /// Median workload time over the untraced median.
    #[serde(serialize_with = "fixed::<3, _>")]
    pub(crate) slowdown: f64,
    /// The tracer's own CPU per event (user + system), median; start-up
    /// included, which dominates on the short fork+exec storm.
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) cpu_ns_per_event: f64,
    /// Events the rings lost, most in a round.
    pub(crate) lost: u64,
}

/// `export --format otlp` of a recorded log to the sink.
#[derive(Serialize)]
pub(crate) struct ExportCost {
    /// Log records sent (events and loss notices), in the median round.
    pub(crate) records: u64,
    /// The tracer's CPU time (user + system), median.
    #[serde(serialize_with = "fixed::<3, _>")]
    pub(crate) cpu_s: f64,
    /// Records per CPU-second, median.
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) records_per_cpu_s: f64,
    /// The same with `--ancestors 0` (the default names 4 ancestors per
    /// record), median, run in the same rounds: what ancestry costs.
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) no_ancestors_per_cpu_s: f64,
}

/// What one `record` run said at its end.
struct Recorded {
    stats: Stats,
    /// `tracer: otlp: sent N log records to URL, dropped M`: (N, M).
    otlp: Option<(u64, u64)>,
}

/// `record --all-signals --throttle off EXTRA -o LOG` around one run of
/// the workload; the log is kept.
fn record(
    tracer: &Path,
    extra: &[&str],
    log: &Path,
    workload: &Path,
    name: &str,
    ops: u64,
) -> Result<(u64, Recorded)> {
    let _ = std::fs::remove_file(log);
    let mut cmd = Command::new(tracer);
    cmd.args(RECORD.args)
        .arg("--bench-stats")
        .args(extra)
        .arg("-o")
        .arg(log);
    let (mut child, stderr) = start_attached(&mut cmd)?;
    let ns = workload_ns(workload, name, ops);
    // SAFETY: kill() with the pid of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let (mut stats, mut otlp) = (None, None);
    for line in stderr.lines() {
        let line = line?;
        if let Some(json) = line.strip_prefix(STATS_PREFIX) {
            stats = Some(parse_stats(json)?);
        }
        otlp = otlp.or_else(|| otlp_summary(&line));
    }
    let status = child.wait()?;
    let ns = ns?;
    match (status.success(), stats) {
        (true, Some(stats)) => Ok((ns, Recorded { stats, otlp })),
        _ => bail!("tracer record {} failed: {status}", extra.join(" ")),
    }
}

/// (sent, dropped) from `tracer: otlp: sent N log records to URL, dropped M ...`.
fn otlp_summary(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("tracer: otlp: sent ")?;
    let number =
        |s: &str| -> Option<u64> { s.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok() };
    let sent = number(rest)?;
    let dropped = number(rest.split_once(", dropped ")?.1)?;
    Some((sent, dropped))
}

/// `tracer export --format otlp --otlp URL EXTRA LOG`: (records sent, CPU
/// seconds of the tracer, user + system).
fn export(tracer: &Path, url: &str, extra: &[&str], log: &Path) -> Result<(u64, f64)> {
    let child = Command::new(tracer)
        .args(["export", "--format", "otlp", "--otlp", url])
        .args(extra)
        .arg(log)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting tracer export")?;
    let pid = child.id() as libc::pid_t;
    let stderr = child.stderr.expect("piped");
    let mut sent = None;
    let mut said = Vec::new();
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line?;
        sent = sent.or_else(|| otlp_summary(&line).map(|(sent, _)| sent));
        said.push(line);
    }
    // Its own rusage: the CPU time of this process alone.
    let mut status = 0;
    // SAFETY: rusage is plain data, zeroed is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child, with pointers to live locals.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if waited != pid || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("tracer export failed ({status}):\n{}", said.join("\n"));
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = secs(usage.ru_utime) + secs(usage.ru_stime);
    let sent =
        sent.ok_or_else(|| anyhow!("tracer export said no summary:\n{}", said.join("\n")))?;
    Ok((sent, cpu))
}

/// An OTLP/HTTP collector that accepts everything.
struct Sink {
    server: Arc<tiny_http::Server>,
    port: u16,
    requests: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

impl Sink {
    fn start() -> Result<Sink> {
        let server =
            Arc::new(tiny_http::Server::http("127.0.0.1:0").map_err(|e| anyhow!("sink: {e}"))?);
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or_else(|| anyhow!("sink: no port"))?;
        let (requests, bytes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (s, r, b) = (server.clone(), requests.clone(), bytes.clone());
        std::thread::spawn(move || {
            for mut req in s.incoming_requests() {
                let mut body = Vec::new();
                let _ = req.as_reader().read_to_end(&mut body);
                r.fetch_add(1, Ordering::Relaxed);
                b.fetch_add(body.len() as u64, Ordering::Relaxed);
                let _ = req.respond(tiny_http::Response::empty(200));
            }
        });
        Ok(Sink {
            server,
            port,
            requests,
            bytes,
        })
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

pub(crate) fn measure(
    tracer: &Path,
    workload: &Path,
    tmp: &Path,
    rounds: usize,
) -> Result<Vec<ShipCost>> {
    let _off = BpfStats::set(false)?;
    let sink = Sink::start()?;
    let otlp = format!("http://127.0.0.1:{}", sink.port);
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let metrics = format!("127.0.0.1:{metrics_port}");
    let modes: [(&'static str, Vec<&str>); 3] = [
        ("record --all-signals", vec![]),
        ("  --metrics", vec!["--metrics", &metrics]),
        ("  --otlp", vec!["--otlp", &otlp]),
    ];
    let log = tmp.join("ship.log");
    let mut costs = Vec::new();
    for (name, ops) in WORKLOADS {
        eprintln!("bench: record with --metrics and --otlp, {name} ({rounds} rounds)");
        let (req0, bytes0) = (
            sink.requests.load(Ordering::Relaxed),
            sink.bytes.load(Ordering::Relaxed),
        );
        let mut base = Vec::new();
        let mut ns: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
        let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
        let mut lost = vec![0u64; modes.len()];
        let mut otlp_dropped = 0;
        let mut exports = Vec::new();
        let mut no_ancestors = Vec::new();
        let (mut export_requests, mut export_bytes) = (0, 0);
        for _ in 0..rounds {
            base.push(workload_ns(workload, name, ops)? as f64);
            for (i, (_, extra)) in modes.iter().enumerate() {
                let (t, run) = record(tracer, extra, &log, workload, name, ops)?;
                let stats = run.stats;
                ns[i].push(t as f64);
                cpu[i].push(stats.cpu_ns as f64 / stats.events.max(1) as f64);
                lost[i] = lost[i].max(stats.lost);
                if let Some((_, dropped)) = run.otlp {
                    otlp_dropped = otlp_dropped.max(dropped);
                }
                // The plain recording of the signal storm: exported.
                if i == 0 && name == "signal" {
                    let (r, b) = (
                        sink.requests.load(Ordering::Relaxed),
                        sink.bytes.load(Ordering::Relaxed),
                    );
                    exports.push(export(tracer, &otlp, &[], &log)?);
                    let (records, cpu_s) = export(tracer, &otlp, &["--ancestors", "0"], &log)?;
                    no_ancestors.push(records as f64 / cpu_s.max(1e-9));
                    // Not the `--otlp` runs' traffic.
                    export_requests += sink.requests.load(Ordering::Relaxed) - r;
                    export_bytes += sink.bytes.load(Ordering::Relaxed) - b;
                }
            }
        }
        let _ = std::fs::remove_file(&log);
        let base = median(&mut base);
        let export = (!exports.is_empty()).then(|| {
            exports.sort_by(|a, b| (a.0 as f64 / a.1).total_cmp(&(b.0 as f64 / b.1)));
            let (records, cpu_s) = exports[exports.len() / 2];
            ExportCost {
                records,
                cpu_s,
                records_per_cpu_s: records as f64 / cpu_s.max(1e-9),
                no_ancestors_per_cpu_s: median(&mut no_ancestors),
            }
        });
        costs.push(ShipCost {
            workload: name,
            modes: modes
                .iter()
                .zip(ns.iter_mut().zip(cpu.iter_mut()).zip(&lost))
                .map(|((mode, _), ((ns, cpu), &lost))| ShipMode {
                    mode,
                    slowdown: median(ns) / base,
                    cpu_ns_per_event: median(cpu),
                    lost,
                })
                .collect(),
            otlp_requests: sink.requests.load(Ordering::Relaxed) - req0 - export_requests,
            otlp_bytes: sink.bytes.load(Ordering::Relaxed) - bytes0 - export_bytes,
            otlp_dropped,
            export,
        });
    }
    Ok(costs)
}

/// The targets: (what, met).
pub(crate) fn targets(costs: &[ShipCost]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for c in costs.iter().filter(|c| c.workload == "signal") {
        if let Some(e) = &c.export {
            out.push((
                format!(
                    "export --format otlp: >= 100,000 records per CPU-second ({:.0})",
                    e.records_per_cpu_s
                ),
                e.records_per_cpu_s >= EXPORT_TARGET,
            ));
        }
        if let Some(m) = c.modes.iter().find(|m| m.mode.trim() == "--otlp") {
            out.push((
                format!(
                    "record --otlp, signal storm: 0 lost in the rings ({} lost; exporter \
                     dropped {})",
                    m.lost, c.otlp_dropped
                ),
                m.lost == 0,
            ));
        }
    }
    out
}

pub(crate) fn format(costs: &[ShipCost]) -> String {
    let mut out = String::from(
        "\n--metrics and --otlp beside plain record (the collector: a sink on 127.0.0.1):\n\
         workload  mode                      slowdown  tracer CPU/event  ring losses\n",
    );
    for c in costs {
        for m in &c.modes {
            out.push_str(&format!(
                "{:<9} {:<25} {:>7.2}x  {:>13.0} ns  {:>11}\n",
                c.workload, m.mode, m.slowdown, m.cpu_ns_per_event, m.lost
            ));
        }
        out.push_str(&format!(
            "{:<9} OTLP: {} requests, {:.1} MB gzipped, exporter dropped {} records (most in a \
             round)\n",
            c.workload,
            c.otlp_requests,
            c.otlp_bytes as f64 / 1e6,
            c.otlp_dropped
        ));
        if let Some(e) = &c.export {
            out.push_str(&format!(
                "{:<9} export --format otlp of the log: {} records in {:.2} s of tracer CPU: \
                 {:.0} records per CPU-second ({:.0} with --ancestors 0)\n",
                c.workload, e.records, e.cpu_s, e.records_per_cpu_s, e.no_ancestors_per_cpu_s
            ));
        }
    }
    out
}

/// `--only ship`: the cost of `--metrics` and `--otlp` beside plain `record`.
pub(crate) struct ShipOnly;

impl Scenario for ShipOnly {
    type Measured = Vec<ShipCost>;

    fn measure(&self, ctx: &Ctx<'_>) -> Result<Self::Measured> {
        measure(&ctx.tracers.new, ctx.workload, &ctx.tmp, ctx.rounds)
    }

    fn format(&self, m: &Self::Measured) -> String {
        format(m)
    }

    fn targets(&self, m: &Self::Measured) -> Option<Vec<(String, bool)>> {
        Some(targets(m))
    }
}
