//! Kernel modules the live tests need but a kernel may build as `=m`.
//!
//! The tests mount an ext4 image on a loop device (`mount -o loop`), so the
//! guest needs loop and ext4 with their dependencies, and make a bridge. Debian builds ext4 in
//! but `loop` as a module, and what is built in changes between releases; the
//! guest has no modprobe or modules.dep, so we pick the `.ko` files here,
//! decompress them (busybox `insmod` takes plain ELF) and order them so that
//! each module's `depends=` come first. Whatever has no `.ko` is built in (or
//! missing, which the test that needs it will report).

use std::{
    collections::{BTreeMap, HashSet},
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, Result};

/// Module names (with `_`) the tests need, directly.
pub(crate) const WANTED: &[&str] = &[
    "loop",
    "ext4",
    // ext4 computes metadata checksums through the crc32c crypto API until
    // 6.14 (a softdep, not in `depends=`).
    "crc32c_generic",
    "crc32c_intel",
    // The bridge-stp helper test makes a bridge (with stp and llc).
    "bridge",
];

/// Decompressed modules in load order: (name, ELF bytes).
pub(crate) fn needed(modules_dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let files = index(&modules_dir.join("kernel"))?;
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    for name in WANTED {
        visit(name, &files, &mut seen, &mut order)?;
    }
    order
        .into_iter()
        .map(|(name, path)| Ok((name, decompress(&path)?)))
        .collect()
}

/// Depth-first: dependencies before the module.
fn visit(
    name: &str,
    files: &BTreeMap<String, PathBuf>,
    seen: &mut HashSet<String>,
    order: &mut Vec<(String, PathBuf)>,
) -> Result<()> {
    if !seen.insert(name.to_string()) {
        return Ok(());
    }
    let Some(path) = files.get(name) else {
        return Ok(()); // built in, or not in this kernel
    };
    for dep in depends(path)? {
        visit(&dep, files, seen, order)?;
    }
    order.push((name.to_string(), path.clone()));
    Ok(())
}

/// `modinfo -F depends` (reads compressed modules too).
fn depends(path: &Path) -> Result<Vec<String>> {
    let out = Command::new("modinfo")
        .args(["-F", "depends"])
        .arg(path)
        .output()
        .context("running modinfo (package kmod)")?;
    anyhow::ensure!(
        out.status.success(),
        "modinfo {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout)
        .trim()
        .split(',')
        .filter(|d| !d.is_empty())
        .map(|d| d.replace('-', "_"))
        .collect())
}

/// Module name (`-` as `_`) to its file, for every module under `dir`.
fn index(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    if !dir.is_dir() {
        return Ok(out); // a kernel without modules
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Some(file) = path.file_name().and_then(|n| n.to_str()) {
                if let Some((stem, _)) = file.split_once(".ko") {
                    out.insert(stem.replace('-', "_"), path);
                }
            }
        }
    }
    Ok(out)
}

fn decompress(path: &Path) -> Result<Vec<u8>> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let tool = match ext {
        "ko" => return fs::read(path).with_context(|| format!("reading {}", path.display())),
        "xz" => "xz",
        "zst" => "zstd",
        "gz" => "gzip",
        other => anyhow::bail!("unknown module compression .{other}: {}", path.display()),
    };
    let out = Command::new(tool)
        .arg("-dc")
        .arg(path)
        .output()
        .with_context(|| format!("running {tool}"))?;
    anyhow::ensure!(out.status.success(), "{tool} -dc {} failed", path.display());
    Ok(out.stdout)
}
