//! `cargo xtask test`: format and lint checks, the builds, the tests that
//! need no root, the live tests on this kernel (root), the release
//! artifacts' checks (`dist --check`), the .deb's boot test and the kernel
//! matrix unless `--no-vm`, a bounded fuzzing run; then a table of phase
//! times and one closing `tests:` line (CI reads it), failed or not.

mod phases;

use std::{path::Path, process::Command, time::Duration};

use anyhow::{bail, Context as _, Result};
use phases::{End, Phases};

use crate::{
    checks::{ebpf_clippy, nightly_fmt},
    cmd::{cargo, run, workspace_root, Arch, Tools},
    debroot, dist,
    fuzz::fuzz,
    setup, vm,
};

/// Kernels `cargo xtask test` (and so CI) boots: the oldest supported, the
/// oldest current LTS, and the newest (names from xtask/kernels.txt).
const CI_KERNELS: &[&str] = &["5.10", "6.1", "newest"];

/// The arm64 kernel `cargo xtask test` boots after those (a name from
/// xtask/kernels-arm64.txt), with [`vm::ARM64_TESTS`].
const CI_ARM64_KERNELS: &[&str] = &["6.12"];

/// The tracer package's root-only test targets (`test = false`: plain
/// `cargo test` and `--all-targets` leave them out): `live` runs here and
/// in the kernel matrix, `live_host` here only.
const LIVE_TARGETS: [&str; 6] = [
    "--package",
    "tracer",
    "--test",
    "live",
    "--test",
    "live_host",
];

/// Tests counted so far.
#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    skipped: u64,
}

/// `cargo xtask test`; `args` go to every `cargo test` after `--`.
pub(crate) fn test(tools: &Tools, no_vm: bool, args: &[String]) -> Result<()> {
    let mut phases = Phases::start();
    let mut tally = Tally::default();
    let result = run_phases(tools, no_vm, args, &mut phases, &mut tally);
    print!("{}", phases.format());
    // One closing line for the whole run (CI reads it): the last line.
    match result {
        Ok(()) => {
            println!(
                "tests: {} passed, {} failed, {} skipped",
                tally.passed, tally.failed, tally.skipped
            );
            Ok(())
        }
        Err(e) => {
            println!(
                "tests: {} passed, {} failed",
                tally.passed,
                tally.failed.max(1)
            );
            Err(e)
        }
    }
}

fn run_phases(
    tools: &Tools,
    no_vm: bool,
    args: &[String],
    phases: &mut Phases,
    tally: &mut Tally,
) -> Result<()> {
    phases.time("fmt+clippy", || {
        run(&mut nightly_fmt(tools, true))?;
        run(cargo(tools).args(["clippy", "--all-targets", "--", "-D", "warnings"]))?;
        // `--all-targets` leaves the `test = false` targets out.
        run(cargo(tools)
            .arg("clippy")
            .args(LIVE_TARGETS)
            .args(["--", "-D", "warnings"]))?;
        // The eBPF side for both architectures `dist` ships (their programs
        // differ where `bpf_target_arch` says).
        for arch in ["x86_64", "aarch64"] {
            run(&mut ebpf_clippy(tools, arch)?)?;
        }
        Ok(())
    })?;
    // Tests that cannot run on this kernel say so in this file; on
    // the host kernel every test must run.
    let skips = workspace_root().join("target/host-skips.txt");
    let _ = std::fs::remove_file(&skips);
    let py_bin = phases.time("test tools", setup::ensure_test_tools)?;
    let cargo_test = |targets: &[&str], rest: &[&str]| {
        let mut cmd = cargo(tools);
        cmd.arg("test")
            .args(targets)
            .args(rest)
            .env("TRACER_SKIP_FILE", &skips)
            .env("TRACER_TEST_PY_BIN", &py_bin);
        cmd
    };
    phases.time("builds", || {
        run(&mut cargo_test(&[], &["--no-run"]))?;
        run(&mut cargo_test(&LIVE_TARGETS, &["--no-run"]))
    })?;
    phases.time("host tests", || {
        count_tests(cargo_test(&[], &["--"]).args(args), tally)
    })?;
    phases.time("live tests", || {
        count_tests(cargo_test(&LIVE_TARGETS, &["--"]).args(args), tally)?;
        check_no_skips(&skips)
    })?;
    // The release artifacts build and are what they claim (static
    // binaries, .debs, lintian); nothing here needs another kernel.
    let checks = phases
        .time("dist check", || dist::dist(tools, true))
        .context("cargo xtask dist --check")?;
    tally.passed += checks;
    if no_vm {
        println!("xtask: deb-test NOT run (--no-vm)");
        phases.add("deb-test", Duration::ZERO, End::NotRun);
        println!("xtask: kernel matrix NOT run (--no-vm)");
        phases.add("kernel matrix", Duration::ZERO, End::NotRun);
    } else {
        // The .deb installed in a fresh Debian root and booted with systemd.
        let opts = debroot::Options {
            deb: None,
            timeout: Duration::from_secs(10 * 60),
        };
        let checks = phases
            .time("deb-test", || debroot::deb_test(tools, &opts))
            .context("cargo xtask deb-test")?;
        tally.passed += checks;
        // The live tests again on the oldest, a middle and the newest
        // kernel of the matrix (`cargo xtask vm-test` runs them all), then
        // the arm64 build on one arm64 kernel; all with the static release
        // tracer.
        let started = std::time::Instant::now();
        let sets: [(Arch, &[&str]); 2] =
            [(Arch::X86_64, CI_KERNELS), (Arch::Arm64, CI_ARM64_KERNELS)];
        match vm::run(tools, &sets) {
            Ok(summary) => {
                for (step, secs) in &summary.times {
                    phases.add(step, Duration::from_secs_f64(*secs), End::Ok);
                }
                // Guests boot side by side, so the kernels' rows overlap.
                phases.add("kernel matrix (wall)", started.elapsed(), End::Ok);
                tally.passed += summary.passed;
                tally.skipped += summary.skipped;
            }
            Err(e) => {
                phases.add("kernel matrix", started.elapsed(), End::Failed);
                return Err(e);
            }
        }
    }
    // A bounded fuzzing run in every test run (CI included).
    phases.time("fuzz", || fuzz(tools, 20))
}

/// Fails if a test said it could not run on the host kernel.
fn check_no_skips(skips: &Path) -> Result<()> {
    if let Ok(text) = std::fs::read_to_string(skips) {
        if !text.trim().is_empty() {
            bail!("tests skipped on the host kernel, where every test must run:\n{text}");
        }
    }
    Ok(())
}

/// Runs `cargo test`, passing its output through, and adds its `test
/// result:` lines to `tally`. Fails if the tests fail.
fn count_tests(cmd: &mut Command, tally: &mut Tally) -> Result<()> {
    use std::io::{BufRead as _, BufReader};
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("failed to start {cmd:?}"))?;
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line?;
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test result: ") {
            let count = |word: &str| {
                rest.split(';')
                    .find_map(|part| part.trim().strip_suffix(word))
                    .and_then(|n| n.trim().rsplit(' ').next()?.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            tally.passed += count(" passed");
            tally.failed += count(" failed");
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}
