//! Builds the eBPF programs (tracer-ebpf) for bpfel-unknown-none with the
//! nightly toolchain and bpf-linker, as aya-template does. `cargo xtask
//! setup` installs both. Also compiles the Perfetto trace subset
//! (proto/perfetto_trace.proto) into Rust types with prost, using the protoc
//! binary vendored from crates.io, so no system protoc is needed. And
//! gives `tracer --version` the git commit and target it was built from.

use anyhow::{anyhow, Context as _};

fn main() -> anyhow::Result<()> {
    version_line();
    perfetto_proto()?;
    let cargo_metadata::Metadata { packages, .. } = cargo_metadata::MetadataCommand::new()
        .no_deps()
        .exec()
        .context("MetadataCommand::exec")?;
    let ebpf_package = packages
        .into_iter()
        .find(|cargo_metadata::Package { name, .. }| name.as_str() == "tracer-ebpf")
        .ok_or_else(|| anyhow!("tracer-ebpf package not found"))?;
    let cargo_metadata::Package {
        name,
        manifest_path,
        ..
    } = ebpf_package;
    let ebpf_package = aya_build::Package {
        name: name.as_str(),
        root_dir: manifest_path
            .parent()
            .ok_or_else(|| anyhow!("no parent for {manifest_path}"))?
            .as_str(),
        ..Default::default()
    };
    aya_build::build_ebpf([ebpf_package], aya_build::Toolchain::default())
}

/// `perfetto.protos.rs` in OUT_DIR, included by `output/perfetto/proto.rs`.
fn perfetto_proto() -> anyhow::Result<()> {
    const PROTO: &str = "proto/perfetto_trace.proto";
    println!("cargo:rerun-if-changed={PROTO}");
    let protoc = protoc_bin_vendored::protoc_bin_path().context("finding the vendored protoc")?;
    prost_build::Config::new()
        .protoc_executable(protoc)
        .compile_protos(&[PROTO], &["proto"])
        .context("compiling proto/perfetto_trace.proto")
}

/// `TRACER_VERSION`: "0.1.0 (commit 0123456789ab, target x86_64-unknown-linux-musl)",
/// so a binary found on a machine says what it is. The commit comes from
/// `TRACER_GIT_COMMIT` when set (a build from a source tarball), else git.
fn version_line() {
    println!("cargo:rerun-if-env-changed=TRACER_GIT_COMMIT");
    let commit = std::env::var("TRACER_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".into());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=TRACER_VERSION={version} (commit {commit}, target {target})");
}

/// HEAD's commit, watching the files that move when it does (HEAD, and
/// the branch it names; in a worktree they live in different folders).
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git").args(args).output().ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        out.status.success().then(|| text.trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])?];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &branch])?);
    }
    watched.push(git(&["rev-parse", "--git-path", "packed-refs"])?);
    // A missing file would make cargo rerun this script on every build.
    for path in watched.iter().filter(|p| std::path::Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={path}");
    }
    Some(commit)
}
