//! Reads a log back: every intact frame, and where damage is.

use std::{fmt, io::Read, ops::Range, path::Path};

use super::{
    compact,
    crc32::crc32,
    frame::{
        END_PAYLOAD, FRAME_END, FRAME_EVENT, FRAME_HEAD, FRAME_HEADER, FRAME_LOST, LOG_VERSION,
        LOST_PAYLOAD, MAGIC, MAX_HEADER, PREAMBLE_LEN,
    },
    header::LogHeader,
    zst,
};

/// Why a file cannot be read as a log at all. Callers branch on these only
/// to word the error; all are fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    Io(String),
    Empty,
    NotALog,
    Newer {
        found: u16,
    },
    BadHeader(String),
    /// A compressed log whose frames holding the header are refused,
    /// damaged or cut (why).
    Compressed(String),
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
            OpenError::Compressed(why) => {
                write!(f, "the compressed log's header cannot be read: {why}")
            }
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
    /// A compressed log: `len` compressed bytes from `from` did not decode
    /// (why); what they held is lost, reading resumed after.
    Compressed { from: u64, len: u64, why: zst::Why },
    /// A compressed log held no intact record in `len` decompressed bytes
    /// from `offset`: decompressing stopped there (damage or a bomb).
    Abandoned { offset: u64, len: u64 },
    /// A compressed log's damaged stretches grew to `damaged` decompressed
    /// bytes from `compressed` bytes read: over [`zst::DAMAGE_RATIO`]
    /// times, decompressing stopped at the stretch from `offset`.
    Amplified {
        offset: u64,
        damaged: u64,
        compressed: u64,
    },
    /// Reading several files: one cannot be read at all (why).
    Unreadable(String),
    /// Reading several files: this many files of the recording are missing
    /// before the file `before` (their sequence numbers are not there).
    Missing { files: u32, before: String },
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
            Damage::Compressed {
                from,
                len,
                why: zst::Why::Checksum,
            } => write!(
                f,
                "the zstd frame of {len} compressed bytes at offset {from} fails its checksum; \
                 its records were read, each checked by its own"
            ),
            Damage::Compressed { from, len, why } => write!(
                f,
                "skipped {len} compressed bytes at offset {from} ({why}); the records they held \
                 are lost"
            ),
            Damage::Abandoned { offset, len } => write!(
                f,
                "no intact record in {len} decompressed bytes from offset {offset}: the rest of \
                 the compressed log was not read (damage, or a decompression bomb)"
            ),
            Damage::Amplified {
                offset,
                damaged,
                compressed,
            } => write!(
                f,
                "{damaged} damaged decompressed bytes from {compressed} compressed ones, over {} \
                 times as many: the rest of the compressed log from offset {offset} was not \
                 read (damage, or a decompression bomb)",
                zst::DAMAGE_RATIO
            ),
            Damage::Unreadable(why) => write!(f, "a log of the set is unreadable: {why}"),
            Damage::Missing { files, before } => write!(
                f,
                "{files} file{} of the recording before {before} {} missing: what {} held is \
                 unknown",
                if *files == 1 { "" } else { "s" },
                if *files == 1 { "is" } else { "are" },
                if *files == 1 { "it" } else { "they" }
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

impl DamagedInput {
    /// The damage of reading `inputs` as one stream: named by the input
    /// when there is one, else as the set (which file held the damage is
    /// in the warnings and the report).
    pub fn of(inputs: &[std::path::PathBuf], stretches: usize) -> DamagedInput {
        let path = match inputs {
            [one] => one.clone(),
            _ => format!("the {} inputs read as one", inputs.len()).into(),
        };
        DamagedInput { path, stretches }
    }
}

/// Where a log's bytes come from.
enum Source {
    Plain(Box<dyn Read>),
    /// Decompressed: at most [`zst::NO_RECORD_BUDGET`] bytes are read past
    /// the last intact record.
    Zstd(Box<zst::Decoder>),
}

impl Source {
    /// `src`, decompressed if it starts with a zstd frame.
    fn sniff(mut src: Box<dyn Read>) -> std::io::Result<Source> {
        let mut head = [0u8; zst::MAGIC.len()];
        let got = read_full(&mut src, &mut head)?;
        let src: Box<dyn Read> = Box::new(std::io::Cursor::new(head[..got].to_vec()).chain(src));
        Ok(if zst::is_compressed(&head[..got]) {
            Source::Zstd(Box::new(zst::Decoder::new(src)))
        } else {
            Source::Plain(src)
        })
    }

    /// Compressed bytes read so far, for a compressed source.
    fn consumed(&self) -> Option<u64> {
        match self {
            Source::Zstd(d) => Some(d.consumed()),
            Source::Plain(_) => None,
        }
    }

    fn decoder(&mut self) -> Option<&mut zst::Decoder> {
        match self {
            Source::Zstd(d) => Some(d),
            Source::Plain(_) => None,
        }
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Source::Plain(r) => r.read(buf),
            Source::Zstd(d) => d.read(buf),
        }
    }
}

pub struct LogReader {
    src: Source,
    /// A window on the file: `buf[pos..end]` is unread, `base` is the file
    /// offset of `buf[0]`.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    base: u64,
    eof: bool,
    done: bool,
    /// A truncation was reported (a compressed file's cut is said once).
    cut_said: bool,
    /// Bytes of the damaged stretches passed so far (bounded for a
    /// compressed source against the compressed bytes read).
    damaged: u64,
    /// Where a compacted event is restored to its full size.
    full: Box<[u8; compact::MAX_RECORD]>,
}

/// The window: large enough to scan with, small enough to bound memory
/// whatever the file holds.
const WINDOW: usize = 256 << 10;

/// The payload length a frame of `kind` may have. Lengths are checked
/// before checksums, so no stretch of bytes is checksummed more than a
/// record's worth: reading and resynchronizing stay linear in the file.
fn payload_len_ok(kind: u8, len: usize) -> bool {
    match kind {
        FRAME_EVENT => (1..=compact::MAX_RECORD).contains(&len),
        FRAME_LOST => len == LOST_PAYLOAD,
        FRAME_END => len == END_PAYLOAD,
        _ => false,
    }
}

/// Largest frame after the header: head, type byte, a whole record.
const MAX_BODY_FRAME: usize = FRAME_HEAD + 1 + compact::MAX_RECORD;

/// What kind of file `meta` is, for an error.
fn file_type(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

impl LogReader {
    /// Opens a regular file, plain or zstd-compressed; devices, FIFOs and
    /// sockets are refused before any read (they could block forever or
    /// never end).
    pub fn open(path: &Path) -> Result<(LogHeader, LogReader), OpenError> {
        // The caller names the path (`log::open`): the words here do not.
        let meta = std::fs::metadata(path).map_err(|e| OpenError::Io(e.to_string()))?;
        if !meta.is_file() {
            return Err(OpenError::Io(format!(
                "{}: tracer reads logs from regular files",
                file_type(&meta)
            )));
        }
        // A compressed log (`record --compress`) reads as the plain one.
        let file = std::fs::File::open(path).map_err(|e| OpenError::Io(e.to_string()))?;
        LogReader::from_reader(Box::new(file))
    }

    pub fn from_bytes(data: Vec<u8>) -> Result<(LogHeader, LogReader), OpenError> {
        LogReader::from_reader(Box::new(std::io::Cursor::new(data)))
    }

    /// Reads the preamble and header from `src`, plain or zstd-compressed;
    /// memory stays bounded by the header's size limit, whatever `src`
    /// holds.
    pub fn from_reader(src: Box<dyn Read>) -> Result<(LogHeader, LogReader), OpenError> {
        let mut src =
            Source::sniff(src).map_err(|e| OpenError::Io(format!("reading the log: {e}")))?;
        LogReader::from_source(&mut src).map_err(|e| match src.decoder() {
            // Say why the frames holding the header failed.
            Some(d) => match (d.take_skipped(u64::MAX), d.cut()) {
                (Some(skipped), _) => OpenError::Compressed(format!(
                    "at compressed byte {}, {}",
                    skipped.from, skipped.why
                )),
                (None, Some(cut)) => OpenError::Compressed(format!(
                    "the file is cut short at compressed byte {cut}, before the header ends"
                )),
                (None, None) => e,
            },
            None => e,
        })
    }

    fn from_source(src: &mut Source) -> Result<(LogHeader, LogReader), OpenError> {
        let io = |e: std::io::Error| OpenError::Io(format!("reading the log: {e}"));
        let mut preamble = [0u8; PREAMBLE_LEN + FRAME_HEAD];
        let got = read_full(src, &mut preamble).map_err(io)?;
        if got == 0 {
            return Err(OpenError::Empty);
        }
        if got < MAGIC.len() || &preamble[..MAGIC.len()] != MAGIC {
            return Err(OpenError::NotALog);
        }
        if got < PREAMBLE_LEN {
            return Err(OpenError::BadHeader("the file ends in the preamble".into()));
        }
        let version = u16::from_le_bytes([preamble[8], preamble[9]]);
        if version > LOG_VERSION {
            return Err(OpenError::Newer { found: version });
        }
        if version == 0 {
            return Err(OpenError::BadHeader(
                "log version 0 was never written".into(),
            ));
        }
        if got < preamble.len() {
            return Err(OpenError::BadHeader("checksum or length is wrong".into()));
        }
        let head = &preamble[PREAMBLE_LEN..];
        let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
        if len == 0 || len > MAX_HEADER as usize {
            return Err(OpenError::BadHeader(format!(
                "it claims {len} bytes; a header holds 1 to {MAX_HEADER}"
            )));
        }
        // Grows as bytes arrive: a short file never costs the claimed size.
        let mut body = Vec::new();
        (&mut *src)
            .take(len as u64)
            .read_to_end(&mut body)
            .map_err(io)?;
        if body.len() < len || crc32(&[&body]) != crc {
            return Err(OpenError::BadHeader("checksum or length is wrong".into()));
        }
        if body[0] != FRAME_HEADER {
            return Err(OpenError::BadHeader(
                "the first frame is not a header".into(),
            ));
        }
        let header = LogHeader::decode(&body[1..], version)
            .map_err(|e| OpenError::BadHeader(format!("{} is short", e.0)))?;
        drop(body);
        // The header is read: the rest of the source goes to the reader.
        let src = std::mem::replace(src, Source::Plain(Box::new(std::io::empty())));
        let reader = LogReader {
            src,
            buf: vec![0; WINDOW],
            pos: 0,
            end: 0,
            base: (PREAMBLE_LEN + FRAME_HEAD + len) as u64,
            eof: false,
            done: false,
            cut_said: false,
            damaged: 0,
            full: compact::expand_buffer(),
        };
        Ok((header, reader))
    }

    /// Makes at least `n` unread bytes available, unless the file ends
    /// first; returns how many are.
    fn fill(&mut self, n: usize) -> usize {
        if self.end - self.pos >= n || self.eof {
            return self.end - self.pos;
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        while self.end < n.min(self.buf.len()) {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(got) => self.end += got,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // A read error ends the file here: what follows reads as
                // a truncation at this offset.
                Err(_) => {
                    self.eof = true;
                    break;
                }
            }
        }
        self.end - self.pos
    }

    /// The intact frame `at` bytes past `pos`, if one is there: (type,
    /// payload range in `buf`, frame length). Needs the frame in the window.
    fn frame_at(&self, at: usize) -> Option<(u8, Range<usize>, usize)> {
        let start = self.pos + at;
        let head = self.buf.get(start..start + FRAME_HEAD + 1)?;
        let len = u32::from_le_bytes(head[..4].try_into().ok()?) as usize;
        let crc = u32::from_le_bytes(head[4..8].try_into().ok()?);
        let kind = head[8];
        if len == 0 || !payload_len_ok(kind, len - 1) {
            return None;
        }
        let body = self.buf[..self.end].get(start + FRAME_HEAD..start + FRAME_HEAD + len)?;
        if crc32(&[body]) != crc {
            return None;
        }
        Some((
            kind,
            start + FRAME_HEAD + 1..start + FRAME_HEAD + len,
            FRAME_HEAD + len,
        ))
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

    /// Whether [`LogReader::next`] has anything more to give.
    pub fn has_more(&mut self) -> bool {
        if !self.done && self.fill(MAX_BODY_FRAME) > 0 {
            return true;
        }
        let cut_said = self.cut_said;
        self.src
            .decoder()
            .is_some_and(|d| d.has_skipped() || (d.cut().is_some() && !cut_said))
    }

    /// Damage the decompressor met, once reading reaches where it is (or
    /// the end, `at_end`).
    fn compressed_damage(&mut self, at_end: bool) -> Option<Damage> {
        let here = self.base + self.pos as u64;
        let d = self.src.decoder()?;
        if let Some(s) = d.take_skipped(if at_end { u64::MAX } else { here }) {
            return Some(Damage::Compressed {
                from: s.from,
                len: s.len,
                why: s.why,
            });
        }
        // A cut at a record boundary: nothing else says it.
        if at_end && d.cut().is_some() && !self.cut_said {
            self.cut_said = true;
            return Some(Damage::Truncated { offset: here });
        }
        None
    }

    /// For a compressed source whose damage so far (`self.damaged` and
    /// `more` bytes of the stretch from `start`) is over
    /// [`zst::DAMAGE_RATIO`] times the compressed bytes read (beyond
    /// [`zst::NO_RECORD_BUDGET`]): the damage that ends reading there.
    fn amplified(&mut self, start: u64, more: u64) -> Option<Damage> {
        let compressed = self.src.consumed()?;
        let damaged = self.damaged + more;
        if damaged <= zst::NO_RECORD_BUDGET + zst::DAMAGE_RATIO * compressed {
            return None;
        }
        self.done = true;
        Some(Damage::Amplified {
            offset: start,
            damaged,
            compressed,
        })
    }

    /// The next intact item, or the damage met on the way to it.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<Item<'_>, Damage>> {
        let left = if self.done {
            0
        } else {
            self.fill(MAX_BODY_FRAME)
        };
        if let Some(damage) = self.compressed_damage(left == 0) {
            return Some(Err(damage));
        }
        if left == 0 {
            return None;
        }
        if let Some((kind, payload, len)) = self.frame_at(0) {
            self.pos += len;
            let payload = &self.buf[payload];
            return Some(Ok(match kind {
                FRAME_EVENT => Item::Event(compact::expand(payload, &mut self.full)),
                _ => LogReader::item(kind, payload).expect("lengths checked"),
            }));
        }
        // Resynchronize on the next intact frame. Each offset is looked at
        // once, with at most a record's worth of checksum.
        // Decompressed input is bounded by what it can hold: a stretch of
        // no record ends it (a bomb costs the budget, not its size).
        let start = self.base + self.pos as u64;
        let budget = match self.src {
            Source::Zstd(_) => zst::NO_RECORD_BUDGET,
            Source::Plain(_) => u64::MAX,
        };
        self.pos += 1;
        loop {
            if self.fill(MAX_BODY_FRAME) == 0 {
                break;
            }
            let scanned = self.base + self.pos as u64 - start;
            if self.frame_at(0).is_some() {
                self.damaged += scanned;
                // Checked on the running total at every stretch's end:
                // short stretches between records add up too.
                if let Some(over) = self.amplified(start, 0) {
                    return Some(Err(over));
                }
                return Some(Err(Damage::Corrupt {
                    offset: start,
                    len: scanned,
                }));
            }
            if scanned >= budget {
                self.done = true;
                return Some(Err(Damage::Abandoned {
                    offset: start,
                    len: budget,
                }));
            }
            // Stretches add up: a record now and then must not let a bomb
            // grow its damage with the size it claims. Also checked inside
            // a long stretch, so it stops before the stretch's budget.
            if scanned.is_multiple_of(64 << 10) {
                if let Some(over) = self.amplified(start, scanned) {
                    return Some(Err(over));
                }
            }
            self.pos += 1;
        }
        self.done = true;
        self.cut_said = true;
        Some(Err(Damage::Truncated { offset: start }))
    }
}

/// Reads until `buf` is full or the input ends; the count read.
fn read_full(src: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match src.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use ruzstd::encoding::{compress_to_vec, CompressionLevel};

    use super::*;

    /// One zstd frame of `data`.
    fn pack(data: &[u8]) -> Vec<u8> {
        compress_to_vec(data, CompressionLevel::Fastest)
    }

    /// Bounded random fuzzing of compressed logs through the log reader:
    /// flipped, cut and spliced frames never panic (ruzstd's decoder
    /// included). Runs in every test run.
    #[test]
    fn random_damage_to_compressed_logs_never_panics() {
        use crate::log::{header::tests::sample, writer::LogWriter, zst::MAGIC};
        let mut log = Vec::new();
        let mut w = LogWriter::new(&mut log, &sample()).unwrap();
        for i in 0..400usize {
            let raw: Vec<u8> = (0..(8 + i % 90)).map(|b| (b * 7 + i) as u8).collect();
            w.event(&raw).unwrap();
        }
        w.end(1).unwrap();
        drop(w);
        // Frames of 4 KiB of log, so a mutation meets frame boundaries.
        let base: Vec<u8> = log.chunks(4096).flat_map(pack).collect();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: usize| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1) as u64) as usize
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let mut rounds = 0;
        while rounds < 5000 && std::time::Instant::now() < deadline {
            let mut bytes = base.clone();
            match next(4) {
                0 => {
                    for _ in 0..1 + next(8) {
                        let i = next(bytes.len());
                        bytes[i] = next(256) as u8;
                    }
                }
                1 => bytes.truncate(next(bytes.len())),
                2 => {
                    let at = next(bytes.len());
                    let junk: Vec<u8> = (0..next(64)).map(|_| next(256) as u8).collect();
                    bytes.splice(at..at, junk);
                }
                _ => {
                    let at = next(bytes.len());
                    bytes.splice(at..at, MAGIC);
                }
            }
            if let Ok((_, mut r)) = LogReader::from_bytes(bytes) {
                while r.next().is_some() {}
            }
            rounds += 1;
        }
        assert!(rounds > 100, "only {rounds} rounds ran");
    }
}
