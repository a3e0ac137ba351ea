//! Which kernels to boot, and getting them: Debian's `linux-image-*-cloud-amd64`
//! (and `-cloud-arm64`) packages, fetched with `apt-get download` through a
//! private apt state under `~/.cache/tracer/apt/` (`apt-arm64/` for arm64
//! packages: its own sources.list, lists, cache and status), so the system's
//! apt configuration is never touched and suites the system does not list
//! (bullseye, trixie-backports) are reachable. Each kernel is unpacked once
//! under `~/.cache/tracer/vm/kernels/<abi>/`; a later run finds it there and
//! downloads nothing. The arm64 guest's busybox comes the same way
//! ([`busybox`]).

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context as _, Result};

use crate::cmd::{run, Arch};

/// The pinned default set, one kernel a line.
const PINNED: &str = include_str!("../../kernels.txt");

/// The pinned arm64 kernels (`--arch arm64`), same columns.
const PINNED_ARM64: &str = include_str!("../../kernels-arm64.txt");

/// Debian's static busybox for the arm64 guest (the host's is x86-64):
/// (package version, suite).
const BUSYBOX_ARM64: (&str, &str) = ("1:1.37.0-6+b9", "trixie");

/// Suites searched for kernels. Only `Packages` indexes are fetched (no
/// translations or DEP-11 metadata): a few MB, a few seconds.
const SUITES: &[(&str, &str)] = &[
    ("debian", "bullseye"),
    ("debian-security", "bullseye-security"),
    ("debian", "bookworm"),
    ("debian", "bookworm-backports"),
    ("debian", "trixie"),
    ("debian", "trixie-backports"),
];

const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

#[derive(Clone, Debug)]
pub(crate) struct Kernel {
    /// Short name for tables and `--kernel` (e.g. `6.1`, `newest`).
    pub(crate) name: String,
    /// Debian ABI string, also `uname -r` (e.g. `6.1.0-50-cloud-amd64`).
    pub(crate) abi: String,
    /// Package version, when pinned or resolved.
    pub(crate) version: String,
    pub(crate) suite: String,
    pub(crate) arch: Arch,
}

impl Kernel {
    /// The name in tables, logs and results.json: `6.12` for x86-64,
    /// `6.12-arm64` for arm64.
    pub(crate) fn label(&self) -> String {
        match self.arch {
            Arch::X86_64 => self.name.clone(),
            other => format!("{}-{}", self.name, other.deb_arch()),
        }
    }

    /// The ABI without `-cloud-<arch>` (e.g. `6.12.117+deb13`).
    fn base(&self) -> &str {
        self.abi
            .strip_suffix(&format!("-cloud-{}", self.arch.deb_arch()))
            .unwrap_or(&self.abi)
    }
}

/// A kernel unpacked in the cache.
pub(crate) struct Unpacked {
    /// The unpacked tree (also holds what we derive from it).
    pub(crate) dir: PathBuf,
    pub(crate) vmlinuz: PathBuf,
    /// `lib/modules/<abi>` inside the unpacked tree (may have no modules).
    pub(crate) modules: PathBuf,
}

pub(crate) fn pinned(arch: Arch) -> Result<Vec<Kernel>> {
    let (list, file) = match arch {
        Arch::X86_64 => (PINNED, "kernels.txt"),
        Arch::Arm64 => (PINNED_ARM64, "kernels-arm64.txt"),
    };
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let [name, abi, version, suite] = cols[..] else {
                bail!("xtask/{file}: want 4 columns, got {line:?}");
            };
            Ok(Kernel {
                name: name.into(),
                abi: abi.into(),
                version: version.into(),
                suite: suite.into(),
                arch,
            })
        })
        .collect()
}

/// Resolves `--kernel` words: a pinned name or ABI, or any Debian kernel ABI
/// version (`6.1.0-47`, `7.2.9+deb13`, `7.2.9`), searched in [`SUITES`],
/// built for `arch`.
pub(crate) fn select(words: &[String], arch: Arch) -> Result<Vec<Kernel>> {
    let pinned = pinned(arch)?;
    if words.is_empty() {
        return Ok(pinned);
    }
    let suffix = format!("-cloud-{}", arch.deb_arch());
    let mut out = Vec::new();
    for word in words {
        if let Some(k) = pinned
            .iter()
            .find(|k| k.name == *word || k.abi == *word || k.abi == format!("{word}{suffix}"))
        {
            out.push(k.clone());
        } else {
            out.push(search(word, arch)?);
        }
    }
    Ok(out)
}

/// Finds the newest package of an ABI version not in the pinned list.
fn search(word: &str, arch: Arch) -> Result<Kernel> {
    let apt = Apt::new(arch)?;
    apt.update(false)?;
    let suffix = format!("-cloud-{}", arch.deb_arch());
    let base = word.trim_end_matches(suffix.as_str());
    // Since trixie the ABI carries the release (`+deb13`); accept it bare.
    for abi in [
        base.to_string(),
        format!("{base}+deb13"),
        format!("{base}+deb12"),
    ] {
        let abi = format!("{abi}{suffix}");
        if let Some((version, suite)) = apt.newest(&format!("linux-image-{abi}"))? {
            return Ok(Kernel {
                name: base.into(),
                abi,
                version,
                suite,
                arch,
            });
        }
    }
    bail!(
        "no package linux-image-{base}{suffix} in {}; see `apt-cache search` \
         with the private state under {}",
        SUITES.iter().map(|s| s.1).collect::<Vec<_>>().join(", "),
        apt.root.display()
    )
}

/// The unpacked kernel, downloading and unpacking it the first time.
pub(crate) fn fetch(kernel: &Kernel) -> Result<Unpacked> {
    let dir = crate::cmd::cache_dir()?
        .join("vm/kernels")
        .join(&kernel.abi);
    let stamp = dir.join(".unpacked");
    if fs::read_to_string(&stamp).ok().as_deref() != Some(kernel.version.as_str()) {
        eprintln!(
            "xtask: fetching kernel {} ({} from {})",
            kernel.abi, kernel.version, kernel.suite
        );
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let apt = Apt::new(kernel.arch)?;
        let image = apt.download(&format!("linux-image-{}", kernel.abi), &kernel.version)?;
        unpack(&image, &dir)?;
        // Since 6.19 `linux-image-*` is a meta package: the kernel is in
        // `linux-binary-*` and the modules in `linux-modules-*`.
        if find_vmlinuz(&dir, &kernel.abi).is_none() {
            for part in ["linux-binary", "linux-modules"] {
                let deb = apt.download(&format!("{part}-{}", kernel.abi), &kernel.version)?;
                unpack(&deb, &dir)?;
            }
        }
        fs::write(&stamp, &kernel.version)?;
    }
    let vmlinuz = find_vmlinuz(&dir, &kernel.abi)
        .with_context(|| format!("no vmlinuz for {} in {}", kernel.abi, dir.display()))?;
    let modules = ["lib/modules", "usr/lib/modules"]
        .iter()
        .map(|m| dir.join(m).join(&kernel.abi))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| dir.join("lib/modules").join(&kernel.abi));
    Ok(Unpacked {
        dir,
        vmlinuz,
        modules,
    })
}

/// The kernel's own `include/linux/sched.h`, from its
/// `linux-headers-<ver>-common` package (cached next to the kernel), for
/// checking the tracer's PF_* names. `None` when the mirror no longer has
/// that package (Debian drops old backports' headers).
pub(crate) fn sched_h(kernel: &Kernel, unpacked: &Unpacked) -> Result<Option<String>> {
    let cached = unpacked.dir.join("sched.h");
    if let Ok(text) = fs::read_to_string(&cached) {
        return Ok(Some(text));
    }
    let ver = kernel.base();
    let package = format!("linux-headers-{ver}-common");
    let apt = Apt::new(kernel.arch)?;
    let Ok(deb) = apt.download_arch(&package, &kernel.version, "all") else {
        return Ok(None);
    };
    let member = format!("./usr/src/linux-headers-{ver}-common/include/linux/sched.h");
    let out = Command::new("sh")
        .arg("-c")
        .arg("dpkg-deb --fsys-tarfile \"$0\" | tar -xOf - \"$1\"")
        .arg(&deb)
        .arg(&member)
        .output()
        .context("extracting sched.h")?;
    if !out.status.success() || out.stdout.is_empty() {
        bail!("no {member} in {}", deb.display());
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    fs::write(&cached, &text)?;
    // The package is large and only this file is needed.
    let _ = fs::remove_file(&deb);
    Ok(Some(text))
}

/// The arm64 guest's static busybox ([`BUSYBOX_ARM64`]), downloaded and
/// unpacked once under `~/.cache/tracer/vm/busybox-arm64-<version>/`.
pub(crate) fn busybox(arch: Arch) -> Result<PathBuf> {
    let (version, suite) = match arch {
        Arch::Arm64 => BUSYBOX_ARM64,
        Arch::X86_64 => bail!("the x86-64 guest runs the host's busybox"),
    };
    let dir = crate::cmd::cache_dir()?.join("vm").join(format!(
        "busybox-{}-{}",
        arch.deb_arch(),
        version.replace(':', "_")
    ));
    let bin = dir.join("usr/bin/busybox");
    if !bin.is_file() {
        eprintln!(
            "xtask: fetching busybox-static {version} ({}, {suite})",
            arch.deb_arch()
        );
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let deb = Apt::new(arch)?.download("busybox-static", version)?;
        unpack(&deb, &dir)?;
    }
    if !bin.is_file() {
        bail!("busybox-static {version} has no usr/bin/busybox");
    }
    Ok(bin)
}

fn find_vmlinuz(dir: &Path, abi: &str) -> Option<PathBuf> {
    [
        dir.join(format!("boot/vmlinuz-{abi}")),
        dir.join(format!("usr/lib/modules/{abi}/vmlinuz")),
        dir.join(format!("lib/modules/{abi}/vmlinuz")),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

fn unpack(deb: &Path, dir: &Path) -> Result<()> {
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(dir))
        .with_context(|| format!("unpacking {}", deb.display()))
}

/// apt-get/apt-cache with every state path redirected into our cache, for
/// the packages of one architecture.
struct Apt {
    root: PathBuf,
    arch: Arch,
}

impl Apt {
    fn new(arch: Arch) -> Result<Apt> {
        let root = crate::cmd::cache_dir()?.join(match arch {
            Arch::X86_64 => "apt".to_string(),
            other => format!("apt-{}", other.deb_arch()),
        });
        for sub in ["lists/partial", "cache/archives/partial", "debs"] {
            fs::create_dir_all(root.join(sub))
                .with_context(|| format!("creating {}", root.join(sub).display()))?;
        }
        let status = root.join("status");
        if !status.exists() {
            fs::write(&status, "")?;
        }
        let sources = Self::sources()?;
        let path = root.join("sources.list");
        if fs::read_to_string(&path).ok().as_deref() != Some(sources.as_str()) {
            fs::write(&path, sources)?;
            // New sources: the old lists no longer match.
            let _ = fs::remove_file(root.join("lists/.updated"));
        }
        Ok(Apt { root, arch })
    }

    /// The Debian mirror this machine's apt uses (or TRACER_DEBIAN_MIRROR,
    /// e.g. for a local proxy), for every suite in [`SUITES`]; the
    /// security suite from the security archive apt uses.
    fn sources() -> Result<String> {
        let debian = format!("{}/debian", crate::mirror::debian_mirror()?);
        let security = crate::mirror::security_archive()?;
        Ok(SUITES
            .iter()
            .map(|(archive, suite)| {
                let uri = if *archive == "debian-security" {
                    &security
                } else {
                    &debian
                };
                format!("deb [target=Packages signed-by={KEYRING}] {uri} {suite} main\n")
            })
            .collect())
    }

    fn cmd(&self, prog: &str) -> Command {
        let r = &self.root;
        let mut cmd = Command::new(prog);
        for (key, value) in [
            ("Dir::Etc::SourceList", r.join("sources.list")),
            ("Dir::Etc::SourceParts", "/dev/null".into()),
            ("Dir::Etc::Preferences", "/dev/null".into()),
            ("Dir::Etc::PreferencesParts", "/dev/null".into()),
            ("Dir::State::Lists", r.join("lists")),
            ("Dir::State::Status", r.join("status")),
            ("Dir::Cache", r.join("cache")),
        ] {
            cmd.arg("-o").arg(format!("{key}={}", value.display()));
        }
        // Our cache is root's: apt's sandbox user could not write it.
        cmd.args(["-o", "APT::Sandbox::User=root", "-q"]);
        if self.arch != Arch::X86_64 {
            // Only this architecture's indexes and packages.
            let arch = self.arch.deb_arch();
            cmd.arg("-o").arg(format!("APT::Architecture={arch}"));
            cmd.arg("-o").arg(format!("APT::Architectures={arch}"));
        }
        cmd
    }

    /// Fetches the package indexes unless done before (or `force`).
    fn update(&self, force: bool) -> Result<()> {
        let marker = self.root.join("lists/.updated");
        if marker.exists() && !force {
            return Ok(());
        }
        eprintln!(
            "xtask: apt-get update (private state in {})",
            self.root.display()
        );
        run(self.cmd("apt-get").arg("update"))
            .context("apt-get update of the private kernel sources")?;
        fs::write(marker, "")?;
        Ok(())
    }

    /// (version, suite) of the newest `package`, if any suite has it.
    fn newest(&self, package: &str) -> Result<Option<(String, String)>> {
        let out = self
            .cmd("apt-cache")
            .args(["madison", package])
            .output()
            .context("running apt-cache madison")?;
        // `pkg | 6.1.170-3 | http://MIRROR/debian bookworm/main amd64 Packages`
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text.lines().find_map(|line| {
            let cols: Vec<&str> = line.split('|').map(str::trim).collect();
            let suite = cols.get(2)?.split_whitespace().nth(1)?.split('/').next()?;
            Some((cols.get(1)?.to_string(), suite.to_string()))
        }))
    }

    /// Downloads `package=version` into the cache (once); returns the .deb.
    fn download(&self, package: &str, version: &str) -> Result<PathBuf> {
        self.download_arch(package, version, self.arch.deb_arch())
    }

    /// [`Apt::download`] for a package of architecture `arch` (`all`).
    fn download_arch(&self, package: &str, version: &str, arch: &str) -> Result<PathBuf> {
        let debs = self.root.join("debs");
        // apt names files <pkg>_<version without epoch>_<arch>.deb, ':' quoted.
        let file = debs.join(format!("{package}_{version}_{arch}.deb").replace(':', "%3a"));
        if file.exists() {
            return Ok(file);
        }
        let get = |apt: &Apt| {
            apt.cmd("apt-get")
                .args(["download", &format!("{package}={version}")])
                .current_dir(&debs)
                .status()
                .is_ok_and(|s| s.success())
        };
        self.update(false)?;
        // Stale lists (a newer point release) may not know a pinned version.
        if !get(self) && (self.update(true).is_err() || !get(self)) {
            bail!(
                "could not download {package}={version}; the mirror may have dropped it: \
                 update xtask/kernels.txt (newest: {:?})",
                self.newest(package).ok().flatten()
            );
        }
        if !file.exists() {
            bail!("apt-get download left no {}", file.display());
        }
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_list_parses() {
        let kernels = pinned(Arch::X86_64).unwrap();
        assert!(kernels.iter().any(|k| k.name == "newest"));
        assert!(kernels.iter().all(|k| k.abi.ends_with("-cloud-amd64")));
        assert_eq!(kernels[0].label(), kernels[0].name);
    }

    #[test]
    fn the_pinned_arm64_list_parses() {
        let kernels = pinned(Arch::Arm64).unwrap();
        assert!(!kernels.is_empty());
        for k in &kernels {
            assert!(k.abi.ends_with("-cloud-arm64"), "{}", k.abi);
            assert_eq!(k.label(), format!("{}-arm64", k.name));
            assert!(!k.base().ends_with("-arm64"));
        }
    }
}
