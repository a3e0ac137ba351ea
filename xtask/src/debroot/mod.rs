//! `cargo xtask deb-test`: the x86_64 .deb in a fresh Debian root.
//!
//! 1. A debootstrap root (trixie, `minbase` plus systemd; cached as a
//!    tarball, see [`rootfs`]) unpacked afresh; the .deb installed there
//!    with `dpkg -i` in a chroot (host /proc, /sys, /dev; a policy-rc.d that
//!    keeps services from starting), and the installed files checked: the
//!    binary runs (`--version`, `ps`), man pages and completions are there,
//!    `tracer-record.service` is enabled.
//! 2. That root as an ext4 image, booted under QEMU (TCG) with the pinned
//!    6.12 cloud kernel and systemd as PID 1 (see [`boot`]). The unit is set
//!    to rotate small and fast; `tracer-deb-check.service` (check.sh) checks
//!    recording, rotation, reload, restart, replay of the directory and the
//!    restart after a SIGKILL, printing `@@deb-check` lines on the console,
//!    then powers off.
//!
//! Outputs: `target/deb-test/console.log`.

mod boot;
mod rootfs;

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};

use crate::cmd::Tools;

const CHECK_SCRIPT: &str = include_str!("check.sh");
const CHECK_UNIT: &str = include_str!("tracer-deb-check.service");

/// The pinned kernel (xtask/kernels.txt) of the root's suite.
pub(crate) const KERNEL: &str = "6.12";

/// The root image's size (sparse; the root takes about 250 MiB).
const IMAGE_MIB: u64 = 1024;

/// `--keep` in [`RECORD_OPTS`] (the check reads it too).
const KEEP: u32 = 5;

/// What the test sets TRACER_RECORD_OPTS to: small, fast rotation.
fn record_opts() -> String {
    format!("--rotate-size 64K --rotate-every 10s --keep {KEEP}")
}

/// Checks the booted guest must report, in order.
const GUEST_CHECKS: &[&str] = &[
    "active",
    "recording",
    "rotation",
    "reload",
    "restart",
    "replay",
    "kill_restart",
];

pub(crate) struct Options {
    /// A prebuilt .deb instead of building one.
    pub(crate) deb: Option<PathBuf>,
    /// Limit for the boot and the guest's checks.
    pub(crate) timeout: Duration,
}

/// One check's outcome.
struct Check {
    name: String,
    ok: bool,
    detail: String,
}

/// Runs the whole test; returns the number of checks passed, or fails
/// (after printing them all) if any failed.
pub(crate) fn deb_test(tools: &Tools, opts: &Options) -> Result<u64> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("deb-test needs root (debootstrap, chroot, mounts)");
    }
    crate::setup::ensure_deb_test_packages()?;
    let started = Instant::now();
    let deb = match &opts.deb {
        Some(deb) => deb.clone(),
        None => build_deb(tools)?,
    };
    let deb = fs::canonicalize(&deb).with_context(|| format!("no {}", deb.display()))?;
    let work = crate::cmd::workspace_root().join("target/deb-test");
    fs::create_dir_all(&work)?;

    let t = Instant::now();
    let tarball = rootfs::base_tarball()?;
    let root = work.join("root");
    rootfs::fresh_copy(&tarball, &root)?;
    eprintln!(
        "xtask: deb-test: fresh {} root in {:.1}s",
        rootfs::SUITE,
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let mut checks = install_and_check(&root, &deb)?;
    eprintln!(
        "xtask: deb-test: dpkg -i and chroot checks in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    print_checks("chroot", &checks);
    if checks.iter().any(|c| !c.ok) {
        return finish(&checks, started);
    }

    let t = Instant::now();
    let image = work.join("root.ext4");
    rootfs::ext4_image(&root, &image, IMAGE_MIB)?;
    let (abi, vmlinuz, modules) = crate::vm::pinned_kernel(KERNEL)?;
    let initrd = work.join("initrd.cpio");
    boot::initramfs(&modules, &work, &initrd)?;
    eprintln!(
        "xtask: deb-test: image and initramfs in {:.1}s; booting {abi}",
        t.elapsed().as_secs_f64()
    );
    let log = work.join("console.log");
    let mut console = boot::qemu(&vmlinuz, &initrd, &image, &log, opts.timeout)?;
    if console.panicked {
        // Emulation, not tracer (TCG has oopsed in early boot and in live
        // text patching): once more, from a fresh image, and say so.
        eprintln!("xtask: deb-test: the guest kernel panicked (see below); booting once more");
        print_tail(&console, &log);
        rootfs::ext4_image(&root, &image, IMAGE_MIB)?;
        console = boot::qemu(&vmlinuz, &initrd, &image, &log, opts.timeout)?;
    }
    rootfs::remove_root(&root)?;
    eprintln!(
        "xtask: deb-test: boot and checks in {:.1}s{}",
        console.elapsed.as_secs_f64(),
        if console.timed_out {
            " (timed out)"
        } else {
            ""
        }
    );
    let guest = parse(&console);
    print_checks("booted", &guest);
    checks.extend(guest);
    let _ = fs::remove_file(&image);
    let _ = fs::remove_file(&initrd);
    if checks.iter().any(|c| !c.ok) {
        print_tail(&console, &log);
    }
    finish(&checks, started)
}

fn print_tail(console: &boot::Console, log: &Path) {
    let tail: Vec<&str> = console
        .lines
        .iter()
        .rev()
        .take(40)
        .rev()
        .map(String::as_str)
        .collect();
    eprintln!(
        "xtask: deb-test: last console lines ({}):\n{}",
        log.display(),
        tail.join("\n")
    );
}

/// The .deb to test, built as `cargo xtask dist` builds it.
fn build_deb(tools: &Tools) -> Result<PathBuf> {
    crate::dist::deb(tools, crate::cmd::Arch::X86_64)
}

fn finish(checks: &[Check], started: Instant) -> Result<u64> {
    let passed = checks.iter().filter(|c| c.ok).count() as u64;
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    eprintln!(
        "xtask: deb-test: {passed} checks passed, {} failed, {:.0}s in all",
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        bail!("deb-test failed: {}", failed.join(", "));
    }
    Ok(passed)
}

fn print_checks(stage: &str, checks: &[Check]) {
    for c in checks {
        println!(
            "deb-test {stage:7} {:14} {}  {}",
            c.name,
            if c.ok { "ok" } else { "FAILED" },
            c.detail
        );
    }
}

fn check(checks: &mut Vec<Check>, name: &str, ok: bool, detail: impl Into<String>) {
    checks.push(Check {
        name: name.into(),
        ok,
        detail: detail.into().trim().replace('\n', " | "),
    });
}

/// `dpkg-deb -f DEB FIELD`.
fn deb_field(deb: &Path, field: &str) -> Result<String> {
    let out = Command::new("dpkg-deb")
        .arg("-f")
        .arg(deb)
        .arg(field)
        .output()
        .context("running dpkg-deb")?;
    if !out.status.success() {
        bail!("dpkg-deb -f {} {field} failed", deb.display());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Installs `deb` in `root` and checks what it installed; then readies the
/// root for the boot (unit options, the check service).
fn install_and_check(root: &Path, deb: &Path) -> Result<Vec<Check>> {
    let package = deb_field(deb, "Package")?;
    let version = deb_field(deb, "Version")?;
    let name = deb.file_name().context("a .deb path")?;
    fs::copy(deb, root.join("tmp").join(name))?;
    let inside = format!("/tmp/{}", name.to_string_lossy());
    let chroot = rootfs::Chroot::enter(root)?;
    let mut checks = Vec::new();

    let (ok, out) = chroot.output(&["dpkg", "-i", &inside])?;
    check(
        &mut checks,
        "dpkg_install",
        ok,
        if ok {
            format!("{package} {version}")
        } else {
            out
        },
    );
    if !ok {
        return Ok(checks);
    }
    let _ = fs::remove_file(root.join(inside.trim_start_matches('/')));

    let (ok, out) = chroot.output(&["tracer", "--version"])?;
    // `tracer 0.1.0 (commit ..., target ...)` for package version 0.1.0-1.
    let upstream = version.split('-').next().unwrap_or(&version);
    let first = out.lines().next().unwrap_or("");
    let ok = ok
        && first
            .strip_prefix(&format!("tracer {upstream}"))
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '));
    check(&mut checks, "version", ok, out);

    let (ok, out) = chroot.output(&["tracer", "ps"])?;
    let lines = out.lines().count();
    check(
        &mut checks,
        "ps",
        ok && lines > 2,
        if ok { format!("{lines} lines") } else { out },
    );

    let (_, listed) = chroot.output(&["dpkg", "-L", &package])?;
    let exists = |p: &&str| root.join(p.trim_start_matches('/')).exists();
    let man: Vec<&str> = listed
        .lines()
        .filter(|l| l.starts_with("/usr/share/man/") && l.contains(".gz"))
        .filter(exists)
        .collect();
    let ok = ["tracer.1", "tracer-record.1"]
        .iter()
        .all(|page| man.iter().any(|m| m.contains(&format!("/{page}"))));
    check(&mut checks, "man_pages", ok, man.join(" "));

    let completions: Vec<&str> = listed
        .lines()
        .filter(|l| l.contains("completion") && !l.ends_with('/'))
        .filter(|l| root.join(l.trim_start_matches('/')).is_file())
        .collect();
    let ok = completions
        .iter()
        .any(|c| c.starts_with("/usr/share/bash-completion/completions/"));
    check(&mut checks, "completions", ok, completions.join(" "));

    let (_, out) = chroot.output(&["systemctl", "is-enabled", "tracer-record.service"])?;
    check(&mut checks, "unit_enabled", out.trim() == "enabled", out);

    // Nothing may have started in the chroot (policy-rc.d said no).
    let running = Command::new("pgrep")
        .args(["-x", "tracer"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|pid| fs::read_link(format!("/proc/{pid}/root")).is_ok_and(|r| r == root))
        });
    check(
        &mut checks,
        "not_started",
        !running,
        if running {
            "tracer runs in the chroot"
        } else {
            ""
        },
    );

    ready_for_boot(&chroot)?;
    chroot.leave()?;
    Ok(checks)
}

/// The unit's options for the test, the check service, no gettys.
fn ready_for_boot(chroot: &rootfs::Chroot) -> Result<()> {
    let root = &chroot.root;
    let env_file = environment_file(root)?;
    let path = root.join(env_file.trim_start_matches('/'));
    let old = fs::read_to_string(&path).unwrap_or_default();
    let mut text: String = old
        .lines()
        .filter(|l| !l.trim_start().starts_with("TRACER_RECORD_OPTS="))
        .map(|l| format!("{l}\n"))
        .collect();
    text.push_str(&format!("TRACER_RECORD_OPTS=\"{}\"\n", record_opts()));
    fs::create_dir_all(path.parent().expect("absolute"))?;
    fs::write(&path, text)?;

    let script = root.join("usr/local/sbin/tracer-deb-check");
    fs::create_dir_all(script.parent().expect("a dir"))?;
    fs::write(&script, CHECK_SCRIPT)?;
    rootfs::chmod(&script, 0o755)?;
    fs::write(
        root.join("etc/systemd/system/tracer-deb-check.service"),
        CHECK_UNIT.replace("@KEEP@", &KEEP.to_string()),
    )?;
    let (ok, out) = chroot.output(&["systemctl", "enable", "tracer-deb-check.service"])?;
    if !ok {
        bail!("systemctl enable tracer-deb-check in the chroot: {out}");
    }
    let (ok, out) = chroot.output(&[
        "systemctl",
        "mask",
        "serial-getty@ttyS0.service",
        "getty@tty1.service",
        // The root has no modules (the kernel is outside it).
        "systemd-modules-load.service",
    ])?;
    if !ok {
        bail!("systemctl mask in the chroot: {out}");
    }
    fs::write(root.join("etc/hostname"), "debroot\n")?;
    Ok(())
}

/// The unit's EnvironmentFile= (the first), or /etc/default/tracer-record.
fn environment_file(root: &Path) -> Result<String> {
    for dir in ["usr/lib/systemd/system", "lib/systemd/system"] {
        let Ok(unit) = fs::read_to_string(root.join(dir).join("tracer-record.service")) else {
            continue;
        };
        if let Some(file) = unit.lines().find_map(|l| {
            l.trim()
                .strip_prefix("EnvironmentFile=")
                .map(|f| f.trim_start_matches('-').trim().to_string())
        }) {
            return Ok(file);
        }
        return Ok("/etc/default/tracer-record".into());
    }
    bail!("the package installed no tracer-record.service under /usr/lib/systemd/system")
}

/// The guest's `@@deb-check` lines as checks; a missing check or a missing
/// `done` line is a failure.
fn parse(console: &boot::Console) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut done = false;
    for line in &console.lines {
        let Some((_, rest)) = line.split_once("@@deb-check ") else {
            continue;
        };
        let mut words = rest.splitn(3, ' ');
        let name = words.next().unwrap_or("");
        let verdict = words.next().unwrap_or("");
        let detail = words.next().unwrap_or("");
        if name == "done" {
            done = true;
            continue;
        }
        check(&mut checks, name, verdict == "ok", detail);
    }
    for name in GUEST_CHECKS {
        if !checks.iter().any(|c| c.name == *name) {
            check(&mut checks, name, false, "not reported");
        }
    }
    if !done {
        let why = if console.timed_out {
            "timed out"
        } else {
            "the guest stopped before the end"
        };
        check(&mut checks, "guest_done", false, why);
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_finds_checks_and_missing_ones() {
        let console = boot::Console {
            lines: [
                "noise",
                "[  OK  ] @@deb-check active ok pid 300",
                "@@deb-check-info hardening X=y",
                "@@deb-check rotation FAIL after 150s: 1 files",
                "@@deb-check done fails=1",
            ]
            .map(String::from)
            .to_vec(),
            timed_out: false,
            panicked: false,
            elapsed: Duration::from_secs(1),
        };
        let checks = parse(&console);
        assert!(checks[0].ok && checks[0].name == "active" && checks[0].detail == "pid 300");
        assert!(!checks[1].ok && checks[1].name == "rotation");
        assert!(checks.iter().any(|c| c.name == "kill_restart" && !c.ok));
        assert!(!checks.iter().any(|c| c.name == "guest_done"));
    }
}
