//! A directory of rotated logs: how their files are named, which files are
//! tracer's, and which of them go when the directory holds too much.
//!
//! `tracer-20261128T031500.123Z-000042.log`: the wall-clock time (UTC) the
//! file starts, then its sequence number in the recording; `.log.zst` once
//! compressed. Names sort by time. Only names of exactly this form are ever
//! deleted, so the directory may hold other files safely.

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

/// One of tracer's logs in a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotated {
    pub path: PathBuf,
    pub bytes: u64,
}

/// Tracer's logs in `dir`, oldest first (by name, which is by time).
pub fn list(dir: &Path) -> io::Result<Vec<Rotated>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        // Regular files only: a link or a directory of that name is not
        // one tracer wrote.
        match entry.file_type() {
            Ok(t) if t.is_file() && is_ours(&name) => {}
            _ => continue,
        }
        let bytes = entry.metadata().map_or(0, |m| m.len());
        found.push(Rotated {
            path: entry.path(),
            bytes,
        });
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

/// How much a directory of logs may hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Most files kept (the current one included).
    pub keep: Option<usize>,
    /// Most bytes all of them may take (the current one included).
    pub max_total: Option<u64>,
}

/// The files to delete from `files` (oldest first) so the rest fit
/// `limits`: oldest first, never `current`.
pub fn to_delete<'a>(files: &'a [Rotated], current: &Path, limits: Retention) -> Vec<&'a Rotated> {
    let mut count = files.len();
    let mut total: u64 = files.iter().map(|f| f.bytes).sum();
    let mut doomed = Vec::new();
    for f in files {
        let too_many = limits.keep.is_some_and(|k| count > k);
        let too_big = limits.max_total.is_some_and(|m| total > m);
        if !(too_many || too_big) {
            break;
        }
        if f.path == current {
            continue;
        }
        count -= 1;
        total -= f.bytes;
        doomed.push(f);
    }
    doomed
}

/// Deletes what [`to_delete`] picks in `dir`; the paths deleted. A file
/// already gone is no error (another cleaner, a person).
pub fn prune(dir: &Path, current: &Path, limits: Retention) -> io::Result<Vec<PathBuf>> {
    if limits == Retention::default() {
        return Ok(Vec::new());
    }
    let files = list(dir)?;
    let mut gone = Vec::new();
    for f in to_delete(&files, current, limits) {
        match std::fs::remove_file(&f.path) {
            Ok(()) => gone.push(f.path.clone()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(gone)
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

    fn files(sizes: &[u64]) -> Vec<Rotated> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &bytes)| Rotated {
                path: PathBuf::from(file_name(i as i128 * 1_000_000_000, i as u32)),
                bytes,
            })
            .collect()
    }

    #[test]
    fn oldest_go_first_and_never_the_current_one() {
        let f = files(&[10, 20, 30, 40]);
        let names = |v: Vec<&Rotated>| v.into_iter().map(|r| r.bytes).collect::<Vec<_>>();
        let keep2 = Retention {
            keep: Some(2),
            max_total: None,
        };
        assert_eq!(names(to_delete(&f, &f[3].path, keep2)), [10, 20]);
        let total = Retention {
            keep: None,
            max_total: Some(75),
        };
        assert_eq!(names(to_delete(&f, &f[3].path, total)), [10, 20]);
        // The current file alone is over the limit: it stays, the rest go.
        let tiny = Retention {
            keep: Some(1),
            max_total: Some(1),
        };
        assert_eq!(names(to_delete(&f, &f[3].path, tiny)), [10, 20, 30]);
        assert_eq!(names(to_delete(&f, &f[0].path, tiny)), [20, 30, 40]);
        assert!(to_delete(&f, &f[3].path, Retention::default()).is_empty());
    }
}
