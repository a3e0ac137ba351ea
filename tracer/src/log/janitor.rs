//! The work on finished logs that must not hold up recording: putting
//! them on disk (fdatasync) and compressing them (`--compress`), one file
//! at a time, oldest first, as the directory's account ([`Ledger`]) hands
//! them out. Deleting for room is the recorder's, at each rotation; the
//! account never lets it delete the file the janitor is working on.

use std::{sync::Arc, thread::JoinHandle};

use super::{
    ledger::{Done, Job, Ledger},
    zst,
};

pub struct Janitor {
    ledger: Arc<Ledger>,
    thread: Option<JoinHandle<()>>,
}

impl Janitor {
    pub fn start(ledger: Arc<Ledger>) -> std::io::Result<Janitor> {
        let work = Arc::clone(&ledger);
        let thread = std::thread::Builder::new()
            .name("tracer-janitor".into())
            .spawn(move || {
                while let Some(job) = work.next_job() {
                    match job {
                        Job::Sync(path) => {
                            // The recorder flushed it; this puts it on disk.
                            let synced = std::fs::File::open(&path).and_then(|f| f.sync_data());
                            if let Err(e) = &synced {
                                crate::say!("\ntracer: warning: syncing {}: {e}", path.display());
                            }
                            work.synced(&path, synced.is_ok());
                        }
                        Job::Compress { path, reserve } => {
                            let packed = zst::compress_file(&path);
                            work.compressed(&path, reserve, packed);
                        }
                    }
                }
            })?;
        Ok(Janitor {
            ledger,
            thread: Some(thread),
        })
    }

    /// Waits for the work handed over so far (every file synced, and
    /// compressed where asked and there is room).
    pub fn finish(mut self) -> Done {
        self.wait();
        self.ledger.done()
    }

    fn wait(&mut self) {
        self.ledger.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Janitor {
    /// Recording failed: the work handed over still finishes, so no
    /// half-compressed file is left when the process exits.
    fn drop(&mut self) {
        self.wait();
    }
}
