//! `cargo xtask dist`: release artifacts for the architectures tracer
//! ships for. Each is a static musl binary with its eBPF object embedded,
//! so a machine needs nothing beside the one file.
//!
//! - [`static_tracer`] builds one (`static_build.rs`); the kernel-matrix
//!   and Debian-root tests use it too.

mod static_build;

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{ensure, Context as _, Result};
pub use static_build::static_tracer;

use crate::{setup, workspace_root};

/// An architecture tracer is released for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Arm64,
}

impl Arch {
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Arm64];

    /// The Rust target the release binary is built for.
    pub fn triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-musl",
            Arch::Arm64 => "aarch64-unknown-linux-musl",
        }
    }

    /// Debian's name for the architecture (the .deb's `Architecture:`).
    pub fn deb_arch(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }
}

/// `cargo xtask dist`: the static binaries in `target/dist/`, named
/// `tracer-<version>-<triple>`, and their SHA-256 sums in `SHA256SUMS`.
pub fn dist(tools: &setup::Tools) -> Result<()> {
    let version = tracer_version()?;
    let out = out_dir();
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut artifacts = Vec::new();
    for arch in Arch::ALL {
        let exe = static_tracer(tools, arch)?;
        let name = format!("tracer-{version}-{}", arch.triple());
        copy(&exe, &out.join(&name))?;
        artifacts.push(name);
    }
    write_sums(&out, &artifacts)?;
    for name in &artifacts {
        let size = fs::metadata(out.join(name))?.len();
        println!("xtask: target/dist/{name} ({:.1} MiB)", size as f64 / MIB);
    }
    Ok(())
}

const MIB: f64 = 1024.0 * 1024.0;

/// Where the artifacts go.
pub fn out_dir() -> PathBuf {
    workspace_root().join("target/dist")
}

/// tracer's version, as its Cargo.toml says (through cargo, which parses it).
pub fn tracer_version() -> Result<String> {
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

/// Copies `from` to `to`, replacing it (a copy, not a link: target/dist is
/// what gets uploaded).
fn copy(from: &Path, to: &Path) -> Result<()> {
    let _ = fs::remove_file(to);
    fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// `SHA256SUMS` beside the artifacts, in the format `sha256sum -c` checks.
fn write_sums(dir: &Path, names: &[String]) -> Result<()> {
    let out = Command::new("sha256sum")
        .args(names)
        .current_dir(dir)
        .output()
        .context("running sha256sum")?;
    ensure!(
        out.status.success(),
        "sha256sum failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::write(dir.join("SHA256SUMS"), &out.stdout).context("writing SHA256SUMS")
}
