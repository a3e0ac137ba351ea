//! Compressed logs as a hostile user makes them: decompression bombs,
//! windows too large, cut, concatenated and damaged files. Each is read in
//! bounded work and memory, and yields every record that survived (as
//! much as `zstd -dc` recovers). Needs the `zstd` command (the reference
//! decompressor), so the host runs it.

mod common;

use std::{
    io::{Read as _, Write as _},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use common::*;
use tracer::log::{
    header::LogHeader,
    reader::{Damage, Item},
    writer::LogWriter,
    zst,
};

/// `zstd ARGS` with `input` on a pipe (so its size is unknown to zstd, as
/// in a stream): its exit status and output.
fn zstd(args: &[&str], input: Vec<u8>) -> (bool, Vec<u8>) {
    let mut child = Command::new("zstd")
        .args(["-q", "-c"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the zstd command (cargo xtask setup installs it)");
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    feeder.join().unwrap();
    (child.wait().unwrap().success(), out)
}

fn compress(args: &[&str], input: Vec<u8>) -> Vec<u8> {
    let (ok, out) = zstd(args, input);
    assert!(ok, "zstd {args:?} failed");
    out
}

/// A valid log of a header and nothing else (`tracer bench-log`).
fn header_only(dir: &Path) -> (LogHeader, Vec<u8>) {
    let path = dir.join("header.log");
    let (code, _, err) = run_tracer(&["bench-log", "garbage", path.to_str().unwrap(), "0"]);
    assert_eq!(code, 0, "{err}");
    let (header, _) = tracer::log::open(&path).unwrap();
    (header, std::fs::read(&path).unwrap())
}

/// A plain log of about `mb` MiB of events that differ (so they compress
/// as real ones do, not to nothing); its bytes and event count.
fn varied_log(dir: &Path, mb: usize) -> (Vec<u8>, usize) {
    let (header, _) = header_only(dir);
    let mut bytes = Vec::new();
    let mut w = LogWriter::new(&mut bytes, &header).unwrap();
    let mut events = 0;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while w.written() < (mb << 20) as u64 {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        // A few random bytes among repeated ones: about 3x smaller packed.
        let raw: Vec<u8> = (0..40 + (r % 60) as usize)
            .map(|i| {
                if i % 4 == 0 {
                    (r >> (i % 56)) as u8
                } else {
                    i as u8
                }
            })
            .collect();
        w.event(&raw).unwrap();
        events += 1;
    }
    w.end(1).unwrap();
    drop(w);
    (bytes, events)
}

/// Events and damage read from `path` (through `tracer::log`, as every
/// command reads).
fn read(path: &Path) -> (usize, Vec<Damage>) {
    let (_, mut reader) = tracer::log::open(path).unwrap_or_else(|e| panic!("{e:#}"));
    let (mut events, mut damage) = (0, Vec::new());
    while let Some(item) = reader.next() {
        match item {
            Ok(Item::Event(_)) => events += 1,
            Ok(_) => {}
            Err(d) => damage.push(d),
        }
    }
    (events, damage)
}

/// Events in the plain log bytes `plain` (what a reader makes of them).
fn events_in(dir: &Path, plain: Vec<u8>) -> usize {
    let path = dir.join("reference.log");
    std::fs::write(&path, plain).unwrap();
    read(&path).0
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `report --format json` on `path`: exit status and the damage listed.
fn report(path: &Path) -> (Option<i32>, Vec<String>, String) {
    let out = run_bounded(&["report", path.to_str().unwrap(), "--format", "json"]);
    let err = stderr_of(&out);
    let damage = serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .map(|r| {
            r["damage"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    (out.status.code(), damage, err)
}

/// A frame of `blocks` RLE blocks of 128 KiB of zeros each, in an 8 MiB
/// window: 4 bytes a block, so 32768 of them are 4 GiB.
fn rle_bomb(blocks: u32) -> Vec<u8> {
    let mut f = zst::MAGIC.to_vec();
    f.push(0);
    f.push((23 - 10) << 3);
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        f.extend_from_slice(&(((128 << 10) << 3) | 0b010 | last).to_le_bytes()[..3]);
        f.push(0);
    }
    f
}

const BOMB: &str = "not read (damage, or a decompression bomb)";

#[test]
fn a_bomb_of_zeros_stops_after_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let (_, header) = header_only(dir.path());
    // zstd -19 as an attacker would (64 MiB of zeros is enough to show
    // the reading stops early: the budget is 1 MiB).
    let mut input = header.clone();
    input.resize(header.len() + (64 << 20), 0);
    let z19 = write(dir.path(), "z19.log.zst", &compress(&["-19"], input));
    // 4 GiB of zeros after a header frame, in 128 KiB: made by hand.
    let mut four = compress(&[], header.clone());
    four.extend(rle_bomb(32768));
    let four = write(dir.path(), "four.log.zst", &four);
    // Frames of 20 bytes each: the budget runs across frames.
    let mut tiny = compress(&[], header);
    for _ in 0..(zst::NO_RECORD_BUDGET + (256 << 10)) / 20 {
        tiny.extend_from_slice(&zst::MAGIC);
        // No window byte (single segment), a one-byte size, a last raw
        // block of 20 bytes.
        tiny.extend_from_slice(&[0x20, 20, (20 << 3) | 1, 0, 0]);
        tiny.extend_from_slice(&[b'A'; 20]);
    }
    let tiny = write(dir.path(), "tiny.log.zst", &tiny);
    for bomb in [z19, four, tiny] {
        let (code, damage, err) = report(&bomb);
        assert_eq!(code, Some(4), "{}: {err}", bomb.display());
        assert_eq!(damage.len(), 1, "{damage:?}");
        assert!(
            damage[0].contains(&format!(
                "no intact record in {} decompressed bytes",
                zst::NO_RECORD_BUDGET
            )) && damage[0].contains(BOMB),
            "{damage:?}"
        );
    }
}

#[test]
fn a_bomb_with_a_record_now_and_then_stops_early() {
    let dir = tempfile::tempdir().unwrap();
    let (header, head) = header_only(dir.path());
    // One valid record, then almost 1 MiB of zeros: under the budget of a
    // stretch, but 300 of them are 300 MiB of damage from a few KB.
    let mut bytes = Vec::new();
    let mut w = LogWriter::new(&mut bytes, &header).unwrap();
    let before = w.written() as usize;
    w.event(&[7; 40]).unwrap();
    drop(w);
    let mut unit = bytes[before..].to_vec();
    unit.resize((zst::NO_RECORD_BUDGET - (8 << 10)) as usize, 0);
    let frame = compress(&["-19"], unit);
    let mut bomb = compress(&[], head);
    for _ in 0..300 {
        bomb.extend_from_slice(&frame);
    }
    let bomb = write(dir.path(), "sparse.log.zst", &bomb);
    let (code, damage, err) = report(&bomb);
    assert_eq!(code, Some(4), "{err}");
    let last = damage.last().unwrap();
    assert!(
        damage.len() < 10
            && last.contains("damaged decompressed bytes from")
            && last.contains(BOMB),
        "{damage:?}"
    );
}

#[test]
fn a_bomb_of_short_stretches_between_records_stops_early() {
    let dir = tempfile::tempdir().unwrap();
    let (header, head) = header_only(dir.path());
    // One valid record, then zeros to 60 KiB: each stretch is short of the
    // 64 KiB mark where a long stretch is checked, so only the running
    // total of damage can stop it.
    let mut bytes = Vec::new();
    let mut w = LogWriter::new(&mut bytes, &header).unwrap();
    let before = w.written() as usize;
    w.event(&[7; 40]).unwrap();
    drop(w);
    let mut unit = bytes[before..].to_vec();
    unit.resize(60 << 10, 0);
    // 64 units a frame (3.75 MiB), zstd -19 as an attacker would; 1118
    // frames claim 4 GiB of log in a few hundred KB.
    let frame = compress(&["-19"], unit.repeat(64));
    let frames = 1118;
    let mut bomb = compress(&[], head);
    for _ in 0..frames {
        bomb.extend_from_slice(&frame);
    }
    let claimed = unit.len() * 64 * frames;
    assert!(
        claimed >= 4 << 30 && bomb.len() < 1 << 20,
        "{} bytes",
        bomb.len()
    );
    let path = write(dir.path(), "short.log.zst", &bomb);
    let (events, damage) = read(&path);
    // Reading stops within the bound (1 MiB + 256 x what it read), not at
    // the claimed size: a few dozen records of the 70,000.
    let Some(Damage::Amplified {
        damaged,
        compressed,
        ..
    }) = damage.last()
    else {
        panic!(
            "{events} events, {} damage: {:?}",
            damage.len(),
            damage.last()
        );
    };
    assert!(
        *damaged <= zst::NO_RECORD_BUDGET + zst::DAMAGE_RATIO * compressed + (64 << 10)
            && *compressed < bomb.len() as u64 / 100,
        "{damaged} damaged bytes from {compressed} of {} compressed",
        bomb.len()
    );
    assert!(
        events == damage.len() && events * unit.len() < claimed / 1000,
        "{events} events, {} damage, of {} units",
        damage.len(),
        claimed / unit.len()
    );
    let (code, damage, err) = report(&path);
    assert_eq!(code, Some(4), "{err}");
    assert!(
        damage.last().is_some_and(|d| d.contains(BOMB)),
        "{damage:?}"
    );
}

#[test]
fn bytes_that_look_like_frame_starts_stop_after_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("starts.log");
    let (code, _, err) = run_tracer(&["bench-log", "starts", plain.to_str().unwrap(), "16"]);
    assert_eq!(code, 0, "{err}");
    let packed = compress(&["-19"], std::fs::read(&plain).unwrap());
    let starts = write(dir.path(), "starts.log.zst", &packed);
    let (code, damage, err) = report(&starts);
    assert_eq!(code, Some(4), "{err}");
    assert!(damage.len() == 1 && damage[0].contains(BOMB), "{damage:?}");
}

#[test]
fn a_window_over_8_mib_is_refused_with_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let (_, header) = header_only(dir.path());
    let mut input = header.clone();
    input.resize(header.len() + (1 << 20), 0);
    // The whole log in one --long=27 frame: its header cannot be read.
    let long = write(dir.path(), "long.log.zst", &compress(&["--long=27"], input));
    let out = run_bounded(&["replay", long.to_str().unwrap()]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("asks for a 128 MiB window") && err.contains("at most 8 MiB"),
        "{err}"
    );
    assert!(!err.contains('{'), "Rust debug output: {err}");
    // A header frame, then a --long=27 frame: damage, said.
    let mut two = compress(&[], header);
    two.extend(compress(&["--long=27"], vec![0; 1 << 20]));
    let two = write(dir.path(), "two.log.zst", &two);
    let (code, damage, err) = report(&two);
    assert_eq!(code, Some(4), "{err}");
    assert!(
        damage.len() == 1 && damage[0].contains("asks for a 128 MiB window"),
        "{damage:?}"
    );
}

#[test]
fn a_cut_file_yields_what_zstd_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, total) = varied_log(dir.path(), 3);
    // Shorter than one window: zstd -19 makes one frame of an 8 MiB window.
    let one = compress(&["-19"], plain.clone());
    // Longer: tracer's own frames (1 MiB of log each, 128 KiB windows).
    let plain_path = write(dir.path(), "own.log", &plain);
    let own = std::fs::read(
        zst::compress_file(&plain_path, &std::sync::atomic::AtomicBool::new(false)).unwrap(),
    )
    .unwrap();
    for (what, packed) in [("one frame", one), ("tracer's frames", own)] {
        for share in [0.3, 0.93] {
            let cut = &packed[..(packed.len() as f64 * share) as usize];
            let (_, recovered) = zstd(&["-d"], cut.to_vec());
            let expected = events_in(dir.path(), recovered);
            let path = write(dir.path(), "cut.log.zst", cut);
            let (events, damage) = read(&path);
            assert!(
                events >= expected && events < total && expected > 0,
                "{what} cut at {share}: {events} events, zstd -dc recovers {expected} of {total}"
            );
            assert!(
                matches!(damage.as_slice(), [Damage::Truncated { .. }]),
                "{what} cut at {share}: {damage:?}"
            );
            let (code, _, err) = report(&path);
            assert_eq!(code, Some(4), "{what} cut at {share}: {err}");
        }
    }
    // A cut inside the first frame's header: a sentence, not debug output.
    let path = write(dir.path(), "stub.log.zst", &compress(&[], plain)[..6]);
    let out = run_bounded(&["replay", path.to_str().unwrap()]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cut short at compressed byte") && err.contains("before the header ends"),
        "{err}"
    );
    assert!(!err.contains('{'), "Rust debug output: {err}");
}

#[test]
fn files_compressed_apart_and_concatenated_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, total) = varied_log(dir.path(), 3);
    // Split inside a record: the halves only make records together.
    let (a, b) = plain.split_at(plain.len() / 2 + 3);
    let mut both = compress(&["-3"], a.to_vec());
    both.extend(compress(&["-19"], b.to_vec()));
    let path = write(dir.path(), "both.log.zst", &both);
    assert_eq!(read(&path), (total, Vec::new()));
    let (code, damage, err) = report(&path);
    assert_eq!((code, damage), (Some(0), Vec::new()), "{err}");
}

#[test]
fn a_flipped_byte_costs_one_frame_of_tracers_own() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, total) = varied_log(dir.path(), 4);
    let plain_path = write(dir.path(), "own.log", &plain);
    let packed =
        zst::compress_file(&plain_path, &std::sync::atomic::AtomicBool::new(false)).unwrap();
    let mut bytes = std::fs::read(&packed).unwrap();
    // zstd reads tracer's frames as one stream.
    let (ok, back) = zstd(&["-d"], bytes.clone());
    assert!(ok && back == plain, "zstd -dc disagrees");
    // A frame holds 1 MiB of log: about this many events (record sizes
    // vary: 2% more), and the two cut at its ends.
    let per_frame = total * (zst::FRAME_LOG as usize) / plain.len() * 102 / 100 + 2;
    let frames: Vec<usize> = (0..bytes.len() - 4)
        .filter(|&i| bytes[i..i + 4] == zst::MAGIC)
        .collect();
    assert!(frames.len() >= 4, "{} frames", frames.len());
    // A block that cannot decode (a reserved type) in the middle frame.
    let at = frames[frames.len() / 2];
    let d = bytes[at + 4];
    let fcs = match d >> 6 {
        0 => usize::from(d & 0x20 != 0),
        n => 1 << n,
    };
    let block = at + 5 + usize::from(d & 0x20 == 0) + [0, 1, 2, 4][usize::from(d & 3)] + fcs;
    let was = bytes[block];
    bytes[block] |= 0b110;
    let path = write(dir.path(), "reserved.log.zst", &bytes);
    let (events, damage) = read(&path);
    assert!(
        events < total && events + per_frame >= total,
        "{events} of {total} events (a frame holds ~{per_frame})"
    );
    assert!(
        damage
            .iter()
            .any(|d| d.to_string().contains("a damaged zstd frame")),
        "{damage:?}"
    );
    bytes[block] = was;
    // Random flips: a frame at most.
    // (Not in the first frame: it holds the log's header.)
    for at in [bytes.len() / 2, bytes.len() / 3 + 17, bytes.len() - 50] {
        let was = bytes[at];
        bytes[at] ^= 0x5a;
        let path = write(dir.path(), "flipped.log.zst", &bytes);
        let (events, damage) = read(&path);
        // (A flip in a frame's checksum costs no record, and is said.)
        assert!(
            events + per_frame >= total,
            "flip at {at}: {events} of {total} events (a frame holds ~{per_frame})"
        );
        let (code, _, err) = report(&path);
        if damage.is_empty() {
            // Some bits are slack to the decoder (a stream's padding): the
            // flip changed nothing, and nothing may be said.
            let (ok, back) = zstd(&["-d"], bytes.clone());
            assert!(ok && back == plain, "flip at {at}: damage not said");
            assert_eq!((events, code), (total, Some(0)), "flip at {at}: {err}");
        } else {
            assert_eq!(code, Some(4), "flip at {at}: {err}");
        }
        bytes[at] = was;
    }
}

#[test]
fn a_log_compressed_by_an_earlier_tracer_still_reads() {
    // Recorded by `record --dir --compress` before logs were written in
    // frames: one zstd frame.
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/log-v3-compressed.log.zst"
    );
    let out = run_bounded(&["export", fixture]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let lines = String::from_utf8(out.stdout).unwrap();
    assert_eq!(lines.lines().count(), 53, "{lines}");
    // The same as the plain log zstd makes of it.
    let dir = tempfile::tempdir().unwrap();
    let (ok, plain) = zstd(&["-d"], std::fs::read(fixture).unwrap());
    assert!(ok);
    let plain = write(dir.path(), "fixture.log", &plain);
    let again = run_bounded(&["export", plain.to_str().unwrap()]);
    assert_eq!(String::from_utf8(again.stdout).unwrap(), lines);
}
