//! The work on finished logs that must not hold up recording: putting
//! them on disk (fdatasync), compressing them (`--compress`) and deleting
//! the oldest past `--keep` or `--max-total`. One thread does both, in order, so it never deletes a
//! file it is compressing or compresses one it deleted.

use std::{
    path::PathBuf,
    sync::mpsc::{channel, Sender},
    thread::JoinHandle,
};

use super::{rotate, zst};

pub struct JanitorOptions {
    pub dir: PathBuf,
    pub compress: bool,
    pub retention: rotate::Retention,
}

/// What a janitor did, for the summary at the end.
#[derive(Debug, Default)]
pub struct Done {
    pub compressed: u64,
    pub deleted: u64,
    pub failures: u64,
}

struct Finished {
    path: PathBuf,
    /// The file being written now: never deleted.
    current: PathBuf,
}

pub struct Janitor {
    tx: Option<Sender<Finished>>,
    thread: Option<JoinHandle<Done>>,
}

impl Janitor {
    pub fn start(opts: JanitorOptions) -> std::io::Result<Janitor> {
        let (tx, rx) = channel::<Finished>();
        let thread = std::thread::Builder::new()
            .name("tracer-janitor".into())
            .spawn(move || {
                let mut done = Done::default();
                for mut job in rx {
                    // The recorder flushed it; this puts it on disk.
                    if let Err(e) = std::fs::File::open(&job.path).and_then(|f| f.sync_data()) {
                        done.failures += 1;
                        crate::say!("\ntracer: warning: syncing {}: {e}", job.path.display());
                    }
                    if opts.compress {
                        match zst::compress_file(&job.path) {
                            Ok(packed) => {
                                done.compressed += 1;
                                // The last file, finished at the end, is
                                // still the one kept whatever the limits.
                                if job.current == job.path {
                                    job.current = packed;
                                }
                            }
                            Err(e) => {
                                done.failures += 1;
                                // The plain log stays, whole.
                                crate::say!(
                                    "\ntracer: warning: compressing {} failed ({e}); it stays \
                                     uncompressed",
                                    job.path.display()
                                );
                            }
                        }
                    }
                    match rotate::prune(&opts.dir, &job.current, opts.retention) {
                        Ok(gone) => done.deleted += gone.len() as u64,
                        Err(e) => {
                            done.failures += 1;
                            crate::say!(
                                "\ntracer: warning: deleting old logs in {} failed: {e}",
                                opts.dir.display()
                            );
                        }
                    }
                }
                done
            })?;
        Ok(Janitor {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// `path` is finished; `current` is being written now (at the end of
    /// a recording: `path` itself).
    pub fn finished(&self, path: PathBuf, current: PathBuf) {
        if let Some(tx) = &self.tx {
            // A janitor that died (it cannot: it only warns) drops the work.
            let _ = tx.send(Finished { path, current });
        }
    }

    /// Waits for the work handed over so far.
    pub fn finish(mut self) -> Done {
        self.wait()
    }

    fn wait(&mut self) -> Done {
        self.tx.take();
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Janitor {
    /// Recording failed: the work handed over still finishes, so no
    /// half-compressed file is left when the process exits.
    fn drop(&mut self) {
        self.wait();
    }
}
