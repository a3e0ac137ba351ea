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
    io::{self, BufWriter, IsTerminal as _, Write as _},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use tracer_common::{EventKind, FORMAT_VERSION};

use crate::{
    kernel::rings::RingFill,
    live::{
        follow,
        session::{self, Ended, SessionOptions},
    },
    log::{
        self,
        header::{LogHeader, Part},
        janitor::Janitor,
        ledger::Ledger,
        reader::Item,
        rotate::{self, Retention},
        trust,
        writer::{self, LogWriter},
    },
    model::{clock, counts::LossCause, procfs},
    pipeline::{
        offload::Offload,
        sink::{Flow, Sink},
        tap::{Observer, Taps},
    },
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
    /// Record into a directory other users can write to (or whose parents
    /// they can change).
    pub allow_unsafe: bool,
}

/// A directory made ready for a recording: checked, locked against a
/// second recorder, debris of a crash cleared, its first file created.
struct Prepared {
    /// Held while recording: a second recorder into DIR is refused.
    lock: File,
    /// Earlier recordings' files that retention may count and delete,
    /// oldest first.
    adopted: Vec<rotate::Rotated>,
}

/// Where new files go.
enum Files {
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
fn no_space(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// With `--dir` on a full disk: deletes the oldest finished log, said on
/// stderr. Whether there was one.
fn make_room(files: &Files) -> bool {
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
fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Creates file `sequence` of a recording in `dir`, named for `wall_ns`.
/// A name already taken (another user's file, where the directory lets
/// others write) is passed over with a warning for one a few ms later, or
/// at a random later time once those are taken too. `None`: every name
/// tried was taken.
fn create_named(
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
                if e.root_cause()
                    .downcast_ref::<io::Error>()
                    .is_some_and(|e| e.kind() == io::ErrorKind::AlreadyExists) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
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
    /// With `--dir`: every name tried for the next file was taken; tried
    /// again at the next tick, not at every record.
    names_taken: bool,
    /// ... and said so, until a file starts again.
    names_said: bool,
    /// Records not in the log for want of a free name.
    unnamed: u64,
    /// For the once-a-second status line on a terminal.
    status: Option<(Instant, u64)>,
    synced: Instant,
    /// The live task table, and the metrics and OTLP taps on it, on the
    /// decode thread.
    decode: Offload,
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
    fn retry<T>(
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
    fn header_failed(&self, next: &Path, e: std::io::Error) -> anyhow::Error {
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

/// Makes `--dir`'s directory ready: created (mode 0700) if missing,
/// checked ([`trust`]), locked, and cleared of what a crash left: a
/// half-written `.zst.partial` is removed; plain logs and empty files of
/// a recording that never started are noted for the janitor or removed.
fn prepare(r: &Rotation) -> Result<(PathBuf, BufWriter<File>, Prepared)> {
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

pub async fn run(mut opts: RecordOptions) -> Result<()> {
    // A command that cannot start, or a --follow PID that is not there,
    // fails before the log is created.
    let exit = follow::checked(&mut opts.session.follow, &opts.session.proc_root);
    // Create the file first: a bad path fails before any BPF is loaded.
    let (path, file, prepared) = match &opts.to {
        Target::File(path) => (path.clone(), writer::create(path)?, None),
        Target::Dir(r) => {
            let (path, file, prepared) = prepare(r)?;
            (path, file, Some(prepared))
        }
    };
    let started = Cell::new(false);
    let result = record(opts, path.clone(), file, prepared, &started).await;
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
    prepared: Option<Prepared>,
    started: &Cell<bool>,
) -> Result<()> {
    let limit = opts.max_size.unwrap_or(u64::MAX);
    let kernel_filter = opts.session.filter;
    let shipping = Shipping::prepare(opts.ship)?;
    let (files, dir) = match (opts.to, prepared) {
        (Target::Dir(r), Some(prepared)) => {
            let ledger = Arc::new(Ledger::new(r.retention, r.compress, r.size, r.size));
            ledger.adopt(prepared.adopted.into_iter().map(|f| (f.path, f.bytes)));
            let janitor = Janitor::start(Arc::clone(&ledger))
                .context("starting the thread that syncs and compresses finished logs")?;
            let files = Files::Rotated {
                dir: r.dir.clone(),
                size: r.size,
                every: r.every,
                ledger,
                janitor,
                _lock: prepared.lock,
            };
            (files, Some(r.dir))
        }
        _ => (Files::Same, None),
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
        let decode = Offload::start(Observer::new(start.table, taps))?;
        // With --dir, the first file's whole size limit is made room for
        // (earlier recordings' logs count) before it grows.
        let (limit, buffer) = match &files {
            Files::Rotated { size, ledger, .. } => {
                let (limit, buffer) = writer::header_room(&header, *size);
                ledger
                    .fit(limit)
                    .with_context(|| format!("cannot start {}", path.display()))?;
                (limit, buffer)
            }
            Files::Same => (limit, writer::header_room(&header, 0).1),
        };
        let header_failed = || format!("cannot write the log header to {}", path.display());
        let mut log = writer::rebuffer(file, buffer)
            .and_then(|file| LogWriter::with_limit(file, &header, limit))
            .with_context(header_failed)?;
        // A full disk costs the oldest logs (--dir) here too.
        loop {
            match log.flush() {
                Ok(()) => break,
                Err(e) if no_space(&e) && make_room(&files) => {}
                Err(e) => return Err(anyhow::Error::new(e).context(header_failed())),
            }
        }
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
            names_taken: false,
            names_said: false,
            unnamed: 0,
            status,
            synced: Instant::now(),
            decode,
        })
    })
    .await?;
    let shipped = rec.decode.finish();
    let end = clock::boottime_ns();
    rec.retry(|log| log.end(end).and_then(|()| log.sync()))?;
    let janitor = match std::mem::replace(&mut rec.files, Files::Same) {
        Files::Rotated {
            ledger, janitor, ..
        } => {
            // The last file is finished too (compressed where there is
            // room, and kept: no file follows it).
            let _ = ledger.finished(rec.path.clone(), rec.log.written(), 0);
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
        if done.compressed + done.deleted + done.failures + done.uncompressed > 0 {
            let _ = writeln!(
                err,
                "tracer: {} logs compressed, {} left uncompressed, {} old logs deleted, {} \
                 failures (said above)",
                done.compressed, done.uncompressed, done.deleted, done.failures
            );
        }
    }
    // With --dir a file is never too full for a record; only a name can
    // be missing.
    let unwritten = match dir {
        Some(_) => "no name for a new log was free (said above)",
        None => "the size limit was reached",
    };
    if rec.unnamed > 0 {
        let _ = writeln!(
            err,
            "tracer: warning: {} events are not in the log: {unwritten}",
            rec.unnamed
        );
    }
    if rec.lost_unwritten > 0 {
        let _ = writeln!(
            err,
            "tracer: warning: {} lost events are not in the log: {unwritten}",
            rec.lost_unwritten
        );
    }
    let _ = writeln!(err, "{}", counts.summary());
    shipped
}
