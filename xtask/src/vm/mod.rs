//! `cargo xtask vm-test`: boots Debian kernels under QEMU and runs the live
//! integration tests inside each, one test at a time, then prints a kernel x
//! test table. Kernels come from `xtask/kernels.txt` (see [`kernels`]); the
//! guest is an initramfs with the host's test binaries at their host paths
//! (see [`initramfs`]); results come back as `@@tracer-vm` lines on the
//! serial console (see `init.sh`, [`results`]).
//!
//! Outputs: `target/vm-test/<kernel>.log` (each console), `results.json`.

mod cpio;
mod initramfs;
mod kernels;
mod modules;
mod qemu;
mod results;

use std::{
    fs,
    io::BufRead as _,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};

use crate::setup::Tools;

/// The default wall-clock limit per kernel, boot included, in minutes.
/// 5.10 is the slowest under TCG: about 14.5 minutes for the full live set
/// on a 2-vCPU VM (every tracer start there verifies and probes more), so
/// 15 left no margin on a slower CI host; the whole matrix still ends well
/// inside CI's 90 minutes.
pub const TIMEOUT_MIN: u64 = 25;

pub struct Options {
    /// Kernel names, ABIs or ABI versions; empty for the pinned set.
    pub kernels: Vec<String>,
    /// Build the tests with `--release`: under emulation the debug build
    /// runs the live tests about 3x slower (tracer start-up above all), long
    /// enough to break tests that give tracer a second to start.
    pub release: bool,
    /// Wall-clock limit per kernel, boot included.
    pub timeout: Duration,
    /// Limit per test inside the guest.
    pub test_timeout: Duration,
    /// Only tests whose `binary::name` contains this.
    pub filter: Option<String>,
    /// Runs of each chosen test.
    pub repeat: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            kernels: Vec::new(),
            release: true,
            timeout: Duration::from_secs(TIMEOUT_MIN * 60),
            test_timeout: Duration::from_secs(300),
            filter: None,
            repeat: 1,
        }
    }
}

/// Tests that passed, failed and were skipped, over every kernel.
#[derive(Default, Debug)]
pub struct Summary {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
}

/// Runs the live tests on the named kernels (`["5.10", "6.1", "newest"]`),
/// for callers like `cargo xtask test`.
pub fn run(tools: &Tools, kernels: &[&str]) -> Result<Summary> {
    vm_test(
        tools,
        &Options {
            kernels: kernels.iter().map(|k| k.to_string()).collect(),
            ..Options::default()
        },
    )
}

/// Files the tests read at their source paths (fixture logs).
fn test_data() -> Result<Vec<PathBuf>> {
    let dir = crate::workspace_root().join("tracer/tests/fixtures");
    let mut files = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() {
            files.push(path);
        }
    }
    Ok(files)
}

/// Prints the pinned kernels and whether each is cached.
pub fn list() -> Result<()> {
    let cache = crate::setup::cache_dir()?.join("vm/kernels");
    for k in kernels::pinned()? {
        let cached = cache.join(&k.abi).join(".unpacked").exists();
        println!(
            "{:8} {:32} {:20} {:18} {}",
            k.name,
            k.abi,
            k.version,
            k.suite,
            if cached { "cached" } else { "" }
        );
    }
    Ok(())
}

pub fn vm_test(tools: &Tools, opts: &Options) -> Result<Summary> {
    if let Some(f) = &opts.filter {
        // It goes into the guest's shell config as is.
        if f.is_empty()
            || !f
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        {
            bail!("--filter {f:?}: use letters, digits, '_' and ':' only");
        }
    }
    crate::setup::ensure_vm_packages()?;
    let selected = kernels::select(&opts.kernels)?;
    let out_dir = crate::workspace_root().join("target/vm-test");
    fs::create_dir_all(&out_dir)?;
    let common = build_common_initramfs(tools, opts, &out_dir)?;

    // Every download first: a kernel the mirror dropped fails the run early.
    let unpacked = selected
        .iter()
        .map(kernels::fetch)
        .collect::<Result<Vec<_>>>()?;
    let mut runs = Vec::new();
    let mut pf_errors = Vec::new();
    let mut accel = None;
    for (kernel, unpacked) in selected.iter().zip(&unpacked) {
        pf_errors.extend(check_pf_names(kernel, unpacked)?);
        runs.push(boot_kernel(
            kernel,
            unpacked,
            &common,
            &out_dir,
            opts.timeout,
            &mut accel,
        )?);
    }
    results::print(&runs);
    let json = out_dir.join("results.json");
    results::write_json(&runs, &json)?;
    println!("\nconsole logs and results.json in {}", out_dir.display());
    summarize(&runs, &pf_errors)
}

/// Builds the tests and the initramfs part every kernel shares; returns
/// its path.
fn build_common_initramfs(tools: &Tools, opts: &Options, out_dir: &Path) -> Result<PathBuf> {
    let (tests, tracer) = build_tests(tools, opts.release)?;
    let started = Instant::now();
    let common = out_dir.join("initramfs-common.cpio");
    initramfs::build_common(
        &initramfs::Payload {
            tests,
            extra: vec![tracer],
            data: test_data()?,
            test_timeout_s: opts.test_timeout.as_secs(),
            output_lines: 60,
            filter: opts.filter.clone().unwrap_or_default(),
            repeat: opts.repeat,
        },
        &common,
    )?;
    eprintln!(
        "xtask: initramfs {} MiB in {:.1}s",
        fs::metadata(&common)?.len() >> 20,
        started.elapsed().as_secs_f64()
    );
    Ok(common)
}

/// Boots one kernel with the tests (twice if the first boot never reached
/// /init); `accel` is probed on the first kernel and kept for the rest.
fn boot_kernel(
    kernel: &kernels::Kernel,
    unpacked: &kernels::Unpacked,
    common: &Path,
    out_dir: &Path,
    timeout: Duration,
    accel: &mut Option<String>,
) -> Result<results::KernelRun> {
    let initrd = out_dir.join(format!("{}.initrd", kernel.name));
    initramfs::with_modules(common, &modules_part(unpacked)?, &initrd)?;
    let accel = accel.get_or_insert_with(|| {
        qemu::accel(
            &unpacked.vmlinuz,
            &initrd,
            &crate::setup::cache_dir().unwrap_or_else(|_| out_dir.to_path_buf()),
        )
    });
    eprintln!(
        "xtask: booting {} ({}) with {accel}",
        kernel.name, kernel.abi
    );
    let boot = || {
        qemu::boot(
            accel,
            &unpacked.vmlinuz,
            &initrd,
            &out_dir.join(format!("{}.log", kernel.name)),
            timeout,
            |t, line| progress(&kernel.name, t, line),
        )
    };
    let mut run = results::parse(&kernel.name, &kernel.abi, &boot()?);
    if run.uname.is_none() {
        // The guest died before /init (seen once: a timer oops in
        // early boot under TCG): that says nothing about tracer, so
        // boot once more; a second failure stands.
        eprintln!(
            "xtask: {} did not reach /init; booting it once more",
            kernel.name
        );
        run = results::parse(&kernel.name, &kernel.abi, &boot()?);
        run.retried = true;
    }
    let _ = fs::remove_file(&initrd);
    Ok(run)
}

/// Adds up the results; fails, after a `tests:` line, if a kernel failed or
/// the PF names did not match.
fn summarize(runs: &[results::KernelRun], pf_errors: &[String]) -> Result<Summary> {
    let mut summary = Summary::default();
    for r in runs.iter().flat_map(|run| &run.results) {
        match r.outcome {
            results::Outcome::Ok => summary.passed += 1,
            results::Outcome::Failed => summary.failed += 1,
            results::Outcome::Skip(_) => summary.skipped += 1,
        }
    }
    let bad: Vec<&str> = runs
        .iter()
        .filter(|r| r.failed())
        .map(|r| r.name.as_str())
        .collect();
    if !bad.is_empty() || !pf_errors.is_empty() {
        println!(
            "tests: {} passed, {} failed",
            summary.passed,
            summary.failed + pf_errors.len() as u64
        );
        bail!(
            "vm-test failed on {}{}",
            bad.join(", "),
            pf_errors
                .iter()
                .map(|e| format!("\n  PF names: {e}"))
                .collect::<String>()
        );
    }
    Ok(summary)
}

/// Checks the tracer's PF_* names for this kernel's version against the
/// kernel's own sched.h; returns the errors (a name the kernel does not
/// give that bit).
fn check_pf_names(kernel: &kernels::Kernel, unpacked: &kernels::Unpacked) -> Result<Vec<String>> {
    let Some(version) = tracer_common::pf::parse_release(&kernel.abi) else {
        bail!("cannot read a version from {}", kernel.abi);
    };
    let Some(sched_h) = kernels::sched_h(kernel, unpacked)? else {
        eprintln!(
            "xtask: PF names on {}: not checked, the mirror has no headers package for it",
            kernel.abi
        );
        return Ok(Vec::new());
    };
    match crate::pf_check::check_against_sched_h(version, &sched_h) {
        Ok(notes) => {
            eprintln!("xtask: PF names on {}: match its sched.h", kernel.abi);
            for note in notes {
                eprintln!("xtask:   note: {note}");
            }
            Ok(Vec::new())
        }
        Err(errors) => Ok(errors
            .into_iter()
            .map(|e| format!("{}: {e}", kernel.abi))
            .collect()),
    }
}

/// One line per finished test while the guest runs.
fn progress(kernel: &str, t: f64, line: &str) {
    if let Some(result) = results::after_result(line) {
        eprintln!("  [{kernel} {t:7.1}s] {result}");
    } else if let Some(release) = results::uname(line) {
        eprintln!("  [{kernel} {t:7.1}s] booted {release}");
    }
}

/// The modules for the per-kernel initramfs part, decompressed once and
/// kept next to the unpacked kernel (redone when [`modules::WANTED`] changes).
fn modules_part(unpacked: &kernels::Unpacked) -> Result<Vec<(String, Vec<u8>)>> {
    let cached = unpacked.dir.join("initramfs-modules");
    let key = format!("# wanted: {}\n", modules::WANTED.join(" "));
    if let Some(list) = fs::read_to_string(cached.join("order"))
        .ok()
        .and_then(|l| l.strip_prefix(&key).map(str::to_string))
    {
        return list
            .lines()
            .map(|name| Ok((name.to_string(), fs::read(cached.join(name))?)))
            .collect();
    }
    let needed = modules::needed(&unpacked.modules)?;
    let _ = fs::remove_dir_all(&cached);
    fs::create_dir_all(&cached)?;
    let mut order = key;
    for (name, elf) in &needed {
        fs::write(cached.join(name), elf)?;
        order.push_str(&format!("{name}\n"));
    }
    fs::write(cached.join("order"), order)?;
    Ok(needed)
}

/// Builds the tracer package's integration tests; returns their executables
/// and the tracer binary they run.
fn build_tests(tools: &Tools, release: bool) -> Result<(Vec<PathBuf>, PathBuf)> {
    let mut cmd = crate::cargo(tools);
    cmd.args(["test", "--package", "tracer", "--tests", "--no-run"])
        .arg("--message-format=json-render-diagnostics")
        .current_dir(crate::workspace_root())
        .stdout(Stdio::piped());
    if release {
        cmd.arg("--release");
    }
    let mut child = cmd.spawn().context("starting cargo test --no-run")?;
    let mut tests = Vec::new();
    let mut tracer = None;
    for line in std::io::BufReader::new(child.stdout.take().expect("piped")).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line?) else {
            continue;
        };
        let Some(exe) = msg["executable"].as_str() else {
            continue;
        };
        let kind = &msg["target"]["kind"];
        let name = msg["target"]["name"].as_str().unwrap_or("");
        if kind
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "test"))
        {
            // Checks of the source tree, not of a kernel: the host runs them.
            if !HOST_ONLY_TESTS.contains(&name) {
                tests.push(PathBuf::from(exe));
            }
        } else if msg["target"]["name"] == "tracer"
            && kind
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"))
            && msg["profile"]["test"] == false
        {
            tracer = Some(PathBuf::from(exe));
        }
    }
    if !child.wait()?.success() {
        bail!("building the tests failed");
    }
    tests.sort();
    let tracer = tracer.context("cargo reported no tracer binary")?;
    if tests.is_empty() {
        bail!("cargo reported no integration test binaries");
    }
    check_exists(&tracer)?;
    Ok((tests, tracer))
}

/// Integration test targets that read the source tree (absent in a guest),
/// or decode tracer's output with the host's Python and Prometheus; what
/// they test is userspace, which the matrix does not change.
const HOST_ONLY_TESTS: &[&str] = &["structure", "otlp", "metrics", "perfetto", "recipes"];

fn check_exists(path: &Path) -> Result<()> {
    if !path.is_file() {
        bail!("{} is missing", path.display());
    }
    Ok(())
}

// ---- For `cargo xtask deb-test` (xtask/src/debroot/), which boots a
// Debian root with one of these kernels. ----

/// A pinned kernel (a name or ABI from xtask/kernels.txt), fetched and
/// unpacked once: (ABI, vmlinuz, its `lib/modules/<abi>` dir).
pub fn pinned_kernel(name: &str) -> Result<(String, PathBuf, PathBuf)> {
    let kernel = kernels::select(&[name.to_string()])?
        .into_iter()
        .next()
        .context("no kernel selected")?;
    let unpacked = kernels::fetch(&kernel)?;
    Ok((kernel.abi, unpacked.vmlinuz, unpacked.modules))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str]) -> results::KernelRun {
        let console = qemu::Console {
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, l)| (i as f64, l.to_string()))
                .collect(),
            timed_out: false,
            elapsed: lines.len() as f64,
        };
        results::parse("6.1", "6.1.0-50-cloud-amd64", &console)
    }

    #[test]
    fn summarize_counts_and_fails_on_a_failed_kernel_or_pf_error() {
        let good = run(&[
            "@@tracer-vm uname 6.1.0-50-cloud-amd64",
            "@@tracer-vm-result t::a ok",
            "@@tracer-vm-result t::b skip old kernel",
            "@@tracer-vm done",
        ]);
        let summary = summarize(std::slice::from_ref(&good), &[]).unwrap();
        assert_eq!((summary.passed, summary.failed, summary.skipped), (1, 0, 1));

        let err = summarize(&[good], &["6.1.0-50: PF_X".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vm-test failed on \n  PF names: 6.1.0-50: PF_X"
        );

        let died = run(&["@@tracer-vm uname 6.1.0-50-cloud-amd64"]);
        let err = summarize(&[died], &[]).unwrap_err();
        assert_eq!(err.to_string(), "vm-test failed on 6.1");
    }
}
