//! Boots one kernel under QEMU and captures its serial console.
//!
//! KVM where it works, else TCG (pure emulation): KVM guests of these
//! kernels hang on the machines we develop on (see
//! /work/shared/kernel-notes.md), so [`accel`] tries a KVM boot once per
//! host boot and falls back on its own. TRACER_VM_ACCEL=kvm|tcg decides
//! instead. A wall-clock timeout kills QEMU; `panic=-1` plus `-no-reboot`
//! make a kernel panic end QEMU at once.
//!
//! arm64 guests run under `qemu-system-aarch64 -M virt` (package
//! qemu-system-arm), always TCG: an x86-64 host has no KVM for them.

use std::{
    fs,
    io::{BufRead as _, BufReader, Write as _},
    path::Path,
    process::{Command, Stdio},
    sync::mpsc::{self, RecvTimeoutError},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};

use super::console;
pub(crate) use super::console::Console;
use crate::cmd::Arch;

/// The accelerator to boot with: TRACER_VM_ACCEL if set; else KVM if
/// /dev/kvm opens and a guest booted under it reaches /init within 30 s
/// (the answer is kept per host boot in `cache`); else TCG.
pub(crate) fn accel(vmlinuz: &Path, initrd: &Path, cache: &Path) -> String {
    if let Ok(accel) = std::env::var("TRACER_VM_ACCEL") {
        return accel;
    }
    let kvm_opens = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    if !kvm_opens {
        return "tcg".into();
    }
    let boot_id = fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let verdict = cache.join(format!("accel-{}", boot_id.trim()));
    if let Ok(known) = fs::read_to_string(&verdict) {
        return known.trim().to_string();
    }
    let works = boots_under_kvm(vmlinuz, initrd);
    let accel = if works { "kvm" } else { "tcg" };
    eprintln!(
        "xtask: KVM {}: using {accel}",
        if works {
            "works"
        } else {
            "guests do not boot here"
        }
    );
    let _ = fs::write(&verdict, accel);
    accel.into()
}

/// Whether a KVM guest prints the guest's first mark within 30 s.
fn boots_under_kvm(vmlinuz: &Path, initrd: &Path) -> bool {
    let Ok(mut child) = command(Arch::X86_64, "kvm", vmlinuz, initrd).spawn() else {
        return false;
    };
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || read_lines(stdout, &tx));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut booted = false;
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if console::uname(&line).is_some() {
            booted = true;
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    booted
}

/// The QEMU program for `arch` guests and its Debian package.
pub(crate) fn program(arch: Arch) -> (&'static str, &'static str) {
    match arch {
        Arch::X86_64 => ("qemu-system-x86_64", "qemu-system-x86"),
        Arch::Arm64 => ("qemu-system-aarch64", "qemu-system-arm"),
    }
}

fn command(arch: Arch, accel: &str, vmlinuz: &Path, initrd: &Path) -> Command {
    let mut cmd = Command::new(program(arch).0);
    let console = match arch {
        Arch::X86_64 => {
            // TCG on one host thread for both vCPUs: with a thread each, a
            // 6.1 guest's CPUs spun for good on an int3 that text_poke_bp
            // had already taken out of process_one_work (a stale
            // translation of kernel text one vCPU patched under the other,
            // as a tracepoint's static key flipped): soft lockups, twice in
            // two runs. Single-threaded, 6.1's 87 tests took 272 s, about
            // what they took before, and none hung.
            let accel = if accel == "tcg" {
                "tcg,thread=single"
            } else {
                accel
            };
            cmd.args(["-accel", accel, "-cpu", "max"]);
            "ttyS0"
        }
        Arch::Arm64 => {
            // pauth-impdef: QEMU's own pointer-authentication hash, much
            // cheaper to emulate than the architected one (boot 35 s -> 11 s).
            cmd.args(["-accel", "tcg", "-M", "virt", "-cpu", "max,pauth-impdef=on"]);
            "ttyAMA0"
        }
    };
    cmd.args(["-m", "2048", "-smp", "2"])
        .args([
            "-nographic",
            "-no-reboot",
            "-nodefaults",
            "-serial",
            "stdio",
        ])
        .arg("-kernel")
        .arg(vmlinuz)
        .arg("-initrd")
        .arg(initrd)
        // mitigations=off: no speculation workarounds to emulate.
        // softlockup_panic: a guest whose CPUs lock up ends at once (with
        // every CPU's stack, printed once init.sh raises the console's
        // level) rather than when the kernel's wall-clock limit runs out.
        .arg("-append")
        .arg(format!(
            "console={console} panic=-1 quiet mitigations=off \
             softlockup_panic=1 softlockup_all_cpu_backtrace=1"
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

pub(crate) fn boot(
    arch: Arch,
    accel: &str,
    vmlinuz: &Path,
    initrd: &Path,
    log: &Path,
    timeout: Duration,
    on_line: impl FnMut(f64, &str),
) -> Result<Console> {
    let (prog, package) = program(arch);
    run(
        command(arch, accel, vmlinuz, initrd),
        &format!("{prog} (package {package})"),
        log,
        timeout,
        on_line,
    )
}

/// Runs a QEMU command line built with piped stdout and stderr (`what`
/// names it for an error) until it ends or `timeout` passes (then it is
/// killed): its console, line by line, also into `log` and `on_line`
/// (seconds since start, line) as they come. `cargo xtask deb-test` boots
/// its own machine with it.
pub(crate) fn run(
    mut cmd: Command,
    what: &str,
    log: &Path,
    timeout: Duration,
    mut on_line: impl FnMut(f64, &str),
) -> Result<Console> {
    let start = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("starting {what}"))?;
    let mut log_file =
        fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;

    // Reader threads for stdout (the console) and stderr (QEMU's own errors).
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let tx2 = tx.clone();
    let readers = [
        std::thread::spawn(move || read_lines(stdout, &tx)),
        std::thread::spawn(move || read_lines(stderr, &tx2)),
    ];

    let deadline = start + timeout;
    let mut lines = Vec::new();
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let t = start.elapsed().as_secs_f64();
                writeln!(log_file, "{line}")?;
                on_line(t, &line);
                lines.push((t, line));
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                timed_out = true;
                let _ = child.kill();
                break;
            }
        }
    }
    child.wait().context("waiting for qemu")?;
    for r in readers {
        let _ = r.join();
    }
    Ok(Console {
        lines,
        timed_out,
        elapsed: start.elapsed().as_secs_f64(),
    })
}

/// Sends each line (lossy UTF-8, without `\r`) until EOF.
fn read_lines(from: impl std::io::Read, tx: &mpsc::Sender<String>) {
    let mut reader = BufReader::new(from);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end_matches(['\n', '\r']).replace('\r', "");
                if tx.send(line).is_err() {
                    return;
                }
            }
        }
    }
}
