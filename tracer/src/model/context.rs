//! A task's context resolved in userspace: the cgroup v2 path of a cgroup
//! id, the container a path names, user names, and tracer's own
//! namespaces (to say when a task's differ).
//!
//! **Cgroup paths.** On cgroup2 a cgroup's id is the inode number of its
//! directory, so the path of an id is found by walking the cgroup2 mount
//! (found in /proc/self/mountinfo; /sys/fs/cgroup as a fallback). The walk
//! is cached and redone on a miss; an id still missing after that belongs
//! to a cgroup removed since the event (or never seen under this mount),
//! and its path is unknown for good (`null` in JSON). Paths are resolved
//! when an event is written: live, that is moments after the event; a
//! replayed log gets the replaying machine's paths, where the cgroup may
//! be long gone.
//!
//! **Container ids** are read from the last path component that carries
//! one, in these forms (`<id>` is 64 hex digits):
//!
//! | runtime | component |
//! |---|---|
//! | docker (systemd driver) | `docker-<id>.scope` |
//! | docker (cgroupfs driver) | `<id>` under a `docker` component (`/docker/<id>`) |
//! | containerd / CRI | `cri-containerd-<id>.scope` |
//! | CRI-O | `crio-<id>.scope` |
//! | podman | `libpod-<id>.scope` |
//!
//! Other layouts (a bare `<id>` elsewhere, kubepods cgroupfs paths) give
//! no container id.

use std::{
    collections::HashMap,
    ffi::CStr,
    fs,
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, OnceLock},
};

/// Length of a container id in its hex form.
const ID_LEN: usize = 64;

fn is_id(s: &str) -> bool {
    s.len() == ID_LEN && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The runtime and container id a cgroup path names, if any (see the
/// module doc for the forms).
pub fn container_id(path: &str) -> Option<(&'static str, &str)> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate().rev() {
        for (prefix, runtime) in [
            ("docker-", "docker"),
            ("cri-containerd-", "containerd"),
            ("crio-", "cri-o"),
            ("libpod-", "podman"),
        ] {
            if let Some(id) = part
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(".scope"))
                .filter(|id| is_id(id))
            {
                return Some((runtime, id));
            }
        }
        if i > 0 && parts[i - 1] == "docker" && is_id(part) {
            return Some(("docker", part));
        }
    }
    None
}

/// Cgroup ids to paths under one cgroup2 mount.
pub struct Cgroups {
    root: PathBuf,
    paths: HashMap<u64, Option<Arc<str>>>,
}

impl Cgroups {
    pub fn new(root: impl Into<PathBuf>) -> Cgroups {
        Cgroups {
            root: root.into(),
            paths: HashMap::new(),
        }
    }

    /// The path of cgroup `id` (`/` for the root), walking the mount again
    /// on a miss; `None` for a cgroup that is gone.
    pub fn path(&mut self, id: u64) -> Option<Arc<str>> {
        if let Some(known) = self.paths.get(&id) {
            return known.clone();
        }
        self.walk();
        self.paths.entry(id).or_insert(None).clone()
    }

    fn walk(&mut self) {
        let mut stack = vec![(self.root.clone(), String::from("/"))];
        while let Some((dir, rel)) = stack.pop() {
            let Ok(meta) = fs::metadata(&dir) else {
                continue;
            };
            self.paths.insert(meta.ino(), Some(Arc::from(rel.as_str())));
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let child = if rel == "/" {
                    format!("/{name}")
                } else {
                    format!("{rel}/{name}")
                };
                stack.push((entry.path(), child));
            }
        }
    }
}

/// Where cgroup2 is mounted: from /proc/self/mountinfo, else
/// /sys/fs/cgroup (looked up once).
fn cgroup2_mount() -> &'static Path {
    static MOUNT: OnceLock<PathBuf> = OnceLock::new();
    MOUNT.get_or_init(find_cgroup2_mount)
}

fn find_cgroup2_mount() -> PathBuf {
    fs::read_to_string("/proc/self/mountinfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let (left, right) = line.split_once(" - ")?;
                (right.split_whitespace().next()? == "cgroup2")
                    .then(|| left.split_whitespace().nth(4).map(PathBuf::from))?
            })
        })
        .unwrap_or_else(|| PathBuf::from("/sys/fs/cgroup"))
}

fn cgroups() -> &'static Mutex<Cgroups> {
    static CGROUPS: OnceLock<Mutex<Cgroups>> = OnceLock::new();
    CGROUPS.get_or_init(|| Mutex::new(Cgroups::new(cgroup2_mount())))
}

/// The path of cgroup `id` on this machine (see the module doc).
pub fn cgroup_path(id: u64) -> Option<Arc<str>> {
    cgroups().lock().ok()?.path(id)
}

/// The cgroup id of the cgroup2 path `path` (as /proc/PID/cgroup gives
/// it): the inode number of its directory.
pub fn cgroup_id(path: &str) -> Option<u64> {
    let dir = cgroup2_mount().join(path.trim_start_matches('/'));
    fs::metadata(dir).ok().map(|m| m.ino())
}

/// The login name of `uid` (from the passwd database), cached.
pub fn user_name(uid: u32) -> Option<Arc<str>> {
    static USERS: OnceLock<Mutex<HashMap<u32, Option<Arc<str>>>>> = OnceLock::new();
    let users = USERS.get_or_init(Default::default);
    let mut users = users.lock().ok()?;
    users.entry(uid).or_insert_with(|| lookup_user(uid)).clone()
}

fn lookup_user(uid: u32) -> Option<Arc<str>> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: all-zero is a valid `passwd` (null pointers, zero ids).
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is to memory we own, `buf.len()` bytes at
    // `buf`; on success the strings in `pwd` point into `buf`.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r succeeded: `pw_name` is a NUL-terminated string
    // inside `buf`, which outlives this borrow.
    let name = unsafe { CStr::from_ptr(pwd.pw_name) };
    Some(Arc::from(name.to_string_lossy().as_ref()))
}

/// The inode of a namespace file (`/proc/PID/ns/pid`, `.../mnt`).
pub fn ns_inode(path: &Path) -> Option<u32> {
    fs::metadata(path).ok().map(|m| m.ino() as u32)
}

/// tracer's own pid and mount namespaces: a task whose differ is said to
/// be elsewhere.
pub fn own_namespaces() -> (Option<u32>, Option<u32>) {
    static OWN: OnceLock<(Option<u32>, Option<u32>)> = OnceLock::new();
    *OWN.get_or_init(|| {
        (
            ns_inode(Path::new("/proc/self/ns/pid")),
            ns_inode(Path::new("/proc/self/ns/mnt")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn container_ids_of_each_runtime() {
        let cases = [
            (format!("/system.slice/docker-{ID}.scope"), "docker"),
            (format!("/docker/{ID}"), "docker"),
            (
                format!("/kubepods.slice/kubepods-pod1.slice/cri-containerd-{ID}.scope"),
                "containerd",
            ),
            (format!("/kubepods.slice/crio-{ID}.scope"), "cri-o"),
            (
                format!("/machine.slice/libpod-{ID}.scope/container"),
                "podman",
            ),
        ];
        for (path, runtime) in &cases {
            assert_eq!(container_id(path), Some((*runtime, ID)), "{path}");
        }
        for path in [
            "/".to_string(),
            "/user.slice/user-0.slice/session-1.scope".to_string(),
            format!("/system.slice/docker-{}.scope", &ID[1..]),
            format!("/system.slice/{ID}"),
            format!("/system.slice/docker-{ID}x.scope"),
            format!("/docker/{ID}0"),
        ] {
            assert_eq!(container_id(&path), None, "{path}");
        }
    }

    #[test]
    fn walks_a_tree_and_forgets_nothing_it_saw() {
        let dir = std::env::temp_dir().join(format!("tracer-cg-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("a/b")).unwrap();
        let ino = |p: &Path| fs::metadata(p).unwrap().ino();
        let mut cg = Cgroups::new(&dir);
        assert_eq!(cg.path(ino(&dir)).as_deref(), Some("/"));
        assert_eq!(cg.path(ino(&dir.join("a/b"))).as_deref(), Some("/a/b"));
        // Made after the first walk: found by walking again.
        fs::create_dir(dir.join("c")).unwrap();
        assert_eq!(cg.path(ino(&dir.join("c"))).as_deref(), Some("/c"));
        assert_eq!(cg.path(u64::MAX - 7), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn root_has_a_name() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
    }
}
