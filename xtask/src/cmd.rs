//! What every xtask module shares: running commands, cargo with the tools
//! on PATH, the workspace root, the per-user cache, the released
//! architectures. It imports no other xtask module.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context as _, Result};

/// Runs `cmd`, failing with its command line if it does not succeed.
pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("failed to start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// The tools `cargo xtask setup` installed.
pub(crate) struct Tools {
    /// Holds `bpf-linker`.
    pub(crate) bin_dir: PathBuf,
}

impl Tools {
    /// PATH with our bin dir first.
    pub(crate) fn path_env(&self) -> OsString {
        let mut paths = vec![self.bin_dir.clone()];
        if let Some(path) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&path));
        }
        std::env::join_paths(paths).expect("PATH entries contain no ':'")
    }
}

/// cargo (the one running xtask) with the tools on PATH.
pub(crate) fn cargo(tools: &Tools) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.env("PATH", tools.path_env());
    cmd
}

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// The per-user cache of tools, kernels and roots, outside the work tree.
pub(crate) fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("tracer"));
    }
    let home = std::env::var_os("HOME").context("neither XDG_CACHE_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cache/tracer"))
}

/// Whether xtask runs as root.
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// An architecture tracer is released for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arch {
    X86_64,
    Arm64,
}

impl Arch {
    pub(crate) const ALL: [Arch; 2] = [Arch::X86_64, Arch::Arm64];

    /// The Rust target the release binary is built for.
    pub(crate) fn triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-musl",
            Arch::Arm64 => "aarch64-unknown-linux-musl",
        }
    }

    /// The architecture of this machine, whose binaries run here.
    pub(crate) fn host() -> Result<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Ok(Arch::X86_64),
            "aarch64" => Ok(Arch::Arm64),
            other => bail!("tracer is not released for {other}"),
        }
    }

    /// Debian's name for the architecture (the .deb's `Architecture:`).
    pub(crate) fn deb_arch(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }
}
