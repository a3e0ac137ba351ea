//! The files of a recording: `--dir`'s directory made ready (checked,
//! locked, debris cleared), each new file named and created, room made on
//! a full disk.

use std::{
    fs::File,
    io::{self, BufWriter},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context as _, Result};

use super::options::Rotation;
use crate::{
    log::{janitor::Janitor, ledger::Ledger, rotate, trust, writer},
    model::clock,
};

/// A directory made ready for a recording: checked, locked against a
/// second recorder, debris of a crash cleared, its first file created.
pub(super) struct Prepared {
    /// Held while recording: a second recorder into DIR is refused.
    pub(super) lock: File,
    /// Earlier recordings' files that retention may count and delete,
    /// oldest first.
    pub(super) adopted: Vec<rotate::Rotated>,
}

/// Where new files go.
pub(super) enum Files {
    /// The same path each time (`-o`).
    Same,
    Rotated {
        dir: PathBuf,
        size: u64,
        every: Option<Duration>,
        ledger: Arc<Ledger>,
        janitor: Janitor,
        _lock: File,
    },
}

/// Whether a write failed for want of space.
pub(super) fn no_space(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// With `--dir` on a full disk: deletes the oldest finished log, said on
/// stderr. Whether there was one.
pub(super) fn make_room(files: &Files) -> bool {
    let Files::Rotated { ledger, dir, .. } = files else {
        return false;
    };
    let Some(gone) = ledger.free_oldest() else {
        return false;
    };
    crate::say!(
        "\ntracer: warning: {} is full (no space left on device); deleted the oldest log, {}, \
         and recording goes on",
        dir.display(),
        gone.display()
    );
    true
}

/// The effective uid: the recording user, whose files retention may touch.
pub(super) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Creates file `sequence` of a recording in `dir`, named for `wall_ns`.
/// A name already taken (another user's file, where the directory lets
/// others write) is passed over with a warning for one a few ms later, or
/// at a random later time once those are taken too. `None`: every name
/// tried was taken.
pub(super) fn create_named(
    dir: &Path,
    wall_ns: i128,
    sequence: u32,
) -> Result<Option<(PathBuf, BufWriter<File>)>> {
    const NEAR: i128 = 16;
    const TRIES: i128 = 64;
    let first = dir.join(rotate::file_name(wall_ns, sequence));
    for k in 0..TRIES {
        let ms = match k {
            0..NEAR => k,
            _ => NEAR + i128::from(session_id() % 600_000),
        };
        let path = match k {
            0 => first.clone(),
            _ => dir.join(rotate::file_name(wall_ns + ms * 1_000_000, sequence)),
        };
        match writer::create(&path) {
            Ok(file) => {
                if k > 0 {
                    crate::say!(
                        "\ntracer: warning: {} was taken by a file tracer did not write; this \
                         log is {} instead",
                        first.display(),
                        path.display()
                    );
                }
                return Ok(Some((path, file)));
            }
            Err(e)
                if e.root_cause().is::<writer::InTheWay>()
                    || e.root_cause()
                        .downcast_ref::<io::Error>()
                        .is_some_and(|e| e.kind() == io::ErrorKind::AlreadyExists) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// A random id for this recording's files (see `Part`).
pub(super) fn session_id() -> u64 {
    let mut id = [0u8; 8];
    // SAFETY: getrandom writes at most `id.len()` bytes into `id`.
    let got = unsafe { libc::getrandom(id.as_mut_ptr().cast(), id.len(), 0) };
    if got == id.len() as isize {
        u64::from_le_bytes(id)
    } else {
        // Unique enough to tell two recordings of one boot apart.
        clock::boottime_ns() ^ (u64::from(std::process::id()) << 40)
    }
}

/// Makes `--dir`'s directory ready: created (mode 0700) if missing,
/// checked ([`trust`]), locked, and cleared of what a crash left: a
/// half-written `.zst.partial` is removed; plain logs and empty files of
/// a recording that never started are noted for the janitor or removed.
pub(super) fn prepare(r: &Rotation) -> Result<(PathBuf, BufWriter<File>, Prepared)> {
    use std::os::unix::fs::DirBuilderExt as _;
    let dir = &r.dir;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    if !dir.is_dir() {
        anyhow::bail!("{} is not a directory", dir.display());
    }
    let uid = euid();
    for warning in trust::check(dir, uid, r.allow_unsafe)? {
        crate::say!("tracer: warning: {warning}");
    }
    let lock = File::open(dir).with_context(|| format!("cannot open {}", dir.display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another tracer is recording into {}; two recordings there would delete each \
             other's logs: give this one another directory",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(anyhow::Error::new(e).context(format!("cannot lock {}", dir.display())))
        }
    }
    let listing = |what| format!("cannot list the logs in {} ({what})", dir.display());
    for debris in rotate::partials(dir).with_context(|| listing("debris"))? {
        if debris.uid == uid && std::fs::remove_file(&debris.path).is_ok() {
            crate::say!(
                "tracer: removed {}, left half-written by a recording that stopped while \
                 compressing",
                debris.path.display()
            );
        }
    }
    let now = clock::WallClock::now().wall_ns(clock::boottime_ns());
    let Some((path, file)) = create_named(dir, now, 0)? else {
        anyhow::bail!("no name for the first log in {} is free", dir.display());
    };
    let first = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let mut adopted = Vec::new();
    for f in rotate::list(dir).with_context(|| listing("earlier recordings"))? {
        if f.path == path || !rotate::ours_to_retain(&f, uid, first) {
            continue;
        }
        // Created and never written: a recording that failed to start.
        if f.bytes == 0 {
            let _ = std::fs::remove_file(&f.path);
            continue;
        }
        adopted.push(f);
    }
    Ok((path, file, Prepared { lock, adopted }))
}
