//! Toolchain set-up: the pinned toolchains (rust-toolchain.toml's for
//! userspace, [`NIGHTLY`] for the eBPF build, fmt and fuzzing) and a pinned
//! bpf-linker built against that nightly's own LLVM.
//!
//! Idempotent: each step checks before it acts, so a second run takes well
//! under a second. Tools live in a per-user cache keyed by bpf-linker
//! version and the pinned nightly, outside the work tree, so fresh clones
//! reuse them (tracer/build.rs finds bpf-linker there by the same key).

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context as _, Result};

pub(crate) use crate::cmd::Tools;
use crate::cmd::{cache_dir, run};

/// The nightly the eBPF programs build with (and nightly rustfmt, eBPF
/// clippy and cargo-fuzz run on), pinned by date so a machine set up next
/// month builds the same object. tracer/build.rs reads this line: keep its
/// form. Moving it: install the new one with `cargo xtask setup`, check
/// the verifier on the kernel matrix, and note it in CHANGELOG.md.
pub(crate) const NIGHTLY: &str = "nightly-2026-05-20";
/// What the pinned nightly needs: the core sources for `-Z build-std`,
/// rustfmt for the house options, clippy for the eBPF crate.
const NIGHTLY_COMPONENTS: [&str; 3] = ["rust-src", "rustfmt", "clippy"];
/// What rust-toolchain.toml asks of the userspace toolchain.
const USERSPACE_COMPONENTS: [&str; 2] = ["clippy", "rustfmt"];
const BPF_LINKER_VERSION: &str = "0.13.0";

const CARGO_FUZZ_VERSION: &str = "0.13.1";

/// cargo-fuzz, pinned, in the same cache; its bin dir.
pub(crate) fn ensure_cargo_fuzz() -> Result<PathBuf> {
    let root = cache_dir()?.join(format!("cargo-fuzz-{CARGO_FUZZ_VERSION}"));
    let bin = root.join("bin");
    let works = Command::new(bin.join("cargo-fuzz"))
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !works {
        eprintln!("xtask: building cargo-fuzz {CARGO_FUZZ_VERSION} (once)");
        run(
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(["install", "cargo-fuzz", "--locked", "--force"])
                .args(["--version", CARGO_FUZZ_VERSION])
                .arg("--root")
                .arg(&root),
        )
        .context("installing cargo-fuzz (needs the crate registry)")?;
    }
    Ok(bin)
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("failed to start {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn ensure_nightly() -> Result<()> {
    if Command::new("rustup").arg("--version").output().is_err() {
        bail!(
            "rustup not found: tracer builds with toolchains pinned through rustup; install \
             it from https://rustup.rs and run `cargo xtask setup` again"
        );
    }
    let installed = output(Command::new("rustup").args(["toolchain", "list"]))?;
    let has_nightly = installed
        .lines()
        .any(|l| l.starts_with(&format!("{NIGHTLY}-")));
    if !has_nightly {
        eprintln!("xtask: installing the pinned {NIGHTLY} toolchain");
        let mut install = Command::new("rustup");
        install.args(["toolchain", "install", NIGHTLY, "--profile", "minimal"]);
        for component in NIGHTLY_COMPONENTS {
            install.args(["--component", component]);
        }
        run(&mut install).with_context(|| {
            format!(
                "the eBPF build needs `rustup toolchain install {NIGHTLY} --profile minimal \
                 -c {}`",
                NIGHTLY_COMPONENTS.join(" -c ")
            )
        })?;
    }
    ensure_components(Some(NIGHTLY), &NIGHTLY_COMPONENTS)
}

/// rust-toolchain.toml's toolchain with its components. rustup installs the
/// toolchain itself on first use (cargo ran this xtask with it), but where
/// automatic installs are off its components may be missing.
fn ensure_userspace() -> Result<()> {
    ensure_components(None, &USERSPACE_COMPONENTS)
}

/// Adds the `components` missing from `toolchain` (None: the workspace's
/// rust-toolchain.toml).
fn ensure_components(toolchain: Option<&str>, components: &[&str]) -> Result<()> {
    let with_toolchain = |cmd: &mut Command| {
        if let Some(toolchain) = toolchain {
            cmd.args(["--toolchain", toolchain]);
        }
        cmd.current_dir(crate::cmd::workspace_root());
    };
    let mut list = Command::new("rustup");
    list.args(["component", "list", "--installed"]);
    with_toolchain(&mut list);
    let installed = output(&mut list)?;
    let name = toolchain.unwrap_or("rust-toolchain.toml's toolchain");
    for component in components {
        if !installed.lines().any(|l| l.starts_with(component)) {
            eprintln!("xtask: adding {component} to {name}");
            let mut add = Command::new("rustup");
            add.args(["component", "add", component]);
            with_toolchain(&mut add);
            run(&mut add).with_context(|| format!("adding {component} to {name}"))?;
        }
    }
    Ok(())
}

/// The nightly's LLVM major version and its shared library.
fn nightly_llvm() -> Result<(u32, PathBuf)> {
    let version = output(Command::new("rustc").args([&format!("+{NIGHTLY}"), "-vV"]))?;
    let major = version
        .lines()
        .find_map(|l| l.strip_prefix("LLVM version: "))
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.trim().parse::<u32>().ok())
        .with_context(|| format!("`rustc +{NIGHTLY} -vV` printed no LLVM version"))?;
    let sysroot =
        output(Command::new("rustc").args([&format!("+{NIGHTLY}"), "--print", "sysroot"]))?;
    let lib = Path::new(sysroot.trim()).join("lib");
    // The real library is the ELF file; `libLLVM-NN-*.so` is a linker script.
    let mut found = None;
    for entry in fs::read_dir(&lib).with_context(|| format!("listing {}", lib.display()))? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("libLLVM") && name.contains(".so") {
            let head = fs::read(&path).map(|b| b.get(..4) == Some(b"\x7fELF"));
            if head.unwrap_or(false) {
                found = Some(path);
            }
        }
    }
    let lib = found.with_context(|| {
        format!(
            "no libLLVM shared library in {}: the nightly toolchain looks incomplete; \
             try `rustup toolchain install {NIGHTLY} --force`",
            lib.display()
        )
    })?;
    Ok((major, lib))
}

/// A folder whose lib/ holds `libLLVM.so` and the soname, both pointing at
/// the nightly's library, so llvm-sys links bpf-linker against it.
fn llvm_prefix(root: &Path, libllvm: &Path) -> Result<PathBuf> {
    let prefix = root.join("llvm");
    let lib = prefix.join("lib");
    fs::create_dir_all(&lib).with_context(|| format!("creating {}", lib.display()))?;
    let soname = libllvm.file_name().context("libLLVM path has no name")?;
    for name in [Path::new("libLLVM.so"), Path::new(soname)] {
        let link = lib.join(name);
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(libllvm, &link)
            .with_context(|| format!("linking {}", link.display()))?;
    }
    Ok(prefix)
}

fn linker_works(bin: &Path) -> bool {
    Command::new(bin)
        .arg("--version")
        .output()
        .map(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout).trim()
                    == format!("bpf-linker {BPF_LINKER_VERSION}")
        })
        .unwrap_or(false)
}

/// bpf-linker's folder in the cache, keyed by its version and the pinned
/// nightly whose LLVM it links (tracer/build.rs looks there by this name).
fn bpf_linker_root() -> Result<PathBuf> {
    Ok(cache_dir()?.join(format!("bpf-linker-{BPF_LINKER_VERSION}-{NIGHTLY}")))
}

fn ensure_bpf_linker() -> Result<PathBuf> {
    let (major, libllvm) = nightly_llvm()?;
    let root = bpf_linker_root()?;
    let bin_dir = root.join("bin");
    let bin = bin_dir.join("bpf-linker");
    if linker_works(&bin) {
        return Ok(bin_dir);
    }
    eprintln!(
        "xtask: building bpf-linker {BPF_LINKER_VERSION} against {NIGHTLY}'s LLVM {major} \
         (about a minute, once)"
    );
    let prefix = llvm_prefix(&root, &libllvm)?;
    run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["install", "bpf-linker", "--locked", "--force"])
            .args(["--version", BPF_LINKER_VERSION])
            .args(["--no-default-features", "--features"])
            .arg(format!("llvm-{major}"))
            .arg("--root")
            .arg(&root)
            .env("LLVM_PREFIX", &prefix),
    )
    .with_context(|| {
        format!(
            "building bpf-linker failed; it needs the crate registry and a C toolchain (gcc). \
             The same by hand: LLVM_PREFIX={} cargo install bpf-linker --version \
             {BPF_LINKER_VERSION} --locked --no-default-features --features llvm-{major} --root {}",
            prefix.display(),
            root.display()
        )
    })?;
    if !linker_works(&bin) {
        bail!(
            "bpf-linker was installed at {} but does not run; remove {} and retry",
            bin.display(),
            root.display()
        );
    }
    Ok(bin_dir)
}

pub(crate) fn ensure() -> Result<Tools> {
    ensure_userspace()?;
    ensure_nightly()?;
    let bin_dir = ensure_bpf_linker()?;
    Ok(Tools { bin_dir })
}

/// Debian packages `cargo xtask vm-test` needs on the host: QEMU, a static
/// busybox for the guest, module tools, and the programs the tests exec
/// (copied into the guest). Installed with apt-get when missing; quiet when
/// all are there.
const VM_PACKAGES: &[&str] = &[
    "qemu-system-x86",
    "busybox-static",
    "xz-utils",
    "kmod",
    "e2fsprogs",
    "util-linux",
    // zstd, the reference decompressor tests/compressed.rs checks `--compress`
    // against (in the guests too).
    "zstd",
];

pub(crate) fn ensure_vm_packages() -> Result<()> {
    ensure_debian_packages(VM_PACKAGES, "vm-test")
}

/// The QEMU for guests of another architecture than the host's (e.g.
/// `qemu-system-arm` for `vm-test --arch arm64`), installed when missing.
pub(crate) fn ensure_vm_arch_package(package: &str) -> Result<()> {
    ensure_debian_packages(&[package], "vm-test --arch")
}

/// Debian packages the host tests use: Prometheus and promtool, to scrape
/// and check `--metrics` (tests/live_host/metrics/); zstd, the reference
/// decompressor for `record --compress` (tests/compressed.rs).
const TEST_PACKAGES: &[&str] = &["prometheus", "zstd"];

/// Python packages the host tests decode tracer's output with, pinned:
/// OTLP requests and Perfetto traces are decoded with the projects' own
/// definitions, not with the Rust types under test; duckdb-cli runs the
/// SQL recipes in docs/recording.md, polars the Python one (and both read
/// the Parquet export with their own readers).
const TEST_PYTHON: &[&str] = &[
    "opentelemetry-proto==1.45.2",
    "perfetto==0.59.1",
    "protobuf==7.36.2",
    "duckdb-cli==1.5.6",
    "polars==2.1.0",
];

/// What the host tests need besides the toolchain: the Debian packages,
/// and a venv with the Python decoders (cached, keyed by the pins). Returns
/// the venv's bin dir.
pub(crate) fn ensure_test_tools() -> Result<PathBuf> {
    ensure_debian_packages(TEST_PACKAGES, "the tests")?;
    let key = TEST_PYTHON
        .join(" ")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    let venv = cache_dir()?.join(format!("py-{key:016x}"));
    let bin = venv.join("bin");
    let ready = venv.join(".ready");
    if !ready.exists() {
        eprintln!("xtask: installing the tests' Python decoders (once)");
        let _ = fs::remove_dir_all(&venv);
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))
            .context("making a Python venv (needs python3 with venv)")?;
        run(Command::new(bin.join("pip"))
            .args(["install", "-q", "--disable-pip-version-check"])
            .args(TEST_PYTHON))
        .context("installing the tests' Python packages (needs PyPI)")?;
        fs::write(&ready, TEST_PYTHON.join("\n"))?;
    }
    Ok(bin)
}

/// Debian packages `cargo xtask deb-test` needs on the host: debootstrap
/// for the root, and what vm-test needs to boot it.
const DEB_TEST_PACKAGES: &[&str] = &["debootstrap", "cpio"];

pub(crate) fn ensure_deb_test_packages() -> Result<()> {
    ensure_vm_packages()?;
    ensure_debian_packages(DEB_TEST_PACKAGES, "deb-test")
}

fn ensure_debian_packages(packages: &[&str], who: &str) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|pkg| {
            let status = Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", pkg])
                .output();
            !status.is_ok_and(|o| o.stdout.ends_with(b"install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {} (apt-get)", missing.join(" "));
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let apt = |args: &[&str]| {
        let mut cmd = Command::new(if root { "apt-get" } else { "sudo" });
        if !root {
            cmd.arg("apt-get");
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(&missing);
    // Stale package lists are the usual reason for a failed install.
    if run(&mut apt(&install)).is_err() {
        run(&mut apt(&["update", "-q"]))?;
        run(&mut apt(&install))
            .with_context(|| format!("{who} need these Debian packages: {}", missing.join(" ")))?;
    }
    Ok(())
}

/// Rust's standard library for each of these targets (`cargo xtask dist`
/// builds static musl binaries; rust-lld, shipped with the toolchain,
/// links them, so no C cross toolchain is needed).
pub(crate) fn ensure_rust_targets(triples: &[&str]) -> Result<()> {
    // In the workspace, so rustup picks rust-toolchain.toml's toolchain.
    let installed = output(
        Command::new("rustup")
            .args(["target", "list", "--installed"])
            .current_dir(crate::cmd::workspace_root()),
    )?;
    let missing: Vec<&str> = triples
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: adding Rust targets {}", missing.join(" "));
    run(Command::new("rustup")
        .args(["target", "add"])
        .args(&missing)
        .current_dir(crate::cmd::workspace_root()))
    .with_context(|| format!("`rustup target add {}` failed", missing.join(" ")))
}

/// Debian packages `cargo xtask dist` uses: lintian checks the .debs
/// (dpkg-deb, which builds them, comes with dpkg itself).
const DIST_PACKAGES: &[&str] = &["lintian"];

pub(crate) fn ensure_dist_packages() -> Result<()> {
    ensure_debian_packages(DIST_PACKAGES, "dist")
}

#[cfg(test)]
mod tests {
    /// tracer/build.rs reads the pinned nightly from this file's
    /// `pub(crate) const NIGHTLY` line by its form: that form must hold the value.
    #[test]
    fn tracer_build_rs_can_read_the_pinned_nightly() {
        let source = include_str!("setup.rs");
        let line = format!("pub(crate) const NIGHTLY: &str = \"{}\";", super::NIGHTLY);
        assert_eq!(source.lines().filter(|l| *l == line).count(), 1);
        let build_rs = include_str!("../../tracer/build.rs");
        assert!(build_rs
            .contains(r#"const NIGHTLY_LINE: &str = "pub(crate) const NIGHTLY: &str = \"";"#));
        assert!(super::NIGHTLY.starts_with("nightly-20"), "pinned by date");
    }
}
