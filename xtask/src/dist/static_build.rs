//! Static release binaries: `cargo build --target <arch>-unknown-linux-musl`
//! linked by rust-lld (shipped with the toolchain) against the target's
//! self-contained musl, stripped by the linker. tracer/build.rs builds the
//! eBPF object for the same architecture and embeds it.

use std::{path::PathBuf, process::Command};

use anyhow::{ensure, Context as _, Result};

use crate::{
    cmd::{cargo, run, workspace_root, Arch},
    setup,
};

/// Builds (incrementally: cheap when up to date) the stripped static
/// release binary of tracer for `arch`, and returns its path
/// (`target/<triple>/release/tracer`).
pub(crate) fn static_tracer(tools: &setup::Tools, arch: Arch) -> Result<PathBuf> {
    let triple = arch.triple();
    setup::ensure_rust_targets(&[triple])?;
    let mut cmd = cargo(tools);
    cmd.args([
        "build",
        "--release",
        "--package",
        "tracer",
        "--target",
        triple,
    ]);
    musl_env(&mut cmd, arch);
    run(&mut cmd).with_context(|| format!("building the static tracer for {triple}"))?;
    let exe = workspace_root().join(format!("target/{triple}/release/tracer"));
    ensure!(exe.is_file(), "cargo built no {}", exe.display());
    Ok(exe)
}

/// The environment of a static musl cargo build for `arch`: rust-lld links,
/// crt-static, stripped by the linker. Other static builds for `arch` (the
/// kernel matrix's cross-built tests) should use it too: the same flags
/// share `target/<triple>/`, where different ones rebuild everything.
pub(crate) fn musl_env(cmd: &mut Command, arch: Arch) {
    let env_triple = arch.triple().to_uppercase().replace('-', "_");
    cmd.env(format!("CARGO_TARGET_{env_triple}_LINKER"), "rust-lld")
        // crt-static is musl's default; said anyway, as it is the point.
        // No debuginfo: it would be stripped anyway.
        .env(
            format!("CARGO_TARGET_{env_triple}_RUSTFLAGS"),
            "-C target-feature=+crt-static -C strip=symbols -C debuginfo=0",
        )
        // These would override the target's flags above.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
}
