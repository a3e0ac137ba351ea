//! What a bench scenario is (it measures, formats its results, judges its
//! targets) and the one driver that runs any of them.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{
    baseline::Tracers,
    common::{fail_if_missed, format_targets, machine},
};

/// What every scenario is given.
pub(crate) struct Ctx<'a> {
    /// Alternating untraced/traced runs per cell.
    pub(crate) rounds: usize,
    /// The build under test, and the `--baseline` build if any.
    pub(crate) tracers: &'a Tracers,
    pub(crate) workload: &'a Path,
    /// A scratch directory, removed after measuring.
    pub(crate) tmp: PathBuf,
}

/// One part of the bench, run alone or as part of the whole.
pub(crate) trait Scenario {
    /// What one run measured.
    type Measured;

    /// The scratch directory's name, before `-PID`.
    const TMP: &'static str = "tracer-bench";

    /// Whether the output opens with a `machine:` line.
    const MACHINE_LINE: bool = true;

    fn measure(&self, ctx: &Ctx<'_>) -> Result<Self::Measured>;

    /// The results as printed.
    fn format(&self, m: &Self::Measured) -> String;

    /// The targets, each (what, met); `None`: the scenario has none (and
    /// prints no targets section).
    fn targets(&self, _m: &Self::Measured) -> Option<Vec<(String, bool)>> {
        None
    }

    /// Writes the results' JSON into `dir`; returns its path, if it has one.
    fn save(&self, _m: &Self::Measured, _dir: &Path) -> Result<Option<PathBuf>> {
        Ok(None)
    }

    /// Whether the run fails: by default, when a hostile-input bound is
    /// missed.
    fn verdict(&self, _m: &Self::Measured, targets: &[(String, bool)]) -> Result<()> {
        fail_if_missed(targets)
    }
}

/// Measures `scenario` in a scratch directory, prints its results and
/// targets, saves its JSON into `out_dir`, and fails as it says.
pub(crate) fn drive<S: Scenario>(
    scenario: &S,
    rounds: usize,
    tracers: &Tracers,
    workload: &Path,
    out_dir: &Path,
) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!("{}-{}", S::TMP, std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let ctx = Ctx {
        rounds,
        tracers,
        workload,
        tmp: tmp.clone(),
    };
    let measured = scenario.measure(&ctx);
    let _ = std::fs::remove_dir_all(&tmp);
    let measured = measured?;
    let targets = scenario.targets(&measured);
    let mut out = String::new();
    if S::MACHINE_LINE {
        out = format!("machine: {}\n", machine());
    }
    out.push_str(&scenario.format(&measured));
    if let Some(targets) = &targets {
        out.push_str(&format_targets(targets));
    }
    print!("{out}");
    if let Some(path) = scenario.save(&measured, out_dir)? {
        println!("\nJSON: {}", path.display());
    }
    scenario.verdict(&measured, targets.as_deref().unwrap_or_default())
}
