//! A log that spans three local days, built with the real log writer from
//! a recorded fixture (tests/fixtures/log-v2-format2.log: a SIGSEGV whose
//! core goes to a helper, the helper's child, SIGCHLD, a sleep), its times
//! moved so that, in UTC:
//!
//! | events | time |
//! |---|---|
//! | recording starts | 2026-11-27 23:59:57.169598 |
//! | 0-7: sleep exits .. sh killed by SIGSEGV | 2026-11-27 23:59:59.169282 .. .173306 |
//! | 8-13: cat exits .. helper exits, sleep execs | 2026-11-28 00:00:00.173466 .. .174087 |
//! | 14: sleep exits | 2026-11-29 00:00:00.174847 |
//!
//! And helpers to run tracer with a fixed time zone, or on a terminal (a
//! pseudo-terminal of the test's own, so nothing beyond libc is needed).
#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::mpsc,
};

use tracer::log::{reader::Item, writer::LogWriter};

pub(crate) const SEC: u64 = 1_000_000_000;
pub(crate) const DAY: u64 = 86_400 * SEC;

/// Wall-clock ns of the first event: 2026-11-27T23:59:59.169282Z.
pub(crate) const FIRST_EVENT_WALL_NS: i64 = 1_795_823_999_169_282_000;

pub(crate) fn fixture() -> &'static str {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/log-v2-format2.log"
    )
}

/// Writes the three-day log into `dir`.
pub(crate) fn two_day_log(dir: &Path) -> PathBuf {
    let (mut header, mut reader) = tracer::log::open(Path::new(fixture())).expect("the fixture");
    let mut events = Vec::new();
    while let Some(item) = reader.next() {
        if let Ok(Item::Event(raw)) = item {
            events.push(raw.to_vec());
        }
    }
    assert_eq!(events.len(), 15, "the fixture's events");
    let boot_ns = |raw: &[u8]| u64::from_le_bytes(raw[8..16].try_into().unwrap());
    let first = boot_ns(&events[0]);
    header.boot_epoch_ns = FIRST_EVENT_WALL_NS - first as i64;
    let path = dir.join("two-days.log");
    let mut out = Vec::new();
    let mut w = LogWriter::new(&mut out, &header).expect("a header");
    for (i, raw) in events.iter_mut().enumerate() {
        let shift = match i {
            0..=7 => 0,
            8..=13 => SEC,
            _ => DAY,
        };
        let t = boot_ns(raw) + shift;
        raw[8..16].copy_from_slice(&t.to_le_bytes());
        assert!(w.event(raw).expect("writing"));
    }
    w.end(boot_ns(events.last().unwrap()) + 1).expect("the end");
    drop(w);
    std::fs::write(&path, out).expect("writing the log");
    path
}

/// `tracer ARGS` with `TZ` (and the other `env`) set, `COLUMNS` and
/// `NO_COLOR` unset: (exit code, stdout, stderr).
pub(crate) fn tracer_in(tz: &str, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tracer"))
        .args(args)
        .env("TZ", tz)
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .output()
        .expect("running tracer");
    (
        out.status.code().expect("exited normally"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) fn tracer_utc(args: &[&str]) -> (i32, String, String) {
    tracer_in("UTC", &[], args)
}

/// Spawns `cmd` with its stdout on a new pseudo-terminal of `cols`
/// columns (0: a terminal that does not say its size; stdin is
/// /dev/null, stderr left as `cmd` has it); each line the terminal shows,
/// `\r` dropped, arrives on the receiver.
pub(crate) fn spawn_on_pty(
    mut cmd: Command,
    cols: u16,
) -> (std::process::Child, mpsc::Receiver<String>) {
    use std::{
        ffi::CStr,
        fs::{File, OpenOptions},
        io::Read,
        os::{fd::FromRawFd, unix::fs::OpenOptionsExt},
    };
    // SAFETY: plain calls on a descriptor this function owns; `name` is a
    // writable buffer of the length given.
    let (master, slave_path) = unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(
            master >= 0,
            "posix_openpt: {}",
            std::io::Error::last_os_error()
        );
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let mut name: [libc::c_char; 128] = [0; 128];
        assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
        let path = CStr::from_ptr(name.as_ptr()).to_str().unwrap().to_string();
        (File::from_raw_fd(master), path)
    };
    let slave = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&slave_path)
        .expect("opening the pty");
    let ws = libc::winsize {
        ws_row: 24,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the valid pointer given.
    unsafe {
        libc::ioctl(
            std::os::fd::AsRawFd::as_raw_fd(&slave),
            libc::TIOCSWINSZ,
            &ws,
        )
    };
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(slave)
        .spawn()
        .expect("spawning on a pty");
    // The child holds the only slave descriptor once `cmd` is gone: reads
    // end (EIO) when it exits.
    drop(cmd);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut master = master;
        let mut pending = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&buf[..n]);
            while let Some(i) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=i).collect();
                let line = String::from_utf8_lossy(&line);
                if tx
                    .send(line.trim_end_matches(['\n', '\r']).to_string())
                    .is_err()
                {
                    return;
                }
            }
        }
        if !pending.is_empty() {
            let _ = tx.send(String::from_utf8_lossy(&pending).into_owned());
        }
    });
    (child, rx)
}

/// `tracer ARGS` with stdout on a terminal `cols` wide (0: one that does
/// not say), with `TERM=xterm`, `TZ=UTC` and `env` set (`COLUMNS`,
/// `TERM`, `NO_COLOR`): what the terminal showed, and the exit code.
pub(crate) fn tracer_on_terminal_of(
    cols: u16,
    env: &[(&str, &str)],
    args: &[&str],
) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tracer"));
    cmd.args(args)
        .env("TZ", "UTC")
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .envs(env.iter().copied())
        .stderr(std::process::Stdio::null());
    let (mut child, lines) = spawn_on_pty(cmd, cols);
    let status = child.wait().expect("tracer");
    let mut text = String::new();
    for l in lines {
        text.push_str(&l);
        text.push('\n');
    }
    (status.code().unwrap_or(-1), text)
}

/// [`tracer_on_terminal_of`] a terminal that does not say its size.
pub(crate) fn tracer_on_terminal(env: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    tracer_on_terminal_of(0, env, args)
}

/// `text` without tracer's SGR colour sequences (`ESC [ digits;... m`).
pub(crate) fn strip_sgr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("\x1b[") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .expect("a complete sequence");
        assert_eq!(&after[end..end + 1], "m", "only SGR sequences: {text:?}");
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}
