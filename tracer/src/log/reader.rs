//! Reads a log back: every intact frame, and where damage is.

use std::{fmt, ops::Range, path::Path};

use super::{
    compact, crc32::crc32, header::LogHeader, FRAME_END, FRAME_EVENT, FRAME_HEAD, FRAME_HEADER,
    FRAME_LOST, LOG_VERSION, MAGIC, PREAMBLE_LEN,
};

/// Why a file cannot be read as a log at all. Callers branch on these only
/// to word the error; all are fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    Io(String),
    Empty,
    NotALog,
    Newer { found: u16 },
    BadHeader(String),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Io(e) => f.write_str(e),
            OpenError::Empty => f.write_str("the file is empty: not a tracer log"),
            OpenError::NotALog => f.write_str("not a tracer log (no TRACERLG magic)"),
            OpenError::Newer { found } => write!(
                f,
                "a tracer log of format version {found}; this tracer reads version \
                 {LOG_VERSION} and older: use a newer tracer"
            ),
            OpenError::BadHeader(why) => write!(f, "the log header is damaged ({why})"),
        }
    }
}

impl std::error::Error for OpenError {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<'a> {
    /// A kernel ring-buffer record, at its full size as the kernel wrote it.
    Event(&'a [u8]),
    Lost {
        tag: u16,
        count: u64,
        boot_ns: u64,
    },
    End {
        boot_ns: u64,
    },
}

/// A stretch of the file that held no intact frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// Bytes from `offset` for `len` were skipped; reading resumed after.
    Corrupt { offset: u64, len: u64 },
    /// The file ends inside a frame at `offset` (cut short: power loss,
    /// disk full, a copy in progress).
    Truncated { offset: u64 },
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::Corrupt { offset, len } => {
                write!(f, "skipped {len} damaged bytes at offset {offset}")
            }
            Damage::Truncated { offset } => write!(
                f,
                "the log is cut short: damage starts at byte offset {offset}; every complete \
                 record before it was read"
            ),
        }
    }
}

/// A log read to its end that held damage: the caller has shown everything
/// intact and exits with [`EXIT_DAMAGED`], so scripts can tell a damaged
/// log from a whole one (and from a hard error).
#[derive(Debug)]
pub struct DamagedInput {
    pub path: std::path::PathBuf,
    /// Damaged stretches met.
    pub stretches: usize,
}

/// Exit status for [`DamagedInput`].
pub const EXIT_DAMAGED: u8 = 4;

impl fmt::Display for DamagedInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: damaged ({} stretch{}); every intact record was read",
            self.path.display(),
            self.stretches,
            if self.stretches == 1 { "" } else { "es" }
        )
    }
}

impl std::error::Error for DamagedInput {}

pub struct LogReader {
    data: Vec<u8>,
    pos: usize,
    done: bool,
    /// Where a compacted event is restored to its full size.
    full: Box<[u8; compact::MAX_RECORD]>,
}

/// Event frames are small; a resync candidate claiming more is skipped
/// without checksumming it, which keeps scanning damaged bytes linear.
const MAX_RESYNC_FRAME: usize = 64 << 10;

impl LogReader {
    pub fn open(path: &Path) -> Result<(LogHeader, LogReader), OpenError> {
        if path.is_dir() {
            return Err(OpenError::Io(format!("{} is a directory", path.display())));
        }
        let data = std::fs::read(path)
            .map_err(|e| OpenError::Io(format!("reading {}: {e}", path.display())))?;
        LogReader::from_bytes(data)
    }

    pub fn from_bytes(data: Vec<u8>) -> Result<(LogHeader, LogReader), OpenError> {
        if data.is_empty() {
            return Err(OpenError::Empty);
        }
        if data.len() < PREAMBLE_LEN || &data[..8] != MAGIC {
            return Err(OpenError::NotALog);
        }
        let version = u16::from_le_bytes([data[8], data[9]]);
        if version > LOG_VERSION {
            return Err(OpenError::Newer { found: version });
        }
        if version == 0 {
            return Err(OpenError::BadHeader(
                "log version 0 was never written".into(),
            ));
        }
        let mut reader = LogReader {
            data,
            pos: PREAMBLE_LEN,
            done: false,
            full: compact::expand_buffer(),
        };
        let header = match reader.frame_at(PREAMBLE_LEN, usize::MAX) {
            Some((FRAME_HEADER, payload, next)) => {
                let header = LogHeader::decode(&reader.data[payload], version)
                    .map_err(|e| OpenError::BadHeader(format!("{} is short", e.0)))?;
                reader.pos = next;
                header
            }
            Some(_) => {
                return Err(OpenError::BadHeader(
                    "the first frame is not a header".into(),
                ))
            }
            None => return Err(OpenError::BadHeader("checksum or length is wrong".into())),
        };
        Ok((header, reader))
    }

    /// The intact frame at `at`: (type, payload range, next offset).
    fn frame_at(&self, at: usize, max_len: usize) -> Option<(u8, Range<usize>, usize)> {
        let head = self.data.get(at..at + FRAME_HEAD)?;
        let len = u32::from_le_bytes(head[..4].try_into().ok()?) as usize;
        let crc = u32::from_le_bytes(head[4..].try_into().ok()?);
        if len == 0 || len > max_len.min(super::MAX_FRAME as usize) {
            return None;
        }
        let body = self.data.get(at + FRAME_HEAD..at + FRAME_HEAD + len)?;
        if crc32(&[body]) != crc {
            return None;
        }
        let next = at + FRAME_HEAD + len;
        Some((body[0], at + FRAME_HEAD + 1..next, next))
    }

    fn item(kind: u8, payload: &[u8]) -> Option<Item<'_>> {
        let u64_at = |o: usize| Some(u64::from_le_bytes(payload.get(o..o + 8)?.try_into().ok()?));
        match kind {
            FRAME_EVENT => Some(Item::Event(payload)),
            FRAME_LOST => Some(Item::Lost {
                tag: u16::from_le_bytes(payload.get(..2)?.try_into().ok()?),
                count: u64_at(2)?,
                boot_ns: u64_at(10)?,
            }),
            FRAME_END => Some(Item::End {
                boot_ns: u64_at(0)?,
            }),
            _ => None,
        }
    }

    /// The next intact item, or the damage met on the way to it.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<Item<'_>, Damage>> {
        if self.done || self.pos >= self.data.len() {
            return None;
        }
        let start = self.pos;
        if let Some((kind, payload, next)) = self.frame_at(start, usize::MAX) {
            self.pos = next;
            let payload = &self.data[payload];
            let item = match kind {
                FRAME_EVENT => Some(Item::Event(compact::expand(payload, &mut self.full))),
                _ => LogReader::item(kind, payload),
            };
            return Some(match item {
                Some(item) => Ok(item),
                // An intact frame of a type this tracer does not know.
                None => Err(Damage::Corrupt {
                    offset: start as u64,
                    len: (next - start) as u64,
                }),
            });
        }
        // Resynchronize on the next intact frame of a known type.
        for at in start + 1..self.data.len() {
            if let Some((kind, payload, _)) = self.frame_at(at, MAX_RESYNC_FRAME) {
                if LogReader::item(kind, &self.data[payload]).is_some() {
                    self.pos = at;
                    return Some(Err(Damage::Corrupt {
                        offset: start as u64,
                        len: (at - start) as u64,
                    }));
                }
            }
        }
        self.done = true;
        Some(Err(Damage::Truncated {
            offset: start as u64,
        }))
    }
}
