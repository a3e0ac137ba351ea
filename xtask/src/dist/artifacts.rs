//! What `cargo xtask dist` makes and where: the artifacts, their
//! directory, tracer's version (in their names).

use std::{path::PathBuf, process::Command};

use anyhow::{ensure, Context as _, Result};

use crate::cmd::{workspace_root, Arch};

/// What `cargo xtask dist` made, in `target/dist/`.
pub(crate) struct Artifacts {
    pub(crate) binaries: Vec<(Arch, PathBuf)>,
    pub(crate) debs: Vec<(Arch, PathBuf)>,
}

/// Where the artifacts go.
pub(crate) fn out_dir() -> PathBuf {
    workspace_root().join("target/dist")
}

/// tracer's version, as its Cargo.toml says (through cargo, which parses it).
pub(crate) fn tracer_version() -> Result<String> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(workspace_root())
        .output()
        .context("running cargo metadata")?;
    ensure!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("parsing cargo metadata")?;
    meta["packages"]
        .as_array()
        .and_then(|pkgs| pkgs.iter().find(|p| p["name"] == "tracer"))
        .and_then(|p| p["version"].as_str())
        .map(str::to_owned)
        .context("cargo metadata lists no tracer package with a version")
}

pub(crate) fn packaging_dir() -> PathBuf {
    workspace_root().join("tracer/packaging")
}
