//! The Debian root: a debootstrap `minbase` tree plus systemd, cached as a
//! tarball under `~/.cache/tracer/debroot/<suite>-<hash>.tar` (the hash
//! covers suite, variant, package list and mirror), unpacked afresh for
//! each test; the .deb installed into it in a chroot; and the ext4 image
//! QEMU boots.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{bail, Context as _, Result};

use crate::cmd::run;

/// The suite of the root: trixie, whose kernel (6.12, pinned in
/// xtask/kernels.txt) boots it.
pub(crate) const SUITE: &str = "trixie";

/// What debootstrap adds to `minbase`: systemd as PID 1 (systemd-sysv),
/// nothing else. No udev (the root device is found by the initramfs, and
/// no unit here waits for a device), no dbus (systemctl talks to PID 1 over
/// its private socket as root).
pub(crate) const PACKAGES: &[&str] = &["systemd-sysv"];

/// The Debian mirror's `debian` archive (see [`crate::mirror`]).
fn mirror() -> Result<String> {
    Ok(format!("{}/debian", crate::mirror::debian_mirror()?))
}

/// FNV-1a, as setup.rs keys its caches.
fn key(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The cached tarball of the fresh root, made with debootstrap the first
/// time (a few minutes, ~60 MB download); its path.
pub(crate) fn base_tarball() -> Result<PathBuf> {
    let mirror = mirror()?;
    let spec = format!("{SUITE} minbase {} {mirror}", PACKAGES.join(","));
    let dir = crate::cmd::cache_dir()?.join("debroot");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let tarball = dir.join(format!("{SUITE}-{:016x}.tar", key(&spec)));
    if tarball.is_file() {
        return Ok(tarball);
    }
    let started = Instant::now();
    let tmp_root = dir.join(format!("{SUITE}-building"));
    remove_root(&tmp_root)?;
    eprintln!(
        "xtask: debootstrap {spec} (once; cached in {})",
        dir.display()
    );
    run(Command::new("debootstrap")
        .args(["--variant=minbase", "--components=main"])
        .arg(format!("--include={}", PACKAGES.join(",")))
        .arg(SUITE)
        .arg(&tmp_root)
        .arg(&mirror))
    .context("debootstrap (needs the Debian mirror)")?;
    // No downloaded .debs in the cache: they are half the size.
    run(Command::new("chroot")
        .arg(&tmp_root)
        .args(["apt-get", "clean"]))?;
    let partial = tarball.with_extension("tar.partial");
    run(Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "-C"])
        .arg(&tmp_root)
        .arg("-cf")
        .arg(&partial)
        .arg("."))?;
    fs::rename(&partial, &tarball)?;
    remove_root(&tmp_root)?;
    eprintln!(
        "xtask: debootstrap and tarball: {:.0}s, {} MiB",
        started.elapsed().as_secs_f64(),
        fs::metadata(&tarball)?.len() >> 20
    );
    Ok(tarball)
}

/// Mount points at or under `root` (from /proc/self/mounts), deepest first.
fn mounts_under(root: &Path) -> Result<Vec<PathBuf>> {
    let text = fs::read_to_string("/proc/self/mounts")?;
    let mut found: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        // Spaces and such are octal-escaped; our paths have none.
        .map(PathBuf::from)
        .filter(|m| m.starts_with(root))
        .collect();
    found.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    Ok(found)
}

/// Removes a root tree, first unmounting whatever an interrupted run left
/// mounted in it (a bound /dev must never be deleted through).
pub(crate) fn remove_root(root: &Path) -> Result<()> {
    if !root.exists() {
        return Ok(());
    }
    for m in mounts_under(root)? {
        let _ = Command::new("umount").arg("-l").arg(&m).status();
    }
    if !mounts_under(root)?.is_empty() {
        bail!("{} still has mounts; not removing it", root.display());
    }
    fs::remove_dir_all(root).with_context(|| format!("removing {}", root.display()))
}

/// Unpacks the base tarball into an empty `root`.
pub(crate) fn fresh_copy(tarball: &Path, root: &Path) -> Result<()> {
    remove_root(root)?;
    fs::create_dir_all(root)?;
    run(Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "-C"])
        .arg(root)
        .arg("-xpf")
        .arg(tarball))
}

/// /proc, /sys and /dev of the host in `root`, unmounted on drop.
pub(crate) struct Chroot {
    pub(crate) root: PathBuf,
    mounted: Vec<PathBuf>,
}

impl Chroot {
    pub(crate) fn enter(root: &Path) -> Result<Chroot> {
        let mut c = Chroot {
            root: root.to_path_buf(),
            mounted: Vec::new(),
        };
        for (what, args) in [
            ("proc", &["-t", "proc", "proc"][..]),
            ("sys", &["-t", "sysfs", "sysfs"][..]),
            ("dev", &["--bind", "/dev"][..]),
        ] {
            let target = root.join(what);
            fs::create_dir_all(&target)?;
            run(Command::new("mount").args(args).arg(&target))?;
            c.mounted.push(target);
        }
        // Services must not start inside the chroot (invoke-rc.d and
        // deb-systemd-invoke ask this first).
        let policy = root.join("usr/sbin/policy-rc.d");
        fs::write(&policy, "#!/bin/sh\nexit 101\n")?;
        chmod(&policy, 0o755)?;
        Ok(c)
    }

    /// A command run inside the chroot with a plain environment.
    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("chroot");
        cmd.arg(&self.root)
            .args(args)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("LANG", "C.UTF-8")
            .env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    }

    /// Runs `args` in the chroot: (success, stdout and stderr).
    pub(crate) fn output(&self, args: &[&str]) -> Result<(bool, String)> {
        let out = self
            .cmd(args)
            .output()
            .with_context(|| format!("chroot {args:?}"))?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok((out.status.success(), text))
    }

    /// Unmounts and removes policy-rc.d (the booted system starts services).
    pub(crate) fn leave(mut self) -> Result<()> {
        self.unmount();
        let _ = fs::remove_file(self.root.join("usr/sbin/policy-rc.d"));
        Ok(())
    }

    fn unmount(&mut self) {
        while let Some(m) = self.mounted.pop() {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
    }
}

impl Drop for Chroot {
    fn drop(&mut self) {
        self.unmount();
    }
}

pub(crate) fn chmod(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}

/// An ext4 image of `root` (`mkfs.ext4 -d`), sparse, `size_mib` big.
pub(crate) fn ext4_image(root: &Path, image: &Path, size_mib: u64) -> Result<()> {
    let _ = fs::remove_file(image);
    let file = fs::File::create(image)?;
    file.set_len(size_mib << 20)?;
    drop(file);
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "debroot", "-E", "root_owner=0:0", "-d"])
        .arg(root)
        .arg(image))
    .context("mkfs.ext4 -d (e2fsprogs 1.43 or later)")
}
