//! The kernel-thread requester part of `cargo xtask bench`: two
//! companions. `kthread_create` on `task_newtask` runs at every new task
//! and returns at once unless kthreadd made it; `kthread_wake` on
//! `sched_waking` runs at every wakeup in the system and returns after a
//! load or two unless the woken task is kthreadd (a request) or the waker
//! a new kernel thread in its first run. How often each runs and what a
//! run costs idle, in a wakeup storm (1M pipe round trips), in a fork+exec
//! storm, and during disk I/O on a loop device (which starts kernel
//! threads); and what the wakeup program costs the wakeup storm: its time
//! traced against untraced, in alternating rounds (target: 1.05x at most).

use std::{path::Path, process::Command, time::Instant};

use anyhow::{bail, Result};
use serde::Serialize;

use super::scenario::{Ctx, Scenario};
use crate::bench::common::{
    fixed, median, parse_stats, workload_ns, BpfStats, TracedRun, TRACE_DEFAULT,
};

const PROGRAMS: [&str; 2] = ["kthread_create", "kthread_wake"];

/// Pipe round trips per round of the slowdown measure.
const ROUND_TRIPS: u64 = 200_000;

/// The most the wakeup program may slow the wakeup storm.
const WAKEUP_SLOWDOWN: f64 = 1.05;

#[derive(Serialize)]
pub(crate) struct KthreadRate {
    pub(crate) context: &'static str,
    pub(crate) program: &'static str,
    pub(crate) runs: u64,
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) runs_per_s: f64,
    /// In-kernel ns per run.
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) ns: f64,
    /// The activity's wall time, traced.
    #[serde(serialize_with = "fixed::<3, _>")]
    pub(crate) secs: f64,
}

/// The wakeup storm's time per round trip, untraced and under `trace`
/// (statistics off), medians of alternating rounds.
#[derive(Serialize)]
pub(crate) struct WakeupCost {
    pub(crate) rounds: usize,
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) untraced_ns: f64,
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) traced_ns: f64,
    #[serde(serialize_with = "fixed::<3, _>")]
    pub(crate) slowdown: f64,
}

#[derive(Serialize)]
pub(crate) struct Kthreads {
    pub(crate) rates: Vec<KthreadRate>,
    pub(crate) wakeups: WakeupCost,
}

fn workload(workload: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new(workload).args(args).output()?;
    if !out.status.success() {
        bail!("the {} workload failed", args[0]);
    }
    Ok(())
}

/// Each context under `tracer trace`, BPF statistics on.
pub(crate) fn measure(tracer: &Path, load: &Path, tmp: &Path) -> Result<Vec<KthreadRate>> {
    let _on = BpfStats::set(true)?;
    let mut out = Vec::new();
    let contexts: [(&'static str, &dyn Fn() -> Result<()>); 4] = [
        ("idle", &|| {
            std::thread::sleep(std::time::Duration::from_secs(3));
            Ok(())
        }),
        ("wakeup storm (1M pipe round trips)", &|| {
            workload(load, &["pipe", "1000000"])
        }),
        ("fork+exec storm", &|| workload(load, &["forkexec", "2000"])),
        ("disk I/O on a loop device", &|| {
            super::workqueue::disk_io(tmp)
        }),
    ];
    for (context, activity) in contexts {
        eprintln!("bench: kernel-thread programs, {context}");
        let log = tmp.join("kthreads.log");
        let run = TracedRun::start(tracer, TRACE_DEFAULT, &["--kthread-times"], &log)?;
        let began = Instant::now();
        activity()?;
        let secs = began.elapsed().as_secs_f64();
        let stats = parse_stats(&run.stop(TRACE_DEFAULT)?)?;
        for program in PROGRAMS {
            let Some(p) = stats.programs.iter().find(|p| p.name == program) else {
                bail!("tracer did not attach {program}: kernel threads are not linked here");
            };
            out.push(KthreadRate {
                context,
                program,
                runs: p.runs,
                runs_per_s: p.runs as f64 / secs,
                ns: p.ns as f64 / p.runs.max(1) as f64,
                secs,
            });
        }
    }
    Ok(out)
}

/// The wakeup storm untraced and traced, alternating, `rounds` each
/// (statistics off: they would add their own cost to every run).
pub(crate) fn wakeup_cost(
    tracer: &Path,
    load: &Path,
    tmp: &Path,
    rounds: usize,
) -> Result<WakeupCost> {
    let _off = BpfStats::set(false)?;
    let (mut untraced, mut traced) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        eprintln!("bench: wakeup storm, round {} of {rounds}", round + 1);
        untraced.push(workload_ns(load, "pipe", ROUND_TRIPS)? as f64 / ROUND_TRIPS as f64);
        let log = tmp.join("wakeups.log");
        let run = TracedRun::start(tracer, TRACE_DEFAULT, &["--kthread-times"], &log)?;
        traced.push(workload_ns(load, "pipe", ROUND_TRIPS)? as f64 / ROUND_TRIPS as f64);
        run.stop(TRACE_DEFAULT)?;
    }
    let (untraced_ns, traced_ns) = (median(&mut untraced), median(&mut traced));
    Ok(WakeupCost {
        rounds,
        untraced_ns,
        traced_ns,
        slowdown: traced_ns / untraced_ns.max(1e-9),
    })
}

/// The results as printed.
pub(crate) fn format(m: &Kthreads) -> String {
    let mut out = String::from(
        "\nkernel-thread programs, kthread_create on task_newtask and kthread_wake on \
         sched_waking (trace):\n",
    );
    for r in &m.rates {
        out.push_str(&format!(
            "  {:<36} {:<15} {:>9} runs {:>9.0} runs/s {:>5.0} ns/run {:>7.3} s\n",
            r.context, r.program, r.runs, r.runs_per_s, r.ns, r.secs
        ));
    }
    let w = &m.wakeups;
    out.push_str(&format!(
        "  wakeup storm ({} pipe round trips, median of {} rounds): {:.0} ns untraced, \
         {:.0} ns traced per round trip: {:.3}x\n",
        ROUND_TRIPS, w.rounds, w.untraced_ns, w.traced_ns, w.slowdown
    ));
    out
}

/// `--only kthreads`.
pub(crate) struct KthreadsOnly;

impl Scenario for KthreadsOnly {
    type Measured = Kthreads;

    fn measure(&self, ctx: &Ctx<'_>) -> Result<Self::Measured> {
        Ok(Kthreads {
            rates: measure(&ctx.tracers.new, ctx.workload, &ctx.tmp)?,
            wakeups: wakeup_cost(
                &ctx.tracers.new,
                ctx.workload,
                &ctx.tmp,
                ctx.rounds.max(super::targets::MIN_ROUNDS),
            )?,
        })
    }

    fn format(&self, m: &Self::Measured) -> String {
        format(m)
    }

    fn targets(&self, m: &Self::Measured) -> Option<Vec<(String, bool)>> {
        let w = &m.wakeups;
        Some(vec![(
            format!(
                "wakeup storm under trace (the sched_waking program): <= {WAKEUP_SLOWDOWN}x \
                 ({:.3}x)",
                w.slowdown
            ),
            w.slowdown <= WAKEUP_SLOWDOWN,
        )])
    }

    /// A missed target is reported, not fatal: it is a cost to weigh.
    fn verdict(&self, _m: &Self::Measured, _targets: &[(String, bool)]) -> Result<()> {
        Ok(())
    }
}
