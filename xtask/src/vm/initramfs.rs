//! The guest's initramfs: host programs and test binaries at the same
//! absolute paths as on the host, plus busybox and the `/init` script.
//!
//! Same paths because the test binaries carry compile-time paths
//! (`env!("CARGO_BIN_EXE_tracer")` is `<target>/release/tracer`) and exec host
//! programs by name. Host programs come with their shared libraries (ldd) and
//! the symlinks on the way (`/bin` -> `usr/bin` on merged-/usr systems).
//!
//! The tracer the tests run is the shipped one, the static musl release
//! binary, put at the path the test binaries were compiled with (see
//! [`Tracer`]). An arm64 guest cannot run the host's x86-64 programs: its
//! userland is an arm64 busybox with applet links in `/bin` ([`Userland`]).
//!
//! Two parts, concatenated (the kernel unpacks one cpio after another): the
//! common part, built once per run, and a small per-kernel part with the
//! modules, cached next to the unpacked kernel.

use std::{
    collections::BTreeMap,
    fs,
    io::{BufWriter, Write as _},
    os::unix::fs::PermissionsExt as _,
    path::{Component, Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context as _, Result};

use super::cpio::Archive;

/// Programs the tests (and their scripts) run, found on the host's PATH.
const PROGRAMS: &[&str] = &[
    "sh",
    "bash",
    "sleep",
    "true",
    "false",
    "echo",
    "env",
    "kill",
    "cat",
    "tr",
    "mount",
    "umount",
    "losetup",
    "mkfs.ext4",
    "mke2fs",
    "setpriv",
    "unshare",
    "zstd",
];

/// Paths the tests and /init use literally; on merged-/usr hosts these bring
/// the `/bin` -> `usr/bin` style links along.
const LITERAL: &[&str] = &[
    "/bin/sh",
    "/bin/bash",
    "/bin/sleep",
    "/bin/true",
    "/bin/false",
    "/usr/bin/env",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
];

/// Host files the programs read, when present: accounts (a test runs as
/// nobody), mke2fs defaults, name service set-up.
const FILES: &[&str] = &[
    "/etc/passwd",
    "/etc/group",
    "/etc/mke2fs.conf",
    "/etc/nsswitch.conf",
];

/// Busybox applets an arm64 guest has in `/bin` (the programs the arm64
/// test set and `/init` run by name or by path).
const APPLETS: &[&str] = &[
    "sh", "sleep", "true", "false", "echo", "env", "kill", "cat", "tr", "mount", "umount",
];

const INIT: &str = include_str!("init.sh");

/// The programs besides the tests and the tracer.
pub(crate) enum Userland {
    /// The host's programs ([`PROGRAMS`], [`LITERAL`]) with their libraries:
    /// the guest runs the host's architecture.
    Host,
    /// Only busybox applets in `/bin` and `/usr/bin/env` (a foreign
    /// architecture's guest).
    Busybox,
}

/// The tracer binary in the guest.
pub(crate) struct Tracer {
    /// The path the test binaries run (`CARGO_BIN_EXE_tracer`).
    pub(crate) at: PathBuf,
    /// The binary put there (the static release build).
    pub(crate) from: PathBuf,
}

/// What the guest runs and how.
pub(crate) struct Payload {
    /// Integration test binaries.
    pub(crate) tests: Vec<PathBuf>,
    pub(crate) tracer: Tracer,
    /// A static busybox of the guest's architecture.
    pub(crate) busybox: PathBuf,
    pub(crate) userland: Userland,
    /// Plain files they read, at the same paths.
    pub(crate) data: Vec<PathBuf>,
    pub(crate) test_timeout_s: u64,
    pub(crate) output_lines: u32,
    /// Only tests whose name (`module::test`, or `binary::test` outside
    /// the `live` binary) contains one of these (empty: all).
    pub(crate) filter: Vec<String>,
    /// Only tests whose name starts with one of these (empty: all).
    pub(crate) only: Vec<String>,
    /// Runs of each test.
    pub(crate) repeat: u32,
}

enum Node {
    Dir,
    Symlink(PathBuf),
    /// A host file, copied.
    Host(PathBuf),
    Data(Vec<u8>, u32),
    Console,
}

#[derive(Default)]
struct Tree {
    nodes: BTreeMap<PathBuf, Node>,
}

/// Writes the common part to `out`.
pub(crate) fn build_common(payload: &Payload, out: &Path) -> Result<()> {
    let mut tree = Tree::default();
    for dir in [
        "/proc",
        "/sys",
        "/dev",
        "/tmp",
        "/run",
        "/root",
        "/.vm/modules",
    ] {
        tree.dir(Path::new(dir));
    }
    tree.nodes.insert("/dev/console".into(), Node::Console);
    tree.data("/init", INIT.as_bytes().to_vec(), 0o755);
    tree.data(
        "/.vm/config",
        format!(
            // The filter words are letters, digits, '_' and ':' (checked by
            // the caller), so single quotes keep them one word list.
            "TEST_TIMEOUT={}\nOUTPUT_LINES={}\nFILTER='{}'\nONLY='{}'\nREPEAT={}\nTRACER={}\n",
            payload.test_timeout_s,
            payload.output_lines,
            payload.filter.join(" "),
            payload.only.join(" "),
            payload.repeat,
            payload.tracer.at.display(),
        )
        .into_bytes(),
        0o644,
    );
    let busybox = &payload.busybox;
    tree.data(
        "/.vm/busybox",
        fs::read(busybox).with_context(|| format!("reading {}", busybox.display()))?,
        0o755,
    );
    let mut list = String::new();
    for test in &payload.tests {
        list.push_str(&format!("{}\n", test.display()));
    }
    tree.data("/.vm/tests", list.into_bytes(), 0o644);

    match payload.userland {
        Userland::Host => {
            let mut programs = Vec::new();
            for name in PROGRAMS {
                programs
                    .push(which(name).with_context(|| format!("{name} not found on the host"))?);
            }
            programs.extend(LITERAL.iter().map(PathBuf::from).filter(|p| p.is_file()));
            programs.extend(payload.tests.iter().cloned());
            for program in &programs {
                tree.host(program)?;
                for lib in libraries(program)? {
                    tree.host(&lib)?;
                }
            }
            for link in LITERAL.iter().map(Path::new).filter(|p| p.is_symlink()) {
                tree.host(link)?;
            }
        }
        Userland::Busybox => {
            tree.dir(Path::new("/sbin"));
            tree.dir(Path::new("/bin"));
            for applet in APPLETS {
                tree.nodes.insert(
                    Path::new("/bin").join(applet),
                    Node::Symlink("/.vm/busybox".into()),
                );
            }
            tree.dir(Path::new("/usr/bin"));
            tree.nodes
                .insert("/usr/bin/env".into(), Node::Symlink("/.vm/busybox".into()));
            // Static binaries: no libraries to bring.
            for test in &payload.tests {
                tree.host(test)?;
            }
        }
    }
    tree.tracer(&payload.tracer)?;
    for file in FILES {
        if Path::new(file).exists() {
            tree.host(Path::new(file))?;
        }
    }
    for file in &payload.data {
        tree.host(file)?;
    }
    tree.write(out)
}

/// Writes `common` followed by a part with `modules` (in load order) to `out`.
pub(crate) fn with_modules(common: &Path, modules: &[(String, Vec<u8>)], out: &Path) -> Result<()> {
    fs::copy(common, out).with_context(|| format!("copying to {}", out.display()))?;
    let file = fs::OpenOptions::new().append(true).open(out)?;
    let mut archive = Archive::new(BufWriter::new(file));
    for (i, (name, elf)) in modules.iter().enumerate() {
        archive.file(&format!("/.vm/modules/{i:02}-{name}.ko"), 0o644, elf)?;
    }
    archive.finish()?.flush()?;
    Ok(())
}

impl Tree {
    fn dir(&mut self, path: &Path) {
        for a in path.ancestors() {
            if a != Path::new("/") {
                self.nodes.entry(a.to_path_buf()).or_insert(Node::Dir);
            }
        }
    }

    fn data(&mut self, path: &str, data: Vec<u8>, mode: u32) {
        let path = Path::new(path);
        self.dir(path.parent().expect("absolute path"));
        self.nodes.insert(path.into(), Node::Data(data, mode));
    }

    /// Puts `tracer.from` at `tracer.at` (which exists on the host: the
    /// symlinks on the way are recreated as for host files).
    fn tracer(&mut self, tracer: &Tracer) -> Result<()> {
        let parent = tracer.at.parent().context("tracer path has no parent")?;
        let name = tracer.at.file_name().context("tracer path has no name")?;
        self.host(parent)?;
        let real = fs::canonicalize(parent)
            .with_context(|| format!("resolving {}", parent.display()))?
            .join(name);
        self.nodes.insert(real, Node::Host(tracer.from.clone()));
        Ok(())
    }

    /// Adds a host path, recreating each symlink met on the way.
    fn host(&mut self, path: &Path) -> Result<()> {
        self.host_at(&normalize(path), 0)
    }

    fn host_at(&mut self, path: &Path, depth: u32) -> Result<()> {
        if depth > 40 {
            bail!("too many symlinks resolving {}", path.display());
        }
        let parts: Vec<Component<'_>> = path.components().collect();
        let mut cur = PathBuf::from("/");
        for (i, part) in parts.iter().enumerate().skip(1) {
            let next = cur.join(part);
            let meta = fs::symlink_metadata(&next)
                .with_context(|| format!("reading {}", next.display()))?;
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&next)?;
                self.nodes
                    .insert(next.clone(), Node::Symlink(target.clone()));
                // An absolute target replaces `cur` entirely in join().
                let mut resolved = cur.join(&target);
                resolved.extend(&parts[i + 1..]);
                return self.host_at(&normalize(&resolved), depth + 1);
            }
            let node = if meta.is_dir() {
                Node::Dir
            } else {
                Node::Host(next.clone())
            };
            self.nodes.entry(next.clone()).or_insert(node);
            cur = next;
        }
        Ok(())
    }

    fn write(&self, out: &Path) -> Result<()> {
        let file = fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
        let mut archive = Archive::new(BufWriter::new(file));
        // BTreeMap order puts every directory before its contents.
        for (path, node) in &self.nodes {
            let name = path.to_str().context("non-UTF-8 path")?;
            match node {
                Node::Dir => archive.dir(name, 0o755)?,
                Node::Symlink(target) => {
                    archive.symlink(name, target.to_str().context("non-UTF-8 link")?)?
                }
                Node::Data(data, mode) => archive.file(name, *mode, data)?,
                Node::Console => archive.char_dev(name, 0o600, 5, 1)?,
                Node::Host(src) => {
                    let mode = fs::metadata(src)?.permissions().mode();
                    archive.file(name, mode, &read_stripped(src)?)?;
                }
            }
        }
        archive.finish()?.flush()?;
        Ok(())
    }
}

/// The file's bytes; for big ELF files without their debug info, which
/// halves the initramfs (and its unpacking time under emulation) and changes
/// nothing the tests see (panic messages carry their own locations).
fn read_stripped(path: &Path) -> Result<Vec<u8>> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() < 4 << 20 || !bytes.starts_with(b"\x7fELF") {
        return Ok(bytes);
    }
    let tmp = std::env::temp_dir().join(format!("xtask-strip-{}", std::process::id()));
    // The host's objcopy may not know another architecture's ELF: then
    // the file goes in as it is.
    let ok = Command::new("objcopy")
        .arg("--strip-debug")
        .arg(path)
        .arg(&tmp)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let out = if ok { fs::read(&tmp)? } else { bytes };
    let _ = fs::remove_file(&tmp);
    Ok(out)
}

/// Shared libraries and loader `program` needs, from ldd.
fn libraries(program: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(program)
        .output()
        .context("running ldd")?;
    // A static binary makes ldd fail with "not a dynamic executable".
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|line| {
            // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` or
            // `/lib64/ld-linux-x86-64.so.2 (0x...)`.
            let path = match line.split_once("=>") {
                Some((_, rest)) => rest.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect())
}

/// The first `name` on the host's PATH (plus the sbin dirs, which a non-root
/// PATH may lack).
pub(crate) fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Lexically resolves `.` and `..` (the prefix has no symlinks left).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(p) => out.push(p),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, mode, data) of each entry of a newc archive.
    fn entries(cpio: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
        let field = |at: usize, i: usize| {
            let hex = std::str::from_utf8(&cpio[at + 6 + i * 8..at + 14 + i * 8]).unwrap();
            usize::from_str_radix(hex, 16).unwrap()
        };
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            assert_eq!(&cpio[at..at + 6], b"070701");
            let (mode, size, name_len) = (field(at, 1), field(at, 6), field(at, 11));
            let name = String::from_utf8(cpio[at + 110..at + 110 + name_len - 1].to_vec()).unwrap();
            let data_at = (at + 110 + name_len).next_multiple_of(4);
            if name == "TRAILER!!!" {
                return out;
            }
            // Stored without the leading '/'.
            out.push((
                format!("/{name}"),
                mode as u32,
                cpio[data_at..data_at + size].to_vec(),
            ));
            at = (data_at + size).next_multiple_of(4);
        }
    }

    #[test]
    fn a_busybox_guest_gets_applets_and_the_static_tracer_at_the_tests_path() {
        let dir = std::env::temp_dir().join(format!("xtask-initramfs-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        for (name, data) in [
            ("test-bin", "a test"),
            ("tracer", "glibc build"),
            ("static", "static build"),
            ("busybox", "bb"),
        ] {
            fs::write(dir.join(name), data).unwrap();
        }
        let out = dir.join("out.cpio");
        build_common(
            &Payload {
                tests: vec![dir.join("test-bin")],
                tracer: Tracer {
                    at: dir.join("tracer"),
                    from: dir.join("static"),
                },
                busybox: dir.join("busybox"),
                userland: Userland::Busybox,
                data: Vec::new(),
                test_timeout_s: 60,
                output_lines: 10,
                filter: vec!["trace::a".into(), "trace::b".into()],
                only: vec!["trace::".into()],
                repeat: 1,
            },
            &out,
        )
        .unwrap();
        let cpio = fs::read(&out).unwrap();
        let real = fs::canonicalize(&dir).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        let all = entries(&cpio);
        let get = |name: &Path| {
            let name = name.to_str().unwrap();
            all.iter()
                .find(|e| e.0 == name)
                .unwrap_or_else(|| panic!("no {name}"))
        };
        assert_eq!(get(&real.join("tracer")).2, b"static build");
        assert_eq!(get(&real.join("test-bin")).2, b"a test");
        assert_eq!(get(Path::new("/.vm/busybox")).2, b"bb");
        for link in ["/bin/sleep", "/bin/sh", "/usr/bin/env"] {
            let (_, mode, target) = get(Path::new(link));
            assert_eq!(mode & 0o170000, 0o120000, "{link} is a symlink");
            assert_eq!(target, b"/.vm/busybox");
        }
        let config = String::from_utf8(get(Path::new("/.vm/config")).2.clone()).unwrap();
        assert!(config.contains("FILTER='trace::a trace::b'\n"), "{config}");
        assert!(config.contains("ONLY='trace::'\n"), "{config}");
        assert!(
            config.contains(&format!("TRACER={}\n", dir.join("tracer").display())),
            "{config}"
        );
        // No host programs: they are another architecture's.
        assert!(!all.iter().any(|e| e.0.ends_with("/bash")));
    }

    #[test]
    fn normalize_resolves_dot_dot() {
        assert_eq!(
            normalize(Path::new("/usr/bin/../lib/./x")),
            Path::new("/usr/lib/x")
        );
        assert_eq!(normalize(Path::new("/../a")), Path::new("/a"));
    }
}
