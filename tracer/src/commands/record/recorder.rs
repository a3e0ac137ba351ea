//! The recorder: the sink a live session pumps records into, writing them
//! to the log, starting new files (rotation, SIGHUP), keeping to the size
//! limit, syncing, and saying how it goes.

use std::{
    fs::File,
    io::{self, BufWriter, Write as _},
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context as _, Result};
use tracer_common::{EventKind, Header};

use super::{
    files::{create_named, make_room, no_space, Files},
    options::SYNC_EVERY,
};
use crate::{
    kernel::rings::RingFill,
    log::{
        self,
        header::{LogHeader, Part},
        reader::Item,
        writer::{self, LogWriter},
    },
    model::{clock, counts::LossCause, kallsyms::Kallsyms},
    pipeline::{
        offload::Offload,
        sink::{Flow, Sink},
    },
};

pub(super) struct Recorder {
    pub(super) log: LogWriter<BufWriter<File>>,
    /// The file being written.
    pub(super) path: PathBuf,
    pub(super) files: Files,
    /// The first file's header, less its tasks: each new file's header is
    /// this with the live table and a higher sequence number.
    pub(super) template: LogHeader,
    /// `--max-size`, per file.
    pub(super) limit: u64,
    /// Files started (the current one included).
    pub(super) started_files: u32,
    pub(super) file_started: Instant,
    pub(super) file_events: u64,
    /// Bytes of the files finished before the current one.
    pub(super) bytes_before: u64,
    pub(super) events: u64,
    pub(super) lost: u64,
    /// Lost-record notices the size limit kept out of the log.
    pub(super) lost_unwritten: u64,
    /// The size limit was reached.
    pub(super) full: bool,
    /// With `--dir`: every name tried for the next file was taken; tried
    /// again at the next tick, not at every record.
    pub(super) names_taken: bool,
    /// ... and said so, until a file starts again.
    pub(super) names_said: bool,
    /// Records not in the log for want of a free name.
    pub(super) unnamed: u64,
    /// For the once-a-second status line on a terminal.
    pub(super) status: Option<(Instant, u64)>,
    pub(super) synced: Instant,
    /// The live task table, and the metrics and OTLP taps on it, on the
    /// decode thread.
    pub(super) decode: Offload,
    /// This boot's symbols, read at the first kernel-thread record.
    pub(super) kallsyms: Kallsyms,
}

/// Events intact in the log at `path`, as replay will see them.
fn events_in(path: &Path) -> u64 {
    let Ok((_, mut reader)) = log::open(path) else {
        return 0;
    };
    let mut n = 0u64;
    while let Some(item) = reader.next() {
        if let Ok(Item::Event(_)) = item {
            n += 1;
        }
    }
    n
}

impl Recorder {
    /// A write failed (disk full, I/O error): says how much of the
    /// recording the log still holds, counted from the file itself.
    fn write_error(&mut self, e: io::Error) -> anyhow::Error {
        let _ = self.log.flush();
        let earlier = match self.started_files {
            1 => String::new(),
            n => format!(" (the {} files before it are finished and whole)", n - 1),
        };
        let alone = match (&self.files, no_space(&e)) {
            (Files::Rotated { .. }, true) => {
                "; no older log is left to delete: the file being written alone does not fit"
            }
            _ => "",
        };
        anyhow::Error::new(e).context(format!(
            "writing {} failed; it holds {} of the {} events written to it, readable up to its \
             last complete record{earlier}{alone}",
            self.path.display(),
            events_in(&self.path),
            self.file_events + 1
        ))
    }

    fn make_room(&mut self) -> bool {
        make_room(&self.files)
    }

    /// Runs `op` on the log; with `--dir`, a full disk costs the oldest
    /// finished logs, one at a time, until `op` succeeds. Whatever `op`
    /// had written stays whole: a record is buffered all or nothing, and
    /// the buffer keeps what the disk refused.
    pub(super) fn retry<T>(
        &mut self,
        mut op: impl FnMut(&mut LogWriter<BufWriter<File>>) -> io::Result<T>,
    ) -> Result<T> {
        loop {
            match op(&mut self.log) {
                Ok(v) => return Ok(v),
                Err(e) if no_space(&e) && self.make_room() => {}
                Err(e) => return Err(self.write_error(e)),
            }
        }
    }

    /// Writes one frame with `put`; with `--dir`, a file at its size limit
    /// is finished first and the frame goes into the next. Whether it was
    /// written.
    fn put(
        &mut self,
        mut put: impl FnMut(&mut LogWriter<BufWriter<File>>) -> io::Result<bool>,
    ) -> Result<bool> {
        if self.retry(&mut put)? {
            return Ok(true);
        }
        if !matches!(self.files, Files::Rotated { .. }) || !self.next_file()? {
            return Ok(false);
        }
        self.retry(&mut put)
    }

    /// Finishes the current file (end frame, on disk) and goes on in a new
    /// one: the next of `--dir`, or `-o FILE` created afresh. Runs between
    /// two records. Whether a new file started.
    fn next_file(&mut self) -> Result<bool> {
        if matches!(self.files, Files::Same) {
            return self.reopen().map(|()| true);
        }
        let now = clock::boottime_ns();
        let Files::Rotated { dir, .. } = &self.files else {
            unreachable!("a directory");
        };
        if self.names_taken {
            // Tried since the last tick: not again on every record.
            return Ok(false);
        }
        let dir = dir.clone();
        let wall = self.template.wall_clock().wall_ns(now);
        // Created first (empty): where no name is free, the current file
        // goes on.
        let created = loop {
            match create_named(&dir, wall, self.started_files) {
                Err(e)
                    if e.root_cause()
                        .downcast_ref::<io::Error>()
                        .is_some_and(no_space)
                        && self.make_room() => {}
                other => break other,
            }
        };
        let Some((next, file)) = created.with_context(|| {
            format!(
                "starting the next log; {} and the logs before it hold every record so far",
                self.path.display()
            )
        })?
        else {
            if !self.names_said {
                self.names_said = true;
                crate::say!(
                    "\ntracer: warning: every name tried for the next log in {} was taken by a \
                     file tracer did not write; the current log goes on, and once full, events \
                     are dropped (counted) until a name is free",
                    dir.display()
                );
            }
            self.names_taken = true;
            return Ok(false);
        };
        self.names_said = false;
        // The janitor thread puts the finished file on disk (fdatasync),
        // so a rotation never stalls the reading of the rings.
        if let Err(e) = self.retry(|log| log.end(now)) {
            let _ = std::fs::remove_file(&next);
            return Err(e);
        }
        let header = match self.next_header(now) {
            Ok(header) => header,
            Err(e) => {
                let _ = std::fs::remove_file(&next);
                return Err(e);
            }
        };
        // The new file's whole size limit is made room for before it
        // grows: at least --rotate-size, and its header with room for a
        // record where a big task table makes that more.
        let Files::Rotated { size, ledger, .. } = &self.files else {
            unreachable!("a directory");
        };
        let (limit, buffer) = writer::header_room(&header, *size);
        let finished = self.log.written();
        if let Err(e) = ledger.finished(self.path.clone(), finished, limit) {
            let _ = std::fs::remove_file(&next);
            return Err(anyhow::Error::new(e).context(format!(
                "starting the next log in {}; {} and the logs before it hold every record so far",
                dir.display(),
                self.path.display()
            )));
        }
        let log = match writer::rebuffer(file, buffer)
            .and_then(|file| LogWriter::with_limit(file, &header, limit))
        {
            Ok(log) => log,
            Err(e) => return Err(self.header_failed(&next, e)),
        };
        self.bytes_before += finished;
        self.log = log;
        self.path = next;
        self.started_files += 1;
        self.file_started = Instant::now();
        self.file_events = 0;
        self.synced = Instant::now();
        // Its header on disk, or the oldest logs give way to it.
        self.retry(|log| log.flush())?;
        Ok(true)
    }

    /// The header of the next file: the live task table now.
    fn next_header(&mut self, now: u64) -> Result<LogHeader> {
        Ok(LogHeader {
            started_boot_ns: now,
            tasks: self.decode.snapshot()?,
            part: Part {
                sequence: self.started_files,
                ..self.template.part
            },
            ..self.template.clone()
        })
    }

    /// A header that could not be written: the file is removed (a header
    /// cut short is no log), and the one before it is whole.
    fn header_failed(&self, next: &Path, e: io::Error) -> anyhow::Error {
        let _ = std::fs::remove_file(next);
        anyhow::Error::new(e).context(format!(
            "writing the header of {} failed; {} is finished and whole, as are the logs before \
             it",
            next.display(),
            self.path.display()
        ))
    }

    /// `-o FILE` on SIGHUP: finishes it and creates FILE afresh.
    fn reopen(&mut self) -> Result<()> {
        let now = clock::boottime_ns();
        let next = self.path.clone();
        // Created first: where it cannot be, the current file goes on.
        let file = match writer::create(&next) {
            Ok(file) => file,
            Err(e) => {
                crate::say!(
                    "\ntracer: warning: SIGHUP: cannot start a new log ({e:#}); recording goes \
                     on in the one open (was {} moved away?)",
                    self.path.display()
                );
                return Ok(());
            }
        };
        if let Err(e) = self.log.end(now).and_then(|()| self.log.sync()) {
            let _ = std::fs::remove_file(&next);
            return Err(self.write_error(e));
        }
        let header = match self.next_header(now) {
            Ok(header) => header,
            Err(e) => {
                let _ = std::fs::remove_file(&next);
                return Err(e);
            }
        };
        let log = LogWriter::with_limit(file, &header, self.limit).and_then(|mut log| {
            log.flush()?;
            Ok(log)
        });
        let log = match log {
            Ok(log) => log,
            Err(e) => return Err(self.header_failed(&next, e)),
        };
        self.bytes_before += self.log.written();
        self.log = log;
        self.started_files += 1;
        self.file_started = Instant::now();
        self.file_events = 0;
        self.synced = Instant::now();
        Ok(())
    }

    /// Whether the current file is due to be rotated.
    fn due(&self) -> bool {
        let Files::Rotated { size, every, .. } = &self.files else {
            return false;
        };
        // A file holds one event at least, whatever its header's size.
        self.file_events > 0
            && (self.log.written() >= *size
                || every.is_some_and(|every| self.file_started.elapsed() >= every))
    }
}

impl Sink for Recorder {
    fn record(&mut self, raw: &[u8]) -> Result<Flow> {
        // A kernel-thread record's functions are named now, on the
        // recording boot (rare: kthreadd's forks).
        let mut named;
        let raw = if Header::peek_kind(raw) == Some(EventKind::Kthread) {
            named = raw.to_vec();
            crate::model::kthreads::name_functions(&mut named, &self.kallsyms);
            &named[..]
        } else {
            raw
        };
        self.decode.record(raw);
        if self.put(|log| log.event(raw))? {
            self.events += 1;
            self.file_events += 1;
            if self.due() {
                self.next_file()?;
            }
            return Ok(Flow::Continue);
        }
        if matches!(self.files, Files::Rotated { .. }) {
            // No new file could start (every name taken): this record is
            // not in the log; the next tick tries again.
            self.unnamed = self.unnamed.saturating_add(1);
            return Ok(Flow::Continue);
        }
        self.full = true;
        Ok(Flow::Stop)
    }

    fn lost(&mut self, kind: EventKind, count: u64, boot_ns: u64, cause: LossCause) -> Result<()> {
        self.lost = self.lost.saturating_add(count);
        self.decode.lost(kind, count, boot_ns);
        // The log keeps only the count; the progress line shows it, and an
        // unexpected cause is said once here.
        if cause == LossCause::Skipped {
            crate::say!(
                "\ntracer: warning: {count} {} events lost {}",
                kind.name(),
                cause.explain()
            );
        }
        if !self.put(|log| log.lost(kind.tag(), count, boot_ns))? {
            self.lost_unwritten = self.lost_unwritten.saturating_add(count);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<Flow> {
        self.decode.flush();
        self.retry(|log| log.flush())?;
        Ok(if self.full {
            Flow::Stop
        } else {
            Flow::Continue
        })
    }

    fn rings(&mut self, fill: &[RingFill]) {
        self.decode.rings(fill);
    }

    fn hangup(&mut self) -> Result<Flow> {
        self.next_file()?;
        Ok(Flow::Continue)
    }

    fn tick(&mut self) -> Result<()> {
        self.decode.tick();
        self.names_taken = false;
        if self.due() {
            self.next_file()?;
        }
        if self.synced.elapsed() >= SYNC_EVERY {
            self.retry(|log| log.sync())?;
            self.synced = Instant::now();
        }
        let Some((last, last_events)) = self.status else {
            return Ok(());
        };
        let secs = last.elapsed().as_secs_f64().max(1e-3);
        let rate = (self.events - last_events) as f64 / secs;
        // A failing stderr must not stop the recording.
        let mut err = io::stderr().lock();
        let _ = write!(
            err,
            "\rrecording: {} events, {:.0}/s, lost {}, {:.1} MB   ",
            self.events,
            rate,
            self.lost,
            self.log.written() as f64 / 1e6
        );
        let _ = err.flush();
        self.status = Some((Instant::now(), self.events));
        Ok(())
    }
}
