//! Stand-in for `crate::dist` (branch `dist`) until it is merged: the
//! target architectures and the static musl release tracer.

use std::path::PathBuf;

use anyhow::Result;

use crate::setup::Tools;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Arm64,
}

impl Arch {
    pub fn triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-musl",
            Arch::Arm64 => "aarch64-unknown-linux-musl",
        }
    }

    pub fn deb_arch(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }
}

/// `cargo build --release --target <musl triple>` statically linked with
/// rust-lld; the binary.
pub fn static_tracer(tools: &Tools, arch: Arch) -> Result<PathBuf> {
    let mut cmd = crate::cargo(tools);
    cmd.args(["build", "--release", "--package", "tracer", "--target"])
        .arg(arch.triple())
        .current_dir(crate::workspace_root());
    musl_env(&mut cmd, arch);
    crate::run(&mut cmd)?;
    Ok(crate::workspace_root()
        .join("target")
        .join(arch.triple())
        .join("release/tracer"))
}

/// The linker and flags of a static musl build. They must be exactly those
/// of the release build (`dist::static_tracer`): the cross-built tests then
/// share its dependencies and tracer binary instead of rebuilding them (a
/// flag change rebuilds every crate for the target).
pub fn musl_env(cmd: &mut std::process::Command, arch: Arch) {
    let var = arch.triple().to_uppercase().replace('-', "_");
    cmd.env(format!("CARGO_TARGET_{var}_LINKER"), "rust-lld")
        .env(
            format!("CARGO_TARGET_{var}_RUSTFLAGS"),
            "-C target-feature=+crt-static -C strip=symbols -C debuginfo=0",
        )
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
}
