//! The `tracer top` part of `cargo xtask bench`: the screen's own CPU at
//! idle and during the fork+exec storm (in a tmux pane, as a user's
//! terminal), and the storm's slowdown under `top` against `trace`.

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

use super::scenario::{Ctx, Scenario};
use crate::bench::common::{fixed, median, workload_ns, TracedRun, TRACE_DEFAULT};

const STORM: (&str, u64) = ("forkexec", 2000);
/// Seconds of idle measured.
const IDLE: Duration = Duration::from_secs(10);
const TMUX: &str = "/usr/bin/tmux";

#[derive(Serialize)]
pub(crate) struct TopCost {
    /// tracer top's CPU, percent of one core, idle and during the storm.
    #[serde(serialize_with = "fixed::<2, _>")]
    pub(crate) idle_cpu_pct: f64,
    #[serde(serialize_with = "fixed::<2, _>")]
    pub(crate) storm_cpu_pct: f64,
    /// Median slowdown of the storm under `trace` and under `top`.
    #[serde(serialize_with = "fixed::<3, _>")]
    pub(crate) slowdown_trace: f64,
    #[serde(serialize_with = "fixed::<3, _>")]
    pub(crate) slowdown_top: f64,
}

/// `tracer top` in a detached 120×40 tmux pane; killed on drop.
struct Screen {
    session: String,
    pid: u32,
}

impl Screen {
    fn start(tracer: &Path) -> Result<Screen> {
        let session = format!("tracer-bench-top-{}", std::process::id());
        let _ = Command::new(TMUX)
            .args(["kill-session", "-t", &session])
            .output();
        let ok = Command::new(TMUX)
            .args(["new-session", "-d", "-s", &session, "-x", "120", "-y", "40"])
            .arg(format!("{} top", tracer.display()))
            .status()
            .context("tmux (needed to give `tracer top` a terminal)")?;
        if !ok.success() {
            bail!("tmux new-session failed");
        }
        let out = Command::new(TMUX)
            .args(["display-message", "-p", "-t", &session, "#{pane_pid}"])
            .output()?;
        let pid = String::from_utf8_lossy(&out.stdout).trim().parse()?;
        let screen = Screen { session, pid };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !screen.capture()?.contains("tracer top | live") {
            if Instant::now() > deadline {
                bail!("tracer top did not start:\n{}", screen.capture()?);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(screen)
    }

    fn capture(&self) -> Result<String> {
        let out = Command::new(TMUX)
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// CPU seconds the screen's process used so far: every thread's
    /// schedstat (ns; the stat file's clock ticks are too coarse for a
    /// storm of a second or two).
    fn cpu_secs(&self) -> Result<f64> {
        let mut ns = 0u64;
        for task in std::fs::read_dir(format!("/proc/{}/task", self.pid))? {
            let stat = std::fs::read_to_string(task?.path().join("schedstat"))?;
            ns += stat
                .split_whitespace()
                .next()
                .context("schedstat")?
                .parse::<u64>()?;
        }
        Ok(ns as f64 / 1e9)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = Command::new(TMUX)
            .args(["send-keys", "-t", &self.session, "q"])
            .status();
        std::thread::sleep(Duration::from_millis(500));
        let _ = Command::new(TMUX)
            .args(["kill-session", "-t", &self.session])
            .output();
    }
}

pub(crate) fn measure(
    tracer: &Path,
    workload: &Path,
    tmp: &Path,
    rounds: usize,
) -> Result<TopCost> {
    eprintln!(
        "bench: tracer top, idle {}s and the {} storm ({rounds} rounds)",
        IDLE.as_secs(),
        STORM.0
    );
    let (mut base, mut trace, mut top) = (Vec::new(), Vec::new(), Vec::new());
    let (mut idle, mut storm) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        base.push(workload_ns(workload, STORM.0, STORM.1)? as f64);
        let run = TracedRun::start(tracer, TRACE_DEFAULT, &[], &tmp.join("top.log"))?;
        trace.push(workload_ns(workload, STORM.0, STORM.1)? as f64);
        run.stop(TRACE_DEFAULT)?;

        let screen = Screen::start(tracer)?;
        std::thread::sleep(Duration::from_secs(2));
        let (t0, c0) = (Instant::now(), screen.cpu_secs()?);
        std::thread::sleep(IDLE);
        let (t1, c1) = (Instant::now(), screen.cpu_secs()?);
        idle.push((c1 - c0) / t1.duration_since(t0).as_secs_f64() * 100.0);
        let ns = workload_ns(workload, STORM.0, STORM.1)? as f64;
        let (t2, c2) = (Instant::now(), screen.cpu_secs()?);
        top.push(ns);
        storm.push((c2 - c1) / t2.duration_since(t1).as_secs_f64() * 100.0);
    }
    let b = median(&mut base);
    Ok(TopCost {
        idle_cpu_pct: median(&mut idle),
        storm_cpu_pct: median(&mut storm),
        slowdown_trace: median(&mut trace) / b,
        slowdown_top: median(&mut top) / b,
    })
}

pub(crate) fn format(c: &TopCost) -> String {
    format!(
        "\ntracer top (in a 120x40 tmux pane), {} storm of {} ops:\n  \
         cpu {:.2}% of a core idle, {:.2}% during the storm; \
         storm slowdown {:.2}x under top, {:.2}x under trace\n",
        STORM.0, STORM.1, c.idle_cpu_pct, c.storm_cpu_pct, c.slowdown_top, c.slowdown_trace
    )
}

/// `--only top`.
pub(crate) struct TopOnly;

impl Scenario for TopOnly {
    type Measured = TopCost;

    fn measure(&self, ctx: &Ctx<'_>) -> Result<Self::Measured> {
        measure(&ctx.tracers.new, ctx.workload, &ctx.tmp, ctx.rounds)
    }

    fn format(&self, m: &Self::Measured) -> String {
        format(m)
    }

    fn targets(&self, m: &Self::Measured) -> Option<Vec<(String, bool)>> {
        Some(vec![
            (
                format!("top idle cpu < 3% ({:.2}%)", m.idle_cpu_pct),
                m.idle_cpu_pct < 3.0,
            ),
            (
                format!("top storm cpu < 25% ({:.2}%)", m.storm_cpu_pct),
                m.storm_cpu_pct < 25.0,
            ),
            (
                format!(
                    "storm slowdown under top no worse than under trace, 5% noise allowed \
                     ({:.2}x vs {:.2}x)",
                    m.slowdown_top, m.slowdown_trace
                ),
                m.slowdown_top <= m.slowdown_trace * 1.05,
            ),
        ])
    }
}
