//! The following part of `cargo xtask bench`: the in-kernel cost per run of
//! the fork, exec and exit programs when a session follows a command
//! (`trace -- CMD`), for the followed storm's own events (a map lookup,
//! and a map insert per fork) and for everyone else's, which are dropped
//! before a record is reserved (the same storm beside `--follow` of an idle
//! process). BPF statistics on; one fork+exec storm each.

use std::{
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Command, Stdio},
};

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

use super::scenario::{Ctx, Scenario};
use crate::bench::common::{
    fixed, parse_stats, workload_ns, BpfStats, ProgramStats, TracedRun, STATS_PREFIX, TRACE_DEFAULT,
};

const WORKLOAD: (&str, u64) = ("forkexec", 2000);
const PROGRAMS: [&str; 3] = ["task_newtask", "sched_process_exec", "sched_process_exit"];

#[derive(Serialize)]
pub(crate) struct FollowCost {
    pub(crate) program: String,
    /// ns per run not following, following the storm, and following
    /// something else while the storm runs (its events dropped).
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) plain_ns: f64,
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) followed_ns: f64,
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) dropped_ns: f64,
}

fn per_run(stats: &[ProgramStats], program: &str) -> f64 {
    stats
        .iter()
        .find(|p| p.name == program)
        .map_or(f64::NAN, |p| p.ns as f64 / p.runs.max(1) as f64)
}

/// `tracer trace --bench-stats -- WORKLOAD`: its statistics once the
/// followed storm has ended (and tracer with it).
fn followed(tracer: &Path, workload: &Path) -> Result<Vec<ProgramStats>> {
    let mut child = Command::new(tracer)
        .args(["trace", "--bench-stats", "--"])
        .arg(workload)
        .args([WORKLOAD.0, &WORKLOAD.1.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting tracer -- workload")?;
    let mut stats = None;
    for line in BufReader::new(child.stderr.take().expect("piped")).lines() {
        if let Some(json) = line?.strip_prefix(STATS_PREFIX) {
            stats = Some(json.to_string());
        }
    }
    let status = child.wait()?;
    match (status.success(), stats) {
        (true, Some(json)) => Ok(parse_stats(&json)?.programs),
        _ => bail!("tracer -- workload failed: {status}"),
    }
}

/// The storm under a session that follows an idle process instead.
fn dropped(tracer: &Path, workload: &Path, tmp: &Path) -> Result<Vec<ProgramStats>> {
    let mut idle = Command::new("sleep")
        .arg("600")
        .spawn()
        .context("starting sleep")?;
    let pid = idle.id().to_string();
    let run = TracedRun::start(
        tracer,
        TRACE_DEFAULT,
        &["--follow", &pid],
        &tmp.join("follow.log"),
    );
    let result = run.and_then(|run| {
        workload_ns(workload, WORKLOAD.0, WORKLOAD.1)?;
        run.stop(TRACE_DEFAULT)
    });
    let _ = idle.kill();
    let _ = idle.wait();
    Ok(parse_stats(&result?)?.programs)
}

pub(crate) fn measure(tracer: &Path, workload: &Path, tmp: &Path) -> Result<Vec<FollowCost>> {
    eprintln!("bench: following a command (fork+exec storm, BPF statistics on)");
    let _on = BpfStats::set(true)?;
    let plain = {
        let run = TracedRun::start(tracer, TRACE_DEFAULT, &[], &tmp.join("plain.log"))?;
        workload_ns(workload, WORKLOAD.0, WORKLOAD.1)?;
        parse_stats(&run.stop(TRACE_DEFAULT)?)?.programs
    };
    let followed = followed(tracer, workload)?;
    let dropped = dropped(tracer, workload, tmp)?;
    Ok(PROGRAMS
        .iter()
        .map(|p| FollowCost {
            program: p.to_string(),
            plain_ns: per_run(&plain, p),
            followed_ns: per_run(&followed, p),
            dropped_ns: per_run(&dropped, p),
        })
        .collect())
}

pub(crate) fn format(costs: &[FollowCost]) -> String {
    let mut out = format!(
        "\nfollowing (`trace -- CMD`), in-kernel ns per run, fork+exec storm of {}:\n  \
         program              not following  followed  others' (dropped)\n",
        WORKLOAD.1
    );
    for c in costs {
        out.push_str(&format!(
            "  {:<20} {:>10.0} ns {:>7.0} ns {:>12.0} ns\n",
            c.program, c.plain_ns, c.followed_ns, c.dropped_ns
        ));
    }
    out
}

/// `--only follow`: the in-kernel cost of following a command.
pub(crate) struct FollowOnly;

impl Scenario for FollowOnly {
    type Measured = Vec<FollowCost>;

    const MACHINE_LINE: bool = false;

    fn measure(&self, ctx: &Ctx<'_>) -> Result<Self::Measured> {
        measure(&ctx.tracers.new, ctx.workload, &ctx.tmp)
    }

    fn format(&self, m: &Self::Measured) -> String {
        format(m)
    }
}
