//! The account of a directory of rotated logs, shared by the recorder and
//! its janitor thread: which finished files it holds and their sizes, the
//! room the file being written may take, and the room a compression in
//! progress may take. `--max-total` bounds their sum at every moment:
//!
//! - at each rotation the recorder deletes the oldest finished files until
//!   the new file's whole size limit fits, before the new file grows; where
//!   even deleting every one would not make it fit, none is deleted and the
//!   recording stops with a clear error;
//! - the janitor compresses a file only after reserving the compressed
//!   output's worst case (zstd's raw blocks: about the input's size), and
//!   only where that leaves room for the next rotation too; otherwise the
//!   file stays plain. That is how a compression backlog is shed: never by
//!   deleting a file the account does not hold;
//! - files are deleted strictly oldest first, the one the janitor works on
//!   too: a sync goes on through its open descriptor, a compression is
//!   cancelled (its reservation counts until the janitor has removed its
//!   output). The recorder waits for the janitor only on a full disk,
//!   for a cancelled compression to remove its output.
//!
//! Only files this account holds are ever deleted: this recording's, and
//! those of earlier recordings that retention may touch (see
//! [`super::rotate::ours_to_retain`]).

use std::{
    collections::VecDeque,
    io,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Condvar, Mutex, MutexGuard,
    },
};

use super::rotate::Retention;

/// Most finished files waiting for compression; past it the oldest waiting
/// one stays plain (it is the nearest to deletion anyway).
pub const QUEUE: usize = 16;

/// The most a compressed file can take: zstd stores a block that does not
/// shrink as it is (3 bytes of block header per 128 KiB), plus frame
/// headers and checksums.
pub fn worst_compressed(bytes: u64) -> u64 {
    bytes + bytes / 256 + 4096
}

/// What the janitor did, for the summary at the end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Done {
    pub compressed: u64,
    pub deleted: u64,
    pub failures: u64,
    /// Files left plain: no room to compress them, or the queue was full.
    pub uncompressed: u64,
}

/// Set when the file being compressed is deleted for room: the compression
/// stops at its next frame and removes its output.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn flag(&self) -> &AtomicBool {
        &self.0
    }

    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl PartialEq for Cancel {
    fn eq(&self, other: &Cancel) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Cancel {}

#[derive(Debug)]
struct Entry {
    path: PathBuf,
    bytes: u64,
    synced: bool,
    /// Still to be compressed.
    compress: bool,
    /// The janitor is syncing or compressing it.
    working: bool,
    /// The compression in progress, if any.
    cancel: Option<Cancel>,
}

#[derive(Debug)]
struct State {
    /// Finished files, oldest first.
    files: VecDeque<Entry>,
    /// The size limit of the file being written.
    current: u64,
    /// The size limit the next file may have: --rotate-size, or more where
    /// the header is big.
    next_limit: u64,
    /// The room taken for the compression in progress.
    reserved: u64,
    closing: bool,
    /// Recording failed: no new compression starts (the next run adopts
    /// the plain files), so the exit is quick.
    aborting: bool,
    done: Done,
    shed_said: bool,
    /// Warnings, said once the lock is released.
    said: Vec<String>,
    janitor_gone: bool,
}

impl State {
    fn total(&self) -> u64 {
        let files: u64 = self.files.iter().map(|e| e.bytes).sum();
        files + self.current + self.reserved
    }

    /// Deletes entry `i` (its file, then its account), cancelling its
    /// compression; a file already gone is no error (a person removed it).
    /// Unlinked under the lock: the bound holds at every moment.
    fn delete(&mut self, i: usize) -> PathBuf {
        let e = self.files.remove(i).expect("an entry");
        if let Some(cancel) = &e.cancel {
            cancel.set();
        }
        match std::fs::remove_file(&e.path) {
            Ok(()) => self.done.deleted += 1,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => {
                self.done.failures += 1;
                self.said.push(format!(
                    "\ntracer: warning: cannot delete {}: {err}",
                    e.path.display()
                ));
            }
        }
        e.path
    }

    fn shed(&mut self, i: usize, why: &str) {
        self.files[i].compress = false;
        self.done.uncompressed += 1;
        if !self.shed_said {
            self.shed_said = true;
            self.said.push(format!(
                "\ntracer: warning: {} stays uncompressed: {why} (said once; the summary counts \
                 them)",
                self.files[i].path.display()
            ));
        }
    }
}

/// What the janitor does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Job {
    /// Put a finished file on disk (fdatasync).
    Sync(PathBuf),
    /// Compress it, with `reserve` bytes taken for the output, unless
    /// `cancel` is set meanwhile.
    Compress {
        path: PathBuf,
        reserve: u64,
        cancel: Cancel,
    },
}

/// The next file alone does not fit under `--max-total`.
#[derive(Debug)]
pub struct NoRoom {
    /// The next file's size limit.
    pub needed: u64,
    /// `--rotate-size`.
    pub rotate_size: u64,
    /// Held for a compression in progress (cancelled: it ends soon).
    pub reserved: u64,
    pub max_total: u64,
}

impl std::fmt::Display for NoRoom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let why = match self.needed > self.rotate_size {
            true => format!(
                "its header and room for a record take {} bytes, more than --rotate-size ({} \
                 bytes)",
                self.needed, self.rotate_size
            ),
            false => format!("--rotate-size is {} bytes", self.needed),
        };
        let held = match self.reserved {
            0 => String::new(),
            n => format!(" and {n} bytes held for a compression"),
        };
        write!(
            f,
            "--max-total ({} bytes) cannot hold the next log even with every older log deleted: \
             {why}{held}; no log was deleted for it",
            self.max_total
        )
    }
}

impl std::error::Error for NoRoom {}

pub struct Ledger {
    state: Mutex<State>,
    changed: Condvar,
    retention: Retention,
    compress: bool,
    /// `--rotate-size`: the least a next file may take.
    file_limit: u64,
}

impl Ledger {
    /// An account for a recording whose first file may take `first` bytes.
    pub fn new(retention: Retention, compress: bool, file_limit: u64, first: u64) -> Ledger {
        Ledger {
            state: Mutex::new(State {
                files: VecDeque::new(),
                current: first,
                next_limit: first.max(file_limit),
                reserved: 0,
                closing: false,
                aborting: false,
                done: Done::default(),
                shed_said: false,
                said: Vec::new(),
                janitor_gone: false,
            }),
            changed: Condvar::new(),
            retention,
            compress,
            file_limit,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock guards plain data: a panic holding it leaves it usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the janitor, releases the lock, then says the warnings.
    fn release(&self, mut s: MutexGuard<'_, State>) {
        let said = std::mem::take(&mut s.said);
        self.changed.notify_all();
        drop(s);
        for line in said {
            crate::say!("{line}");
        }
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed.wait(guard).unwrap_or_else(|e| e.into_inner())
    }

    /// Takes on finished files of earlier recordings (oldest first): they
    /// count, go first, and are compressed if still plain (a crash left
    /// them so).
    pub fn adopt(&self, files: impl IntoIterator<Item = (PathBuf, u64)>) {
        let mut s = self.lock();
        for (path, bytes) in files {
            let plain = !path.to_str().is_some_and(|p| p.ends_with(".zst"));
            s.files.push_back(Entry {
                path,
                bytes,
                synced: false,
                compress: self.compress && plain,
                working: false,
                cancel: None,
            });
        }
        self.release(s);
    }

    /// The recorder finished `path` (`bytes` long, on its way to disk) and
    /// starts a file that may take `next` bytes: deletes the oldest files
    /// until `--keep` and `--max-total` hold with it. The paths deleted.
    pub fn finished(&self, path: PathBuf, bytes: u64, next: u64) -> Result<Vec<PathBuf>, NoRoom> {
        let mut s = self.lock();
        s.files.push_back(Entry {
            path,
            bytes,
            synced: false,
            compress: self.compress,
            working: false,
            cancel: None,
        });
        let waiting: Vec<usize> = (0..s.files.len())
            .filter(|&i| s.files[i].compress && !s.files[i].working)
            .collect();
        if waiting.len() > QUEUE {
            s.shed(waiting[0], "compression is behind the recording");
        }
        self.fit_locked(s, next)
    }

    /// Deletes the oldest files until `--keep` and `--max-total` hold with
    /// a current file that may take `next` bytes (at the start: the files
    /// adopted). The paths deleted.
    pub fn fit(&self, next: u64) -> Result<Vec<PathBuf>, NoRoom> {
        self.fit_locked(self.lock(), next)
    }

    fn fit_locked(&self, mut s: MutexGuard<'_, State>, next: u64) -> Result<Vec<PathBuf>, NoRoom> {
        // Every finished file may go; the reservation of a compression
        // stays until the janitor has removed its output. Where even that
        // least total is too much, nothing is deleted: the recording stops
        // with its history whole.
        if let Some(max_total) = self.retention.max_total {
            if next.saturating_add(s.reserved) > max_total {
                s.current = 0;
                let err = NoRoom {
                    needed: next,
                    rotate_size: self.file_limit,
                    reserved: s.reserved,
                    max_total,
                };
                self.release(s);
                return Err(err);
            }
        }
        s.current = next;
        if next > 0 {
            s.next_limit = next.max(self.file_limit);
        }
        let mut gone = Vec::new();
        while !s.files.is_empty() {
            // The file being written counts for --keep as one more.
            let too_many = self
                .retention
                .keep
                .is_some_and(|k| s.files.len() + usize::from(next > 0) > k);
            let too_big = self.retention.max_total.is_some_and(|m| s.total() > m);
            if !(too_many || too_big) {
                break;
            }
            gone.push(s.delete(0));
        }
        self.release(s);
        Ok(gone)
    }

    /// The disk is full: deletes the oldest finished file, the one the
    /// janitor works on too. `None`: none is left.
    pub fn free_oldest(&self) -> Option<PathBuf> {
        let mut s = self.lock();
        if s.files.is_empty() {
            return None;
        }
        let compressing = s.files[0].cancel.is_some();
        let gone = s.delete(0);
        if compressing {
            // Its partial output takes room too: the cancelled compression
            // removes it at its next block, soon.
            while s.reserved > 0 && !s.janitor_gone {
                self.changed.notify_all();
                s = self.wait(s);
            }
        }
        self.release(s);
        Some(gone)
    }

    /// The janitor thread ended (a guard of its own says so, however it
    /// ended): nothing waits for it any more.
    pub fn janitor_gone(&self) {
        let mut s = self.lock();
        s.janitor_gone = true;
        self.release(s);
    }

    /// No more files: the janitor ends once its work is done. `abort`
    /// (recording failed): once the syncs and the job in progress are done;
    /// the files still to compress stay plain for the next run.
    pub fn close(&self, abort: bool) {
        let mut s = self.lock();
        s.closing = true;
        s.aborting |= abort;
        self.release(s);
    }

    /// The janitor's next job, waiting for one; `None` once closed and
    /// done.
    pub fn next_job(&self) -> Option<Job> {
        let mut s = self.lock();
        loop {
            if let Some(e) = s.files.iter_mut().find(|e| !e.synced && !e.working) {
                e.working = true;
                let job = Job::Sync(e.path.clone());
                self.release(s);
                return Some(job);
            }
            let compress = match s.aborting {
                true => None,
                false => s.files.iter().position(|e| e.compress && !e.working),
            };
            if let Some(mut i) = compress {
                let bytes = s.files[i].bytes;
                let reserve = worst_compressed(bytes);
                if let Some(max) = self.retention.max_total {
                    // Room for this output and for the next rotation (the
                    // current file finished, a new one started), with
                    // nothing but this file's older ones deleted.
                    if bytes + reserve + 2 * s.next_limit > max {
                        s.shed(i, "--max-total leaves no room to compress it");
                        continue;
                    }
                    while s.total() + reserve > max && i > 0 {
                        s.delete(0);
                        i -= 1;
                    }
                    if s.total() + reserve > max {
                        s.shed(i, "the logs waiting after it fill --max-total");
                        continue;
                    }
                }
                let cancel = Cancel::default();
                let e = &mut s.files[i];
                e.working = true;
                e.cancel = Some(cancel.clone());
                let job = Job::Compress {
                    path: e.path.clone(),
                    reserve,
                    cancel,
                };
                s.reserved += reserve;
                self.release(s);
                return Some(job);
            }
            if s.closing {
                self.release(s);
                return None;
            }
            let said = std::mem::take(&mut s.said);
            if !said.is_empty() {
                drop(s);
                for line in said {
                    crate::say!("{line}");
                }
                s = self.lock();
                continue;
            }
            s = self.wait(s);
        }
    }

    /// The janitor synced `path`, or failed to. A file deleted for room
    /// meanwhile is no failure.
    pub fn synced(&self, path: &Path, result: io::Result<()>) {
        let mut s = self.lock();
        if let Some(e) = s.files.iter_mut().find(|e| e.path == path) {
            e.synced = true;
            e.working = false;
            if let Err(err) = result {
                s.done.failures += 1;
                s.said.push(format!(
                    "\ntracer: warning: cannot sync {}: {err}",
                    path.display()
                ));
            }
        }
        self.release(s);
    }

    /// The janitor compressed `path` into `result` (or failed: the plain
    /// file stays, whole). A file deleted for room meanwhile loses its
    /// compressed copy too.
    pub fn compressed(&self, path: &Path, reserve: u64, result: io::Result<PathBuf>) {
        let mut s = self.lock();
        let Some(i) = s.files.iter().position(|e| e.path == path) else {
            if let Ok(packed) = result {
                // Deleted after the last frame was checked: the output goes
                // the way of the plain file, before its room is given back.
                match std::fs::remove_file(&packed) {
                    Ok(()) => s.done.deleted += 1,
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                    Err(err) => {
                        s.done.failures += 1;
                        s.said.push(format!(
                            "\ntracer: warning: cannot delete {}: {err}",
                            packed.display()
                        ));
                    }
                }
            }
            s.reserved -= reserve;
            self.release(s);
            return;
        };
        s.reserved -= reserve;
        let e = &mut s.files[i];
        e.working = false;
        e.compress = false;
        e.cancel = None;
        match result {
            Ok(packed) => {
                e.bytes = std::fs::metadata(&packed).map_or(reserve, |m| m.len());
                e.path = packed;
                s.done.compressed += 1;
            }
            Err(err) => {
                s.done.failures += 1;
                s.said.push(format!(
                    "\ntracer: warning: cannot compress {} ({err}); it stays uncompressed",
                    path.display()
                ));
            }
        }
        self.release(s);
    }

    pub fn done(&self) -> Done {
        self.lock().done
    }

    /// Bytes the account holds now (files, current limit, reservation).
    pub fn total(&self) -> u64 {
        self.lock().total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[PathBuf]) -> Vec<String> {
        v.iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn a_rotation_deletes_the_oldest_until_the_next_file_fits() {
        let dir = tempfile::tempdir().unwrap();
        let file = |n: &str, bytes: usize| {
            let p = dir.path().join(n);
            std::fs::write(&p, vec![0u8; bytes]).unwrap();
            (p, bytes as u64)
        };
        let retention = Retention {
            keep: None,
            max_total: Some(400),
        };
        let ledger = Ledger::new(retention, false, 100, 100);
        ledger.adopt([file("a", 100), file("b", 100)]);
        let (c, n) = file("c", 100);
        // a + b + c + the next file's 100: 400 fits.
        assert!(ledger.finished(c, n, 100).unwrap().is_empty());
        let (d, n) = file("d", 90);
        assert_eq!(names(&ledger.finished(d, n, 100).unwrap()), ["a"]);
        assert!(!dir.path().join("a").exists());
        assert_eq!(ledger.total(), 390);
        // A next file larger than --max-total even alone (a big header):
        // refused before anything is deleted, the history kept whole.
        let (e, n) = file("e", 10);
        let err = ledger.finished(e, n, 500).unwrap_err();
        assert_eq!(err.needed, 500);
        let said = err.to_string();
        assert!(
            said.contains("500 bytes, more than --rotate-size (100 bytes)")
                && said.contains("no log was deleted"),
            "{said}"
        );
        assert_eq!(ledger.done().deleted, 1);
        for n in ["b", "c", "d", "e"] {
            assert!(dir.path().join(n).exists(), "{n}");
        }
        assert_eq!(ledger.free_oldest(), Some(dir.path().join("b")));
    }

    #[test]
    fn keep_counts_the_current_file_and_the_disk_full_path_frees_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(
            Retention {
                keep: Some(2),
                max_total: None,
            },
            false,
            100,
            100,
        );
        for n in ["a", "b", "c"] {
            let p = dir.path().join(n);
            std::fs::write(&p, "x").unwrap();
            ledger.finished(p, 1, 100).unwrap();
        }
        assert!(!dir.path().join("b").exists() && dir.path().join("c").exists());
        assert_eq!(ledger.free_oldest(), Some(dir.path().join("c")));
        assert_eq!(ledger.free_oldest(), None);
    }

    #[test]
    fn compression_reserves_its_worst_case_or_leaves_the_file_plain() {
        let dir = tempfile::tempdir().unwrap();
        let file = |n: &str| {
            let p = dir.path().join(n);
            std::fs::write(&p, vec![0u8; 1000]).unwrap();
            p
        };
        // 2 files of 1000 and a compression's worst case need more than
        // 3000: the file stays plain, said once.
        let tight = Ledger::new(
            Retention {
                keep: None,
                max_total: Some(3000),
            },
            true,
            1000,
            1000,
        );
        tight.finished(file("a"), 1000, 1000).unwrap();
        assert_eq!(tight.next_job(), Some(Job::Sync(dir.path().join("a"))));
        tight.synced(&dir.path().join("a"), Ok(()));
        tight.close(false);
        assert_eq!(tight.next_job(), None);
        assert_eq!(tight.done().uncompressed, 1);
        // With room: the older file goes to make room for the reservation,
        // never the one being compressed; a file deleted for room is
        // dequeued.
        let max = 3000 + worst_compressed(1000);
        let roomy = Ledger::new(
            Retention {
                keep: None,
                max_total: Some(max),
            },
            true,
            1000,
            1000,
        );
        roomy.adopt([(file("b"), 1000)]);
        roomy.adopt([(file("c"), 1000)]);
        for _ in 0..2 {
            let Some(Job::Sync(p)) = roomy.next_job() else {
                panic!("sync first");
            };
            roomy.synced(&p, Ok(()));
        }
        let Some(Job::Compress {
            path,
            reserve,
            cancel,
        }) = roomy.next_job()
        else {
            panic!("a compression");
        };
        assert_eq!(path, dir.path().join("b"));
        assert_eq!(reserve, worst_compressed(1000));
        let packed = crate::log::zst::compress_file(&path, cancel.flag());
        assert!(std::fs::metadata(packed.as_ref().unwrap()).unwrap().len() < 100);
        roomy.compressed(&path, reserve, packed);
        assert_eq!(roomy.done().compressed, 1);
        // The recorder rotates: the oldest, now small, goes no more.
        assert!(roomy.finished(file("d"), 1000, 1000).unwrap().is_empty());
        let Some(Job::Sync(d)) = roomy.next_job() else {
            panic!("d synced");
        };
        assert_eq!(d, dir.path().join("d"));
    }

    #[test]
    fn the_oldest_goes_first_even_while_the_janitor_works_on_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = |n: &str| {
            let p = dir.path().join(n);
            std::fs::write(&p, vec![0u8; 1000]).unwrap();
            p
        };
        let ledger = Ledger::new(
            Retention {
                keep: Some(2),
                max_total: None,
            },
            true,
            1000,
            1000,
        );
        let a = file("a");
        ledger.finished(a.clone(), 1000, 1000).unwrap();
        assert_eq!(ledger.next_job(), Some(Job::Sync(a.clone())));
        // Being synced: deleted all the same, and the sync that finds it
        // gone is no failure.
        assert_eq!(ledger.free_oldest(), Some(a.clone()));
        ledger.synced(&a, Err(io::Error::from(io::ErrorKind::NotFound)));
        let b = file("b");
        ledger.finished(b.clone(), 1000, 1000).unwrap();
        assert_eq!(ledger.next_job(), Some(Job::Sync(b.clone())));
        ledger.synced(&b, Ok(()));
        let Some(Job::Compress {
            path,
            reserve,
            cancel,
        }) = ledger.next_job()
        else {
            panic!("b compressed");
        };
        assert_eq!(path, b);
        // --keep 2: the rotation deletes b, being compressed, never the
        // newer c; the compression is cancelled.
        let c = file("c");
        assert_eq!(
            names(&ledger.finished(c.clone(), 1000, 1000).unwrap()),
            ["b"]
        );
        assert!(cancel.flag().load(Ordering::Relaxed));
        assert!(c.exists() && !b.exists());
        // Its output, finished before the cancel was seen, goes too, and
        // its room comes back.
        let packed = dir.path().join("b.zst");
        std::fs::write(&packed, "z").unwrap();
        ledger.compressed(&b, reserve, Ok(packed.clone()));
        assert!(!packed.exists());
        assert_eq!(ledger.total(), 2000);
        assert_eq!(ledger.done().failures, 0);
    }

    #[test]
    fn a_full_disk_waits_for_a_cancelled_compression_to_give_its_room_back() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, vec![0u8; 1000]).unwrap();
        let ledger = Arc::new(Ledger::new(Retention::default(), true, 1000, 1000));
        ledger.finished(a.clone(), 1000, 1000).unwrap();
        assert_eq!(ledger.next_job(), Some(Job::Sync(a.clone())));
        ledger.synced(&a, Ok(()));
        let Some(Job::Compress {
            path,
            reserve,
            cancel,
        }) = ledger.next_job()
        else {
            panic!("a compressed");
        };
        let janitor = {
            let ledger = Arc::clone(&ledger);
            std::thread::spawn(move || {
                let packed = crate::log::zst::compress_file(&path, cancel.flag());
                ledger.compressed(&path, reserve, packed);
            })
        };
        // Whether the compression ends first or is cancelled, the room of
        // both the file and its output is back once free_oldest returns.
        let gone = ledger.free_oldest().unwrap();
        assert!(gone == a || gone == dir.path().join("a.zst"), "{gone:?}");
        assert_eq!(ledger.total(), 1000);
        janitor.join().unwrap();
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
        assert_eq!(ledger.done().failures, 0);
    }
}
