//! `tracer ps` on a terminal (issue 26): a compact layout that fits 80
//! columns where the terminal is narrow, every test its own column where
//! it is wide or stdout is not a terminal, and its notes only with `-v`.
//! No root: ps reads /proc. The terminal is a real pseudo-terminal.

mod common;

use std::{
    fs::File,
    io::Read as _,
    os::fd::{FromRawFd as _, OwnedFd},
    process::{Command, Stdio},
};

use common::*;

/// `tracer ARGS` with stdout on a pseudo-terminal `cols` columns wide and
/// `COLUMNS` as given (unset for `None`): (status, stdout, stderr).
fn on_terminal(args: &[&str], cols: u16, columns: Option<&str>) -> (i32, String, String) {
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 50,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two fds into the ints we own and reads the
    // winsize; the name and termios pointers may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both fds are new and owned by nothing else.
    let (master, slave) = unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut cmd = Command::new(tracer_exe());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(slave))
        .stderr(Stdio::piped())
        .env_remove("COLUMNS");
    if let Some(c) = columns {
        cmd.env("COLUMNS", c);
    }
    let mut child = cmd.spawn().expect("spawning tracer");
    // The child holds the only copy of the slave end now: once it exits,
    // reading the master ends (EIO, the bytes before it kept).
    drop(cmd);
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut master = master;
        let _ = master.read_to_end(&mut out);
        out
    });
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().expect("waiting for tracer");
    let out = reader.join().expect("reading the terminal");
    let out = String::from_utf8_lossy(&out).replace("\r\n", "\n");
    (status.code().expect("exited"), out, stderr)
}

/// Every test is its own column, COMM last.
const WIDE_HEADER: &str = "    PID    TGID  PARENT KIND        PF_KTHREAD NO_MM LINEAGE ROOTCG \
                           IO_WORKER USER_WORKER UMH UMH_CHILD ! COMM";

#[test]
fn ps_fits_80_columns_on_a_narrow_terminal() {
    let _serial = serial();
    for (cols, columns) in [(200, Some("80")), (80, None)] {
        let (code, out, err) = on_terminal(&["ps"], cols, columns);
        assert_eq!(code, 0, "{err}");
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() > 3, "{out}");
        assert!(
            lines[0].starts_with("    PID COMM            KIND        ! TESTS"),
            "COMM early, the tests in one cell: {out}"
        );
        for line in &lines {
            assert!(line.chars().count() <= 80, "over 80 columns: {line:?}");
        }
        let row = |pid: &str| {
            lines
                .iter()
                .find(|l| l.split_whitespace().next() == Some(pid))
                .unwrap_or_else(|| panic!("no row for {pid}: {out}"))
        };
        let kthreadd = row("2");
        assert!(kthreadd.contains(" kthreadd "), "{kthreadd}");
        assert!(
            kthreadd.contains("pf_kthread no_mm lineage=self"),
            "the tests that say yes: {kthreadd}"
        );
        let me = row(&std::process::id().to_string());
        assert!(!me.contains("pf_kthread"), "{me}");
        assert!(err.is_empty(), "no notes without -v: {err}");
    }
}

#[test]
fn ps_keeps_every_column_on_a_wide_terminal_and_in_a_pipe() {
    let _serial = serial();
    let (code, out, err) = on_terminal(&["ps"], 80, Some("200"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().next(), Some(WIDE_HEADER), "{out}");
    let (code, piped, err) = run_tracer(&["ps"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        piped.lines().next(),
        Some(WIDE_HEADER),
        "a pipe always gets every column, whatever COLUMNS says"
    );
    let kthreadd = piped
        .lines()
        .find(|l| l.split_whitespace().next() == Some("2"))
        .expect("kthreadd's row");
    assert!(kthreadd.ends_with(" kthreadd"), "COMM last: {kthreadd}");
}

#[test]
fn ps_notes_only_with_verbose() {
    let _serial = serial();
    let (code, _, err) = run_tracer(&["ps"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "no notes by default: {err}");
    let (code, _, err) = run_tracer(&["ps", "-q"]);
    assert_eq!(code, 0, "-q is still accepted: {err}");
    assert!(err.is_empty(), "{err}");
    for flag in ["-v", "--verbose"] {
        let (code, _, err) = run_tracer(&["ps", flag]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            err.matches("umh is inferred").count(),
            1,
            "{flag}: the notes, once: {err}"
        );
    }
}
