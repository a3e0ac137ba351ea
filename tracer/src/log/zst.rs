//! zstd for finished logs: written by `record --compress` after a file is
//! done, read transparently by every reader. Pure Rust (`ruzstd`): the
//! binary is built static with no C toolchain.
//!
//! ruzstd implements only its "fastest" level (about zstd's level 1), which
//! is also the one that keeps up with a recording.

use std::{
    fs::{File, OpenOptions},
    io::{self, BufReader, BufWriter, Read, Write},
    os::unix::fs::OpenOptionsExt as _,
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
};

use ruzstd::encoding::{compress, CompressionLevel};

/// The first bytes of a zstd frame.
pub const MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// A reader of the decompressed bytes of `file`, if it starts with a zstd
/// frame; else `file` itself, from its start.
pub fn maybe_decompress(mut file: File) -> io::Result<Box<dyn Read>> {
    use std::io::{Seek, SeekFrom};
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..])? {
            0 => break,
            n => got += n,
        }
    }
    file.seek(SeekFrom::Start(0))?;
    if got < head.len() || head != MAGIC {
        return Ok(Box::new(file));
    }
    let decoder = ruzstd::decoding::StreamingDecoder::new(BufReader::with_capacity(1 << 20, file))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}")))?;
    Ok(Box::new(decoder))
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

impl<R: Read> Read for Cancellable<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(io::Error::other("cancelled: the log was deleted for room"));
        }
        self.inner.read(buf)
    }
}

/// Compresses `src` into `dst` (created, never over an existing file);
/// stops with an error once `cancel` is set.
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
    compress(&mut reader, &mut writer, CompressionLevel::Fastest);
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
    use super::*;

    #[test]
    fn compressed_file_reads_back_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.log");
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        std::fs::write(&plain, &data).unwrap();
        let done = compress_file(&plain, &AtomicBool::new(false)).unwrap();
        assert_eq!(done, dir.path().join("a.log.zst"));
        assert!(!plain.exists());
        let packed = std::fs::metadata(&done).unwrap().len();
        assert!(packed < data.len() as u64 / 4, "{packed} bytes");
        let mut back = Vec::new();
        maybe_decompress(File::open(&done).unwrap())
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        // A plain file reads as itself.
        std::fs::write(&plain, b"TRACERLG").unwrap();
        let mut same = Vec::new();
        maybe_decompress(File::open(&plain).unwrap())
            .unwrap()
            .read_to_end(&mut same)
            .unwrap();
        assert_eq!(same, b"TRACERLG");
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
