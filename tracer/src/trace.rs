//! `tracer trace`: a live session that prints each event.

use std::io::{ErrorKind, Write};

use anyhow::Result;
use tracer_common::EventKind;

use crate::{
    decode::decode,
    filter::TraceFilter,
    output::{self, Format, Formatter},
    session::{self, Flow, SessionOptions, Sink},
    tasks::TaskTable,
};

pub struct TraceOptions {
    pub session: SessionOptions,
    pub format: Format,
    pub filter: TraceFilter,
}

/// Decodes, annotates, filters and formats records; shared with replay.
pub struct Printer<W: Write> {
    pub out: W,
    buf: Vec<u8>,
    formatter: Box<dyn Formatter>,
    pub table: TaskTable,
    filter: TraceFilter,
    pub undecodable: u64,
    /// A write to the output failed (other than the reader going away).
    pub failed: Option<std::io::Error>,
}

impl<W: Write> Printer<W> {
    pub fn new(
        out: W,
        formatter: Box<dyn Formatter>,
        table: TaskTable,
        filter: TraceFilter,
    ) -> Self {
        let mut p = Printer {
            out,
            buf: Vec::with_capacity(1 << 16),
            formatter,
            table,
            filter,
            undecodable: 0,
            failed: None,
        };
        p.formatter.begin(&mut p.buf);
        // Show the column titles now, not with the first event; a closed
        // stdout is noticed again at the next flush.
        let _ = p.flush();
        p
    }

    /// One raw record; false if it could not be decoded.
    pub fn record(&mut self, raw: &[u8]) -> bool {
        match decode(raw) {
            Ok(rec) => {
                let ann = self.table.apply(&rec);
                if self.filter.matches(&rec, &ann) {
                    self.formatter.record(&mut self.buf, &rec, &ann);
                }
                true
            }
            Err(err) => {
                self.undecodable += 1;
                if self.undecodable <= 10 {
                    eprintln!("tracer: warning: skipped a bad record: {err}");
                }
                false
            }
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

    /// A line of the caller's own, kept in order with the records.
    pub fn line(&mut self, line: &[u8]) {
        self.buf.extend_from_slice(line);
    }

    /// The end-of-session summary, to stderr; an output error, if any.
    pub fn finish(mut self, counts: &crate::session::Counts) -> Result<()> {
        let _ = self.flush();
        eprintln!("{}", counts.summary());
        if self.undecodable > 0 {
            eprintln!("tracer: skipped {} undecodable records", self.undecodable);
        }
        match self.failed {
            Some(e) => Err(anyhow::Error::new(e).context("writing output")),
            None => Ok(()),
        }
    }

    /// Bounds the buffer on a busy machine.
    pub fn flush_if_full(&mut self) -> Flow {
        if self.buf.len() >= 1 << 20 {
            self.flush()
        } else {
            Flow::Continue
        }
    }
}

impl<W: Write> Sink for Printer<W> {
    fn record(&mut self, raw: &[u8]) -> Result<Flow> {
        Printer::record(self, raw);
        Ok(self.flush_if_full())
    }

    fn lost(&mut self, kind: EventKind, count: u64, _boot_ns: u64) -> Result<()> {
        eprintln!(
            "tracer: warning: {count} {} events lost (ring buffer full); \
             a larger --ring-buffer-size or a filter helps",
            kind.name()
        );
        Ok(())
    }

    fn flush(&mut self) -> Result<Flow> {
        Ok(Printer::flush(self))
    }
}

pub async fn run(opts: TraceOptions) -> Result<()> {
    let (format, filter) = (opts.format, opts.filter);
    let (printer, counts, _) = session::run(opts.session, |start| {
        Ok(Printer::new(
            std::io::stdout().lock(),
            output::formatter(format, start.clock, crate::flags::PfNames::running()),
            start.table,
            filter,
        ))
    })
    .await?;
    printer.finish(&counts)
}
