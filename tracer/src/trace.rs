//! `tracer trace`: a live session. Reads the ring buffer as it fills,
//! prints each event, and on Ctrl-C or SIGTERM detaches, drains what is
//! left, and prints a summary to stderr.

use std::{
    io::{ErrorKind, Write},
    path::PathBuf,
    time::Duration,
};

use anyhow::{Context as _, Result};
use aya::maps::{MapData, RingBuf};
use tokio::{
    io::{unix::AsyncFd, Interest},
    signal::unix::{signal, SignalKind},
};
use tracer_common::EventKind;

use crate::{
    clock::WallClock,
    decode::decode,
    filter::TraceFilter,
    loader::{self, LoadOptions},
    output::{self, Format, Formatter},
    procfs::{self, Procfs},
    tasks::TaskTable,
};

pub struct TraceOptions {
    pub format: Format,
    pub btf: PathBuf,
    pub ring_bytes: u32,
    pub filter: TraceFilter,
}

/// Counts for the end-of-session summary.
#[derive(Default)]
struct Stats {
    by_kind: [u64; EventKind::COUNTERS as usize],
    undecodable: u64,
}

/// Where a drain stops early: stdout closed (e.g. piped into `head`).
struct OutputClosed;

struct Printer<W: Write> {
    out: W,
    buf: Vec<u8>,
    formatter: Box<dyn Formatter>,
    stats: Stats,
    table: TaskTable,
    filter: TraceFilter,
}

impl<W: Write> Printer<W> {
    /// Decodes and formats everything the ring holds now, then writes it.
    fn drain(&mut self, ring: &mut RingBuf<MapData>) -> Result<(), OutputClosed> {
        while let Some(item) = ring.next() {
            match decode(&item) {
                Ok(rec) => {
                    self.stats.by_kind[rec.event.kind() as usize] += 1;
                    let kinds = self.table.apply(&rec);
                    if self.filter.matches(&rec, &kinds) {
                        self.formatter.record(&mut self.buf, &rec, &kinds);
                    }
                }
                Err(err) => {
                    self.stats.undecodable += 1;
                    if self.stats.undecodable <= 10 {
                        eprintln!("tracer: warning: skipped a bad record: {err}");
                    }
                }
            }
            // Bound the buffer on a busy machine.
            if self.buf.len() >= 1 << 20 {
                self.flush()?;
            }
        }
        self.flush()
    }

    fn flush(&mut self) -> Result<(), OutputClosed> {
        let res = self
            .out
            .write_all(&self.buf)
            .and_then(|()| self.out.flush());
        self.buf.clear();
        match res {
            Err(e) if e.kind() == ErrorKind::BrokenPipe => Err(OutputClosed),
            // Other write errors (disk full on a redirect) end the session too;
            // say why.
            Err(e) => {
                eprintln!("tracer: error: writing output: {e}");
                Err(OutputClosed)
            }
            Ok(()) => Ok(()),
        }
    }
}

pub async fn run(opts: TraceOptions) -> Result<()> {
    let mut session = loader::load(&LoadOptions {
        btf_path: &opts.btf,
        ring_bytes: opts.ring_bytes,
        filter: opts.filter.kernel(),
    })?;
    // Snapshot after attaching: a task born meanwhile is in the snapshot,
    // in the ring, or both, and the table merges it by pid + start time.
    let table = snapshot()?;
    session.seed_umh(table.umh_groups())?;
    let clock = WallClock::now();
    let ring = session.take_ring()?;
    // SAFETY: the RingBuf owns its map fd for its whole life and `as_raw_fd`
    // always returns that same fd.
    let mut ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
        .map_err(|e| anyhow::anyhow!("polling the ring buffer: {e}"))?;
    let mut sigint = signal(SignalKind::interrupt()).context("installing a SIGINT handler")?;
    let mut sigterm = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));

    let mut printer = Printer {
        out: std::io::stdout().lock(),
        buf: Vec::with_capacity(1 << 16),
        formatter: output::formatter(opts.format, clock),
        stats: Stats::default(),
        table,
        filter: opts.filter,
    };
    printer.formatter.begin(&mut printer.buf);
    eprintln!(
        "tracer: attached {} programs; Ctrl-C to stop",
        session.program_count()
    );
    let mut reported_lost = 0;
    let mut closed = printer.flush().is_err();
    while !closed {
        tokio::select! {
            guard = ring.readable_mut() => {
                let mut guard = guard.context("waiting on the ring buffer")?;
                closed = printer.drain(guard.get_inner_mut()).is_err();
                // Clear, then drain again: a record committed between the
                // first drain and the clear would otherwise wait for the next.
                guard.clear_ready();
                closed = closed || printer.drain(guard.get_inner_mut()).is_err();
            }
            _ = tick.tick() => {
                let lost: u64 = session.lost()?.iter().map(|(_, n)| n).sum();
                if lost > reported_lost {
                    eprintln!(
                        "tracer: warning: {} events lost (ring buffer full); \
                         a larger --ring-buffer-size or a filter helps",
                        lost - reported_lost
                    );
                    reported_lost = lost;
                }
            }
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
        }
    }
    session.detach()?;
    if !closed {
        let _ = printer.drain(ring.get_mut());
    }
    summary(&printer.stats, &session.lost()?);
    Ok(())
}

/// The task table seeded from procfs.
pub fn snapshot() -> Result<TaskTable> {
    let procfs = Procfs::system();
    Ok(TaskTable::from_snapshot(
        procfs.tasks()?,
        procfs.init_cgroup().as_deref(),
        procfs::clock_ticks_per_sec(),
    ))
}

fn summary(stats: &Stats, lost: &[(EventKind, u64)]) {
    let total: u64 = stats.by_kind.iter().sum();
    let by_kind: Vec<String> = EventKind::ALL
        .iter()
        .map(|k| format!("{} {}", k.name(), stats.by_kind[*k as usize]))
        .collect();
    let lost_total: u64 = lost.iter().map(|(_, n)| n).sum();
    let lost_by_kind: Vec<String> = lost
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{} {n}", k.name()))
        .collect();
    eprintln!("tracer: {total} events: {}", by_kind.join(", "));
    if lost_by_kind.is_empty() {
        eprintln!("tracer: lost 0 events");
    } else {
        eprintln!(
            "tracer: lost {lost_total} events ({})",
            lost_by_kind.join(", ")
        );
    }
    if stats.undecodable > 0 {
        eprintln!("tracer: skipped {} undecodable records", stats.undecodable);
    }
}
