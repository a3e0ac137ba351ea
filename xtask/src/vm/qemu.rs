//! Boots one kernel under QEMU and captures its serial console.
//!
//! TCG (pure emulation) by default: KVM guests of these kernels hang on the
//! machines we develop on (see /work/shared/kernel-notes.md). Set
//! TRACER_VM_ACCEL=kvm to try KVM where it works. A wall-clock timeout kills
//! QEMU; `panic=-1` plus `-no-reboot` make a kernel panic end QEMU at once.

use std::{
    fs,
    io::{BufRead as _, BufReader, Write as _},
    path::Path,
    process::{Command, Stdio},
    sync::mpsc::{self, RecvTimeoutError},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};

/// The console, line by line, each with seconds since QEMU started.
pub struct Console {
    pub lines: Vec<(f64, String)>,
    pub timed_out: bool,
    /// Seconds from QEMU's start to its end.
    pub elapsed: f64,
}

pub fn boot(
    vmlinuz: &Path,
    initrd: &Path,
    log: &Path,
    timeout: Duration,
    mut on_line: impl FnMut(f64, &str),
) -> Result<Console> {
    let accel = std::env::var("TRACER_VM_ACCEL").unwrap_or_else(|_| "tcg".into());
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args(["-accel", &accel, "-cpu", "max", "-m", "2048", "-smp", "2"])
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
        .args(["-append", "console=ttyS0 panic=-1 quiet mitigations=off"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .context("starting qemu-system-x86_64 (package qemu-system-x86)")?;
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
