//! The recording format: a self-describing binary log.
//!
//! ```text
//! magic "TRACERLG" | log version u16 LE | reserved u16
//! frame*: length u32 LE | crc32 u32 LE | type u8 | payload (length - 1 bytes)
//! ```
//!
//! The first frame is the header (format versions, kernel release,
//! hostname, boot id, wall clock at boot-clock zero, the start-up task
//! snapshot, and which file of a rotating recording this is). Event frames carry the kernel's ring-buffer record bytes, so
//! replay decodes them exactly as a live session does, with one saving:
//! unused string space is cleared and trailing zero bytes are not stored
//! (`compact.rs`); the reader restores them, so callers only ever see full
//! records. Each frame has its
//! own length and checksum: a truncated or damaged log still yields every
//! intact record, and the reader says where damage starts.

pub mod codec;
mod compact;
pub mod crc32;
mod frame;
pub mod header;
pub mod janitor;
pub mod ledger;
pub mod reader;
pub mod rotate;
pub mod set;
pub mod trust;
pub mod writer;
pub mod zst;

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use header::LogHeader;
use reader::LogReader;
use tracer_common::{FORMAT_VERSION, OLDEST_FORMAT};

pub use self::frame::{
    END_PAYLOAD, FRAME_END, FRAME_EVENT, FRAME_HEAD, FRAME_HEADER, FRAME_LOST, LOG_VERSION,
    LOST_PAYLOAD, MAGIC, MAX_HEADER, PREAMBLE_LEN,
};

/// Opens a log for reading, with a clear error for anything that is not a
/// log this tracer can read (including events in another record format).
pub fn open(path: &Path) -> Result<(LogHeader, LogReader)> {
    let (header, reader) = LogReader::open(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if !(OLDEST_FORMAT..=FORMAT_VERSION).contains(&header.event_format) {
        let advice = if header.event_format > FORMAT_VERSION {
            "use a newer tracer"
        } else {
            "use the tracer version that recorded it"
        };
        bail!(
            "{}: its events are in format version {}; this tracer reads versions \
             {OLDEST_FORMAT} to {FORMAT_VERSION}: {advice}",
            path.display(),
            header.event_format
        );
    }
    Ok((header, reader))
}

#[cfg(test)]
mod tests {
    //! The log format against truncation, corruption and garbage.

    use super::{
        header::{tests::sample, LogHeader},
        reader::{Damage, Item, LogReader, OpenError},
        writer::LogWriter,
    };
    use crate::model::decode::decode;

    /// A small log: header, `n` event frames of varying size, a lost frame,
    /// an end frame. Returns the bytes and each frame's end offset.
    fn small_log(n: usize) -> (Vec<u8>, Vec<usize>) {
        let mut buf = Vec::new();
        let mut w = LogWriter::new(&mut buf, &sample()).unwrap();
        let mut ends = vec![w.written() as usize];
        for i in 0..n {
            let raw: Vec<u8> = (0..(8 + i * 13)).map(|b| (b * 7 + i) as u8).collect();
            w.event(&raw).unwrap();
            ends.push(w.written() as usize);
        }
        w.lost(4, 17, 99).unwrap();
        ends.push(w.written() as usize);
        w.end(100).unwrap();
        ends.push(w.written() as usize);
        drop(w);
        (buf, ends)
    }

    fn read_all(bytes: Vec<u8>) -> Result<(LogHeader, usize, Vec<Damage>), OpenError> {
        let (h, mut r) = LogReader::from_bytes(bytes)?;
        let (mut items, mut damage) = (0, Vec::new());
        while let Some(item) = r.next() {
            match item {
                Ok(_) => items += 1,
                Err(d) => damage.push(d),
            }
        }
        Ok((h, items, damage))
    }

    #[test]
    fn compact_records_expand_to_what_decodes() {
        use tracer_common::{EventKind, ExecEvent, Header, TaskInfo, FORMAT_VERSION};
        // SAFETY: ExecEvent is Plain: all-zero bytes are a valid value.
        let mut e: ExecEvent = unsafe { std::mem::zeroed() };
        e.header = Header {
            version: FORMAT_VERSION,
            kind: EventKind::Exec.tag(),
            cpu: 1,
            boot_ns: 7,
        };
        e.task = TaskInfo {
            pid: 5,
            tgid: 5,
            ..e.task
        };
        e.filename[..9].copy_from_slice(b"/bin/true");
        e.filename[9..].fill(0xaa); // stale ring bytes
        e.filename_len = 9;
        e.args.fill(0xbb);
        e.args_len = 0;
        // SAFETY: ExecEvent is Plain; all its bytes are initialized.
        let raw = unsafe {
            std::slice::from_raw_parts(
                (&e as *const ExecEvent).cast::<u8>(),
                size_of::<ExecEvent>(),
            )
        };
        let mut bytes = Vec::new();
        let mut w = LogWriter::new(&mut bytes, &sample()).unwrap();
        let before = w.written();
        w.event(raw).unwrap();
        let stored = w.written() - before;
        drop(w);
        // Frame head and type, then the record up to its path's last byte.
        let compact = super::FRAME_HEAD + 1 + core::mem::offset_of!(ExecEvent, filename) + 9;
        assert_eq!(stored, compact as u64, "{stored} bytes stored");
        let frame = &bytes[bytes.len() - stored as usize..];
        assert!(
            !frame.contains(&0xaa) && !frame.contains(&0xbb),
            "stale bytes cleared"
        );
        let (_, mut r) = LogReader::from_bytes(bytes).unwrap();
        let Some(Ok(Item::Event(back))) = r.next() else {
            panic!("no event read back");
        };
        assert_eq!(back.len(), raw.len());
        match decode(back).unwrap().event {
            crate::model::event::Event::Exec { filename, argv, .. } => {
                assert_eq!(filename, "/bin/true");
                assert!(argv.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn round_trip() {
        let (bytes, ends) = small_log(5);
        assert_eq!(bytes.len(), *ends.last().unwrap());
        let (h, mut r) = LogReader::from_bytes(bytes).unwrap();
        assert_eq!(h, sample());
        let mut events = 0;
        while let Some(item) = r.next() {
            match item.unwrap() {
                Item::Event(raw) => {
                    assert_eq!(raw.len(), 8 + events * 13);
                    events += 1;
                }
                Item::Lost {
                    tag,
                    count,
                    boot_ns,
                } => assert_eq!((tag, count, boot_ns), (4, 17, 99)),
                Item::End { boot_ns } => assert_eq!(boot_ns, 100),
            }
        }
        assert_eq!(events, 5);
    }

    #[test]
    fn truncation_at_every_offset_keeps_every_complete_record() {
        let (bytes, ends) = small_log(6);
        let header_end = ends[0];
        for cut in 0..bytes.len() {
            let result = read_all(bytes[..cut].to_vec());
            if cut < header_end {
                assert!(
                    result.is_err(),
                    "cut {cut} inside the header must be an error"
                );
                continue;
            }
            let (_, items, damage) = result.unwrap_or_else(|e| panic!("cut {cut}: {e}"));
            let complete = ends[1..].iter().filter(|&&e| e <= cut).count();
            assert_eq!(items, complete, "cut at {cut}");
            let at_boundary = ends.contains(&cut);
            match damage.as_slice() {
                [] => assert!(at_boundary, "cut {cut} mid-frame went unnoticed"),
                [Damage::Truncated { offset }] => {
                    assert!(!at_boundary);
                    assert_eq!(
                        *offset as usize,
                        *ends.iter().rev().find(|&&e| e <= cut).unwrap()
                    );
                }
                other => panic!("cut {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_corrupt_record_is_skipped_and_reading_resumes() {
        let (mut bytes, ends) = small_log(6);
        // Damage the third event's payload: its checksum fails.
        bytes[ends[2] + 12] ^= 0xff;
        let (_, items, damage) = read_all(bytes).unwrap();
        assert_eq!(items, 6 + 2 - 1, "all but the damaged record");
        assert_eq!(
            damage,
            [Damage::Corrupt {
                offset: ends[2] as u64,
                len: (ends[3] - ends[2]) as u64
            }]
        );
    }

    #[test]
    fn rejects_what_is_not_a_log() {
        assert_eq!(read_all(Vec::new()).unwrap_err(), OpenError::Empty);
        assert_eq!(
            read_all(b"hello world, not a log".to_vec()).unwrap_err(),
            OpenError::NotALog
        );
        let (mut bytes, _) = small_log(1);
        bytes[8] = 99;
        assert_eq!(read_all(bytes).unwrap_err(), OpenError::Newer { found: 99 });
    }

    /// xorshift64*: a deterministic source for the randomized tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Bounded random fuzzing of the log reader and the record decoder:
    /// mutated logs and random bytes never panic. Runs in every test run.
    #[test]
    fn random_damage_never_panics() {
        let (base, _) = small_log(8);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let mut rounds = 0;
        while rounds < 20_000 && std::time::Instant::now() < deadline {
            let mut bytes = base.clone();
            match rng.below(4) {
                0 => {
                    for _ in 0..1 + rng.below(8) {
                        let i = rng.below(bytes.len());
                        bytes[i] = rng.next() as u8;
                    }
                }
                1 => bytes.truncate(rng.below(bytes.len())),
                2 => {
                    let at = rng.below(bytes.len());
                    let junk: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                    bytes.splice(at..at, junk);
                }
                _ => {
                    bytes = (0..rng.below(600)).map(|_| rng.next() as u8).collect();
                    let _ = decode(&bytes);
                    if rng.below(2) == 0 {
                        bytes.splice(0..0, *super::MAGIC);
                    }
                }
            }
            if let Ok((_, mut r)) = LogReader::from_bytes(bytes) {
                while let Some(item) = r.next() {
                    if let Ok(Item::Event(raw)) = item {
                        let _ = decode(raw);
                    }
                }
            }
            rounds += 1;
        }
        assert!(rounds > 1000, "only {rounds} rounds ran");
    }
}
