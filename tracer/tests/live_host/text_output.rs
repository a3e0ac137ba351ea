//! Text for people: dates in replays, the compact layout on a narrow
//! terminal, colour, signal codes by name, no POSTCOREDUMP in FLAGS, and
//! `tree` as JSON or in ASCII. From logs (no BPF), then live.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use crate::{common, two_days::*};

/// Live: `trace` on an 80-column terminal (a pty) picks the compact layout
/// and colour by itself, names signal codes, and colours a failed exit.
#[test]
fn live_trace_on_a_narrow_terminal() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("readable-marker");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tracer"));
    cmd.args(["trace", "--duration", "4s"])
        .env("TERM", "xterm")
        .env("TZ", "UTC")
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR")
        .stderr(Stdio::piped());
    let (mut child, rx) = spawn_on_pty(cmd, 80);
    let (err_tx, err_rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = err_tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let l = err_rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("tracer attaches");
        if l.contains("attached") {
            break;
        }
    }
    let mut lines = Vec::new();
    let status = Command::new("/bin/sh")
        .args([
            "-c",
            &format!(
                "exec 2>/dev/null; kill -TERM 2; : > '{}'; exit 3",
                marker.display()
            ),
        ])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    let pid_line = |lines: &[String]| lines.iter().any(|l| l.contains("\x1b[31mexited 3"));
    while !pid_line(&lines) {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(l) => lines.push(l),
            Err(_) => break,
        }
    }
    let _ = child.wait();
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
        lines.push(l);
    }
    let text = lines.join("\n");
    let plain = strip_sgr(&text);
    assert!(
        plain.contains("TIME         EVENT      PID COMM            KIND  DETAILS"),
        "{plain}"
    );
    assert!(pid_line(&lines), "the sh's exit, red:\n{text}");
    assert!(
        plain
            .lines()
            .any(|l| l.contains(" siggen ") && l.contains(" SIGTERM from ")),
        "{plain}"
    );
    assert!(
        plain.contains("result=ignored code=SI_USER"),
        "kill(2) is SI_USER:\n{plain}"
    );
    assert!(
        text.contains("\x1b[36mkthd \x1b[0m"),
        "kthreadd in cyan:\n{text}"
    );
    assert!(!plain.contains("POSTCOREDUMP"), "{plain}");
}

/// Live JSON keeps the raw flags (POSTCOREDUMP included) and codes.
#[test]
fn live_json_keeps_raw_flags_and_names_codes() {
    let _serial = common::serial();
    let mut tracer = common::Tracer::start(&[]);
    let status = Command::new("/bin/sh")
        .args(["-c", "exec 2>/dev/null; kill -TERM 2; exit 0"])
        .status()
        .unwrap();
    assert!(status.success());
    let sig = tracer.wait_for("SIGTERM to kthreadd", |v| {
        common::is(v, "signal_generate") && v["pid"] == 2 && v["signal"] == "SIGTERM"
    });
    assert_eq!(sig["code"], 0);
    assert_eq!(sig["code_name"], "SI_USER");
    let sender = sig["sender"]["pid"].as_u64().unwrap();
    let exit = tracer.wait_for("the sender's exit", |v| {
        common::is(v, "exit") && v["pid"].as_u64() == Some(sender)
    });
    // The kernel sets PF_POSTCOREDUMP on every exit since 6.0; before,
    // the bit has no name.
    if common::kernel_version() >= (6, 0) {
        assert!(common::has_flag(&exit, "POSTCOREDUMP"), "{exit}");
    } else {
        assert!(!common::has_flag(&exit, "POSTCOREDUMP"), "{exit}");
    }
    tracer.stop();
}
