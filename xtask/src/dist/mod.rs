//! `cargo xtask dist`: release artifacts for the architectures tracer
//! ships for. Each is a static musl binary with its eBPF object embedded,
//! so a machine needs nothing beside the one file.
//!
//! - [`static_tracer`] builds one (`static_build.rs`); the kernel-matrix
//!   and Debian-root tests use it too.
//! - [`deb`] packages one with its man pages, completions and the
//!   `tracer-record.service` unit (`deb.rs`, with dpkg-deb: why is there).
//! - `licenses.rs` writes the .deb's copyright: tracer's and every linked
//!   crate's license, from `cargo metadata`.
//! - `check.rs` checks what was built (`--check`, and `cargo xtask test`),
//!   with `elf.rs` reading the binaries' headers.

mod artifacts;
mod check;
mod deb;
mod elf;
mod licenses;
mod static_build;

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{ensure, Context as _, Result};
pub(crate) use artifacts::{out_dir, tracer_version, Artifacts};
pub(crate) use deb::deb;
pub(crate) use static_build::static_tracer;

pub(crate) use crate::cmd::Arch;
use crate::setup;

/// `cargo xtask dist`: in `target/dist/`, the static binaries (named
/// `tracer-<version>-<triple>`) and the .debs, with their SHA-256 sums in
/// `SHA256SUMS`; with `check`, then checks them all.
pub(crate) fn dist(tools: &setup::Tools, check: bool) -> Result<u64> {
    let artifacts = build(tools)?;
    if !check {
        return Ok(0);
    }
    setup::ensure_dist_packages()?;
    check::check(&artifacts)
}

fn build(tools: &setup::Tools) -> Result<Artifacts> {
    let version = tracer_version()?;
    let out = out_dir();
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut artifacts = Artifacts {
        binaries: Vec::new(),
        debs: Vec::new(),
    };
    for arch in Arch::ALL {
        let exe = static_tracer(tools, arch)?;
        let copy = out.join(format!("tracer-{version}-{}", arch.triple()));
        copy_file(&exe, &copy)?;
        artifacts.binaries.push((arch, copy));
    }
    for arch in Arch::ALL {
        artifacts.debs.push((arch, deb(tools, arch)?));
    }
    let all: Vec<&PathBuf> = artifacts
        .binaries
        .iter()
        .chain(&artifacts.debs)
        .map(|(_, p)| p)
        .collect();
    write_sums(&out, &all)?;
    for path in all {
        let size = fs::metadata(path)?.len();
        println!("xtask: {} ({:.1} MiB)", path.display(), size as f64 / MIB);
    }
    Ok(artifacts)
}

const MIB: f64 = 1024.0 * 1024.0;

/// Copies `from` to `to`, replacing it (a copy, not a link: target/dist is
/// what gets uploaded).
fn copy_file(from: &Path, to: &Path) -> Result<()> {
    let _ = fs::remove_file(to);
    fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// `SHA256SUMS` beside the artifacts, in the format `sha256sum -c` checks.
fn write_sums(dir: &Path, paths: &[&PathBuf]) -> Result<()> {
    let names = paths.iter().filter_map(|p| p.file_name());
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
