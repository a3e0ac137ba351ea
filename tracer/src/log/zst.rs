//! zstd for finished logs: written by `record --compress` after a file is
//! done, read transparently by every reader. Pure Rust (`ruzstd`): the
//! binary is built static with no C toolchain.
//!
//! tracer writes a compressed log as a sequence of independent frames of
//! [`FRAME_LOG`] bytes of log each (as zstd's seekable format does), so
//! damage costs the frame it hits, not the rest of the file. The reader
//! takes any sequence of frames (a single one from older tracers, files
//! compressed and concatenated by the zstd command), decodes block by
//! block in bounded memory, refuses frames asking for more than
//! [`MAX_WINDOW`], keeps what a damaged or cut frame decoded before the
//! damage, and resumes at the next frame's magic.
//!
//! ruzstd implements only its "fastest" level (about zstd's level 1), which
//! is also the one that keeps up with a recording.

use std::{
    collections::VecDeque,
    fmt,
    fs::{File, OpenOptions},
    io::{self, BufRead, BufReader, BufWriter, Read, Write},
    os::unix::fs::OpenOptionsExt as _,
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
};

use ruzstd::{
    decoding::{errors::FrameDecoderError, BlockDecodingStrategy, FrameDecoder},
    encoding::{CompressionLevel, FrameCompressor},
};

/// The first bytes of a zstd frame.
pub const MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The largest window a frame may ask for: what the zstd command writes up
/// to level 19 without `--long`, so logs compressed by tracer or by zstd
/// read, and no frame makes the reader hold more.
pub const MAX_WINDOW: u64 = 8 << 20;

/// Bytes of log in each frame tracer writes: what one damaged frame costs.
///
/// That a damaged frame costs only itself rests on each frame decoding on
/// its own: the one compressor tracer reuses for every frame clears its
/// match window and Huffman table at each frame, and (ruzstd 0.9) never
/// chooses the repeat-table mode of sequences, whose table it keeps from
/// frame to frame. A ruzstd that did would make frames that read only
/// after the one before: `a_middle_frame_decodes_on_its_own` checks it.
pub const FRAME_LOG: u64 = 1 << 20;

/// Decompressed bytes that may go by without one intact record before the
/// reader stops decompressing a file (damage, or a decompression bomb): per
/// file, across frames.
pub const NO_RECORD_BUDGET: u64 = 1 << 20;

/// Damaged decompressed bytes a compressed log may yield per compressed
/// byte read (beyond [`NO_RECORD_BUDGET`]), all stretches together: real
/// logs compress 7 to 25 times, so real damage stays far below it, while a
/// bomb with a record now and then stops early.
pub const DAMAGE_RATIO: u64 = 256;

/// A last, empty raw block (and room for a checksum): ends a frame whose
/// next block cannot be decoded, so the blocks before it can be drained.
const END_BLOCK: [u8; 7] = [1, 0, 0, 0, 0, 0, 0];

/// Skippable frames (user data, seek tables) have these magic numbers.
const SKIPPABLE: std::ops::RangeInclusive<u32> = 0x184D_2A50..=0x184D_2A5F;

/// Whether `head` (a file's first bytes) starts a zstd frame.
pub fn is_compressed(head: &[u8]) -> bool {
    head.starts_with(&MAGIC)
}

/// Why a stretch of compressed bytes yielded nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// A frame asked for this window, over [`MAX_WINDOW`].
    Window(u64),
    /// A frame that needs a dictionary tracer does not have.
    Dictionary,
    /// A frame or block that does not decode.
    Damaged,
    /// Bytes between frames that start no frame.
    NotZstd,
    /// A frame that decoded but fails its checksum: its records were
    /// read (each has its own checksum), the damage is elsewhere in it.
    Checksum,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Window(w) => write!(
                f,
                "a zstd frame asks for a {} MiB window and tracer reads frames of at most {} \
                 MiB: recompress it without --long",
                w.div_ceil(1 << 20),
                MAX_WINDOW >> 20
            ),
            Why::Dictionary => f.write_str("a zstd frame needs a dictionary"),
            Why::Damaged => f.write_str("a damaged zstd frame"),
            Why::NotZstd => f.write_str("bytes that are no zstd frame"),
            Why::Checksum => f.write_str("a zstd frame that fails its checksum"),
        }
    }
}

/// A stretch of the compressed file that yielded nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Where in the decompressed stream what it held would have been.
    pub at: u64,
    /// Compressed offset and length.
    pub from: u64,
    pub len: u64,
    pub why: Why,
}

/// How many skipped stretches wait at most for the reader: more, read
/// ahead of it, merge into the last (memory stays bounded).
const MAX_QUEUED: usize = 64;

/// Most bytes kept for reading again: a block (at most 128 KiB), its
/// header and a checksum, with room to spare.
const MAX_KEPT: usize = 256 << 10;

/// A buffered reader that knows its offset in the file, and can read the
/// bytes of a block that failed again (from its second byte).
struct Counted {
    inner: BufReader<Box<dyn Read>>,
    /// The offset of the next byte read.
    pos: u64,
    /// `again[again_at..]` is read before `inner`'s bytes.
    again: Vec<u8>,
    again_at: usize,
    /// While `keeping`, what is read is kept here.
    kept: Vec<u8>,
    keeping: bool,
}

impl BufRead for Counted {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.again_at < self.again.len() {
            return Ok(&self.again[self.again_at..]);
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if self.again_at < self.again.len() {
            self.again_at += n;
        } else {
            self.inner.consume(n);
        }
        self.pos += n as u64;
    }
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let got = self.fill_buf()?;
        let n = got.len().min(buf.len());
        buf[..n].copy_from_slice(&got[..n]);
        if self.keeping {
            self.kept.extend_from_slice(&buf[..n]);
            if self.kept.len() > MAX_KEPT {
                self.keeping = false;
            }
        }
        self.consume(n);
        Ok(n)
    }
}

impl Counted {
    fn at_end(&mut self) -> io::Result<bool> {
        Ok(self.fill_buf()?.is_empty())
    }

    /// Compressed bytes read from the file so far.
    fn drawn(&self) -> u64 {
        self.pos + (self.again.len() - self.again_at) as u64
    }

    /// Keeps what is read from here (a block), unless these bytes are
    /// read again already: no byte is read more than twice, so reading
    /// stays linear in the file.
    fn keep(&mut self) {
        self.kept.clear();
        self.keeping = self.again_at >= self.again.len();
    }

    /// Reads again, from the byte after `from`, what was read since
    /// [`Counted::keep`] at `from` (if it was kept whole).
    fn again_after(&mut self, from: u64) {
        if !std::mem::take(&mut self.keeping) || self.kept.len() < 2 {
            return;
        }
        debug_assert_eq!(from + self.kept.len() as u64, self.pos);
        std::mem::swap(&mut self.again, &mut self.kept);
        self.again_at = 1;
        self.pos = from + 1;
    }

    /// Consumes up to and including the next frame magic; its offset, or
    /// `None` at the end of the file. Linear: each byte is looked at once.
    /// `matched`: how many of the magic's bytes the bytes just before
    /// ended with.
    fn find_magic(&mut self, mut matched: usize) -> io::Result<Option<u64>> {
        loop {
            let buf = self.fill_buf()?;
            if buf.is_empty() {
                return Ok(None);
            }
            let mut used = buf.len();
            for (i, &b) in buf.iter().enumerate() {
                matched = step(matched, b);
                if matched == MAGIC.len() {
                    used = i + 1;
                    break;
                }
            }
            self.consume(used);
            if matched == MAGIC.len() {
                return Ok(Some(self.pos - MAGIC.len() as u64));
            }
        }
    }
}

/// The magic matched so far after byte `b`, `matched` bytes before it.
fn step(matched: usize, b: u8) -> usize {
    // The magic's bytes are all different: a mismatch can only restart a
    // match at its first byte.
    if b == MAGIC[matched] {
        matched + 1
    } else {
        usize::from(b == MAGIC[0])
    }
}

enum State {
    /// At a frame boundary.
    Between,
    /// Decoding a frame.
    InFrame,
    /// Handing out what a frame decoded before damage at `from` (a
    /// compressed offset), then skipping to the next frame; `cut`: the
    /// file ended inside the bad block (a cut, unless a frame starts in
    /// it).
    Draining {
        from: u64,
        cut: bool,
    },
    Ended,
}

/// The decompressed bytes of a sequence of zstd frames, read in bounded
/// memory; stretches that do not decode are skipped and queued for the
/// log reader to report ([`Decoder::take_skipped`]).
pub struct Decoder {
    src: Counted,
    frame: FrameDecoder,
    state: State,
    /// Decompressed bytes handed out.
    out: u64,
    skipped: VecDeque<Skipped>,
    /// The compressed offset where the file ends inside a frame.
    cut: Option<u64>,
    /// Where the frame being decoded starts.
    frame_from: u64,
}

impl Decoder {
    /// Decodes `src`, which starts with a frame (see [`is_compressed`]).
    pub fn new(src: Box<dyn Read>) -> Decoder {
        let mut frame = FrameDecoder::new();
        frame.set_max_window_size(MAX_WINDOW);
        Decoder {
            src: Counted {
                inner: BufReader::with_capacity(128 << 10, src),
                pos: 0,
                again: Vec::new(),
                again_at: 0,
                kept: Vec::new(),
                keeping: false,
            },
            frame,
            state: State::Between,
            out: 0,
            skipped: VecDeque::new(),
            cut: None,
            frame_from: 0,
        }
    }

    /// The next skipped stretch that lies at or before decompressed offset
    /// `upto`.
    pub fn take_skipped(&mut self, upto: u64) -> Option<Skipped> {
        if self.skipped.front()?.at <= upto {
            self.skipped.pop_front()
        } else {
            None
        }
    }

    /// Compressed bytes read so far.
    pub fn consumed(&self) -> u64 {
        self.src.drawn()
    }

    /// Whether skipped stretches wait to be reported.
    pub fn has_skipped(&self) -> bool {
        !self.skipped.is_empty()
    }

    /// Whether the file ended inside a frame (once read to its end).
    pub fn cut(&self) -> Option<u64> {
        self.cut
    }

    fn skip(&mut self, from: u64, to: u64, why: Why) {
        let at = self.out;
        // Stretches of one kind with nothing decoded between them are one
        // (a run of bad frames is one damaged stretch, however many
        // frames). Kinds stay apart: a checksum stretch says its records
        // were read, a damaged one that they are lost.
        let full = self.skipped.len() >= MAX_QUEUED;
        if let Some(last) = self.skipped.back_mut() {
            if (last.at == at && last.why == why) || full {
                last.len = to - last.from;
                // Merged for memory: never claim lost records were read.
                if last.why == Why::Checksum {
                    last.why = why;
                }
                return;
            }
        }
        self.skipped.push_back(Skipped {
            at,
            from,
            len: to - from,
            why,
        });
    }

    /// Skips from `from` to the next frame, which it starts; `matched` as
    /// for [`Counted::find_magic`]; `cut`: no next frame means the file
    /// is cut at `from`.
    fn resync(&mut self, from: u64, why: Why, matched: usize, cut: bool) -> io::Result<()> {
        match self.src.find_magic(matched)? {
            Some(at) => {
                self.skip(from, at, why);
                self.start_frame(at)
            }
            None if cut => {
                self.cut = Some(from);
                self.state = State::Ended;
                Ok(())
            }
            None => {
                self.skip(from, self.src.pos, why);
                self.state = State::Ended;
                Ok(())
            }
        }
    }

    /// Starts the frame at `from`, whose magic was just read.
    fn start_frame(&mut self, from: u64) -> io::Result<()> {
        // Header errors are rare and cheap (a few bytes read): a loop of
        // them still moves forward through the file.
        let mut from = from;
        loop {
            let why = match self.frame.reset((&MAGIC[..]).chain(&mut self.src)) {
                Ok(()) => {
                    self.state = State::InFrame;
                    self.frame_from = from;
                    return Ok(());
                }
                Err(FrameDecoderError::WindowSizeTooBig { requested, .. }) => {
                    Why::Window(requested)
                }
                Err(FrameDecoderError::DictNotProvided { .. }) => Why::Dictionary,
                Err(_) => Why::Damaged,
            };
            if self.src.at_end()? {
                self.cut = Some(from);
                self.state = State::Ended;
                return Ok(());
            }
            match self.src.find_magic(0)? {
                Some(next) => {
                    self.skip(from, next, why);
                    from = next;
                }
                None => {
                    self.skip(from, self.src.pos, why);
                    self.state = State::Ended;
                    return Ok(());
                }
            }
        }
    }

    /// At a frame boundary: the next frame, a skippable one, or junk.
    fn next_frame(&mut self) -> io::Result<()> {
        let from = self.src.pos;
        let mut magic = [0u8; 4];
        let got = read_full(&mut self.src, &mut magic)?;
        if got == 0 {
            self.state = State::Ended;
            return Ok(());
        }
        if got < magic.len() {
            self.cut = Some(from);
            self.state = State::Ended;
            return Ok(());
        }
        let number = u32::from_le_bytes(magic);
        if magic == MAGIC {
            return self.start_frame(from);
        }
        if SKIPPABLE.contains(&number) {
            let mut len = [0u8; 4];
            if read_full(&mut self.src, &mut len)? < len.len() {
                self.cut = Some(from);
                self.state = State::Ended;
                return Ok(());
            }
            let want = u64::from(u32::from_le_bytes(len));
            if io::copy(&mut (&mut self.src).take(want), &mut io::sink())? < want {
                self.cut = Some(from);
                self.state = State::Ended;
            }
            return Ok(());
        }
        // Not a frame: damage up to the next one (or to the end), which
        // may start inside these four bytes.
        let matched = magic[1..].iter().fold(0, |m, &b| step(m, b));
        self.resync(from, Why::NotZstd, matched, false)
    }
}

impl Read for Decoder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                State::Ended => return Ok(0),
                State::Between => self.next_frame()?,
                State::InFrame | State::Draining { .. } => {
                    let n = self.frame.read(buf)?;
                    if n > 0 {
                        self.out += n as u64;
                        return Ok(n);
                    }
                }
            }
            match self.state {
                State::InFrame if self.frame.is_finished() => {
                    // Drained whole: the checksum (when the frame has one)
                    // covers all of it.
                    let stored = self.frame.get_checksum_from_data();
                    if stored.is_some() && stored != self.frame.get_calculated_checksum() {
                        self.skip(self.frame_from, self.src.pos, Why::Checksum);
                    }
                    self.state = State::Between;
                }
                State::InFrame => {
                    // One block (at most 128 KiB) at a time: memory stays
                    // the window plus a block.
                    let before = self.src.pos;
                    self.src.keep();
                    let failed = self
                        .frame
                        .decode_blocks(&mut self.src, BlockDecodingStrategy::UptoBlocks(1))
                        .is_err();
                    if failed {
                        // What decoded before the bad block is handed out
                        // whole (zstd -dc keeps it too), then the rest of
                        // the frame is skipped.
                        let _ = self
                            .frame
                            .decode_blocks(&END_BLOCK[..], BlockDecodingStrategy::UptoBlocks(1));
                        let cut = self.src.at_end()?;
                        // A damaged size field makes a block read the
                        // frames after it: the next frame is looked for
                        // from the block's second byte.
                        self.src.again_after(before);
                        self.state = State::Draining { from: before, cut };
                    } else {
                        self.src.keeping = false;
                    }
                }
                State::Draining { from, cut } => self.resync(from, Why::Damaged, 0, cut)?,
                State::Between | State::Ended => {}
            }
        }
    }
}

/// Reads until `buf` is full or the input ends; the count read.
fn read_full(src: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match src.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Reads `inner`, keeping the first error and ending the stream there:
/// ruzstd's compressor panics on an I/O error, so it only ever sees ends.
struct Guarded<T> {
    inner: T,
    error: Option<io::Error>,
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.error.is_some() {
            return Ok(0);
        }
        loop {
            match self.inner.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.error = Some(e);
                    return Ok(0);
                }
            }
        }
    }
}

impl<R: BufRead> Guarded<R> {
    /// Whether the input is read to its end (or failed).
    fn at_end(&mut self) -> bool {
        if self.error.is_some() {
            return true;
        }
        match self.inner.fill_buf() {
            Ok(buf) => buf.is_empty(),
            Err(e) => {
                self.error = Some(e);
                true
            }
        }
    }
}

impl<W: Write> Write for Guarded<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.error.is_none() {
            if let Err(e) = self.inner.write_all(buf) {
                self.error = Some(e);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads `inner` until `cancel` is set: checked at each read, so between
/// two blocks of the compressor.
struct Cancellable<'a, R> {
    inner: R,
    cancel: &'a AtomicBool,
}

impl<R> Cancellable<'_, R> {
    fn check(&self) -> io::Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(io::Error::other("cancelled: the log was deleted for room"));
        }
        Ok(())
    }
}

impl<R: Read> Read for Cancellable<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.check()?;
        self.inner.read(buf)
    }
}

// The frame loop asks whether the input is at its end through `fill_buf`.
impl<R: BufRead> BufRead for Cancellable<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.check()?;
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n)
    }
}

/// Compresses `src` into `dst` (created, never over an existing file), as
/// independent frames of [`FRAME_LOG`] bytes of log each; stops with an
/// error once `cancel` is set.
pub fn compress_into(src: &Path, dst: &Path, cancel: &AtomicBool) -> io::Result<()> {
    let input = File::open(src)?;
    let output = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dst)?;
    let mut reader = Guarded {
        inner: Cancellable {
            inner: BufReader::with_capacity(1 << 20, input),
            cancel,
        },
        error: None,
    };
    let mut writer = Guarded {
        inner: BufWriter::with_capacity(1 << 20, output),
        error: None,
    };
    // One compressor for every frame (it resets itself for each); one
    // frame at least: an empty log still reads as a zstd file.
    let mut compressor = FrameCompressor::new(CompressionLevel::Fastest);
    compressor.set_source((&mut reader).take(FRAME_LOG));
    compressor.set_drain(&mut writer);
    loop {
        compressor.compress();
        let failed = compressor.drain().is_some_and(|w| w.error.is_some());
        let Some(source) = compressor.source_mut() else {
            break;
        };
        if failed || source.get_mut().at_end() {
            break;
        }
        source.set_limit(FRAME_LOG);
    }
    drop(compressor);
    if let Some(e) = reader.error.or(writer.error) {
        return Err(e);
    }
    let file = writer.inner.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

/// Replaces the finished log `plain` (`NAME.log`) with `NAME.log.zst`;
/// the new path. Until the compressed file is complete and on disk it has
/// another name (`.zst.partial`), so a crash or a full disk leaves the
/// plain log whole and no half-written `.zst`; so does a failure or
/// `cancel`. An error leaves the disk as before (plain log, no `.zst`).
pub fn compress_file(plain: &Path, cancel: &AtomicBool) -> io::Result<PathBuf> {
    let mut done = plain.as_os_str().to_owned();
    done.push(".zst");
    let done = PathBuf::from(done);
    let mut partial = done.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    // A partial file left by a crash is ours to replace.
    let _ = std::fs::remove_file(&partial);
    if let Err(e) = compress_into(plain, &partial, cancel) {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    if let Err(e) = std::fs::rename(&partial, &done) {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    if let Err(e) = std::fs::remove_file(plain) {
        // Undone: one copy of the log, the plain one, as its account says.
        let _ = std::fs::remove_file(&done);
        return Err(e);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use ruzstd::encoding::compress_to_vec;

    use super::*;

    /// `n` bytes that compress, and differ along the way.
    fn data(n: usize, seed: u32) -> Vec<u8> {
        (0..n as u32)
            .flat_map(|i| ((i / 7) % 251 + seed).to_le_bytes())
            .take(n)
            .collect()
    }

    fn pack(data: &[u8]) -> Vec<u8> {
        compress_to_vec(data, CompressionLevel::Fastest)
    }

    /// Everything `zst` decodes to, and the decoder (for what it skipped).
    fn unpack(zst: Vec<u8>) -> (Vec<u8>, Decoder) {
        let mut d = Decoder::new(Box::new(io::Cursor::new(zst)));
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        (out, d)
    }

    fn skipped(d: &mut Decoder) -> Vec<Skipped> {
        std::iter::from_fn(|| d.take_skipped(u64::MAX)).collect()
    }

    #[test]
    fn compressed_file_reads_back_the_same_bytes_in_frames() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.log");
        let data = data(3 << 20, 0);
        std::fs::write(&plain, &data).unwrap();
        let done = compress_file(&plain, &AtomicBool::new(false)).unwrap();
        assert_eq!(done, dir.path().join("a.log.zst"));
        assert!(!plain.exists());
        let packed = std::fs::read(&done).unwrap();
        assert!(packed.len() < data.len() / 4, "{} bytes", packed.len());
        // One frame per MiB of log.
        let frames = packed.windows(4).filter(|w| *w == MAGIC).count();
        assert!(frames >= 3, "{frames} frames");
        let (back, mut d) = unpack(packed);
        assert!(back == data);
        assert!(skipped(&mut d).is_empty() && d.cut().is_none());
    }

    #[test]
    fn a_middle_frame_decodes_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.log");
        // The same bytes in every frame: a compressor that referred to the
        // frame before (its tables or window) would gain the most here.
        let data = data(FRAME_LOG as usize, 10).repeat(3);
        std::fs::write(&plain, &data).unwrap();
        let packed =
            std::fs::read(compress_file(&plain, &AtomicBool::new(false)).unwrap()).unwrap();
        // The frames' bounds, as ruzstd reads them one after the other.
        let mut cur = io::Cursor::new(&packed[..]);
        let mut frame = FrameDecoder::new();
        let mut bounds = vec![0];
        while (cur.position() as usize) < packed.len() {
            frame.reset(&mut cur).unwrap();
            frame
                .decode_blocks(&mut cur, BlockDecodingStrategy::All)
                .unwrap();
            bounds.push(cur.position() as usize);
        }
        assert_eq!(bounds.len(), 4, "{bounds:?}");
        let (back, mut d) = unpack(packed[bounds[1]..bounds[2]].to_vec());
        let log = FRAME_LOG as usize;
        assert!(back == data[log..2 * log], "{} bytes", back.len());
        assert!(skipped(&mut d).is_empty() && d.cut().is_none());
    }

    #[test]
    fn concatenated_frames_read_as_the_concatenation() {
        let (a, b) = (data(300_000, 1), data(200_000, 2));
        let mut zst = pack(&a);
        zst.extend(pack(&b));
        // A skippable frame (a seek table, say) between them is no damage.
        zst.extend(0x184D_2A5E_u32.to_le_bytes());
        zst.extend(3u32.to_le_bytes());
        zst.extend(b"abc");
        zst.extend(pack(&a));
        let (back, mut d) = unpack(zst);
        assert!(back == [&a[..], &b, &a].concat());
        assert!(skipped(&mut d).is_empty() && d.cut().is_none());
    }

    #[test]
    fn a_cut_keeps_every_block_before_it() {
        let whole = data(1 << 20, 3);
        let zst = pack(&whole);
        for cut in [zst.len() / 3, zst.len() / 2, zst.len() - 1] {
            let (back, d) = unpack(zst[..cut].to_vec());
            assert!(whole.starts_with(&back), "cut {cut}");
            // ruzstd writes blocks of 128 KiB: all but the cut one are kept,
            // although the frame's window is larger than what decoded.
            assert!(
                back.len() as f64
                    >= whole.len() as f64 * cut as f64 / zst.len() as f64 - (256 << 10) as f64,
                "cut {cut}: {} bytes",
                back.len()
            );
            assert!(!back.is_empty() && d.cut().is_some(), "cut {cut}");
        }
    }

    #[test]
    fn a_damaged_frame_costs_that_frame_only() {
        let (a, b, c) = (data(200_000, 4), data(200_000, 5), data(200_000, 6));
        let (za, mut zb, zc) = (pack(&a), pack(&b), pack(&c));
        // A reserved block type in the frame's first block header.
        let d = zb[4];
        let block = 5 + usize::from(d & 0x20 == 0) + [0, 1, 2, 4][usize::from(d & 3)] + fcs_len(d);
        zb[block] |= 0b110;
        let zst = [&za[..], &zb, &zc].concat();
        let (back, mut d) = unpack(zst);
        assert!(back == [&a[..], &c].concat());
        let s = skipped(&mut d);
        assert_eq!(s.len(), 1, "{s:?}");
        // From the damaged block to the next frame.
        assert_eq!(
            (s[0].at, s[0].from, s[0].len),
            (
                a.len() as u64,
                (za.len() + block) as u64,
                (zb.len() - block) as u64
            )
        );
        assert_eq!(s[0].why, Why::Damaged);
    }

    #[test]
    fn a_block_size_that_swallows_the_next_frames_costs_its_frame_only() {
        let (a, b, c) = (data(100_000, 11), data(100_000, 12), data(20_000, 13));
        let (mut za, zb, zc) = (pack(&a), pack(&b), pack(&c));
        // The frame's one block claims 120,000 bytes, past the frame's end:
        // reading it takes in the frames after it.
        let d = za[4];
        let block = 5 + usize::from(d & 0x20 == 0) + [0, 1, 2, 4][usize::from(d & 3)] + fcs_len(d);
        let head = u32::from_le_bytes([za[block], za[block + 1], za[block + 2], 0]);
        assert_eq!(head & 0b111, 0b101, "one last compressed block");
        za[block..block + 3].copy_from_slice(&((120_000 << 3) | 0b101u32).to_le_bytes()[..3]);
        // Then the file ends in the block (a cut, unless a frame starts in
        // it), or goes on past it.
        for copies in [1, 200_000 / zc.len()] {
            let zst = [&za[..], &zb, &zc.repeat(copies)].concat();
            let (back, mut d) = unpack(zst);
            assert!(
                back == [&b[..], &c.repeat(copies)].concat(),
                "{copies} copies: {} bytes",
                back.len()
            );
            let s = skipped(&mut d);
            assert_eq!(
                s,
                [Skipped {
                    at: 0,
                    from: block as u64,
                    len: (za.len() - block) as u64,
                    why: Why::Damaged
                }],
                "{copies} copies"
            );
            assert!(d.cut().is_none());
        }
    }

    #[test]
    fn a_frame_that_fails_its_checksum_is_said() {
        let a = data(100_000, 7);
        let mut zst = pack(&a);
        assert!(zst[4] & 0b100 != 0, "ruzstd writes checksums");
        *zst.last_mut().unwrap() ^= 1;
        let len = zst.len() as u64;
        zst.extend(pack(&a));
        let (back, mut d) = unpack(zst);
        assert!(back == [&a[..], &a].concat());
        let s = skipped(&mut d);
        assert_eq!(
            s,
            [Skipped {
                at: a.len() as u64,
                from: 0,
                len,
                why: Why::Checksum
            }]
        );
    }

    #[test]
    fn a_checksum_stretch_and_a_damaged_frame_are_said_apart() {
        let (a, b) = (data(100_000, 8), data(100_000, 9));
        let mut za = pack(&a);
        *za.last_mut().unwrap() ^= 1;
        // The next frame is damaged in its first block: nothing of it
        // decodes, so both stretches are at the same decompressed offset.
        let mut zb = pack(&b);
        let d = zb[4];
        let block = 5 + usize::from(d & 0x20 == 0) + [0, 1, 2, 4][usize::from(d & 3)] + fcs_len(d);
        zb[block] |= 0b110;
        let zst = [&za[..], &zb, &pack(&a)].concat();
        let (back, mut d) = unpack(zst);
        assert!(back == [&a[..], &a].concat());
        let s = skipped(&mut d);
        let whys: Vec<Why> = s.iter().map(|s| s.why).collect();
        assert_eq!(whys, [Why::Checksum, Why::Damaged], "{s:?}");
        assert_eq!(
            (s[1].at, s[1].from, s[1].len),
            (
                a.len() as u64,
                (za.len() + block) as u64,
                (zb.len() - block) as u64
            )
        );
    }

    /// Bytes of the frame content size field for a frame descriptor.
    fn fcs_len(descriptor: u8) -> usize {
        match descriptor >> 6 {
            0 => usize::from(descriptor & 0x20 != 0),
            1 => 2,
            2 => 4,
            _ => 8,
        }
    }

    /// A frame with a window of 2^`log` bytes holding one RLE block of
    /// `n` bytes `b`.
    fn rle_frame(log: u8, b: u8, n: u32) -> Vec<u8> {
        let mut f = MAGIC.to_vec();
        f.push(0); // no content size, no checksum, no dictionary
        f.push((log - 10) << 3);
        f.extend_from_slice(&((n << 3) | 0b011).to_le_bytes()[..3]);
        f.push(b);
        f
    }

    #[test]
    fn a_frame_with_a_huge_window_is_refused_and_the_next_read() {
        let small = rle_frame(20, b'a', 1000);
        let huge = rle_frame(27, b'b', 1000);
        let zst = [&small[..], &huge, &small].concat();
        let (back, mut d) = unpack(zst);
        assert!(back == [b'a'; 2000]);
        let s = skipped(&mut d);
        assert_eq!(
            s,
            [Skipped {
                at: 1000,
                from: small.len() as u64,
                len: huge.len() as u64,
                why: Why::Window(128 << 20)
            }]
        );
        assert!(s[0].why.to_string().contains("128 MiB window"));
    }

    #[test]
    fn junk_between_frames_is_skipped_to_the_next_magic() {
        let a = rle_frame(20, b'a', 10);
        let junk = [0x28, 0xb5, 0x2f, 7, 7, 0x28, 0x28, 0xb5];
        let zst = [&a[..], &junk, &a, &junk].concat();
        let (back, mut d) = unpack(zst);
        assert!(back == [b'a'; 20]);
        let s = skipped(&mut d);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!((s[0].from, s[0].len), (a.len() as u64, junk.len() as u64));
        assert_eq!(s[1].why, Why::NotZstd);
    }

    #[test]
    fn a_plain_file_is_not_compressed() {
        assert!(!is_compressed(b"TRACERLG"));
        assert!(!is_compressed(&MAGIC[..3]));
        assert!(is_compressed(&pack(b"x")));
    }

    #[test]
    fn a_cancelled_compression_leaves_the_plain_log_alone() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.log");
        std::fs::write(&plain, vec![7u8; 300_000]).unwrap();
        let err = compress_file(&plain, &AtomicBool::new(true)).unwrap_err();
        assert!(err.to_string().contains("cancelled"), "{err}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["a.log"]);
        assert_eq!(std::fs::metadata(&plain).unwrap().len(), 300_000);
    }
}
