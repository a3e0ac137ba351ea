//! A directory of rotated logs: how their files are named, which files are
//! tracer's, and which of them go when the directory holds too much.
//!
//! `tracer-20261128T031500.123Z-000042.log`: the wall-clock time (UTC) the
//! file starts, then its sequence number in the recording; `.log.zst` once
//! compressed. Names sort by time. Retention only ever deletes files of
//! exactly this form that the recording user owns (and, of those found at
//! start, none dated after the new file), so the directory may hold other
//! files safely, even files others planted there.

use std::{
    io,
    path::{Path, PathBuf},
};

use crate::model::clock::rfc3339_wall;

pub const PREFIX: &str = "tracer-";
pub const PLAIN: &str = ".log";
pub const COMPRESSED: &str = ".log.zst";

/// The name of file `sequence` of a recording, started at wall-clock `ns`.
pub fn file_name(wall_ns: i128, sequence: u32) -> String {
    // 2026-11-28T03:15:00.123456Z -> 20261128T031500.123Z
    let time: String = rfc3339_wall(wall_ns)
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .take(19)
        .collect();
    format!("{PREFIX}{time}Z-{sequence:06}{PLAIN}")
}

/// Whether `name` is one of tracer's rotated logs (plain or compressed).
pub fn is_ours(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(PREFIX) else {
        return false;
    };
    let Some(stem) = rest
        .strip_suffix(COMPRESSED)
        .or_else(|| rest.strip_suffix(PLAIN))
    else {
        return false;
    };
    let b = stem.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    b.len() >= 27
        && digits(0..8)
        && b[8] == b'T'
        && digits(9..15)
        && b[15] == b'.'
        && digits(16..19)
        && &b[19..21] == b"Z-"
        && digits(21..b.len())
}

/// The time part of one of tracer's names (`20261128T031500.123`): names
/// compare by it as by time.
pub fn stamp(name: &str) -> Option<&str> {
    is_ours(name).then(|| &name[PREFIX.len()..PREFIX.len() + 19])
}

/// Whether `name` is a compressed log left half-written (`.log.zst.partial`).
pub fn is_partial(name: &str) -> bool {
    name.strip_suffix(".partial")
        .is_some_and(|n| n.ends_with(COMPRESSED) && is_ours(n))
}

/// One of tracer's logs in a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotated {
    pub path: PathBuf,
    pub bytes: u64,
    /// Its owner: retention deletes only the recording user's files, and
    /// readers skip other users' (they could have planted them).
    pub uid: u32,
}

impl Rotated {
    pub fn name(&self) -> &str {
        self.path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
    }
}

/// Regular files in `dir` whose names pass `keep`, sorted by name.
fn files(dir: &Path, keep: impl Fn(&str) -> bool) -> io::Result<Vec<Rotated>> {
    use std::os::unix::fs::MetadataExt as _;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        // Regular files only: a link or a directory of that name is not
        // one tracer wrote.
        match entry.file_type() {
            Ok(t) if t.is_file() && keep(&name) => {}
            _ => continue,
        }
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        found.push(Rotated {
            path: entry.path(),
            bytes: meta.len(),
            uid: meta.uid(),
        });
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

/// Tracer's logs in `dir`, oldest first (by name, which is by time).
pub fn list(dir: &Path) -> io::Result<Vec<Rotated>> {
    files(dir, is_ours)
}

/// Compressed logs left half-written in `dir` (a crash while compressing).
pub fn partials(dir: &Path) -> io::Result<Vec<Rotated>> {
    files(dir, is_partial)
}

/// How much a directory of logs may hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Most files kept (the current one included).
    pub keep: Option<usize>,
    /// Most bytes all of them may take (the current one included).
    pub max_total: Option<u64>,
}

/// Whether retention may count and delete `file`, found in the directory
/// when a recording by `uid` starts with a file named `first`: the
/// user's own, named as tracer names logs, and dated no later than the
/// new file (a file dated in the future would otherwise sort after every
/// new one and outlive them all).
pub fn ours_to_retain(file: &Rotated, uid: u32, first: &str) -> bool {
    file.uid == uid
        && match (stamp(file.name()), stamp(first)) {
            (Some(a), Some(b)) => a <= b,
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time_and_are_recognized() {
        let a = file_name(1_795_000_000_123_456_789, 41);
        let b = file_name(1_795_000_001_000_000_000, 42);
        assert_eq!(a, "tracer-20261118T110640.123Z-000041.log");
        assert!(a < b);
        assert!(is_ours(&a) && is_ours(&b) && is_ours(&format!("{b}.zst")));
        for other in [
            "tracer-20261118T080640.123Z-000041.log.tmp",
            "tracer-20261118T080640.123Z-.log",
            "tracer-2026111xT080640.123Z-000041.log",
            "mytracer-20261118T110640.123Z-000041.log",
            "tracer.log",
            "notes.txt",
        ] {
            assert!(!is_ours(other), "{other}");
        }
    }

    #[test]
    fn only_the_users_own_files_dated_up_to_now_are_retained() {
        let first = file_name(1_795_000_000_000_000_000, 0);
        let at = |ns: i128, uid| Rotated {
            path: PathBuf::from("/d").join(file_name(ns, 3)),
            bytes: 1,
            uid,
        };
        assert!(ours_to_retain(&at(1_794_000_000_000_000_000, 0), 0, &first));
        assert!(ours_to_retain(&at(1_795_000_000_000_000_000, 0), 0, &first));
        // Another user's, or dated after the new file: never.
        assert!(!ours_to_retain(
            &at(1_794_000_000_000_000_000, 65534),
            0,
            &first
        ));
        assert!(!ours_to_retain(
            &at(1_796_000_000_000_000_000, 0),
            0,
            &first
        ));
        assert_eq!(stamp(&first), Some("20261118T110640.000"));
        assert!(is_partial(&format!("{first}.zst.partial")));
        assert!(!is_partial(&format!("{first}.partial")));
        assert!(!is_partial("tracer-x.log.zst.partial"));
    }
}
