//! `tracer record`: a live session written to a log file.

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
        header::LogHeader,
        reader::Item,
        writer::{self, LogWriter},
    },
    model::{clock, counts::LossCause, procfs},
    pipeline::tap::Observer,
    ship::{Origin, ShipOptions, Shipping},
};

/// How often a recording is synced to disk (fdatasync): a power loss costs
/// at most this much of it (README, "Security and robustness").
pub const SYNC_EVERY: Duration = Duration::from_secs(5);

pub struct RecordOptions {
    pub session: SessionOptions,
    pub path: PathBuf,
    pub max_size: Option<u64>,
    pub ship: ShipOptions,
}

struct Recorder {
    log: LogWriter<BufWriter<File>>,
    path: PathBuf,
    events: u64,
    lost: u64,
    /// Lost-record notices the size limit kept out of the log.
    lost_unwritten: u64,
    /// The size limit was reached.
    full: bool,
    /// For the once-a-second status line on a terminal.
    status: Option<(Instant, u64)>,
    synced: Instant,
    /// Metrics and OTLP, with the task table they need.
    observer: Option<Observer>,
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
        anyhow::Error::new(e).context(format!(
            "writing {} failed; it holds {} of the {} events recorded, readable up to its last \
             complete record",
            self.path.display(),
            events_in(&self.path),
            self.events + 1
        ))
    }
}

impl Sink for Recorder {
    fn record(&mut self, raw: &[u8]) -> Result<Flow> {
        if let Some(observer) = &mut self.observer {
            observer.record(raw);
        }
        match self.log.event(raw) {
            Ok(true) => {
                self.events += 1;
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
        if let Some(observer) = &mut self.observer {
            observer.lost(kind, count, boot_ns);
        }
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
        if let Some(observer) = &mut self.observer {
            observer.rings(fill);
        }
    }

    fn tick(&mut self) -> Result<()> {
        if let Some(observer) = &mut self.observer {
            observer.tick();
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

pub async fn run(mut opts: RecordOptions) -> Result<()> {
    // A command that cannot start, or a --follow PID that is not there,
    // fails before the log is created.
    let exit = follow::checked(&mut opts.session.follow, &opts.session.proc_root);
    // Create the file first: a bad path fails before any BPF is loaded.
    let file = writer::create(&opts.path)?;
    let path = opts.path.clone();
    let started = Cell::new(false);
    let result = record(opts, file, &started).await;
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

async fn record(opts: RecordOptions, file: BufWriter<File>, started: &Cell<bool>) -> Result<()> {
    let (path, max_size) = (opts.path.clone(), opts.max_size);
    let kernel_filter = opts.session.filter;
    let shipping = Shipping::prepare(opts.ship)?;
    let (mut rec, counts, ended) = session::run(opts.session, move |start| {
        let (kernel_release, hostname, boot_id) = log::header::machine();
        let header = LogHeader {
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
        };
        let observer = (!shipping.is_empty()).then(|| {
            let origin = Origin::live(start.clock);
            Observer::new(start.table, shipping.taps(&origin))
        });
        let mut log = LogWriter::with_limit(file, &header, max_size.unwrap_or(u64::MAX))
            .with_context(|| format!("writing the log header to {}", path.display()))?;
        log.flush()
            .with_context(|| format!("writing the log header to {}", path.display()))?;
        started.set(true);
        let status = std::io::stderr().is_terminal().then(|| (Instant::now(), 0));
        Ok(Recorder {
            log,
            path,
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
    let shipped = rec.observer.take().map_or(Ok(()), Observer::finish);
    rec.log
        .end(clock::boottime_ns())
        .and_then(|()| rec.log.sync())
        .map_err(|e| rec.write_error(e))?;
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
    let _ = writeln!(
        err,
        "tracer: {why}: recorded {} events ({} bytes) to {}",
        rec.events,
        rec.log.written(),
        rec.path.display()
    );
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
