//! The account of a directory of rotated logs, shared by the recorder and
//! its janitor thread: which finished files it holds and their sizes, the
//! room the file being written may take, and the room a compression in
//! progress may take. `--max-total` bounds their sum at every moment:
//!
//! - at each rotation the recorder deletes the oldest finished files until
//!   the new file's whole size limit fits, before the new file grows;
//! - the janitor compresses a file only after reserving the compressed
//!   output's worst case (zstd's raw blocks: about the input's size), and
//!   only where that leaves room for the next rotation too; otherwise the
//!   file stays plain. That is how a compression backlog is shed: never by
//!   deleting a file the account does not hold;
//! - a file deleted for room leaves the janitor's queue with it, and the
//!   file being synced or compressed is never deleted.
//!
//! Only files this account holds are ever deleted: this recording's, and
//! those of earlier recordings that retention may touch (see
//! [`super::rotate::ours_to_retain`]).

use std::{
    collections::VecDeque,
    io,
    path::{Path, PathBuf},
    sync::{Condvar, Mutex, MutexGuard},
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

#[derive(Debug)]
struct Entry {
    path: PathBuf,
    bytes: u64,
    synced: bool,
    /// Still to be compressed.
    compress: bool,
    /// The janitor is syncing or compressing it: not deleted meanwhile.
    working: bool,
}

#[derive(Debug)]
struct State {
    /// Finished files, oldest first.
    files: VecDeque<Entry>,
    /// The size limit of the file being written.
    current: u64,
    /// The room taken for the compression in progress.
    reserved: u64,
    closing: bool,
    done: Done,
    shed_said: bool,
}

impl State {
    fn total(&self) -> u64 {
        let files: u64 = self.files.iter().map(|e| e.bytes).sum();
        files + self.current + self.reserved
    }

    /// Deletes entry `i` (its file, then its account); a file already gone
    /// is no error (a person removed it).
    fn delete(&mut self, i: usize) -> PathBuf {
        let e = self.files.remove(i).expect("an entry");
        match std::fs::remove_file(&e.path) {
            Ok(()) => self.done.deleted += 1,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => {
                self.done.failures += 1;
                crate::say!(
                    "\ntracer: warning: deleting {} failed: {err}",
                    e.path.display()
                );
            }
        }
        e.path
    }

    fn oldest_idle(&self) -> Option<usize> {
        self.files.iter().position(|e| !e.working)
    }

    fn shed(&mut self, i: usize, why: &str) {
        self.files[i].compress = false;
        self.done.uncompressed += 1;
        if !self.shed_said {
            self.shed_said = true;
            crate::say!(
                "\ntracer: warning: {} stays uncompressed: {why} (said once; the summary counts \
                 them)",
                self.files[i].path.display()
            );
        }
    }
}

/// What the janitor does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Job {
    /// Put a finished file on disk (fdatasync).
    Sync(PathBuf),
    /// Compress it, with `reserve` bytes taken for the output.
    Compress { path: PathBuf, reserve: u64 },
}

/// The current file alone does not fit under `--max-total`.
#[derive(Debug)]
pub struct NoRoom {
    pub needed: u64,
    pub max_total: u64,
}

impl std::fmt::Display for NoRoom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the next log may take {} bytes, more than --max-total ({} bytes) leaves once every \
             older log is deleted",
            self.needed, self.max_total
        )
    }
}

impl std::error::Error for NoRoom {}

pub struct Ledger {
    state: Mutex<State>,
    changed: Condvar,
    retention: Retention,
    compress: bool,
    /// The size limit of a file (`--rotate-size`): what the next rotation
    /// may need, which a compression must leave room for.
    file_limit: u64,
}

impl Ledger {
    /// An account for a recording whose first file may take `first` bytes.
    pub fn new(retention: Retention, compress: bool, file_limit: u64, first: u64) -> Ledger {
        Ledger {
            state: Mutex::new(State {
                files: VecDeque::new(),
                current: first,
                reserved: 0,
                closing: false,
                done: Done::default(),
                shed_said: false,
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
            });
        }
        self.changed.notify_all();
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
        s.current = next;
        let mut gone = Vec::new();
        loop {
            // The file being written counts for --keep as one more.
            let too_many = self
                .retention
                .keep
                .is_some_and(|k| s.files.len() + usize::from(next > 0) > k);
            let too_big = self.retention.max_total.is_some_and(|m| s.total() > m);
            if !(too_many || too_big) {
                break;
            }
            if let Some(i) = s.oldest_idle() {
                gone.push(s.delete(i));
                continue;
            }
            if s.files.iter().any(|e| e.working) {
                // Only the file the janitor holds is left: its work ends
                // soon (a compression only starts where it leaves room).
                s = self.wait(s);
                continue;
            }
            let max_total = self.retention.max_total.unwrap_or(u64::MAX);
            self.changed.notify_all();
            return Err(NoRoom {
                needed: next,
                max_total,
            });
        }
        self.changed.notify_all();
        Ok(gone)
    }

    /// The disk is full: deletes the oldest finished file (waiting for the
    /// janitor where it holds the only one). `None`: none is left.
    pub fn free_oldest(&self) -> Option<PathBuf> {
        let mut s = self.lock();
        loop {
            if let Some(i) = s.oldest_idle() {
                let path = s.delete(i);
                self.changed.notify_all();
                return Some(path);
            }
            if !s.files.iter().any(|e| e.working) {
                return None;
            }
            s = self.wait(s);
        }
    }

    /// No more files: the janitor ends once its work is done.
    pub fn close(&self) {
        let mut s = self.lock();
        s.closing = true;
        s.current = 0;
        self.changed.notify_all();
    }

    /// The janitor's next job, waiting for one; `None` once closed and
    /// done.
    pub fn next_job(&self) -> Option<Job> {
        let mut s = self.lock();
        loop {
            if let Some(e) = s.files.iter_mut().find(|e| !e.synced && !e.working) {
                e.working = true;
                return Some(Job::Sync(e.path.clone()));
            }
            if let Some(mut i) = s.files.iter().position(|e| e.compress && !e.working) {
                let bytes = s.files[i].bytes;
                let reserve = worst_compressed(bytes);
                if let Some(max) = self.retention.max_total {
                    // Room for this output and for the next rotation (the
                    // current file finished, a new one started), with
                    // nothing but this file's older ones deleted.
                    if bytes + reserve + 2 * self.file_limit > max {
                        s.shed(i, "--max-total leaves no room to compress it");
                        continue;
                    }
                    while s.total() + reserve > max {
                        match s.oldest_idle().filter(|&j| j < i) {
                            Some(j) => {
                                s.delete(j);
                                i -= 1;
                            }
                            None => break,
                        }
                    }
                    if s.total() + reserve > max {
                        s.shed(i, "the logs waiting after it fill --max-total");
                        continue;
                    }
                }
                s.files[i].working = true;
                s.reserved += reserve;
                return Some(Job::Compress {
                    path: s.files[i].path.clone(),
                    reserve,
                });
            }
            if s.closing {
                return None;
            }
            s = self.wait(s);
        }
    }

    /// The janitor synced `path` (or failed to: said by the janitor).
    pub fn synced(&self, path: &Path, ok: bool) {
        let mut s = self.lock();
        if !ok {
            s.done.failures += 1;
        }
        if let Some(e) = s.files.iter_mut().find(|e| e.path == path) {
            e.synced = true;
            e.working = false;
        }
        self.changed.notify_all();
    }

    /// The janitor compressed `path` into `result` (or failed: the plain
    /// file stays, whole).
    pub fn compressed(&self, path: &Path, reserve: u64, result: io::Result<PathBuf>) {
        let mut s = self.lock();
        s.reserved -= reserve;
        let Some(e) = s.files.iter_mut().find(|e| e.path == path) else {
            self.changed.notify_all();
            return;
        };
        e.working = false;
        e.compress = false;
        match result {
            Ok(packed) => {
                e.bytes = std::fs::metadata(&packed).map_or(reserve, |m| m.len());
                e.path = packed;
                s.done.compressed += 1;
            }
            Err(err) => {
                s.done.failures += 1;
                crate::say!(
                    "\ntracer: warning: compressing {} failed ({err}); it stays uncompressed",
                    path.display()
                );
            }
        }
        self.changed.notify_all();
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
        // A next file larger than everything: all go, then it is refused.
        let (e, n) = file("e", 10);
        let err = ledger.finished(e, n, 500).unwrap_err();
        assert_eq!(err.needed, 500);
        assert_eq!(ledger.done().deleted, 5);
        assert_eq!(ledger.free_oldest(), None);
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
        tight.synced(&dir.path().join("a"), true);
        tight.close();
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
            roomy.synced(&p, true);
        }
        let Some(Job::Compress { path, reserve }) = roomy.next_job() else {
            panic!("a compression");
        };
        assert_eq!(path, dir.path().join("b"));
        assert_eq!(reserve, worst_compressed(1000));
        // The recorder rotates meanwhile: c goes, b (being compressed) stays.
        let gone = roomy.finished(file("d"), 1000, 1000).unwrap();
        assert_eq!(names(&gone), ["c"]);
        assert_eq!(roomy.total(), max);
        let packed = crate::log::zst::compress_file(&path);
        assert!(std::fs::metadata(packed.as_ref().unwrap()).unwrap().len() < 100);
        roomy.compressed(&path, reserve, packed);
        assert_eq!(roomy.done().compressed, 1);
        let Some(Job::Sync(d)) = roomy.next_job() else {
            panic!("d synced");
        };
        assert_eq!(d, dir.path().join("d"));
    }
}
