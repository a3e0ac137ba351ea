//! `cargo xtask vm-test`: boots Debian kernels under QEMU and runs the live
//! tests (the tracer package's `live` test target: where a test lives
//! decides) inside each, one test at a time, then prints a kernel x
//! test table. Kernels come from `xtask/kernels.txt` (see [`kernels`]); the
//! guest is an initramfs with the host's test binaries at their host paths
//! (see [`initramfs`]); results come back as `@@tracer-vm` lines on the
//! serial console (see `init.sh`, [`console`], [`results`]).
//!
//! The tracer the tests run in every guest is the shipped binary: the
//! stripped static musl release build ([`static_tracer`]), put at the path
//! the test binaries were compiled with (`CARGO_BIN_EXE_tracer`, a glibc
//! build on the host), so the matrix tests what users install.
//!
//! `--arch arm64` boots the arm64 kernels of `xtask/kernels-arm64.txt` under
//! `qemu-system-aarch64 -M virt` (TCG), with the static arm64 tracer, the
//! `live` tests cross-built for `aarch64-unknown-linux-musl` (their
//! `trace::` module only), and Debian's
//! arm64 busybox as the whole userland. Emulating another architecture is
//! slow, so by default only [`ARM64_TESTS`] run there.
//!
//! Outputs: `target/vm-test/<kernel>.log` (each console; arm64 kernels are
//! named `<name>-arm64`), `results.json`.

mod console;
mod cpio;
mod initramfs;
mod kernels;
mod lanes;
mod modules;
pub(crate) mod qemu;
mod results;

use std::{
    fs,
    io::BufRead as _,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};

pub(crate) use crate::cmd::Arch;
use crate::{cmd::Tools, dist::static_tracer};

/// The default wall-clock limit per kernel, boot included, in minutes.
/// 5.10 is the slowest under TCG: 14.4 minutes for 94 live tests on a
/// 2-vCPU VM (every tracer start there verifies and probes more), about 18
/// with the rotation tests, so 15 left no margin on a slower CI host; the
/// matrix still ends well inside CI's 90 minutes when nothing hangs.
pub(crate) const TIMEOUT_MIN: u64 = 35;

/// The tests an arm64 guest runs unless `--filter` says otherwise: they
/// prove that the arm64 binary loads and attaches its programs, reads tasks
/// through BTF and traces a child's fork, exec, signals and exit, and that
/// SIGTERM to kthreadd is seen as ignored. Both exec only busybox applets.
/// Also: io_uring workers (arm64 has its own system call numbers) and a
/// full ring buffer, and failed execs (arm64's own system call numbers and
/// `pt_regs`). About 15 s each under TCG on a 2-vCPU host; the whole
/// `trace` binary takes about 220 s there.
pub(crate) const ARM64_TESTS: &[&str] = &[
    "trace::fork_exec_signal_and_exit_of_a_child",
    "trace::failed_execs_show_the_kernels_error_when_asked",
    "trace::sigterm_to_kthreadd_is_ignored",
    "trace::exit_status_of_a_shell",
    "trace::io_uring_sqpoll_thread_is_a_new_io_worker",
    "trace::a_full_ring_buffer_counts_lost_events",
    // The kthread requester read from arm64's own saved registers (x19/x20).
    "kthreads::a_restarted_khugepaged_is_for_the_shell_that_asked_for_it",
];

/// The modules of the `live` test binary an arm64 guest runs (test-name
/// prefixes; the `trace` tests, once their own test target): `--filter`
/// chooses among them.
const ARM64_TEST_MODULES: &[&str] = &["trace::", "kthreads::"];

pub(crate) struct Options {
    /// Kernel names, ABIs or ABI versions; empty for the pinned set.
    pub(crate) kernels: Vec<String>,
    /// The guest's architecture.
    pub(crate) arch: Arch,
    /// Build the tests with `--release`: under emulation the debug build
    /// runs the live tests about 3x slower (tracer start-up above all), long
    /// enough to break tests that give tracer a second to start.
    pub(crate) release: bool,
    /// Wall-clock limit per kernel, boot included.
    pub(crate) timeout: Duration,
    /// Limit per test inside the guest.
    pub(crate) test_timeout: Duration,
    /// Only tests whose name (`module::test`) contains this.
    pub(crate) filter: Option<String>,
    /// Runs of each chosen test.
    pub(crate) repeat: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            kernels: Vec::new(),
            arch: Arch::X86_64,
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
pub(crate) struct Summary {
    pub(crate) passed: u64,
    pub(crate) failed: u64,
    pub(crate) skipped: u64,
    /// Seconds per step: each architecture's builds and downloads, then
    /// each kernel's boot and tests (for `cargo xtask test`'s phase table).
    pub(crate) times: Vec<(String, f64)>,
}

/// Runs the live tests on the named kernels of each architecture
/// (`[(Arch::X86_64, &["5.10", "6.1", "newest"]), (Arch::Arm64, &["6.12"])]`),
/// for callers like `cargo xtask test`; one table and one results.json.
pub(crate) fn run(tools: &Tools, sets: &[(Arch, &[&str])]) -> Result<Summary> {
    let opts: Vec<Options> = sets
        .iter()
        .map(|(arch, kernels)| Options {
            kernels: kernels.iter().map(|k| k.to_string()).collect(),
            arch: *arch,
            ..Options::default()
        })
        .collect();
    vm_test_all(tools, &opts)
}

/// Files the tests read at their source paths (fixture logs).
fn test_data() -> Result<Vec<PathBuf>> {
    let dir = crate::cmd::workspace_root().join("tracer/tests/fixtures");
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
pub(crate) fn list(arch: Arch) -> Result<()> {
    let cache = crate::cmd::cache_dir()?.join("vm/kernels");
    for k in kernels::pinned(arch)? {
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

pub(crate) fn vm_test(tools: &Tools, opts: &Options) -> Result<Summary> {
    vm_test_all(tools, std::slice::from_ref(opts))
}

/// Runs each set of options in turn, then reports all the kernels together.
fn vm_test_all(tools: &Tools, sets: &[Options]) -> Result<Summary> {
    let out_dir = crate::cmd::workspace_root().join("target/vm-test");
    fs::create_dir_all(&out_dir)?;
    let mut runs = Vec::new();
    let mut pf_errors = Vec::new();
    let mut times = Vec::new();
    for opts in sets {
        let (r, e) = run_arch(tools, opts, &out_dir, &mut times)?;
        runs.extend(r);
        pf_errors.extend(e);
    }
    results::print(&runs);
    let json = out_dir.join("results.json");
    results::write_json(&runs, &json)?;
    println!("\nconsole logs and results.json in {}", out_dir.display());
    let mut summary = summarize(&runs, &pf_errors)?;
    summary.times = times;
    Ok(summary)
}

/// Boots the kernels of one architecture; returns their runs and the PF
/// name errors; adds each step's seconds to `times`.
fn run_arch(
    tools: &Tools,
    opts: &Options,
    out_dir: &Path,
    times: &mut Vec<(String, f64)>,
) -> Result<(Vec<results::KernelRun>, Vec<String>)> {
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
    if opts.arch != Arch::X86_64 {
        crate::setup::ensure_vm_arch_package(qemu::program(opts.arch).1)?;
    }
    let started = Instant::now();
    let selected = kernels::select(&opts.kernels, opts.arch)?;
    let (common, tracer) = build_common_initramfs(tools, opts, out_dir)?;

    // Every download first: a kernel the mirror dropped fails the run early.
    let unpacked = selected
        .iter()
        .map(kernels::fetch)
        .collect::<Result<Vec<_>>>()?;
    times.push((
        format!("VM builds, kernels ({})", opts.arch.deb_arch()),
        started.elapsed().as_secs_f64(),
    ));
    let mut pf_errors = Vec::new();
    // The PF_* values are the same on every architecture: the x86-64
    // matrix checks them.
    for (kernel, unpacked) in selected.iter().zip(&unpacked) {
        if kernel.arch == Arch::X86_64 {
            pf_errors.extend(check_pf_names(kernel, unpacked)?);
        }
    }
    let accel = match selected.first().zip(unpacked.first()) {
        Some((kernel, unpacked)) => accel_for(kernel, unpacked, &common, out_dir)?,
        None => return Ok((Vec::new(), pf_errors)),
    };
    let lanes = lanes::count(opts.arch, &accel, selected.len());
    if lanes > 1 {
        eprintln!("xtask: {lanes} guests at a time");
    }
    let done = lanes::run(lanes, selected.len(), |i| {
        boot_kernel(
            &selected[i],
            &unpacked[i],
            &common,
            out_dir,
            opts.timeout,
            &accel,
        )
    });
    let mut runs = Vec::new();
    for (kernel, booted) in selected.iter().zip(done) {
        let (mut run, secs) = booted?;
        times.push((format!("kernel {}", kernel.label()), secs));
        run.tracer = tracer.clone();
        runs.push(run);
    }
    Ok((runs, pf_errors))
}

/// The accelerator for this architecture's guests, probed with the first
/// kernel (see [`qemu::accel`]).
fn accel_for(
    kernel: &kernels::Kernel,
    unpacked: &kernels::Unpacked,
    common: &Path,
    out_dir: &Path,
) -> Result<String> {
    // No KVM for a foreign architecture.
    if kernel.arch != Arch::X86_64 {
        return Ok("tcg".into());
    }
    let initrd = out_dir.join(format!("{}.probe.initrd", kernel.label()));
    initramfs::with_modules(common, &modules_part(unpacked)?, &initrd)?;
    let accel = qemu::accel(
        &unpacked.vmlinuz,
        &initrd,
        &crate::cmd::cache_dir().unwrap_or_else(|_| out_dir.to_path_buf()),
    );
    let _ = fs::remove_file(&initrd);
    Ok(accel)
}

/// Builds the tests and the initramfs part every kernel of `opts.arch`
/// shares; returns its path and a description of the tracer in it.
fn build_common_initramfs(
    tools: &Tools,
    opts: &Options,
    out_dir: &Path,
) -> Result<(PathBuf, String)> {
    let started = Instant::now();
    let (tests, tracer_at, busybox, userland, filter, only) = match opts.arch {
        Arch::X86_64 => {
            let (tests, at) = build_tests(tools, opts.release, None)?;
            let busybox = initramfs::which("busybox")
                .context("busybox not found (package busybox-static)")?;
            let filter = opts.filter.iter().cloned().collect();
            (
                tests,
                at,
                busybox,
                initramfs::Userland::Host,
                filter,
                Vec::new(),
            )
        }
        arch => {
            let (tests, at) = build_tests(tools, opts.release, Some(arch))?;
            let filter = match &opts.filter {
                Some(f) => vec![f.clone()],
                None => ARM64_TESTS.iter().map(|t| t.to_string()).collect(),
            };
            let busybox = kernels::busybox(arch)?;
            let only = ARM64_TEST_MODULES.iter().map(|m| m.to_string()).collect();
            (
                tests,
                at,
                busybox,
                initramfs::Userland::Busybox,
                filter,
                only,
            )
        }
    };
    eprintln!(
        "xtask: tests built ({}) in {:.1}s",
        match opts.arch {
            Arch::X86_64 => "for the host",
            arch => arch.triple(),
        },
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    // A copy: `cargo test` builds the same path with its own dependency
    // features (dev-dependencies), and may have run last.
    let tracer = out_dir.join(format!("tracer-{}", opts.arch.triple()));
    fs::copy(static_tracer(tools, opts.arch)?, &tracer)
        .with_context(|| format!("copying the static tracer to {}", tracer.display()))?;
    check_tracer_path(&tests, &tracer_at)?;
    eprintln!(
        "xtask: static {} tracer ready in {:.1}s; the guest runs it as {}",
        opts.arch.triple(),
        started.elapsed().as_secs_f64(),
        tracer_at.display()
    );
    let describe = format!(
        "static release {} ({} bytes)",
        opts.arch.triple(),
        fs::metadata(&tracer)?.len()
    );
    let started = Instant::now();
    let common = out_dir.join(format!("initramfs-common-{}.cpio", opts.arch.deb_arch()));
    initramfs::build_common(
        &initramfs::Payload {
            tests,
            tracer: initramfs::Tracer {
                at: tracer_at,
                from: tracer,
            },
            busybox,
            userland,
            data: test_data()?,
            test_timeout_s: opts.test_timeout.as_secs(),
            output_lines: 60,
            filter,
            only,
            repeat: opts.repeat,
        },
        &common,
    )?;
    eprintln!(
        "xtask: initramfs {} MiB in {:.1}s",
        fs::metadata(&common)?.len() >> 20,
        started.elapsed().as_secs_f64()
    );
    Ok((common, describe))
}

/// Fails unless every test binary carries `tracer_at` (the tracer path it
/// runs), where the guest gets the static tracer.
fn check_tracer_path(tests: &[PathBuf], tracer_at: &Path) -> Result<()> {
    let needle = tracer_at.as_os_str().as_encoded_bytes();
    for test in tests {
        let bytes = fs::read(test).with_context(|| format!("reading {}", test.display()))?;
        if !bytes.windows(needle.len()).any(|w| w == needle) {
            bail!(
                "{} does not name {}: the guest would not run the static tracer",
                test.display(),
                tracer_at.display()
            );
        }
    }
    Ok(())
}

/// Boots one kernel with the tests (twice if the first boot never reached
/// /init) under `accel`.
fn boot_kernel(
    kernel: &kernels::Kernel,
    unpacked: &kernels::Unpacked,
    common: &Path,
    out_dir: &Path,
    timeout: Duration,
    accel: &str,
) -> Result<results::KernelRun> {
    let label = kernel.label();
    let initrd = out_dir.join(format!("{label}.initrd"));
    initramfs::with_modules(common, &modules_part(unpacked)?, &initrd)?;
    eprintln!("xtask: booting {label} ({}) with {accel}", kernel.abi);
    let boot = || {
        qemu::boot(
            kernel.arch,
            accel,
            &unpacked.vmlinuz,
            &initrd,
            &out_dir.join(format!("{label}.log")),
            timeout,
            |t, line| progress(&label, t, line),
        )
    };
    let mut run = results::parse(&label, &kernel.abi, &boot()?);
    if run.uname.is_none() {
        // The guest died before /init (seen once: a timer oops in
        // early boot under TCG): that says nothing about tracer, so
        // boot once more; a second failure stands.
        eprintln!("xtask: {label} did not reach /init; booting it once more");
        run = results::parse(&label, &kernel.abi, &boot()?);
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
    if let Some(result) = console::after_result(line) {
        eprintln!("  [{kernel} {t:7.1}s] {result}");
    } else if let Some(release) = console::uname(line) {
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

/// Builds the tracer package's `live` test binary, for the host or
/// cross-built for `cross` (static musl);
/// returns their executables and the tracer path they run.
fn build_tests(
    tools: &Tools,
    release: bool,
    cross: Option<Arch>,
) -> Result<(Vec<PathBuf>, PathBuf)> {
    let mut cmd = crate::cmd::cargo(tools);
    cmd.args(["test", "--package", "tracer", "--no-run"])
        .arg("--message-format=json-render-diagnostics")
        .current_dir(crate::cmd::workspace_root())
        .stdout(Stdio::piped());
    // Where a test lives decides: `live` holds the tests for every kernel
    // (`live_host` and the plain test files stay on the host).
    cmd.args(["--test", "live"]);
    if let Some(arch) = cross {
        crate::setup::ensure_rust_targets(&[arch.triple()])?;
        cmd.args(["--target", arch.triple()]);
        musl_env(&mut cmd, arch);
    }
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
        if kind
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "test"))
        {
            tests.push(PathBuf::from(exe));
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

/// The linker and flags of a static musl build, for the cross-built tests.
/// They must be exactly those of [`static_tracer`]: the tests then share
/// its dependencies instead of rebuilding them (cargo rebuilds every crate
/// for the target when its flags change, and back on the next build).
fn musl_env(cmd: &mut std::process::Command, arch: Arch) {
    let var = arch.triple().to_uppercase().replace('-', "_");
    cmd.env(format!("CARGO_TARGET_{var}_LINKER"), "rust-lld")
        .env(
            format!("CARGO_TARGET_{var}_RUSTFLAGS"),
            "-C target-feature=+crt-static -C strip=symbols -C debuginfo=0",
        )
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
}

fn check_exists(path: &Path) -> Result<()> {
    if !path.is_file() {
        bail!("{} is missing", path.display());
    }
    Ok(())
}

// ---- For `cargo xtask deb-test` (xtask/src/debroot/), which boots a
// Debian root with one of these kernels. ----

/// A pinned x86_64 kernel (a name or ABI from xtask/kernels.txt), fetched and
/// unpacked once: (ABI, vmlinuz, its `lib/modules/<abi>` dir).
pub(crate) fn pinned_kernel(name: &str) -> Result<(String, PathBuf, PathBuf)> {
    let kernel = kernels::select(&[name.to_string()], Arch::X86_64)?
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
        let console = console::Console {
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
