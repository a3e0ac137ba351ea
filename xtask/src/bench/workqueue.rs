//! The helper-requester part of `cargo xtask bench`: its two programs sit
//! on the workqueue tracepoints, which fire for every work item on the
//! machine, helpers or not. How often they fire idle, during a fork+exec
//! storm and during disk I/O on a loop device, and what a run costs there
//! (a compare of the item's function, and nothing more for other items).

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

use super::scenario::{Ctx, Scenario};
use crate::bench::common::{fixed, parse_stats, BpfStats, TracedRun, TRACE_DEFAULT};

/// The programs measured: the requester side and the start side.
const PROGRAMS: [&str; 2] = ["workqueue_queue_work", "workqueue_execute_start"];
const SECONDS: u64 = 3;

#[derive(Serialize)]
pub(crate) struct WorkqueueRate {
    pub(crate) context: &'static str,
    pub(crate) program: &'static str,
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) runs_per_s: f64,
    /// In-kernel ns per run.
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) ns: f64,
}

/// Each context under `tracer trace`, BPF statistics on.
pub(crate) fn measure(tracer: &Path, workload: &Path, tmp: &Path) -> Result<Vec<WorkqueueRate>> {
    let _on = BpfStats::set(true)?;
    let mut out = Vec::new();
    let contexts: [(&'static str, &dyn Fn() -> Result<()>); 3] = [
        ("idle", &|| {
            std::thread::sleep(Duration::from_secs(SECONDS));
            Ok(())
        }),
        ("fork+exec storm", &|| {
            let status = Command::new(workload).args(["forkexec", "2000"]).output()?;
            if !status.status.success() {
                bail!("the forkexec workload failed");
            }
            Ok(())
        }),
        ("disk I/O on a loop device", &|| disk_io(tmp)),
    ];
    for (context, activity) in contexts {
        eprintln!("bench: workqueue programs, {context}");
        let log = tmp.join("workqueue.log");
        let run = TracedRun::start(tracer, TRACE_DEFAULT, &[], &log)?;
        let began = Instant::now();
        activity()?;
        let secs = began.elapsed().as_secs_f64();
        let stats = parse_stats(&run.stop(TRACE_DEFAULT)?)?;
        for program in PROGRAMS {
            let Some(p) = stats.programs.iter().find(|p| p.name == program) else {
                bail!("tracer did not attach {program}: helper requesters are off here");
            };
            out.push(WorkqueueRate {
                context,
                program,
                runs_per_s: p.runs as f64 / secs,
                ns: p.ns as f64 / p.runs.max(1) as f64,
            });
        }
    }
    Ok(out)
}

/// Writes and syncs files on an ext4 image on a loop device for
/// [`SECONDS`] (unmounted and removed after, even on failure).
pub(super) fn disk_io(tmp: &Path) -> Result<()> {
    let image = tmp.join("wq.img");
    let mnt = tmp.join("wq.mnt");
    std::fs::create_dir_all(&mnt)?;
    let run = |cmd: &mut Command| -> Result<()> {
        let out = cmd.output().with_context(|| format!("{cmd:?}"))?;
        if !out.status.success() {
            bail!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    };
    std::fs::File::create(&image)?.set_len(64 << 20)?;
    run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&image))?;
    run(Command::new("mount")
        .args(["-o", "loop"])
        .arg(&image)
        .arg(&mnt))?;
    struct Mounted<'a>(&'a Path);
    impl Drop for Mounted<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let mounted = Mounted(&mnt);
    let began = Instant::now();
    let mut i = 0;
    while began.elapsed() < Duration::from_secs(SECONDS) {
        run(Command::new("dd")
            .arg("if=/dev/zero")
            .arg(format!("of={}/f{}", mnt.display(), i % 8))
            .args(["bs=64k", "count=64", "conv=fsync", "status=none"]))?;
        i += 1;
    }
    drop(mounted);
    let _ = std::fs::remove_file(&image);
    Ok(())
}

/// The results as printed.
pub(crate) fn format(rates: &[WorkqueueRate]) -> String {
    let mut out = String::from("\nhelper-requester programs on workqueue tracepoints (trace):\n");
    for r in rates {
        out.push_str(&format!(
            "  {:<26} {:<24} {:>9.0} runs/s {:>5.0} ns/run\n",
            r.context, r.program, r.runs_per_s, r.ns
        ));
    }
    out
}

/// `--only workqueue`: the workqueue programs' rates under disk I/O.
pub(crate) struct WorkqueueOnly;

impl Scenario for WorkqueueOnly {
    type Measured = Vec<WorkqueueRate>;

    fn measure(&self, ctx: &Ctx<'_>) -> Result<Self::Measured> {
        measure(&ctx.tracers.new, ctx.workload, &ctx.tmp)
    }

    fn format(&self, m: &Self::Measured) -> String {
        format(m)
    }
}
