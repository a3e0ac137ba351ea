//! The work on finished logs that must not hold up recording: putting
//! them on disk (fdatasync) and compressing them (`--compress`), one file
//! at a time, oldest first, as the directory's account ([`Ledger`]) hands
//! them out. Deleting for room is the recorder's, at each rotation; it
//! may delete the file the janitor works on (see [`Ledger`]).

use std::{
    io,
    panic::{catch_unwind, AssertUnwindSafe},
    sync::Arc,
    thread::JoinHandle,
};

use super::{
    ledger::{Done, Job, Ledger},
    zst,
};

pub struct Janitor {
    ledger: Arc<Ledger>,
    thread: Option<JoinHandle<()>>,
}

/// A job that panicked (the compressor has asserts of its own) is a
/// failure, reported like any other: its file stays plain and counted.
fn panicked() -> io::Error {
    io::Error::other("the janitor thread panicked")
}

fn sync(path: &std::path::Path) -> io::Result<()> {
    // The recorder flushed it; this puts it on disk. A file deleted for
    // room meanwhile needs no sync.
    match std::fs::File::open(path).and_then(|f| f.sync_data()) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Tells the account that the janitor is gone when its thread ends, even
/// by a panic outside a job.
struct Gone<'a>(&'a Ledger);

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        self.0.janitor_gone();
    }
}

fn work(ledger: &Ledger) {
    let _gone = Gone(ledger);
    while let Some(job) = ledger.next_job() {
        match job {
            Job::Sync(path) => {
                let synced = catch_unwind(|| sync(&path)).unwrap_or_else(|_| Err(panicked()));
                ledger.synced(&path, synced);
            }
            Job::Compress {
                path,
                reserve,
                cancel,
            } => {
                let packed = catch_unwind(AssertUnwindSafe(|| {
                    zst::compress_file(&path, cancel.flag())
                }))
                .unwrap_or_else(|_| {
                    // Its half-written output goes, as compress_file's own
                    // failures leave none.
                    let mut partial = path.clone().into_os_string();
                    partial.push(".zst.partial");
                    let _ = std::fs::remove_file(partial);
                    Err(panicked())
                });
                ledger.compressed(&path, reserve, packed);
            }
        }
    }
}

impl Janitor {
    pub fn start(ledger: Arc<Ledger>) -> io::Result<Janitor> {
        let worker = Arc::clone(&ledger);
        let thread = std::thread::Builder::new()
            .name("tracer-janitor".into())
            .spawn(move || work(&worker))?;
        Ok(Janitor {
            ledger,
            thread: Some(thread),
        })
    }

    /// Waits for the work handed over so far (every file synced, and
    /// compressed where asked and there is room).
    pub fn finish(mut self) -> Done {
        self.wait(false);
        self.ledger.done()
    }

    fn wait(&mut self, abort: bool) {
        self.ledger.close(abort);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Janitor {
    /// Recording failed: the syncs and the compression in progress finish,
    /// so no half-compressed file is left when the process exits; the logs
    /// still to compress stay plain for the next run.
    fn drop(&mut self) {
        self.wait(true);
    }
}
