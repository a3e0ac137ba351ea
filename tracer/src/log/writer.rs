//! Writes a log: preamble, header frame, then one frame per record.

use std::{
    fs::{File, OpenOptions},
    io::{self, BufWriter, Write},
    os::unix::fs::OpenOptionsExt as _,
    path::Path,
};

use anyhow::Result;
use bytes::BufMut;

use super::{
    compact,
    crc32::crc32,
    frame::{
        END_PAYLOAD, FRAME_END, FRAME_EVENT, FRAME_HEAD, FRAME_HEADER, FRAME_LOST, LOG_VERSION,
        LOST_PAYLOAD, MAGIC, MAX_HEADER, PREAMBLE_LEN,
    },
    header::LogHeader,
};

pub struct LogWriter<W: Write> {
    out: W,
    written: u64,
    scratch: Vec<u8>,
    /// A record as stored (see `compact.rs`).
    compacted: Vec<u8>,
    /// The file may not grow past this (header and end frame included).
    limit: u64,
    /// The end frame is written.
    ended: bool,
}

/// An end frame's size: always kept free under the limit, so a full log
/// still ends cleanly.
const END_FRAME: u64 = (FRAME_HEAD + 1 + END_PAYLOAD) as u64;

/// The size limit cannot hold the preamble, the header and an end frame.
#[derive(Debug)]
pub struct HeaderTooLarge {
    pub needed: u64,
    pub limit: u64,
}

impl std::fmt::Display for HeaderTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a size limit of {} bytes cannot hold even the log's header and end ({} bytes here)",
            self.limit, self.needed
        )
    }
}

impl std::error::Error for HeaderTooLarge {}

/// Something already where a new log (or export) would go: tracer never
/// writes over a file nor through a link. Typed, so that a recorder picks
/// the next name, and said once, for what it is.
#[derive(Debug)]
pub struct InTheWay {
    pub path: std::path::PathBuf,
    /// A dangling symbolic link, rather than a file.
    pub link: bool,
}

impl std::fmt::Display for InTheWay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.link {
            write!(
                f,
                "{} is a dangling symbolic link; tracer never writes through a link: remove it \
                 or pick another name",
                self.path.display()
            )
        } else {
            write!(
                f,
                "{} already exists; tracer never overwrites a file: remove it or pick another \
                 name",
                self.path.display()
            )
        }
    }
}

impl std::error::Error for InTheWay {}

/// Creates `path` for a new log (or an export): mode 0600 (it holds
/// process names and arguments), and never over an existing file (nothing
/// recorded is lost): [`InTheWay`] says what is there.
pub fn create(path: &Path) -> Result<BufWriter<File>> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match std::fs::symlink_metadata(path) {
            Ok(meta) => anyhow::Error::new(InTheWay {
                path: path.to_path_buf(),
                link: meta.file_type().is_symlink() && !path.exists(),
            }),
            Err(_) => anyhow::Error::new(e).context(format!("creating {}", path.display())),
        })?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

/// Room a new file keeps past its header, so a record always fits in it.
pub const RECORD_ROOM: u64 = 64 << 10;

/// A file's size limit (at least `size`: more where the header and room
/// for a record take more) and a buffer that holds its preamble, header
/// and a record: the header goes to disk in one flush, which a full disk
/// can retry once the oldest logs give way.
pub fn header_room(header: &LogHeader, size: u64) -> (u64, usize) {
    let mut encoded = Vec::new();
    header.encode(&mut encoded);
    let head = (PREAMBLE_LEN + FRAME_HEAD + 1 + encoded.len()) as u64;
    let limit = size.max(head + RECORD_ROOM);
    let buffer = usize::try_from(head + RECORD_ROOM).unwrap_or(usize::MAX);
    (limit, buffer)
}

/// `file` (nothing written yet) with a buffer of `capacity` bytes at least.
pub fn rebuffer(file: BufWriter<File>, capacity: usize) -> io::Result<BufWriter<File>> {
    if file.capacity() >= capacity {
        return Ok(file);
    }
    let file = file.into_inner().map_err(|e| e.into_error())?;
    Ok(BufWriter::with_capacity(capacity, file))
}

impl<W: Write> LogWriter<W> {
    /// Starts a log: preamble and header.
    pub fn new(out: W, header: &LogHeader) -> io::Result<LogWriter<W>> {
        LogWriter::with_limit(out, header, u64::MAX)
    }

    /// Starts a log that never grows past `limit` bytes: records that would
    /// take it past (less room for the end frame) are refused, not written.
    pub fn with_limit(out: W, header: &LogHeader, limit: u64) -> io::Result<LogWriter<W>> {
        let mut w = LogWriter {
            out,
            written: 0,
            scratch: Vec::with_capacity(4096),
            compacted: Vec::with_capacity(1024),
            limit,
            ended: false,
        };
        let mut preamble = Vec::with_capacity(12);
        preamble.put_slice(MAGIC);
        preamble.put_u16_le(LOG_VERSION);
        preamble.put_u16_le(0);
        w.out.write_all(&preamble)?;
        w.written += preamble.len() as u64;
        let mut payload = Vec::new();
        header.encode(&mut payload);
        if 1 + payload.len() > MAX_HEADER as usize {
            return Err(io::Error::other(format!(
                "the start-up snapshot ({} tasks, {} bytes) exceeds the log's {} MiB frame limit",
                header.tasks.len(),
                payload.len(),
                MAX_HEADER >> 20
            )));
        }
        let needed = (PREAMBLE_LEN + FRAME_HEAD + 1 + payload.len()) as u64 + END_FRAME;
        if needed > limit {
            return Err(io::Error::other(HeaderTooLarge { needed, limit }));
        }
        w.frame(FRAME_HEADER, &payload)?;
        Ok(w)
    }

    /// Whether a frame of `payload` bytes fits under the limit.
    fn room_for(&self, payload: usize) -> bool {
        let frame = (FRAME_HEAD + 1 + payload) as u64;
        self.written.saturating_add(frame).saturating_add(END_FRAME) <= self.limit
    }

    fn frame(&mut self, kind: u8, payload: &[u8]) -> io::Result<()> {
        let len = 1 + payload.len() as u32;
        let crc = crc32(&[&[kind], payload]);
        self.scratch.clear();
        self.scratch.put_u32_le(len);
        self.scratch.put_u32_le(crc);
        self.scratch.put_u8(kind);
        // One write for a record: a full disk then leaves the frame all or
        // nothing in the buffer, so the same write can be tried again once
        // there is room. (A big header goes in two, not kept in scratch.)
        if payload.len() <= 64 << 10 {
            self.scratch.extend_from_slice(payload);
            self.out.write_all(&self.scratch)?;
        } else {
            self.out.write_all(&self.scratch)?;
            self.out.write_all(payload)?;
        }
        self.written += 9 + payload.len() as u64;
        Ok(())
    }

    /// One kernel ring-buffer record; the reader gives back the same
    /// record, with unused string space zeroed. `Ok(false)`: the size limit
    /// is reached and nothing was written.
    pub fn event(&mut self, raw: &[u8]) -> io::Result<bool> {
        let mut compacted = std::mem::take(&mut self.compacted);
        let stored = compact::compact(raw, &mut compacted);
        let res = match self.room_for(stored.len()) {
            true => self.frame(FRAME_EVENT, stored).map(|()| true),
            false => Ok(false),
        };
        self.compacted = compacted;
        res
    }

    /// `count` records of kind `tag` the kernel could not queue.
    /// `Ok(false)`: the size limit is reached and nothing was written.
    pub fn lost(&mut self, tag: u16, count: u64, boot_ns: u64) -> io::Result<bool> {
        if !self.room_for(LOST_PAYLOAD) {
            return Ok(false);
        }
        let mut p = [0u8; LOST_PAYLOAD];
        p[..2].copy_from_slice(&tag.to_le_bytes());
        p[2..10].copy_from_slice(&count.to_le_bytes());
        p[10..].copy_from_slice(&boot_ns.to_le_bytes());
        self.frame(FRAME_LOST, &p).map(|()| true)
    }

    /// Marks a clean end (a log without it was cut short). Tried again
    /// after a failed flush, it writes no second end.
    pub fn end(&mut self, boot_ns: u64) -> io::Result<()> {
        if !self.ended {
            self.frame(FRAME_END, &boot_ns.to_le_bytes())?;
            self.ended = true;
        }
        self.out.flush()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Bytes handed to the output so far.
    pub fn written(&self) -> u64 {
        self.written
    }
}

impl LogWriter<BufWriter<File>> {
    /// Flushes and asks the kernel to put the data on disk (fdatasync): what
    /// was recorded survives a power loss from here on.
    pub fn sync(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::procfs::ProcTask;

    fn no_space(e: &io::Error) -> bool {
        e.raw_os_error() == Some(libc::ENOSPC)
    }

    /// /dev/full: every write fails with ENOSPC.
    fn full_disk() -> BufWriter<File> {
        let file = OpenOptions::new().write(true).open("/dev/full").unwrap();
        BufWriter::with_capacity(1 << 20, file)
    }

    #[test]
    fn a_header_past_the_default_buffer_waits_whole_for_room() {
        let mut header = crate::log::header::tests::sample();
        let task = header.tasks[0].clone();
        // About 2 MiB of task table: past the 1 MiB buffer of a new file.
        header.tasks = (0..8000)
            .map(|pid| ProcTask {
                pid,
                argv: vec!["x".repeat(250)],
                ..task.clone()
            })
            .collect();
        let (limit, buffer) = header_room(&header, 1 << 20);
        assert!(
            buffer > 2 << 20 && limit == buffer as u64,
            "{limit} {buffer}"
        );
        // Before: the header went past the buffer, straight to a full disk,
        // where no retry could reach it.
        let direct = LogWriter::with_limit(full_disk(), &header, limit);
        assert!(direct.is_err_and(|e| no_space(&e)));
        // Now it is buffered whole; the flush fails, and can be retried.
        let file = rebuffer(full_disk(), buffer).unwrap();
        let mut log = LogWriter::with_limit(file, &header, limit).unwrap();
        for _ in 0..2 {
            assert!(log.flush().is_err_and(|e| no_space(&e)));
        }
    }
}
