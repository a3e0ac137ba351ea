//! `cargo xtask`: set-up, build, run and test, with no manual steps.
//!
//! This file parses the command line and dispatches; `cmd` holds what
//! every module shares, `ci` the `test` driver, `bench/` the bench.

mod bench;
mod checks;
mod ci;
mod cmd;
mod debroot;
pub(crate) mod dist;
mod fuzz;
mod mirror;
mod pf_check;
mod setup;
mod vm;

use std::process::{Command, ExitCode};

use anyhow::{bail, Context as _, Result};
use clap::{Parser, Subcommand};
use cmd::{cargo, run, workspace_root};

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
    /// Format and lint checks, then every test (the plain tests, the live
    /// BPF tests on this kernel, `dist --check`, deb-test, and, under QEMU,
    /// the live tests on the kernels of `ci::CI_KERNELS`; needs root), and
    /// a table of phase times.
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
    Bench(bench::Args),
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
        /// Run only the tests whose `module::name` contains this (letters,
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

/// `--arch` words to architectures.
fn vm_arch(word: &str) -> Result<cmd::Arch> {
    match word {
        "x86_64" => Ok(cmd::Arch::X86_64),
        "arm64" => Ok(cmd::Arch::Arm64),
        other => bail!("--arch {other}: want x86_64 or arm64"),
    }
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
    if let Cmd::Bench(args) = &cli.command {
        if let Some(binaries) = args.prebuilt() {
            return bench::run(args, &binaries);
        }
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
            let mut cmd = if cmd::is_root() {
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
        Cmd::Bench(args) => bench::build_and_run(&tools, &args),
        Cmd::Fuzz { seconds } => fuzz::fuzz(&tools, seconds),
        Cmd::Dist { check } => dist::dist(&tools, check).map(|_| ()),
        Cmd::Fmt => run(&mut checks::nightly_fmt(&tools, false)),
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
        Cmd::Test { no_vm, args } => ci::test(&tools, no_vm, &args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_baseline_goes_with_the_storms_only() {
        let parse = |args: &[&str]| Cli::try_parse_from(["xtask", "bench"].iter().chain(args));
        let Cmd::Bench(bench) = parse(&["--baseline", "/old/tracer", "--parallel", "1,2"])
            .unwrap()
            .command
        else {
            panic!("not bench");
        };
        assert_eq!(bench.baseline.unwrap(), std::path::Path::new("/old/tracer"));
        assert_eq!(bench.parallel, ["1", "2"]);
        for only in [
            "--hostile-only",
            "--ship-only",
            "--follow-only",
            "--rotate-only",
        ] {
            assert!(parse(&["--baseline", "x", only]).is_err(), "{only}");
        }
        assert!(parse(&["--baseline", "x", "--throttle-only"]).is_err());
        assert!(parse(&["--baseline", "x", "--only", "ship"]).is_err());
    }

    #[test]
    fn only_takes_a_scenario_and_the_old_flags_are_its_aliases() {
        let only = |args: &[&str]| {
            let cli = Cli::try_parse_from(["xtask", "bench"].iter().chain(args))?;
            let Cmd::Bench(bench) = cli.command else {
                panic!("not bench");
            };
            Ok::<_, clap::Error>(bench.only())
        };
        use bench::Only;
        assert_eq!(only(&[]).unwrap(), None);
        for (flag, want) in [
            ("--hostile-only", Only::Hostile),
            ("--ship-only", Only::Ship),
            ("--follow-only", Only::Follow),
            ("--rotate-only", Only::Rotate),
            ("--throttle-only", Only::Throttle),
        ] {
            assert_eq!(only(&[flag]).unwrap(), Some(want), "{flag}");
            assert!(only(&[flag, "--parallel", "2"]).is_err(), "{flag}");
        }
        assert_eq!(
            only(&["--only", "failed-execs"]).unwrap(),
            Some(Only::FailedExecs)
        );
        assert_eq!(only(&["--only", "hostile"]).unwrap(), Some(Only::Hostile));
        assert!(only(&["--only", "storms-and-more"]).is_err());
        assert!(only(&["--only", "ship", "--rotate-only"]).is_err());
        assert!(only(&["--hostile-only", "--ship-only"]).is_err());
        assert!(only(&["--only", "ship", "--parallel", "2"]).is_err());
    }
}
