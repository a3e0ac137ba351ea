//! The `--metrics` and `--otlp` part of `cargo xtask bench`: `record` with
//! each beside plain `record`, on the fork+exec and signal storms.
//! `record` decodes every record into its task table either way (each
//! rotated log's header holds it); the exporters add building and sending
//! their records, so the tracer's CPU per event is shown with the
//! workload's slowdown. The collector is a sink on 127.0.0.1 that
//! answers 200 to every request and counts what it got.

use std::{
    path::Path,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use anyhow::{anyhow, Result};
use serde::Serialize;

use crate::bench::{fixed, median, parse_stats, workload_ns, BpfStats, TracedRun, RECORD};

const WORKLOADS: [(&str, u64); 2] = [("forkexec", 2000), ("signal", 1_000_000)];

#[derive(Serialize)]
pub struct ShipCost {
    pub workload: &'static str,
    /// `record --all-signals`, then with `--metrics`, then with `--otlp`.
    pub modes: Vec<ShipMode>,
    /// OTLP requests the sink received in the `--otlp` runs, and bytes.
    pub otlp_requests: u64,
    pub otlp_bytes: u64,
}

#[derive(Serialize)]
pub struct ShipMode {
    pub mode: &'static str,
    /// Median workload time over the untraced median.
    #[serde(serialize_with = "fixed::<3, _>")]
    pub slowdown: f64,
    /// The tracer's own CPU per event (user + system), median; start-up
    /// included, which dominates on the short fork+exec storm.
    #[serde(serialize_with = "fixed::<0, _>")]
    pub cpu_ns_per_event: f64,
    /// Events the rings lost, most in a round.
    pub lost: u64,
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

pub fn measure(tracer: &Path, workload: &Path, tmp: &Path, rounds: usize) -> Result<Vec<ShipCost>> {
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
        for _ in 0..rounds {
            base.push(workload_ns(workload, name, ops)? as f64);
            for (i, (_, extra)) in modes.iter().enumerate() {
                let run = TracedRun::start(tracer, RECORD, extra, &log)?;
                let t = workload_ns(workload, name, ops)?;
                let stats = parse_stats(&run.stop(RECORD)?)?;
                ns[i].push(t as f64);
                cpu[i].push(stats.cpu_ns as f64 / stats.events.max(1) as f64);
                lost[i] = lost[i].max(stats.lost);
            }
        }
        let base = median(&mut base);
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
            otlp_requests: sink.requests.load(Ordering::Relaxed) - req0,
            otlp_bytes: sink.bytes.load(Ordering::Relaxed) - bytes0,
        });
    }
    Ok(costs)
}

pub fn format(costs: &[ShipCost]) -> String {
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
            "{:<9} OTLP: {} requests, {:.1} MB gzipped\n",
            c.workload,
            c.otlp_requests,
            c.otlp_bytes as f64 / 1e6
        ));
    }
    out
}
