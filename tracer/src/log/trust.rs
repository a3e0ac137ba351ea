//! Whether a directory may hold a recording, checked as sshd's StrictModes
//! and logrotate check theirs: a directory another user can write to lets
//! that user plant logs, take the next file's name, or remove evidence.
//!
//! DIR must be owned by the recording user and writable by it alone. Each
//! directory above it must be owned by root or that user, and writable by
//! others only if sticky (as /tmp is: others cannot rename or remove what
//! they do not own). A parent writable by a group other than root's is
//! accepted with a warning: Ubuntu's /var/log is root:syslog 0775, and the
//! packaged service records under it.

use std::{
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
};

/// Exit status of a refused directory (as for a refused option value).
pub const EXIT_UNSAFE: u8 = 2;

/// The directory is not safe to record into.
#[derive(Debug)]
pub struct UnsafeDir(pub String);

impl std::fmt::Display for UnsafeDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnsafeDir {}

/// One directory's owner, group and mode.
#[derive(Clone, Copy, Debug)]
pub struct Stat {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

const STICKY: u32 = 0o1000;
const GROUP_W: u32 = 0o020;
const OTHER_W: u32 = 0o002;

/// What is wrong with `dir` itself for a recording by `uid`, if anything.
pub fn dir_problem(st: Stat, uid: u32) -> Option<String> {
    if st.uid != uid {
        return Some(format!("is owned by uid {}, not by uid {uid}", st.uid));
    }
    if st.mode & (GROUP_W | OTHER_W) != 0 {
        return Some(format!(
            "is writable by other users (mode {:o})",
            st.mode & 0o7777
        ));
    }
    None
}

/// A parent directory's verdict.
#[derive(Debug, PartialEq, Eq)]
pub enum Parent {
    Fine,
    /// Accepted, with this said.
    Warn(String),
    Unsafe(String),
}

/// What a directory above DIR allows a recording by `uid`.
pub fn parent_verdict(st: Stat, uid: u32) -> Parent {
    if st.uid != 0 && st.uid != uid {
        return Parent::Unsafe(format!(
            "is owned by uid {}, neither root nor uid {uid}",
            st.uid
        ));
    }
    let sticky = st.mode & STICKY != 0;
    if st.mode & OTHER_W != 0 && !sticky {
        return Parent::Unsafe(format!(
            "is writable by every user and not sticky (mode {:o})",
            st.mode & 0o7777
        ));
    }
    if st.mode & GROUP_W != 0 && !sticky && st.gid != 0 {
        return Parent::Warn(format!(
            "is writable by group {} (mode {:o}): its members could replace the log directory",
            st.gid,
            st.mode & 0o7777
        ));
    }
    Parent::Fine
}

fn stat(path: &Path) -> std::io::Result<Stat> {
    let m = std::fs::metadata(path)?;
    Ok(Stat {
        uid: m.uid(),
        gid: m.gid(),
        mode: m.mode(),
    })
}

/// Checks `dir` (it exists) and every directory above it for a recording
/// by `uid`. What is accepted with a warning comes back; a refusal names
/// the directory, what is wrong and the way out. With `allow`, refusals
/// come back as warnings too.
pub fn check(dir: &Path, uid: u32, allow: bool) -> Result<Vec<String>, anyhow::Error> {
    // The real path: links are followed once, here, and each directory on
    // the way is what the checks see.
    let real = dir
        .canonicalize()
        .map_err(|e| anyhow::anyhow!("cannot check {}: {e}", dir.display()))?;
    let mut warnings = Vec::new();
    let mut refusals = Vec::new();
    let st = stat(&real).map_err(|e| anyhow::anyhow!("cannot check {}: {e}", real.display()))?;
    if let Some(why) = dir_problem(st, uid) {
        refusals.push(format!("{} {why}", real.display()));
    }
    let mut up: Option<PathBuf> = real.parent().map(Path::to_path_buf);
    while let Some(p) = up {
        let st = stat(&p).map_err(|e| anyhow::anyhow!("cannot check {}: {e}", p.display()))?;
        match parent_verdict(st, uid) {
            Parent::Fine => {}
            Parent::Warn(why) => warnings.push(format!("{} {why}", p.display())),
            Parent::Unsafe(why) => refusals.push(format!("{} {why}", p.display())),
        }
        up = p.parent().map(Path::to_path_buf);
    }
    if refusals.is_empty() {
        return Ok(warnings);
    }
    let what = refusals.join("; ");
    if allow {
        warnings.push(format!(
            "{what}: another user could plant, take or remove logs there (accepted: \
             --allow-unsafe-dir)"
        ));
        return Ok(warnings);
    }
    Err(anyhow::Error::new(UnsafeDir(format!(
        "{what}, so another user could plant, take or remove logs there: use a directory owned \
         by uid {uid} and writable only by it, under directories only root or uid {uid} can \
         change (or sticky ones, as /tmp), or pass --allow-unsafe-dir to record there anyway"
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(uid: u32, gid: u32, mode: u32) -> Stat {
        Stat { uid, gid, mode }
    }

    #[test]
    fn the_directory_is_the_users_and_writable_by_it_alone() {
        assert_eq!(dir_problem(st(0, 0, 0o700), 0), None);
        assert_eq!(dir_problem(st(0, 4, 0o750), 0), None);
        assert!(dir_problem(st(0, 0, 0o1777), 0).is_some());
        assert!(dir_problem(st(0, 0, 0o770), 0).is_some());
        assert!(dir_problem(st(1000, 1000, 0o700), 0).is_some());
    }

    #[test]
    fn parents_like_sshd_strict_modes_with_ubuntus_var_log_warned() {
        assert_eq!(parent_verdict(st(0, 0, 0o755), 0), Parent::Fine);
        // /tmp: everyone writes, sticky.
        assert_eq!(parent_verdict(st(0, 0, 0o1777), 0), Parent::Fine);
        assert_eq!(parent_verdict(st(1000, 1000, 0o700), 1000), Parent::Fine);
        // Group root may write: root's group is root's.
        assert_eq!(parent_verdict(st(0, 0, 0o775), 0), Parent::Fine);
        // Ubuntu's /var/log: root:syslog 0775.
        assert!(matches!(
            parent_verdict(st(0, 104, 0o775), 0),
            Parent::Warn(_)
        ));
        assert!(matches!(
            parent_verdict(st(0, 0, 0o777), 0),
            Parent::Unsafe(_)
        ));
        assert!(matches!(
            parent_verdict(st(1000, 1000, 0o755), 0),
            Parent::Unsafe(_)
        ));
    }
}
