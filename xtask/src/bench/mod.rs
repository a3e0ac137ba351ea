//! `cargo xtask bench`: workload slowdown, events/s, losses, in-kernel ns
//! per event, tracer CPU per event, peak RSS, start-up time and memory at
//! 100,000 tasks, all measured in one run on this machine.
//!
//! This file only dispatches: each scenario is a module behind the
//! [`scenario::Scenario`] trait (measure, format, targets), which
//! [`scenario::drive`] runs. The default run is `whole` (the single storms
//! of `storms`, with `baseline` for `--baseline`, `nesting`, then every
//! part; `report` measures and prints it, `targets` judges it);
//! `parallel` runs the storms N at a time; `hostile` (with `metrics`),
//! `ship`, `follow`, `rotate`, `throttle`, `failed_execs` and `workqueue`
//! are the parts, each runnable alone with `--only`. `common` holds what
//! they share (the modes, a traced run, its statistics), `peers` the other
//! tracers measured beside tracer.

mod baseline;
mod common;
mod failed_execs;
mod follow;
mod hostile;
mod kthreads;
mod metrics;
mod nesting;
mod parallel;
mod parquet;
mod peers;
mod report;
mod rotate;
mod scenario;
mod ship;
mod storms;
mod targets;
mod throttle;
mod top;
mod whole;
mod workqueue;

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::ValueEnum;

use crate::cmd::{cargo, run as run_cmd, workspace_root, Tools};

/// A part of the bench run alone (`--only`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Only {
    /// The hostile-input bounds: crafted logs (no root needed) and a
    /// flooded `--metrics` endpoint (needs root; without it, not measured).
    Hostile,
    /// The flooded `--metrics` endpoint alone.
    Metrics,
    /// `record` with `--metrics` and `--otlp` beside plain `record`.
    Ship,
    /// The in-kernel cost of following a command (`trace -- CMD`).
    Follow,
    /// `record --dir` with and without `--compress`: zstd's ratio and CPU
    /// cost.
    Rotate,
    /// The per-source throttle: the check's in-kernel cost and the storm
    /// rates at which each kind starts to be throttled.
    Throttle,
    /// The cost of `--failed-execs` on a signal storm.
    FailedExecs,
    /// The workqueue programs' rates under disk I/O.
    Workqueue,
    /// `tracer top`'s CPU idle and during the fork+exec storm (in tmux),
    /// and the storm's slowdown under it against `trace`.
    Top,
    /// `export --format parquet` of 1M- and 10M-event logs: events/s,
    /// size against the raw and zstd log, peak RSS (no root needed).
    Parquet,
    /// The kernel-thread requester program: its rate and cost idle, in a
    /// wakeup storm, a fork+exec storm and disk I/O.
    Kthreads,
}

impl Only {
    /// Whether it runs the workload generator.
    fn needs_workload(self) -> bool {
        !matches!(self, Only::Hostile | Only::Metrics | Only::Parquet)
    }
}

/// `cargo xtask bench`'s options.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("scenario").multiple(false)))]
pub(crate) struct Args {
    /// Alternating untraced/traced runs per cell (medians are compared;
    /// the ratio targets need at least 5).
    #[arg(long, default_value_t = 5)]
    pub(crate) rounds: usize,
    /// Only this part of the bench.
    #[arg(long, value_enum, value_name = "SCENARIO", group = "scenario")]
    pub(crate) only: Option<Only>,
    /// `--only hostile`.
    #[arg(long, hide = true, group = "scenario")]
    hostile_only: bool,
    /// `--only ship`.
    #[arg(long, hide = true, group = "scenario")]
    ship_only: bool,
    /// `--only follow`.
    #[arg(long, hide = true, group = "scenario")]
    follow_only: bool,
    /// `--only rotate`.
    #[arg(long, hide = true, group = "scenario")]
    rotate_only: bool,
    /// `--only throttle`.
    #[arg(long, hide = true, group = "scenario")]
    throttle_only: bool,
    /// The storms N at a time instead, for each N given (`all`: one per
    /// online CPU), e.g. `--parallel 1,2,all`.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "N,...",
        conflicts_with = "scenario"
    )]
    pub(crate) parallel: Vec<String>,
    /// Another tracer build (e.g. a release build of main from before a
    /// change) measured side by side: each cell's rounds alternate
    /// untraced, old and new runs, and the table shows both ratios and
    /// their difference; the targets judge the new build.
    #[arg(long, value_name = "BINARY", conflicts_with = "scenario")]
    pub(crate) baseline: Option<PathBuf>,
    /// A prebuilt tracer (with --workload: no set-up, no build, no
    /// cargo needed, e.g. on another machine with the static binaries).
    #[arg(long, requires = "workload", value_name = "PATH")]
    tracer: Option<PathBuf>,
    /// A prebuilt workload (xtask's `workload` binary).
    #[arg(long, requires = "tracer", value_name = "PATH")]
    workload: Option<PathBuf>,
    /// Where the JSON results go (default: target/bench, or the current
    /// directory away from a checkout).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// The binaries the bench runs: (tracer, workload).
pub(crate) struct Binaries {
    tracer: PathBuf,
    workload: PathBuf,
}

impl Args {
    /// The scenario chosen, by `--only` or one of its older spellings.
    pub(crate) fn only(&self) -> Option<Only> {
        let aliases = [
            (self.hostile_only, Only::Hostile),
            (self.ship_only, Only::Ship),
            (self.follow_only, Only::Follow),
            (self.rotate_only, Only::Rotate),
            (self.throttle_only, Only::Throttle),
        ];
        self.only
            .or_else(|| aliases.iter().find(|(set, _)| *set).map(|(_, only)| *only))
    }

    /// `--tracer` and `--workload`, when both are given.
    pub(crate) fn prebuilt(&self) -> Option<Binaries> {
        Some(Binaries {
            tracer: self.tracer.clone()?,
            workload: self.workload.clone()?,
        })
    }
}

/// Builds tracer (and the workload, where the scenario runs it) in
/// release mode, then runs the bench with them.
pub(crate) fn build_and_run(tools: &Tools, args: &Args) -> Result<()> {
    run_cmd(cargo(tools).args(["build", "--release", "--package", "tracer"]))?;
    if args.only().is_none_or(Only::needs_workload) {
        run_cmd(cargo(tools).args([
            "build",
            "--release",
            "--package",
            "xtask",
            "--bin",
            "workload",
        ]))?;
    }
    let target = workspace_root().join("target/release");
    run(
        args,
        &Binaries {
            tracer: target.join("tracer"),
            workload: target.join("workload"),
        },
    )
}

/// The bench with these binaries: the scenario `--only` names, the
/// parallel storms, or the whole bench.
pub(crate) fn run(args: &Args, bin: &Binaries) -> Result<()> {
    check_binary(&bin.tracer, "--tracer")?;
    let only = args.only();
    if only.is_none_or(Only::needs_workload) {
        check_binary(&bin.workload, "--workload")?;
    }
    if let Some(old) = &args.baseline {
        check_binary(old, "--baseline")?;
    }
    let tracers = baseline::Tracers {
        new: bin.tracer.clone(),
        old: args.baseline.clone(),
    };
    let out_dir = args.out.clone().unwrap_or_else(default_out_dir);
    let (rounds, workload) = (args.rounds, bin.workload.as_path());
    macro_rules! drive {
        ($scenario:expr) => {
            scenario::drive(&$scenario, rounds, &tracers, workload, &out_dir)
        };
    }
    match only {
        Some(Only::Hostile) => drive!(hostile::HostileOnly),
        Some(Only::Metrics) => drive!(metrics::MetricsOnly),
        Some(Only::Ship) => drive!(ship::ShipOnly),
        Some(Only::Follow) => drive!(follow::FollowOnly),
        Some(Only::Rotate) => drive!(rotate::RotateOnly),
        Some(Only::Throttle) => drive!(throttle::ThrottleOnly),
        Some(Only::FailedExecs) => drive!(failed_execs::FailedExecsOnly),
        Some(Only::Workqueue) => drive!(workqueue::WorkqueueOnly),
        Some(Only::Top) => drive!(top::TopOnly),
        Some(Only::Parquet) => drive!(parquet::ParquetOnly),
        Some(Only::Kthreads) => drive!(kthreads::KthreadsOnly),
        None if args.parallel.is_empty() => drive!(whole::Whole),
        None => drive!(parallel::Parallel {
            counts: parallel::parse_counts(&args.parallel)?,
        }),
    }
}

/// Where bench JSON goes: target/bench in this checkout, else (a prebuilt
/// xtask on another machine) the current directory.
fn default_out_dir() -> PathBuf {
    let root = workspace_root();
    if root.join("Cargo.toml").exists() {
        root.join("target/bench")
    } else {
        PathBuf::from(".")
    }
}

/// Checks a prebuilt binary is there, so a typo fails before the bench.
fn check_binary(path: &Path, what: &str) -> Result<()> {
    if !path.is_file() {
        bail!("{what} {} is not a file", path.display());
    }
    Ok(())
}
