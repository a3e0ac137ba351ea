//! The kernel-thread requester part of `cargo xtask bench`: its one
//! program is a companion on `task_newtask`, so it runs at every new task
//! and returns at once unless kthreadd made it, and it has no program on
//! wakeups. How often it runs and what a run costs idle, in a wakeup storm
//! (1M pipe round trips: it must not run), in a fork+exec storm, and
//! during disk I/O on a loop device (which starts kernel threads).

use std::{path::Path, process::Command, time::Instant};

use anyhow::{bail, Result};
use serde::Serialize;

use super::scenario::{Ctx, Scenario};
use crate::bench::common::{fixed, parse_stats, BpfStats, TracedRun, TRACE_DEFAULT};

const PROGRAM: &str = "kthread_create";

#[derive(Serialize)]
pub(crate) struct KthreadRate {
    pub(crate) context: &'static str,
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
        eprintln!("bench: kernel-thread program, {context}");
        let log = tmp.join("kthreads.log");
        let run = TracedRun::start(tracer, TRACE_DEFAULT, &[], &log)?;
        let began = Instant::now();
        activity()?;
        let secs = began.elapsed().as_secs_f64();
        let stats = parse_stats(&run.stop(TRACE_DEFAULT)?)?;
        let Some(p) = stats.programs.iter().find(|p| p.name == PROGRAM) else {
            bail!("tracer did not attach {PROGRAM}: kernel threads are not linked here");
        };
        out.push(KthreadRate {
            context,
            runs: p.runs,
            runs_per_s: p.runs as f64 / secs,
            ns: p.ns as f64 / p.runs.max(1) as f64,
            secs,
        });
    }
    Ok(out)
}

/// The results as printed.
pub(crate) fn format(rates: &[KthreadRate]) -> String {
    let mut out = String::from("\nkernel-thread requester program on task_newtask (trace):\n");
    for r in rates {
        out.push_str(&format!(
            "  {:<36} {:>9} runs {:>9.0} runs/s {:>5.0} ns/run {:>7.3} s\n",
            r.context, r.runs, r.runs_per_s, r.ns, r.secs
        ));
    }
    out
}

/// `--only kthreads`.
pub(crate) struct KthreadsOnly;

impl Scenario for KthreadsOnly {
    type Measured = Vec<KthreadRate>;

    fn measure(&self, ctx: &Ctx<'_>) -> Result<Self::Measured> {
        measure(&ctx.tracers.new, ctx.workload, &ctx.tmp)
    }

    fn format(&self, m: &Self::Measured) -> String {
        format(m)
    }
}
