//! Builds the eBPF programs (tracer-ebpf) for bpfel-unknown-none with the
//! pinned nightly toolchain and bpf-linker, as aya-template does. `cargo
//! xtask setup` installs both; this script finds them by itself, so plain
//! `cargo build` needs no PATH edit. Also compiles the Perfetto trace
//! subset (proto/perfetto_trace.proto) into Rust types with prost, using
//! the protoc binary vendored in a crate, so no system protoc is needed.
//! And gives `tracer --version` the git commit and target it was built
//! from.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context as _};

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
    let nightly = pinned_nightly()?;
    put_bpf_linker_on_path(&nightly)?;
    aya_build::build_ebpf([ebpf_package], aya_build::Toolchain::Custom(&nightly))
}

/// The file that names the pinned eBPF nightly, and the line that does.
const SETUP_RS: &str = "../xtask/src/setup.rs";
const NIGHTLY_LINE: &str = "pub(crate) const NIGHTLY: &str = \"";

/// The eBPF nightly as xtask pins it (`NIGHTLY` in xtask/src/setup.rs,
/// its one home), so the object builds with what `cargo xtask setup`
/// installed.
fn pinned_nightly() -> anyhow::Result<String> {
    println!("cargo:rerun-if-changed={SETUP_RS}");
    let text = std::fs::read_to_string(SETUP_RS).with_context(|| format!("reading {SETUP_RS}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(NIGHTLY_LINE)?.strip_suffix("\";"))
        .map(str::to_owned)
        .with_context(|| format!("{SETUP_RS} has no line `{NIGHTLY_LINE}...\";`"))
}

/// Puts a bpf-linker first on PATH for the eBPF build, which aya-build
/// runs with this script's environment: the folder `TRACER_BPF_LINKER_DIR`
/// names, else the one `cargo xtask setup` built against the pinned
/// nightly's LLVM, else whatever PATH holds.
fn put_bpf_linker_on_path(nightly: &str) -> anyhow::Result<()> {
    const DIR_VAR: &str = "TRACER_BPF_LINKER_DIR";
    println!("cargo:rerun-if-env-changed={DIR_VAR}");
    let found = match std::env::var_os(DIR_VAR).filter(|d| !d.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if !dir.join("bpf-linker").is_file() {
                bail!("{DIR_VAR}={} holds no bpf-linker", dir.display());
            }
            Some(dir)
        }
        None => setup_bpf_linker(nightly),
    };
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = found.into_iter().collect();
    dirs.extend(std::env::split_paths(&path));
    if !dirs.iter().any(|d| d.join("bpf-linker").is_file()) {
        bail!(
            "bpf-linker not found (in the setup cache for {nightly}, in ${DIR_VAR} or on \
             PATH): run `cargo xtask setup`, which builds it against {nightly}'s LLVM"
        );
    }
    let joined = std::env::join_paths(dirs).context("a PATH entry holds ':'")?;
    // aya-build's cargo inherits it (no thread runs yet to race the write).
    std::env::set_var("PATH", joined);
    Ok(())
}

/// `cargo xtask setup`'s bpf-linker for `nightly`: its bin folder in
/// ~/.cache/tracer (or $XDG_CACHE_HOME/tracer), named
/// `bpf-linker-VERSION-NIGHTLY` (setup.rs `bpf_linker_root`).
fn setup_bpf_linker(nightly: &str) -> Option<PathBuf> {
    println!("cargo:rerun-if-env-changed=XDG_CACHE_HOME");
    let cache = match std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("tracer"),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache/tracer"),
    };
    let suffix = format!("-{nightly}");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&cache)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("bpf-linker-") && name.ends_with(&suffix)
        })
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("bpf-linker").is_file())
        .collect();
    // Several bpf-linker versions: one, the same on every run.
    dirs.sort();
    dirs.pop()
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
