//! `tracer record`: a live session written to a log file, or to a
//! directory of rotated logs (`--dir`) for recordings that run for weeks.
//!
//! A new file (rotation, or SIGHUP's reopen) starts between two records,
//! in this single writer: no record is lost or written twice at a
//! boundary. Its header holds the task table as the events so far leave
//! it (not a new /proc walk), so each file replays on its own and a reader
//! of them all sees one stream.

use std::{
    cell::Cell,
    fs::File,
    io::{BufWriter, IsTerminal as _, Write as _},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use tracer_common::{EventKind, FORMAT_VERSION};

use crate::{
    kernel::{
        follow,
        rings::RingFill,
        session::{self, Ended, Flow, SessionOptions, Sink},
    },
    log::{
        self,
        header::{LogHeader, Part},
        janitor::{Janitor, JanitorOptions},
        reader::Item,
        rotate::{self, Retention},
        writer::{self, LogWriter},
    },
    model::{clock, counts::LossCause, procfs},
    pipeline::tap::{Observer, Taps},
    ship::{Origin, ShipOptions, Shipping},
};

/// How often a recording is synced to disk (fdatasync): a power loss costs
/// at most this much of it (README, "Security and robustness").
pub const SYNC_EVERY: Duration = Duration::from_secs(5);

/// A file rotates at this size when `--dir` names no `--rotate-size`.
pub const DEFAULT_ROTATE_SIZE: u64 = 256 << 20;

pub struct RecordOptions {
    pub session: SessionOptions,
    pub to: Target,
    /// `-o FILE` only: stop once the file reaches this size.
    pub max_size: Option<u64>,
    pub ship: ShipOptions,
}

pub enum Target {
    /// `-o FILE`; SIGHUP finishes it and creates FILE afresh.
    File(PathBuf),
    /// `--dir DIR`: rotated logs.
    Dir(Rotation),
}

pub struct Rotation {
    pub dir: PathBuf,
    /// Start a new file once the current one reaches this many bytes.
    pub size: u64,
    /// ... or is this old.
    pub every: Option<Duration>,
    pub retention: Retention,
    /// zstd-compress each finished file.
    pub compress: bool,
}

/// Where new files go.
enum Files {
    /// The same path each time (`-o`).
    Same,
    Rotated {
        dir: PathBuf,
        size: u64,
        every: Option<Duration>,
        janitor: Janitor,
    },
}

struct Recorder {
    log: LogWriter<BufWriter<File>>,
    /// The file being written.
    path: PathBuf,
    files: Files,
    /// The first file's header, less its tasks: each new file's header is
    /// this with the live table and a higher sequence number.
    template: LogHeader,
    /// `--max-size`, per file.
    limit: u64,
    /// Files started (the current one included).
    started_files: u32,
    file_started: Instant,
    file_events: u64,
    /// Bytes of the files finished before the current one.
    bytes_before: u64,
    events: u64,
    lost: u64,
    /// Lost-record notices the size limit kept out of the log.
    lost_unwritten: u64,
    /// The size limit was reached.
    full: bool,
    /// For the once-a-second status line on a terminal.
    status: Option<(Instant, u64)>,
    synced: Instant,
    /// The live task table, and the metrics and OTLP taps on it.
    observer: Observer,
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
    fn write_error(&mut self, e: std::io::Error) -> anyhow::Error {
        let _ = self.log.flush();
        let earlier = match self.started_files {
            1 => String::new(),
            n => format!(" (the {} files before it are finished and whole)", n - 1),
        };
        anyhow::Error::new(e).context(format!(
            "writing {} failed; it holds {} of the {} events written to it, readable up to its \
             last complete record{earlier}",
            self.path.display(),
            events_in(&self.path),
            self.file_events + 1
        ))
    }

    /// Finishes the current file (end frame, on disk) and goes on in a new
    /// one: the next of `--dir`, or `-o FILE` created afresh. Runs between
    /// two records.
    fn next_file(&mut self) -> Result<()> {
        let now = clock::boottime_ns();
        let next = match &self.files {
            Files::Same => self.path.clone(),
            Files::Rotated { dir, .. } => dir.join(rotate::file_name(
                self.template.wall_clock().wall_ns(now),
                self.started_files,
            )),
        };
        // Created first: where it cannot be, the current file goes on.
        let file = match writer::create(&next) {
            Ok(file) => file,
            Err(e) if matches!(self.files, Files::Same) => {
                crate::say!(
                    "\ntracer: warning: SIGHUP: cannot start a new log ({e:#}); recording goes \
                     on in the one open (was {} moved away?)",
                    self.path.display()
                );
                return Ok(());
            }
            Err(e) => {
                return Err(e.context(format!(
                    "starting the next log; {} and the logs before it hold every record so far",
                    self.path.display()
                )))
            }
        };
        // With --dir the janitor thread puts the finished file on disk
        // (fdatasync), so a rotation never stalls the reading of the rings.
        let sync_here = matches!(self.files, Files::Same);
        let ended = self.log.end(now).and_then(|()| match sync_here {
            true => self.log.sync(),
            false => Ok(()),
        });
        if let Err(e) = ended {
            let _ = std::fs::remove_file(&next);
            return Err(self.write_error(e));
        }
        let header = LogHeader {
            started_boot_ns: now,
            tasks: self.observer.table().snapshot(),
            part: Part {
                sequence: self.started_files,
                ..self.template.part
            },
            ..self.template.clone()
        };
        let log = LogWriter::with_limit(file, &header, self.limit).and_then(|mut log| {
            log.flush()?;
            Ok(log)
        });
        let log = match log {
            Ok(log) => log,
            Err(e) => {
                // A header cut short is no log: nothing of it is kept.
                let _ = std::fs::remove_file(&next);
                return Err(anyhow::Error::new(e).context(format!(
                    "writing the header of {} failed; {} is finished and whole, as are the \
                     logs before it",
                    next.display(),
                    self.path.display()
                )));
            }
        };
        self.bytes_before += self.log.written();
        self.log = log;
        let done = std::mem::replace(&mut self.path, next);
        self.started_files += 1;
        self.file_started = Instant::now();
        self.file_events = 0;
        self.synced = Instant::now();
        if let Files::Rotated { janitor, .. } = &self.files {
            janitor.finished(done, self.path.clone());
        }
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
        self.observer.record(raw);
        match self.log.event(raw) {
            Ok(true) => {
                self.events += 1;
                self.file_events += 1;
                if self.due() {
                    self.next_file()?;
                }
                Ok(Flow::Continue)
            }
            Ok(false) => {
                self.full = true;
                Ok(Flow::Stop)
            }
            Err(e) => Err(self.write_error(e)),
        }
    }

    fn lost(&mut self, kind: EventKind, count: u64, boot_ns: u64, cause: LossCause) -> Result<()> {
        self.lost = self.lost.saturating_add(count);
        self.observer.lost(kind, count, boot_ns);
        // The log keeps only the count; the progress line shows it, and an
        // unexpected cause is said once here.
        if cause == LossCause::Skipped {
            crate::say!(
                "\ntracer: warning: {count} {} events lost {}",
                kind.name(),
                cause.explain()
            );
        }
        match self.log.lost(kind.tag(), count, boot_ns) {
            Ok(true) => Ok(()),
            Ok(false) => {
                self.lost_unwritten = self.lost_unwritten.saturating_add(count);
                Ok(())
            }
            Err(e) => Err(self.write_error(e)),
        }
    }

    fn flush(&mut self) -> Result<Flow> {
        if let Err(e) = self.log.flush() {
            return Err(self.write_error(e));
        }
        Ok(if self.full {
            Flow::Stop
        } else {
            Flow::Continue
        })
    }

    fn rings(&mut self, fill: &[RingFill]) {
        self.observer.rings(fill);
    }

    fn hangup(&mut self) -> Result<Flow> {
        self.next_file()?;
        Ok(Flow::Continue)
    }

    fn tick(&mut self) -> Result<()> {
        self.observer.tick();
        if self.due() {
            self.next_file()?;
        }
        if self.synced.elapsed() >= SYNC_EVERY {
            if let Err(e) = self.log.sync() {
                return Err(self.write_error(e));
            }
            self.synced = Instant::now();
        }
        let Some((last, last_events)) = self.status else {
            return Ok(());
        };
        let secs = last.elapsed().as_secs_f64().max(1e-3);
        let rate = (self.events - last_events) as f64 / secs;
        // A failing stderr must not stop the recording.
        let mut err = std::io::stderr().lock();
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

/// A random id for this recording's files (see `Part`).
fn session_id() -> u64 {
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

/// The first file's path: `-o FILE`, or the first name in `--dir`
/// (created, mode 0700, if missing).
fn first_path(to: &Target) -> Result<PathBuf> {
    match to {
        Target::File(path) => Ok(path.clone()),
        Target::Dir(r) => {
            use std::os::unix::fs::DirBuilderExt as _;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&r.dir)
                .with_context(|| format!("creating {}", r.dir.display()))?;
            if !r.dir.is_dir() {
                anyhow::bail!("{} is not a directory", r.dir.display());
            }
            let now = clock::WallClock::now().wall_ns(clock::boottime_ns());
            Ok(r.dir.join(rotate::file_name(now, 0)))
        }
    }
}

pub async fn run(mut opts: RecordOptions) -> Result<()> {
    // A command that cannot start, or a --follow PID that is not there,
    // fails before the log is created.
    let exit = follow::checked(&mut opts.session.follow, &opts.session.proc_root);
    // Create the file first: a bad path fails before any BPF is loaded.
    let path = first_path(&opts.to)?;
    let file = writer::create(&path)?;
    let started = Cell::new(false);
    let result = record(opts, path.clone(), file, &started).await;
    // A log exists only once recording has really started (its header is
    // written); a failed start leaves nothing that blocks the next run, and
    // neither does a command that could not start.
    let unstartable =
        matches!(&result, Err(e) if e.downcast_ref::<follow::Unstartable>().is_some());
    if !started.get() || unstartable {
        let _ = std::fs::remove_file(&path);
    }
    match exit {
        Some(exit) => follow::end(result, &exit),
        None => result,
    }
}

async fn record(
    opts: RecordOptions,
    path: PathBuf,
    file: BufWriter<File>,
    started: &Cell<bool>,
) -> Result<()> {
    let limit = opts.max_size.unwrap_or(u64::MAX);
    let kernel_filter = opts.session.filter;
    let shipping = Shipping::prepare(opts.ship)?;
    let (files, dir) = match opts.to {
        Target::File(_) => (Files::Same, None),
        Target::Dir(r) => {
            let janitor = Janitor::start(JanitorOptions {
                dir: r.dir.clone(),
                compress: r.compress,
                retention: r.retention,
            })
            .context("starting the thread that compresses and deletes old logs")?;
            let files = Files::Rotated {
                dir: r.dir.clone(),
                size: r.size,
                every: r.every,
                janitor,
            };
            (files, Some(r.dir))
        }
    };
    let (mut rec, counts, ended) = session::run(opts.session, move |start| {
        let (kernel_release, hostname, boot_id) = log::header::machine();
        let mut header = LogHeader {
            event_format: FORMAT_VERSION,
            tracer_version: env!("CARGO_PKG_VERSION").to_string(),
            kernel_release,
            hostname,
            boot_id,
            boot_epoch_ns: start.clock.boot_epoch_ns as i64,
            started_boot_ns: start.started_boot_ns,
            ticks_per_sec: procfs::clock_ticks_per_sec(),
            init_cgroup: start.init_cgroup,
            kernel_filter,
            tasks: start.tasks,
            missing: start.missing,
            part: Part {
                session: session_id(),
                sequence: 0,
            },
        };
        let taps = match shipping.is_empty() {
            true => Taps::default(),
            false => shipping.taps(&Origin::live(start.clock)),
        };
        let observer = Observer::new(start.table, taps);
        let mut log = LogWriter::with_limit(file, &header, limit)
            .with_context(|| format!("writing the log header to {}", path.display()))?;
        log.flush()
            .with_context(|| format!("writing the log header to {}", path.display()))?;
        started.set(true);
        header.tasks = Vec::new();
        let status = std::io::stderr().is_terminal().then(|| (Instant::now(), 0));
        Ok(Recorder {
            log,
            path,
            files,
            template: header,
            limit,
            started_files: 1,
            file_started: Instant::now(),
            file_events: 0,
            bytes_before: 0,
            events: 0,
            lost: 0,
            lost_unwritten: 0,
            full: false,
            status,
            synced: Instant::now(),
            observer,
        })
    })
    .await?;
    let shipped = rec.observer.finish_taps();
    rec.log
        .end(clock::boottime_ns())
        .and_then(|()| rec.log.sync())
        .map_err(|e| rec.write_error(e))?;
    let janitor = match std::mem::replace(&mut rec.files, Files::Same) {
        Files::Rotated { janitor, .. } => {
            // The last file is finished too (compressed, and kept).
            janitor.finished(rec.path.clone(), rec.path.clone());
            Some(janitor.finish())
        }
        Files::Same => None,
    };
    let mut err = std::io::stderr().lock();
    if rec.status.is_some() {
        let _ = writeln!(err);
    }
    let why = match ended {
        Ended::Signal => "stopped",
        Ended::Duration => "duration reached",
        Ended::Sink => "size limit reached",
        Ended::Followed => "followed tasks ended",
    };
    let whereto = match (&dir, rec.started_files) {
        (Some(dir), n) => format!(
            "{n} file{} in {}",
            if n == 1 { "" } else { "s" },
            dir.display()
        ),
        (None, 1) => rec.path.display().to_string(),
        (None, n) => format!("{} (and {} files before it)", rec.path.display(), n - 1),
    };
    let _ = writeln!(
        err,
        "tracer: {why}: recorded {} events ({} bytes) to {whereto}",
        rec.events,
        rec.bytes_before + rec.log.written(),
    );
    if let Some(done) = janitor {
        if done.compressed + done.deleted + done.failures > 0 {
            let _ = writeln!(
                err,
                "tracer: {} logs compressed, {} old logs deleted, {} failures (said above)",
                done.compressed, done.deleted, done.failures
            );
        }
    }
    if rec.lost_unwritten > 0 {
        let _ = writeln!(
            err,
            "tracer: warning: {} lost events are not in the log: the size limit was reached",
            rec.lost_unwritten
        );
    }
    let _ = writeln!(err, "{}", counts.summary());
    shipped
}
