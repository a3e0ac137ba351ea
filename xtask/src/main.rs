//! `cargo xtask`: set-up, build, run and test, with no manual steps.

mod bench;
mod bench_failed_execs;
mod bench_follow;
mod bench_hostile;
mod bench_metrics;
mod bench_parallel;
mod bench_rotate;
mod bench_ship;
mod bench_throttle;
mod bench_workqueue;
mod debroot;
pub mod dist;
mod pf_check;
mod setup;
mod vm;

use std::process::{Command, ExitCode};

use anyhow::{bail, Context as _, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install the pinned toolchains and bpf-linker. Idempotent.
    Setup,
    /// Build tracer (userspace and eBPF) in release mode.
    Build,
    /// Format every crate with the house style (rustfmt.toml; nightly rustfmt).
    Fmt,
    /// Build, then run tracer with the given arguments, e.g. `cargo xtask run -- trace`.
    Run {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Format and lint checks, then every test (unit and live BPF tests on
    /// this kernel, `dist --check`, and, under QEMU, the live tests on the
    /// kernels in CI_KERNELS; needs root).
    Test {
        /// Leave out the kernel matrix (for quick local runs; CI runs it).
        #[arg(long)]
        no_vm: bool,
        /// Extra arguments for `cargo test` (after `--`), e.g. a test name filter.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Fuzz the log reader and record decoder, and the parsers of time, size
    /// and duration options (cargo-fuzz, nightly), SECONDS in all.
    Fuzz {
        #[arg(long, default_value_t = 60)]
        seconds: u32,
    },
    /// Measure tracer's cost on fork+exec, fork and signal storms (needs root).
    Bench {
        /// Alternating untraced/traced runs per cell (medians are compared;
        /// the ratio targets need at least 5).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Only the hostile-input bounds: crafted logs (no root needed) and a
        /// flooded `--metrics` endpoint (needs root; without it, not measured).
        #[arg(long, conflicts_with = "parallel")]
        hostile_only: bool,
        /// Only `record` with `--metrics` and `--otlp` beside plain `record`.
        #[arg(long, conflicts_with_all = ["parallel", "hostile_only"])]
        ship_only: bool,
        /// Only the in-kernel cost of following a command (`trace -- CMD`).
        #[arg(long, conflicts_with_all = ["parallel", "hostile_only", "ship_only"])]
        follow_only: bool,
        /// Only `record --dir` with and without `--compress`: zstd's ratio
        /// and CPU cost.
        #[arg(long, conflicts_with_all = ["parallel", "hostile_only", "ship_only", "follow_only"])]
        rotate_only: bool,
        /// Only the per-source throttle: the check's in-kernel cost and the
        /// storm rates at which each kind starts to be throttled.
        #[arg(long, conflicts_with_all = ["parallel", "hostile_only", "ship_only", "follow_only", "rotate_only"])]
        throttle_only: bool,
        /// The storms N at a time instead, for each N given (`all`: one per
        /// online CPU), e.g. `--parallel 1,2,all`.
        #[arg(long, value_delimiter = ',', value_name = "N,...")]
        parallel: Vec<String>,
        /// Another tracer build (e.g. a release build of main from before a
        /// change) measured side by side: each cell's rounds alternate
        /// untraced, old and new runs, and the table shows both ratios and
        /// their difference; the targets judge the new build.
        #[arg(long, value_name = "BINARY", conflicts_with_all = [
            "hostile_only", "ship_only", "follow_only", "rotate_only", "throttle_only",
        ])]
        baseline: Option<std::path::PathBuf>,
        /// A prebuilt tracer (with --workload: no set-up, no build, no
        /// cargo needed, e.g. on another machine with the static binaries).
        #[arg(long, requires = "workload", value_name = "PATH")]
        tracer: Option<std::path::PathBuf>,
        /// A prebuilt workload (xtask's `workload` binary).
        #[arg(long, requires = "tracer", value_name = "PATH")]
        workload: Option<std::path::PathBuf>,
        /// Where the JSON results go (default: target/bench, or the current
        /// directory away from a checkout).
        #[arg(long, value_name = "DIR")]
        out: Option<std::path::PathBuf>,
    },
    /// Release artifacts in target/dist/: static musl binaries and .debs
    /// for x86_64 (amd64) and aarch64 (arm64), with their SHA-256 sums.
    Dist {
        /// Then check them: static ELF of the right machine, --version,
        /// the .debs' contents and scripts, lintian.
        #[arg(long)]
        check: bool,
    },
    /// Boot Debian kernels under QEMU (TCG) and run the live tests inside
    /// each, with the static release tracer.
    VmTest {
        /// Kernels: names or ABIs from xtask/kernels.txt (kernels-arm64.txt
        /// with --arch arm64), or any Debian ABI version (e.g. 6.1.0-47);
        /// default: every pinned kernel.
        #[arg(long, value_delimiter = ',')]
        kernel: Vec<String>,
        /// The guest's architecture: x86_64, or arm64 (qemu-system-aarch64,
        /// the cross-built static arm64 tracer and a few `trace` tests).
        #[arg(long, default_value = "x86_64", value_parser = ["x86_64", "arm64"])]
        arch: String,
        /// Print the pinned kernels and exit.
        #[arg(long)]
        list: bool,
        /// Build the tests in debug mode (default release: about 3x faster
        /// under emulation).
        #[arg(long)]
        debug: bool,
        /// Minutes per kernel (boot and all tests) before QEMU is killed.
        #[arg(long, default_value_t = vm::TIMEOUT_MIN)]
        timeout_min: u64,
        /// Run only the tests whose `binary::name` contains this (letters,
        /// digits, `_` and `:`), e.g. `umh::sigkill` to chase a flaky test.
        #[arg(long)]
        filter: Option<String>,
        /// Run each chosen test this many times in the same boot.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
        repeat: u32,
    },
    /// Install the x86_64 .deb in a fresh Debian root (debootstrap, cached),
    /// check it in a chroot, then boot that root under QEMU with systemd
    /// and check tracer-record.service there (needs root).
    DebTest {
        /// Test this .deb instead of building one.
        #[arg(long, value_name = "FILE")]
        deb: Option<std::path::PathBuf>,
        /// Minutes for the boot and the checks inside before QEMU is killed.
        #[arg(long, default_value_t = 10)]
        timeout_min: u64,
    },
}

/// Kernels `cargo xtask test` (and so CI) boots: the oldest supported, the
/// oldest current LTS, and the newest (names from xtask/kernels.txt).
const CI_KERNELS: &[&str] = &["5.10", "6.1", "newest"];

/// The arm64 kernel `cargo xtask test` boots after those (a name from
/// xtask/kernels-arm64.txt), with [`vm::ARM64_TESTS`].
const CI_ARM64_KERNELS: &[&str] = &["6.12"];

/// `--arch` words to architectures.
fn vm_arch(word: &str) -> Result<vm::Arch> {
    match word {
        "x86_64" => Ok(vm::Arch::X86_64),
        "arm64" => Ok(vm::Arch::Arm64),
        other => bail!("--arch {other}: want x86_64 or arm64"),
    }
}

/// Runs `cmd`, failing with its command line if it does not succeed.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("failed to start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

fn cargo(tools: &setup::Tools) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.env("PATH", tools.path_env());
    cmd
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    // The bench from prebuilt binaries needs no toolchain.
    if let Cmd::Bench {
        rounds,
        hostile_only,
        ship_only,
        follow_only,
        rotate_only,
        throttle_only,
        parallel,
        baseline,
        tracer: Some(tracer),
        workload: Some(workload),
        out,
    } = cli.command
    {
        let only = Only::from_flags(hostile_only, ship_only, follow_only, rotate_only)
            .or_throttle(throttle_only);
        return bench_with(&BenchArgs {
            rounds,
            only,
            parallel: &parallel,
            tracer: &tracer,
            baseline: baseline.as_deref(),
            workload: &workload,
            out,
        });
    }
    let tools = setup::ensure()?;
    match cli.command {
        Cmd::Setup => {
            println!(
                "xtask: ready. Plain cargo build/test find bpf-linker in {} by themselves.",
                tools.bin_dir.display()
            );
            Ok(())
        }
        Cmd::Build => run(cargo(&tools).args(["build", "--release", "--package", "tracer"])),
        Cmd::Run { args } => {
            run(cargo(&tools).args(["build", "--release", "--package", "tracer"]))?;
            let exe = workspace_root().join("target/release/tracer");
            // SAFETY: geteuid has no preconditions.
            let mut cmd = if unsafe { libc::geteuid() } == 0 {
                Command::new(&exe)
            } else {
                let mut c = Command::new("sudo");
                c.arg(&exe);
                c
            };
            let status = cmd
                .args(&args)
                .status()
                .with_context(|| format!("running {}", exe.display()))?;
            std::process::exit(status.code().unwrap_or(1));
        }
        Cmd::Bench {
            rounds,
            hostile_only,
            ship_only,
            follow_only,
            rotate_only,
            throttle_only,
            parallel,
            baseline,
            out,
            ..
        } => {
            run(cargo(&tools).args(["build", "--release", "--package", "tracer"]))?;
            if !hostile_only {
                run(cargo(&tools).args([
                    "build",
                    "--release",
                    "--package",
                    "xtask",
                    "--bin",
                    "workload",
                ]))?;
            }
            let target = workspace_root().join("target/release");
            bench_with(&BenchArgs {
                rounds,
                only: Only::from_flags(hostile_only, ship_only, follow_only, rotate_only)
                    .or_throttle(throttle_only),
                parallel: &parallel,
                tracer: &target.join("tracer"),
                baseline: baseline.as_deref(),
                workload: &target.join("workload"),
                out,
            })
        }
        Cmd::Fuzz { seconds } => fuzz(&tools, seconds),
        Cmd::Dist { check } => dist::dist(&tools, check).map(|_| ()),
        Cmd::Fmt => run(&mut nightly_fmt(&tools, false)),
        Cmd::VmTest {
            list: true, arch, ..
        } => vm::list(vm_arch(&arch)?),
        Cmd::VmTest {
            kernel,
            arch,
            debug,
            timeout_min,
            filter,
            repeat,
            ..
        } => vm::vm_test(
            &tools,
            &vm::Options {
                kernels: kernel,
                arch: vm_arch(&arch)?,
                release: !debug,
                timeout: std::time::Duration::from_secs(timeout_min * 60),
                filter,
                repeat,
                ..vm::Options::default()
            },
        )
        .map(|_| ()),
        Cmd::DebTest { deb, timeout_min } => debroot::deb_test(
            &tools,
            &debroot::Options {
                deb,
                timeout: std::time::Duration::from_secs(timeout_min * 60),
            },
        )
        .map(|_| ()),
        Cmd::Test { no_vm, args } => test(&tools, no_vm, &args),
    }
}

/// A part of the bench run alone.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Only {
    All,
    Hostile,
    Ship,
    Follow,
    Rotate,
    Throttle,
}

impl Only {
    fn from_flags(hostile: bool, ship: bool, follow: bool, rotate: bool) -> Only {
        match (hostile, ship, follow, rotate) {
            (true, _, _, _) => Only::Hostile,
            (_, true, _, _) => Only::Ship,
            (_, _, true, _) => Only::Follow,
            (_, _, _, true) => Only::Rotate,
            _ => Only::All,
        }
    }

    /// `--throttle-only` (clap keeps it apart from the other flags).
    fn or_throttle(self, throttle: bool) -> Only {
        if throttle {
            Only::Throttle
        } else {
            self
        }
    }
}

/// `cargo xtask bench`'s arguments, binaries resolved.
struct BenchArgs<'a> {
    rounds: usize,
    only: Only,
    parallel: &'a [String],
    tracer: &'a std::path::Path,
    /// `--baseline`: measured side by side with `tracer`.
    baseline: Option<&'a std::path::Path>,
    workload: &'a std::path::Path,
    out: Option<std::path::PathBuf>,
}

/// The bench with these binaries: the hostile-input bounds only, the
/// shipping costs only, the parallel storms, or the whole bench.
fn bench_with(a: &BenchArgs) -> Result<()> {
    let (rounds, tracer, workload) = (a.rounds, a.tracer, a.workload);
    bench_parallel::check_binary(tracer, "--tracer")?;
    if a.only == Only::Hostile {
        return bench::run_hostile(tracer);
    }
    bench_parallel::check_binary(workload, "--workload")?;
    match a.only {
        Only::Ship => return bench::run_ship(rounds, tracer, workload),
        Only::Follow => return bench::run_follow(tracer, workload),
        Only::Rotate => return bench::run_rotate(rounds, tracer, workload),
        Only::Throttle => return bench::run_throttle(rounds, tracer, workload),
        Only::All | Only::Hostile => {}
    }
    if let Some(old) = a.baseline {
        bench_parallel::check_binary(old, "--baseline")?;
    }
    let out_dir = a
        .out
        .clone()
        .unwrap_or_else(bench_parallel::default_out_dir);
    if a.parallel.is_empty() {
        return bench::run(rounds, tracer, a.baseline, workload, &out_dir);
    }
    bench_parallel::run(&bench_parallel::Options {
        counts: bench_parallel::parse_counts(a.parallel)?,
        rounds,
        tracers: bench::baseline::Tracers {
            new: tracer.to_path_buf(),
            old: a.baseline.map(std::path::Path::to_path_buf),
        },
        workload: workload.to_path_buf(),
        out_dir,
    })
}

/// `cargo xtask test`: format and lint checks, the tests on this kernel,
/// the release artifacts' checks (`dist --check`), the kernel matrix
/// unless `no_vm`, a bounded fuzzing run, and one closing
/// `tests:` line.
fn test(tools: &setup::Tools, no_vm: bool, args: &[String]) -> Result<()> {
    run(&mut nightly_fmt(tools, true))?;
    run(cargo(tools).args(["clippy", "--all-targets", "--", "-D", "warnings"]))?;
    // The eBPF side for both architectures `dist` ships (their programs
    // differ where `bpf_target_arch` says).
    for arch in ["x86_64", "aarch64"] {
        run(&mut ebpf_clippy(tools, arch)?)?;
    }
    // Tests that cannot run on this kernel say so in this file; on
    // the host kernel every test must run.
    let skips = workspace_root().join("target/host-skips.txt");
    let _ = std::fs::remove_file(&skips);
    let py_bin = setup::ensure_test_tools()?;
    let (passed, failed) = cargo_test(
        cargo(tools)
            .args(["test"])
            .arg("--")
            .args(args)
            .env("TRACER_SKIP_FILE", &skips)
            .env("TRACER_TEST_PY_BIN", &py_bin),
    )?;
    if let Ok(text) = std::fs::read_to_string(&skips) {
        if !text.trim().is_empty() {
            println!("tests: {passed} passed, 1 failed");
            bail!("tests skipped on the host kernel, where every test must run:\n{text}");
        }
    }
    // The release artifacts build and are what they claim (static
    // binaries, .debs, lintian); nothing here needs another kernel.
    let passed = match dist::dist(tools, true) {
        Ok(checks) => passed + checks,
        Err(e) => {
            println!("tests: {passed} passed, 1 failed");
            return Err(e.context("cargo xtask dist --check"));
        }
    };
    // The .deb installed in a fresh Debian root and booted with systemd.
    let deb_checks = if no_vm {
        println!("xtask: deb-test NOT run (--no-vm)");
        0
    } else {
        let opts = debroot::Options {
            deb: None,
            timeout: std::time::Duration::from_secs(10 * 60),
        };
        match debroot::deb_test(tools, &opts) {
            Ok(checks) => checks,
            Err(e) => {
                println!("tests: {passed} passed, 1 failed");
                return Err(e.context("cargo xtask deb-test"));
            }
        }
    };
    // The live tests again on the oldest, a middle and the newest
    // kernel of the matrix (`cargo xtask vm-test` runs them all), then the
    // arm64 build on one arm64 kernel; all with the static release tracer.
    let vm = if no_vm {
        println!("xtask: kernel matrix NOT run (--no-vm)");
        vm::Summary::default()
    } else {
        vm::run(
            tools,
            &[
                (vm::Arch::X86_64, CI_KERNELS),
                (vm::Arch::Arm64, CI_ARM64_KERNELS),
            ],
        )?
    };
    // A bounded fuzzing run in every test run (CI included).
    fuzz(tools, 20)?;
    // One closing line for the whole run (CI reads it).
    println!(
        "tests: {} passed, {failed} failed, {} skipped",
        passed + deb_checks + vm.passed,
        vm.skipped
    );
    Ok(())
}

/// Runs `cargo test`, passing its output through, and adds up its
/// `test result:` lines: (passed, failed). Fails if the tests fail.
fn cargo_test(cmd: &mut Command) -> Result<(u64, u64)> {
    use std::io::{BufRead as _, BufReader};
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("failed to start {cmd:?}"))?;
    let (mut passed, mut failed) = (0, 0);
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
            passed += count(" passed");
            failed += count(" failed");
        }
    }
    let status = child.wait()?;
    if !status.success() {
        println!("tests: {passed} passed, {failed} failed");
        bail!("{cmd:?} failed: {status}");
    }
    Ok((passed, failed))
}

/// The fuzz targets (tracer/fuzz/fuzz_targets), with each one's share of
/// the fuzzing time in eighths: the log reader has the most to explore; the
/// parsers of option values (`--since`, sizes, durations) are small.
const FUZZ_TARGETS: [(&str, u32); 4] = [
    ("log_reader", 5),
    ("time_spec", 1),
    ("size", 1),
    ("duration", 1),
];

/// Runs every fuzz target, `seconds` in all, shared as [`FUZZ_TARGETS`]
/// says (at least a second each), from the committed seed corpora; new
/// inputs go to target/fuzz-corpus/TARGET, crashes to
/// tracer/fuzz/artifacts/ (and fail).
fn fuzz(tools: &setup::Tools, seconds: u32) -> Result<()> {
    let fuzz_bin = setup::ensure_cargo_fuzz()?;
    let root = workspace_root();
    let mut path = std::ffi::OsString::from(&fuzz_bin);
    path.push(":");
    path.push(tools.path_env());
    for (target, eighths) in FUZZ_TARGETS {
        let work = root.join("target/fuzz-corpus").join(target);
        std::fs::create_dir_all(&work)?;
        let share = (seconds * eighths / 8).max(1);
        run(Command::new("rustup")
            .args([
                "run",
                setup::NIGHTLY,
                "cargo",
                "fuzz",
                "run",
                "--fuzz-dir",
                "tracer/fuzz",
            ])
            .arg(target)
            .arg(&work)
            .arg(format!("tracer/fuzz/corpus/{target}"))
            .arg("--")
            .arg(format!("-max_total_time={share}"))
            .env("PATH", &path)
            .env_remove("RUSTC")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .current_dir(&root))?;
    }
    Ok(())
}

/// rustfmt with the options rustfmt.toml asks for, which only nightly's
/// rustfmt has (the nightly the eBPF build uses).
fn nightly_fmt(tools: &setup::Tools, check: bool) -> Command {
    let mut cmd = Command::new("rustup");
    cmd.args(["run", setup::NIGHTLY, "cargo", "fmt", "--all"])
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
fn ebpf_clippy(tools: &setup::Tools, target_arch: &str) -> Result<Command> {
    let cfg = format!(
        "--cfg=bpf_target_arch=\"{}\"",
        bpf_target_arch(target_arch)?
    );
    let mut cmd = Command::new("rustup");
    cmd.args([
        "run",
        setup::NIGHTLY,
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

pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
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

    #[test]
    fn a_baseline_goes_with_the_storms_only() {
        let parse = |args: &[&str]| Cli::try_parse_from(["xtask", "bench"].iter().chain(args));
        let Cmd::Bench {
            baseline, parallel, ..
        } = parse(&["--baseline", "/old/tracer", "--parallel", "1,2"])
            .unwrap()
            .command
        else {
            panic!("not bench");
        };
        assert_eq!(baseline.unwrap(), std::path::Path::new("/old/tracer"));
        assert_eq!(parallel, ["1", "2"]);
        for only in [
            "--hostile-only",
            "--ship-only",
            "--follow-only",
            "--rotate-only",
        ] {
            assert!(parse(&["--baseline", "x", only]).is_err(), "{only}");
        }
        assert!(parse(&["--baseline", "x", "--throttle-only"]).is_err());
    }
}
