//! `tracer record`: a live session written to a log file, or to a
//! directory of rotated logs (`--dir`) for recordings that run for weeks.
//!
//! A new file (rotation, or SIGHUP's reopen) starts between two records,
//! in this single writer: no record is lost or written twice at a
//! boundary. Its header holds the task table as the events so far leave
//! it (not a new /proc walk), so each file replays on its own and a reader
//! of them all sees one stream.

mod files;
mod options;
mod recorder;

use std::{
    cell::Cell,
    fs::File,
    io::{BufWriter, IsTerminal as _, Write as _},
    path::PathBuf,
    sync::Arc,
    time::Instant,
};

use anyhow::{Context as _, Result};
use files::{make_room, no_space, prepare, session_id, Files, Prepared};
pub use options::{RecordOptions, Rotation, Target, DEFAULT_ROTATE_SIZE, SYNC_EVERY};
use recorder::Recorder;
use tracer_common::FORMAT_VERSION;

use crate::{
    live::{
        follow,
        session::{self, Ended},
    },
    log::{
        self,
        header::{LogHeader, Part},
        janitor::Janitor,
        ledger::Ledger,
        writer::{self, LogWriter},
    },
    model::{clock, procfs},
    pipeline::{
        offload::Offload,
        tap::{Observer, Taps},
    },
    ship::{Origin, Shipping},
};

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
        let log::header::Machine {
            kernel_release,
            hostname,
            boot_id,
            machine_id,
        } = log::header::machine();
        let mut header = LogHeader {
            event_format: FORMAT_VERSION,
            tracer_version: env!("CARGO_PKG_VERSION").to_string(),
            kernel_release,
            hostname,
            boot_id,
            machine_id,
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
            kallsyms: crate::model::kallsyms::Kallsyms::running(),
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
