//! Booting the root image under QEMU: a small initramfs (static busybox,
//! the modules the cloud kernel needs to reach an ext4 root on virtio-blk,
//! `init.sh`) that switch_roots to systemd, and a QEMU run whose serial
//! console is kept line by line, with a wall-clock limit.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{Context as _, Result};

use crate::cmd::run;

const INIT: &str = include_str!("init.sh");

/// Modules (with `_`) the initramfs loads, with their `depends=`; those
/// built into a kernel have no `.ko` and are skipped.
const WANTED: &[&str] = &["virtio_blk", "crc32c_intel", "crc32c_generic"];

/// Writes the initramfs for the kernel whose modules are in `modules_dir`.
pub(crate) fn initramfs(modules_dir: &Path, work: &Path, out: &Path) -> Result<()> {
    let tree = work.join("initramfs");
    let _ = fs::remove_dir_all(&tree);
    for d in ["bin", "modules", "proc", "sys", "dev", "newroot"] {
        fs::create_dir_all(tree.join(d))?;
    }
    fs::copy("/bin/busybox", tree.join("bin/busybox"))
        .context("copying /bin/busybox (package busybox-static)")?;
    fs::write(tree.join("init"), INIT)?;
    super::rootfs::chmod(&tree.join("init"), 0o755)?;
    let index = index(&modules_dir.join("kernel"))?;
    let mut order = Vec::new();
    for name in WANTED {
        visit(name, &index, &mut order)?;
    }
    for (i, path) in order.iter().enumerate() {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let stem = name.split(".ko").next().unwrap_or("m");
        fs::write(
            tree.join(format!("modules/{i:02}-{stem}.ko")),
            decompress(path)?,
        )?;
    }
    let file = fs::File::create(out)?;
    run(Command::new("sh")
        .arg("-c")
        .arg("find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0")
        .current_dir(&tree)
        .stdout(file))
    .context("packing the initramfs with cpio")?;
    Ok(())
}

fn visit(name: &str, index: &[(String, PathBuf)], order: &mut Vec<PathBuf>) -> Result<()> {
    let Some((_, path)) = index.iter().find(|(n, _)| n == name) else {
        return Ok(()); // built in
    };
    if order.contains(path) {
        return Ok(());
    }
    let out = Command::new("modinfo")
        .args(["-F", "depends"])
        .arg(path)
        .output()
        .context("running modinfo (package kmod)")?;
    for dep in String::from_utf8_lossy(&out.stdout)
        .trim()
        .split(',')
        .filter(|d| !d.is_empty())
    {
        visit(&dep.replace('-', "_"), index, order)?;
    }
    order.push(path.clone());
    Ok(())
}

/// (module name with `_`, file) for every module under `dir`.
fn index(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Some(file) = path.file_name().and_then(|n| n.to_str()) {
                if let Some((stem, _)) = file.split_once(".ko") {
                    out.push((stem.replace('-', "_"), path.clone()));
                }
            }
        }
    }
    Ok(out)
}

fn decompress(path: &Path) -> Result<Vec<u8>> {
    let tool = match path.extension().and_then(|e| e.to_str()) {
        Some("xz") => "xz",
        Some("zst") => "zstd",
        Some("gz") => "gzip",
        _ => return fs::read(path).with_context(|| format!("reading {}", path.display())),
    };
    let out = Command::new(tool).arg("-dc").arg(path).output()?;
    anyhow::ensure!(out.status.success(), "{tool} -dc {} failed", path.display());
    Ok(out.stdout)
}

/// The console of a finished (or killed) boot.
pub(crate) struct Console {
    pub(crate) lines: Vec<String>,
    /// The guest kernel panicked.
    pub(crate) panicked: bool,
    pub(crate) timed_out: bool,
    pub(crate) elapsed: Duration,
}

/// Boots `vmlinuz` with `initrd` and `image` as /dev/vda, TCG unless
/// TRACER_VM_ACCEL says otherwise (KVM guests hang on our machines), until
/// the guest powers off or `timeout` passes. Lines go to `log` and, when
/// they are the check's, to stderr as they come.
pub(crate) fn qemu(
    vmlinuz: &Path,
    initrd: &Path,
    image: &Path,
    log: &Path,
    timeout: Duration,
) -> Result<Console> {
    let accel = std::env::var("TRACER_VM_ACCEL").unwrap_or_else(|_| "tcg".into());
    let mut drive = std::ffi::OsString::from("file=");
    drive.push(image);
    drive.push(",format=raw,if=virtio,cache=unsafe");
    let mut cmd = Command::new("qemu-system-x86_64");
    // One vCPU: with two, attaching the tracepoints (live text patching
    // with int3) once oopsed in copy_process on the other vCPU under TCG.
    cmd.args(["-accel", &accel, "-cpu", "max", "-m", "1024", "-smp", "1"])
        .args(["-nographic", "-no-reboot", "-nodefaults"])
        .args(["-serial", "stdio"])
        .arg("-kernel")
        .arg(vmlinuz)
        .arg("-initrd")
        .arg(initrd)
        .arg("-drive")
        .arg(drive)
        .args([
            "-append",
            "console=ttyS0 root=/dev/vda rw panic=-1 mitigations=off quiet \
             systemd.firstboot=off systemd.show_status=error",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let console = crate::vm::qemu::run(
        cmd,
        "qemu-system-x86_64 (package qemu-system-x86)",
        log,
        timeout,
        |t, line| {
            if line.contains("@@deb-check") {
                eprintln!("  [deb-test {t:6.1}s] {}", line.trim());
            }
        },
    )?;
    let panicked = console
        .lines
        .iter()
        .any(|(_, l)| l.contains("Kernel panic - not syncing"));
    Ok(Console {
        panicked,
        lines: console.lines.into_iter().map(|(_, l)| l).collect(),
        timed_out: console.timed_out,
        elapsed: Duration::from_secs_f64(console.elapsed),
    })
}
