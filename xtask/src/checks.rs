//! The format and lint checks: nightly rustfmt with the house options, and
//! clippy on the eBPF crate for each kernel architecture.

use std::process::Command;

use anyhow::{bail, Result};

use crate::cmd::{workspace_root, Tools};

/// rustfmt with the options rustfmt.toml asks for, which only nightly's
/// rustfmt has (the nightly the eBPF build uses).
pub(crate) fn nightly_fmt(tools: &Tools, check: bool) -> Command {
    let mut cmd = Command::new("rustup");
    cmd.args(["run", crate::setup::NIGHTLY, "cargo", "fmt", "--all"])
        .env("PATH", tools.path_env())
        .env_remove("RUSTC")
        .env_remove("RUSTFMT")
        .current_dir(workspace_root());
    if check {
        cmd.args(["--", "--check"]);
    }
    cmd
}

/// Clippy on the eBPF crate, which only builds for the BPF target, as built
/// for a `target_arch` machine.
pub(crate) fn ebpf_clippy(tools: &Tools, target_arch: &str) -> Result<Command> {
    let cfg = format!(
        "--cfg=bpf_target_arch=\"{}\"",
        bpf_target_arch(target_arch)?
    );
    let mut cmd = Command::new("rustup");
    cmd.args([
        "run",
        crate::setup::NIGHTLY,
        "cargo",
        "clippy",
        "--package",
        "tracer-ebpf",
    ])
    .args(["-Z", "build-std=core", "--target", "bpfel-unknown-none"])
    .args(["--target-dir", "target/ebpf-clippy", "--", "-D", "warnings"])
    .env("PATH", tools.path_env())
    .env("CARGO_ENCODED_RUSTFLAGS", cfg)
    .env_remove("RUSTC")
    .env_remove("RUSTC_WORKSPACE_WRAPPER")
    .current_dir(workspace_root());
    Ok(cmd)
}

/// The `bpf_target_arch` cfg aya-ebpf needs for programs that run on a
/// `target_arch` kernel (`std::env::consts::ARCH` or a target triple's first
/// part), mapped as aya-build does: `riscv64gc` is `riscv64`.
fn bpf_target_arch(target_arch: &str) -> Result<&'static str> {
    // The values aya-build declares for the cfg.
    const KNOWN: [&str; 8] = [
        "aarch64",
        "arm",
        "loongarch64",
        "mips",
        "powerpc64",
        "riscv64",
        "s390x",
        "x86_64",
    ];
    let arch = if target_arch.starts_with("riscv64") {
        "riscv64"
    } else {
        target_arch
    };
    match KNOWN.iter().find(|&&known| known == arch) {
        Some(known) => Ok(known),
        None => bail!(
            "no bpf_target_arch for target arch {target_arch:?} (aya knows {})",
            KNOWN.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bpf_target_arch_follows_the_target() {
        assert_eq!(bpf_target_arch("x86_64").unwrap(), "x86_64");
        assert_eq!(bpf_target_arch("aarch64").unwrap(), "aarch64");
        assert_eq!(bpf_target_arch("riscv64").unwrap(), "riscv64");
        assert_eq!(bpf_target_arch("riscv64gc").unwrap(), "riscv64");
        let err = bpf_target_arch("sparc64").unwrap_err().to_string();
        assert!(err.contains("\"sparc64\""), "{err}");
    }
}
