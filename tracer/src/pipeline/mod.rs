//! The event pipeline shared by every stream of records, live or recorded:
//! decode → task table (lineage, kinds) → annotate → filter → format.
//!
//! `trace` feeds it from the ring buffer, `replay` and `export` from a log;
//! the output format is a [`Formatter`], so a new output is a new
//! formatter, not a new loop.
//!
//! A time [`Window`] (`--since`/`--until` of a log reader) applies after
//! annotation, like the filter: the task table sees every record, so
//! lineage, kinds and helper stories inside the window are what the whole
//! log says they are.

pub mod filter;
pub mod from_log;
pub mod offload;
pub mod priority;
pub mod sink;
pub mod tap;

use std::io::{ErrorKind, Write};

use anyhow::Result;
use filter::TraceFilter;
use sink::{Flow, Sink};
use tap::Taps;
use tracer_common::EventKind;

use crate::{
    kernel::rings::RingFill,
    model::{
        counts::{Counts, LossCause},
        decode::decode,
        tasks::TaskTable,
        window::Window,
    },
    output::{
        style::{self, Dates, Style},
        Formatter,
    },
};

/// Buffered output is written once it passes this, so a busy machine
/// cannot grow it without bound.
const FLUSH_AT: usize = 1 << 20;

/// Where lost-record notices go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LostNotices {
    /// A warning on stderr, as live `trace` prints them.
    Stderr,
    /// In the output stream, in order with the records (`export`), where the
    /// format has a line for them.
    Inline,
}

pub struct Pipeline<W: Write> {
    out: W,
    buf: Vec<u8>,
    formatter: Box<dyn Formatter>,
    table: TaskTable,
    filter: TraceFilter,
    /// Events outside it are neither shown nor tapped.
    window: Window,
    style: Style,
    lost: LostNotices,
    /// Metrics, OTLP: see every event beside the output.
    taps: Taps,
    undecodable: u64,
    /// A write to the output failed (other than the reader going away).
    failed: Option<std::io::Error>,
}

impl<W: Write> Pipeline<W> {
    /// Text is styled for stdout as the command line chose
    /// ([`style::stdout`]): every pipeline's text goes there.
    pub fn new(
        out: W,
        mut formatter: Box<dyn Formatter>,
        table: TaskTable,
        filter: TraceFilter,
        lost: LostNotices,
    ) -> Self {
        let style = style::stdout();
        formatter.style(&style);
        let mut p = Pipeline {
            out,
            buf: Vec::with_capacity(1 << 16),
            formatter,
            table,
            filter,
            window: Window::default(),
            style,
            lost,
            taps: Taps::default(),
            undecodable: 0,
            failed: None,
        };
        p.formatter.begin(&mut p.buf);
        // Show the column titles now, not with the first event; a closed
        // stdout is noticed again at the next flush.
        let _ = p.flush();
        p
    }

    /// Adds taps that see every event beside the output.
    pub fn with_taps(mut self, taps: Taps) -> Self {
        self.taps = taps;
        self
    }

    /// Names `n` generations above each event's task (`--ancestors`).
    pub fn with_ancestors(mut self, n: usize) -> Self {
        self.table.keep_ancestors(n);
        self
    }

    /// Shows only events in `window` (a log reader's `--since`/`--until`).
    pub fn with_window(mut self, window: Window) -> Self {
        self.window = window;
        self
    }

    /// A replay: text says the date before the first event too.
    pub fn replaying(&mut self) {
        if self.style.dates == Dates::OnChange {
            self.style.dates = Dates::First;
            self.formatter.style(&self.style);
        }
    }

    pub fn window(&self) -> Window {
        self.window
    }

    /// One full-size record; false if it could not be decoded.
    pub fn record(&mut self, raw: &[u8]) -> bool {
        match decode(raw) {
            Ok(rec) => {
                let ann = self.table.apply(&rec);
                // A kernel-thread record is told with the fork it precedes.
                if rec.event.kind() == EventKind::Kthread {
                    self.taps.folded(&rec);
                    return true;
                }
                if !self.window.contains(rec.boot_ns) {
                    self.formatter.unshown(&rec);
                    return true;
                }
                let shown = self.filter.matches(&rec, &ann);
                if shown {
                    self.formatter.record(&mut self.buf, &rec, &ann);
                } else {
                    self.formatter.unshown(&rec);
                }
                if !self.taps.is_empty() {
                    self.taps.event(&rec, &ann, shown);
                }
                true
            }
            Err(err) => {
                self.undecodable += 1;
                if self.undecodable <= 10 {
                    crate::say!("tracer: warning: skipped a bad record: {err}");
                }
                false
            }
        }
    }

    /// `count` records of kind `tag` were lost in the kernel.
    pub fn lost(&mut self, tag: u16, count: u64, boot_ns: u64, cause: LossCause) {
        let kind = EventKind::from_tag(tag);
        self.table.note_lost(kind);
        if !self.window.contains(boot_ns) {
            return;
        }
        self.taps.lost(kind, count, boot_ns);
        if self.lost == LostNotices::Inline
            && self.formatter.lost(&mut self.buf, kind, count, boot_ns)
        {
            return;
        }
        crate::say!(
            "tracer: warning: {count} {} events lost {}",
            kind.map_or("unknown", EventKind::name),
            cause.explain()
        );
    }

    /// The stream goes on in the next file of a rotated log, which starts
    /// with this snapshot: the table keeps what it knows and takes in only
    /// the tasks it lacks.
    pub fn next_file(
        &mut self,
        tasks: Vec<crate::model::procfs::ProcTask>,
        part: crate::log::header::Part,
    ) {
        self.taps.next_file(part, &tasks);
        self.table.merge_snapshot(tasks);
    }

    /// Records were lost whose kinds are unknown (a damaged stretch of a
    /// log).
    pub fn note_unknown_loss(&mut self) {
        self.table.note_lost(None);
    }

    /// A damaged stretch of a log, after the records up to `boot_ns`:
    /// taps that keep every row (Parquet) get a row for it.
    pub fn damaged(&mut self, what: &str, boot_ns: u64) {
        self.note_unknown_loss();
        if self.window.contains(boot_ns) {
            self.taps.damaged(what, boot_ns);
        }
    }

    /// Writes what is buffered. `Stop` when stdout is gone (e.g. `| head`).
    pub fn flush(&mut self) -> Flow {
        let res = self
            .out
            .write_all(&self.buf)
            .and_then(|()| self.out.flush());
        self.buf.clear();
        match res {
            Ok(()) => Flow::Continue,
            Err(e) if e.kind() == ErrorKind::BrokenPipe => Flow::Stop,
            Err(e) => {
                self.failed.get_or_insert(e);
                Flow::Stop
            }
        }
    }

    /// Bounds the buffer on a busy machine.
    pub fn flush_if_full(&mut self) -> Flow {
        if self.buf.len() >= FLUSH_AT {
            self.flush()
        } else {
            Flow::Continue
        }
    }

    /// The end-of-session summary, to stderr; an output error, if any.
    pub fn finish(mut self, counts: &Counts) -> Result<()> {
        self.formatter.end(&mut self.buf);
        let _ = self.flush();
        // The gauges as the stream ends (a log's tasks at its end).
        self.taps.tick(&self.table);
        let taps = std::mem::take(&mut self.taps).finish();
        crate::say!("{}", counts.summary());
        if let Some(hidden) = self.filter.hidden() {
            crate::say!("{hidden}");
        }
        if self.undecodable > 0 {
            crate::say!("tracer: skipped {} undecodable records", self.undecodable);
        }
        match self.failed {
            Some(e) => Err(anyhow::Error::new(e).context("writing output")),
            None => taps,
        }
    }
}

impl<W: Write> Sink for Pipeline<W> {
    fn record(&mut self, raw: &[u8]) -> Result<Flow> {
        Pipeline::record(self, raw);
        Ok(self.flush_if_full())
    }

    fn lost(&mut self, kind: EventKind, count: u64, boot_ns: u64, cause: LossCause) -> Result<()> {
        Pipeline::lost(self, kind.tag(), count, boot_ns, cause);
        Ok(())
    }

    fn flush(&mut self) -> Result<Flow> {
        Ok(Pipeline::flush(self))
    }

    fn tick(&mut self) -> Result<()> {
        self.taps.tick(&self.table);
        Ok(())
    }

    fn rings(&mut self, fill: &[RingFill]) {
        self.taps.rings(fill);
    }
}
