//! `cargo xtask fuzz`: every cargo-fuzz target of tracer/fuzz, from the
//! committed seed corpora, for a bounded time.

use std::process::Command;

use anyhow::Result;

use crate::{
    cmd::{run, workspace_root, Tools},
    setup,
};

/// The fuzz targets (tracer/fuzz/fuzz_targets), with each one's share of
/// the fuzzing time in eighths: the log reader has the most to explore; the
/// parsers of option values (`--since`, sizes, durations) are small.
const FUZZ_TARGETS: [(&str, u32); 4] = [
    ("log_reader", 5),
    ("time_spec", 1),
    ("size", 1),
    ("duration", 1),
];

/// Runs every fuzz target, `seconds` in all, shared as [`FUZZ_TARGETS`]
/// says (at least a second each), from the committed seed corpora; new
/// inputs go to target/fuzz-corpus/TARGET, crashes to
/// tracer/fuzz/artifacts/ (and fail).
pub(crate) fn fuzz(tools: &Tools, seconds: u32) -> Result<()> {
    let fuzz_bin = setup::ensure_cargo_fuzz()?;
    let root = workspace_root();
    let mut path = std::ffi::OsString::from(&fuzz_bin);
    path.push(":");
    path.push(tools.path_env());
    // Built once per machine, not per clone: the targets link all of
    // tracer, instrumented (about 7 minutes from nothing on 2 CPUs); a
    // fresh clone then rebuilds only tracer and the targets.
    let target_dir = crate::cmd::cache_dir()?.join("fuzz-target");
    for (target, eighths) in FUZZ_TARGETS {
        let work = root.join("target/fuzz-corpus").join(target);
        std::fs::create_dir_all(&work)?;
        let share = (seconds * eighths / 8).max(1);
        run(Command::new("rustup")
            .args([
                "run",
                setup::NIGHTLY,
                "cargo",
                "fuzz",
                "run",
                "--fuzz-dir",
                "tracer/fuzz",
            ])
            .arg("--target-dir")
            .arg(&target_dir)
            .arg(target)
            .arg(&work)
            .arg(format!("tracer/fuzz/corpus/{target}"))
            .arg("--")
            .arg(format!("-max_total_time={share}"))
            .env("PATH", &path)
            .env_remove("RUSTC")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .current_dir(&root))?;
    }
    Ok(())
}
