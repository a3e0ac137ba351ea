//! The .deb of each architecture, built with `dpkg-deb --build` from a
//! staged tree. dpkg-deb rather than cargo-deb: it comes with dpkg on every
//! Debian machine (nothing more to build or install), and the package is
//! small and fixed (one binary, generated docs, a unit and its scripts),
//! so the tree is easy to lay out and cargo-deb would add little.
//!
//! The sources live in tracer/packaging/: the unit, its options file (a
//! conffile), the maintainer scripts (what dh_installsystemd would
//! generate), the copyright template (completed by `licenses.rs`), the
//! Debian changelog, the control template and lintian's overrides. Man pages and completions come from the binary
//! itself (`tracer generate`), run from this machine's static build.

use std::{
    fs,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, ensure, Context as _, Result};

use super::{
    artifacts::{out_dir, packaging_dir, tracer_version},
    licenses,
    static_build::static_tracer,
};
use crate::{
    cmd::{run, workspace_root, Arch},
    setup,
};

/// Where each file goes: (source in tracer/packaging/, path in the package, mode).
const PACKAGING: &[(&str, &str, u32)] = &[
    (
        "tracer-record.service",
        "lib/systemd/system/tracer-record.service",
        0o644,
    ),
    ("default", "etc/default/tracer-record", 0o644),
    (
        "lintian-overrides",
        "usr/share/lintian/overrides/tracer",
        0o644,
    ),
    ("postinst", "DEBIAN/postinst", 0o755),
    ("prerm", "DEBIAN/prerm", 0o755),
    ("postrm", "DEBIAN/postrm", 0o755),
];

/// Files dpkg must treat as the admin's once edited.
pub(crate) const CONFFILES: &[&str] = &["/etc/default/tracer-record"];

/// Completions as clap_complete names them, and where Debian's shells look.
pub(crate) const COMPLETIONS: &[(&str, &str)] = &[
    (
        "tracer.bash",
        "usr/share/bash-completion/completions/tracer",
    ),
    ("_tracer", "usr/share/zsh/vendor-completions/_tracer"),
    (
        "tracer.fish",
        "usr/share/fish/vendor_completions.d/tracer.fish",
    ),
];

pub(crate) const MAN_DIR: &str = "usr/share/man/man1";

/// Builds `target/dist/tracer_<version>_<deb arch>.deb` and returns its path.
pub(crate) fn deb(tools: &setup::Tools, arch: Arch) -> Result<PathBuf> {
    let exe = static_tracer(tools, arch)?;
    let version = deb_version()?;
    let dist = out_dir();
    let generated = generate_docs(tools, &dist.join("generated"))?;
    let root = dist.join(format!("deb-{}", arch.deb_arch()));
    if root.exists() {
        fs::remove_dir_all(&root).with_context(|| format!("removing {}", root.display()))?;
    }
    let packaging = packaging_dir();
    install(&exe, &root.join("usr/bin/tracer"), 0o755)?;
    for (from, to, mode) in PACKAGING {
        install(&packaging.join(from), &root.join(to), *mode)?;
    }
    for entry in fs::read_dir(generated.join("man"))? {
        let page = entry?.path();
        let name = page.file_name().context("man page without a name")?;
        let to = root.join(MAN_DIR).join(name);
        install(&page, &to, 0o644)?;
        gzip(&to)?;
    }
    for (from, to) in COMPLETIONS {
        install(
            &generated.join("completions").join(from),
            &root.join(to),
            0o644,
        )?;
    }
    let changelog = root.join("usr/share/doc/tracer/changelog.Debian");
    install(&packaging.join("changelog"), &changelog, 0o644)?;
    gzip(&changelog)?;
    // After the changelog, whose install made the folder.
    write(
        &root.join("usr/share/doc/tracer/copyright"),
        &licenses::copyright(arch)?,
        0o644,
    )?;
    write(
        &root.join("DEBIAN/conffiles"),
        &(CONFFILES.join("\n") + "\n"),
        0o644,
    )?;
    let control = fs::read_to_string(packaging.join("control"))?
        .replace("@VERSION@", &version)
        .replace("@ARCH@", arch.deb_arch())
        .replace("@INSTALLED_SIZE@", &installed_size_kib(&root)?.to_string());
    write(&root.join("DEBIAN/control"), &control, 0o644)?;
    write_md5sums(&root)?;
    dirs_0755(&root)?;
    let deb = dist.join(format!("tracer_{version}_{}.deb", arch.deb_arch()));
    let mut build = Command::new("dpkg-deb");
    build
        .args(["--root-owner-group", "-Zxz", "--build"])
        .arg(&root)
        .arg(&deb);
    // Same commit, same package bytes: file times are clamped to the commit's.
    if let Some(epoch) = commit_epoch() {
        build.env("SOURCE_DATE_EPOCH", epoch);
    }
    run(&mut build).context("dpkg-deb --build")?;
    Ok(deb)
}

/// The package version: the newest entry of tracer/packaging/changelog,
/// which must be tracer's own version plus a Debian revision (so a version
/// bump without a changelog entry fails here, not in a user's apt).
pub(crate) fn deb_version() -> Result<String> {
    let path = packaging_dir().join("changelog");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let first = text.lines().next().unwrap_or_default();
    let version = first
        .strip_prefix("tracer (")
        .and_then(|rest| rest.split_once(')'))
        .map(|(v, _)| v.to_owned())
        .with_context(|| {
            format!(
                "{}: first line is not `tracer (VERSION) ...`",
                path.display()
            )
        })?;
    let upstream = tracer_version()?;
    match version.rsplit_once('-') {
        Some((up, _revision)) if up == upstream => Ok(version),
        _ => bail!(
            "{}: the newest entry is {version}, but tracer is {upstream}: add an entry \
             `tracer ({upstream}-1)`",
            path.display()
        ),
    }
}

/// Man pages (`man/`) and completions (`completions/`), written by this
/// machine's own static binary (they are the same for every architecture).
fn generate_docs(tools: &setup::Tools, dir: &Path) -> Result<PathBuf> {
    let host = Arch::host()?;
    let exe = static_tracer(tools, host)?;
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    for what in ["man", "completions"] {
        // The man pages' date is the commit's, as the package's file times.
        run(Command::new(&exe)
            .args(["generate", what])
            .arg(dir.join(what))
            .envs(commit_epoch().map(|e| ("SOURCE_DATE_EPOCH", e))))
        .with_context(|| format!("generating the {what} with {}", exe.display()))?;
    }
    Ok(dir.to_path_buf())
}

fn install(from: &Path, to: &Path, mode: u32) -> Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn write(to: &Path, text: &str, mode: u32) -> Result<()> {
    fs::write(to, text).with_context(|| format!("writing {}", to.display()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// gzip -9n, as Debian policy asks of man pages and changelogs (no name or
/// time in the header, so the bytes depend on the content alone).
fn gzip(path: &Path) -> Result<()> {
    run(Command::new("gzip").args(["-9n", "--force"]).arg(path))
}

/// Every folder 0755 whatever the umask (dpkg-deb refuses a DEBIAN folder
/// that is not, and installs the others as they are).
fn dirs_0755(dir: &Path) -> Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            dirs_0755(&entry.path())?;
        }
    }
    Ok(())
}

/// Installed-Size as dpkg-gencontrol counts it: KiB per file, rounded up,
/// and one per folder, leaving DEBIAN/ out.
fn installed_size_kib(root: &Path) -> Result<u64> {
    fn walk(dir: &Path, total: &mut u64) -> Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_name() == "DEBIAN" {
                continue;
            }
            let meta = entry.metadata()?;
            if meta.is_dir() {
                *total += 1;
                walk(&entry.path(), total)?;
            } else {
                *total += meta.len().div_ceil(1024);
            }
        }
        Ok(())
    }
    let mut total = 0;
    walk(root, &mut total)?;
    ensure!(total > 0, "nothing staged in {}", root.display());
    Ok(total)
}

/// DEBIAN/md5sums, as dh_md5sums writes it (what `debsums` verifies).
fn write_md5sums(root: &Path) -> Result<()> {
    fn walk(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            if path == root.join("DEBIAN") {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, files)?;
            } else {
                files.push(path.strip_prefix(root)?.to_path_buf());
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(root, root, &mut files)?;
    files.sort();
    let out = Command::new("md5sum")
        .args(&files)
        .current_dir(root)
        .output()
        .context("running md5sum")?;
    ensure!(
        out.status.success(),
        "md5sum failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = root.join("DEBIAN/md5sums");
    fs::write(&path, &out.stdout).with_context(|| format!("writing {}", path.display()))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644))?;
    Ok(())
}

/// HEAD's commit time (seconds since the epoch), if this is a git checkout.
fn commit_epoch() -> Option<String> {
    let out = Command::new("git")
        .args(["log", "-1", "--format=%ct"])
        .current_dir(workspace_root())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}
