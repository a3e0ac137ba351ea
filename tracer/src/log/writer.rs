//! Writes a log: preamble, header frame, then one frame per record.

use std::{
    fs::{File, OpenOptions},
    io::{self, BufWriter, Write},
    os::unix::fs::OpenOptionsExt as _,
    path::Path,
};

use anyhow::{Context as _, Result};
use bytes::BufMut;

use super::{
    compact, crc32::crc32, header::LogHeader, FRAME_END, FRAME_EVENT, FRAME_HEADER, FRAME_LOST,
    LOG_VERSION, MAGIC, MAX_FRAME,
};

pub struct LogWriter<W: Write> {
    out: W,
    written: u64,
    scratch: Vec<u8>,
    /// A record as stored (see `compact.rs`).
    compacted: Vec<u8>,
}

/// Creates `path` for a new log: mode 0600 (it holds process names and
/// arguments), and never over an existing file (nothing recorded is lost).
pub fn create(path: &Path) -> Result<BufWriter<File>> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| match path.exists() {
            true => format!(
                "{} already exists; tracer never overwrites a log: remove it or pick another name",
                path.display()
            ),
            false => format!("creating {}", path.display()),
        })?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

impl<W: Write> LogWriter<W> {
    /// Starts a log: preamble and header.
    pub fn new(out: W, header: &LogHeader) -> io::Result<LogWriter<W>> {
        let mut w = LogWriter {
            out,
            written: 0,
            scratch: Vec::with_capacity(4096),
            compacted: Vec::with_capacity(1024),
        };
        let mut preamble = Vec::with_capacity(12);
        preamble.put_slice(MAGIC);
        preamble.put_u16_le(LOG_VERSION);
        preamble.put_u16_le(0);
        w.out.write_all(&preamble)?;
        w.written += preamble.len() as u64;
        let mut payload = Vec::new();
        header.encode(&mut payload);
        if payload.len() >= MAX_FRAME as usize {
            return Err(io::Error::other(format!(
                "the start-up snapshot ({} tasks, {} bytes) exceeds the log's {} MiB frame limit",
                header.tasks.len(),
                payload.len(),
                MAX_FRAME >> 20
            )));
        }
        w.frame(FRAME_HEADER, &payload)?;
        Ok(w)
    }

    fn frame(&mut self, kind: u8, payload: &[u8]) -> io::Result<()> {
        let len = 1 + payload.len() as u32;
        let crc = crc32(&[&[kind], payload]);
        self.scratch.clear();
        self.scratch.put_u32_le(len);
        self.scratch.put_u32_le(crc);
        self.scratch.put_u8(kind);
        self.out.write_all(&self.scratch)?;
        self.out.write_all(payload)?;
        self.written += 9 + payload.len() as u64;
        Ok(())
    }

    /// One kernel ring-buffer record; the reader gives back the same
    /// record, with unused string space zeroed.
    pub fn event(&mut self, raw: &[u8]) -> io::Result<()> {
        let mut compacted = std::mem::take(&mut self.compacted);
        let res = self.frame(FRAME_EVENT, compact::compact(raw, &mut compacted));
        self.compacted = compacted;
        res
    }

    /// `count` records of kind `tag` the kernel could not queue.
    pub fn lost(&mut self, tag: u16, count: u64, boot_ns: u64) -> io::Result<()> {
        let mut p = [0u8; 18];
        p[..2].copy_from_slice(&tag.to_le_bytes());
        p[2..10].copy_from_slice(&count.to_le_bytes());
        p[10..].copy_from_slice(&boot_ns.to_le_bytes());
        self.frame(FRAME_LOST, &p)
    }

    /// Marks a clean end (a log without it was cut short).
    pub fn end(&mut self, boot_ns: u64) -> io::Result<()> {
        self.frame(FRAME_END, &boot_ns.to_le_bytes())?;
        self.out.flush()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Bytes handed to the writer so far.
    pub fn written(&self) -> u64 {
        self.written
    }
}
