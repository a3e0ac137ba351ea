//! `tracer record`: a live session written to a log file.

use std::{
    fs::File,
    io::{BufWriter, IsTerminal as _, Write as _},
    path::PathBuf,
    time::Instant,
};

use anyhow::{Context as _, Result};
use tracer_common::{EventKind, FORMAT_VERSION};

use crate::{
    kernel::session::{self, Ended, Flow, SessionOptions, Sink},
    log::{
        header::LogHeader,
        writer::{self, LogWriter},
    },
    model::clock,
    model::procfs,
};

pub struct RecordOptions {
    pub session: SessionOptions,
    pub path: PathBuf,
    pub max_size: Option<u64>,
}

struct Recorder {
    log: LogWriter<BufWriter<File>>,
    path: PathBuf,
    max_size: Option<u64>,
    events: u64,
    lost: u64,
    /// For the once-a-second status line on a terminal.
    status: Option<(Instant, u64)>,
}

impl Recorder {
    fn write_error(&self, e: std::io::Error) -> anyhow::Error {
        anyhow::Error::new(e).context(format!(
            "writing {} failed after {} events; the log is valid up to its last complete record",
            self.path.display(),
            self.events
        ))
    }
}

impl Sink for Recorder {
    fn record(&mut self, raw: &[u8]) -> Result<Flow> {
        self.log.event(raw).map_err(|e| self.write_error(e))?;
        self.events += 1;
        match self.max_size {
            Some(max) if self.log.written() >= max => Ok(Flow::Stop),
            _ => Ok(Flow::Continue),
        }
    }

    fn lost(&mut self, kind: EventKind, count: u64, boot_ns: u64) -> Result<()> {
        self.lost += count;
        self.log
            .lost(kind as u16, count, boot_ns)
            .map_err(|e| self.write_error(e))
    }

    fn flush(&mut self) -> Result<Flow> {
        self.log.flush().map_err(|e| self.write_error(e))?;
        Ok(Flow::Continue)
    }

    fn tick(&mut self) {
        let Some((last, last_events)) = self.status else {
            return;
        };
        let secs = last.elapsed().as_secs_f64().max(1e-3);
        let rate = (self.events - last_events) as f64 / secs;
        eprint!(
            "\rrecording: {} events, {:.0}/s, lost {}, {:.1} MB   ",
            self.events,
            rate,
            self.lost,
            self.log.written() as f64 / 1e6
        );
        let _ = std::io::stderr().flush();
        self.status = Some((Instant::now(), self.events));
    }
}

pub async fn run(opts: RecordOptions) -> Result<()> {
    // Create the file first: a bad path fails before any BPF is loaded.
    let file = writer::create(&opts.path)?;
    let (path, max_size) = (opts.path.clone(), opts.max_size);
    let kernel_filter = opts.session.filter;
    let (mut rec, counts, ended) = session::run(opts.session, move |start| {
        let (kernel_release, hostname, boot_id) = crate::log::header::machine();
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
        let log = LogWriter::new(file, &header)
            .with_context(|| format!("writing the log header to {}", path.display()))?;
        let status = std::io::stderr().is_terminal().then(|| (Instant::now(), 0));
        Ok(Recorder {
            log,
            path,
            max_size,
            events: 0,
            lost: 0,
            status,
        })
    })
    .await?;
    rec.log
        .end(clock::boottime_ns())
        .map_err(|e| rec.write_error(e))?;
    if rec.status.is_some() {
        eprintln!();
    }
    let why = match ended {
        Ended::Signal => "stopped",
        Ended::Duration => "duration reached",
        Ended::Sink => "size limit reached",
    };
    eprintln!(
        "tracer: {why}: recorded {} events ({} bytes) to {}",
        rec.events,
        rec.log.written(),
        rec.path.display()
    );
    eprintln!("{}", counts.summary());
    Ok(())
}
