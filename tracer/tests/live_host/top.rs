//! `tracer top` driven in tmux (send-keys, capture-pane) at 80×24 and
//! 200×50: a core_pattern helper killed by SIGKILL in the helper pane with
//! its killer and requester, `kill -TERM 2` in the signals pane as
//! ignored, an ext4 loop mount's jbd2 thread under kthreadd, `/` and `f`
//! narrowing the views, `q` leaving the terminal as it was; then the same
//! scenario's recording opened with `tracer top LOG`.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use crate::common::*;

/// A tmux session running one command, killed on drop.
struct Tmux {
    name: String,
}

impl Tmux {
    /// `tracer ARGS` in a fresh `width`×`height` session; the shell line
    /// after it says how it exited and keeps the pane.
    fn start(width: u16, height: u16, args: &[&str], env: &[&str]) -> Tmux {
        let name = format!("tracer-top-{}-{width}", std::process::id());
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &name])
            .output();
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        let line = format!(
            "{} top {}; echo EXITED $?; sleep 600",
            tracer_exe(),
            quoted.join(" ")
        );
        let mut cmd = Command::new("/usr/bin/tmux");
        cmd.args(["new-session", "-d", "-s", &name, "-x"])
            .arg(width.to_string())
            .arg("-y")
            .arg(height.to_string());
        for e in env {
            cmd.args(["-e", e]);
        }
        let ok = cmd.arg(line).status().expect("tmux (/usr/bin/tmux)");
        assert!(ok.success(), "tmux new-session failed");
        Tmux { name }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("/usr/bin/tmux")
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Keys by tmux's names (`Enter`, `Down`, `q`).
    fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", &self.name, k]);
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Text typed as it is.
    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", &self.name, "-l", text]);
        std::thread::sleep(Duration::from_millis(150));
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.name])
    }

    fn escapes(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-e", "-t", &self.name])
    }

    /// Waits until the screen satisfies `pred`; the screen then.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `q`, then the terminal as it was: no alternate screen, cursor shown.
    fn quit(&self) -> String {
        self.keys(&["q"]);
        self.restored()
    }

    /// tracer top's pid (the pane runs a shell, whose child it is).
    fn tracer_pid(&self) -> u32 {
        let shell = self.tmux(&["display-message", "-p", "-t", &self.name, "#{pane_pid}"]);
        let children = std::fs::read_to_string(format!(
            "/proc/{}/task/{}/children",
            shell.trim(),
            shell.trim()
        ))
        .unwrap();
        children.split_whitespace().next().unwrap().parse().unwrap()
    }

    /// It exited 0, and left the terminal as it was.
    fn restored(&self) -> String {
        let screen = self.wait_for("tracer top to exit", |s| s.contains("EXITED"));
        assert!(screen.contains("EXITED 0"), "{screen}");
        let modes = self.tmux(&[
            "display-message",
            "-p",
            "-t",
            &self.name,
            "#{alternate_on} #{cursor_flag}",
        ]);
        assert_eq!(modes.trim(), "0 1", "alternate screen off, cursor on");
        screen
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("/usr/bin/tmux")
            .args(["kill-session", "-t", &self.name])
            .output();
    }
}

/// The screen's line that contains every one of `parts`.
fn line_with<'a>(screen: &'a str, parts: &[&str]) -> Option<&'a str> {
    screen.lines().find(|l| parts.iter().all(|p| l.contains(p)))
}

/// The loop device under `mountpoint`, from this process's mountinfo.
fn loop_device(mountpoint: &std::path::Path) -> String {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mp = mountpoint.to_str().unwrap();
    info.lines()
        .find(|l| l.split(' ').nth(4) == Some(mp))
        .and_then(|l| l.split(" - ").nth(1)?.split(' ').nth(1))
        .and_then(|dev| dev.strip_prefix("/dev/"))
        .unwrap_or_else(|| panic!("no loop device for {mp}:\n{info}"))
        .to_string()
}

/// What the scenario left for the checks: pids and names.
struct Scenario {
    helper_pid: String,
    killer_pid: String,
    crasher_pid: String,
    jbd2: String,
}

/// The helper, the signal and the mount, each waited for on `top`'s
/// screen. The mount stays until `mount` drops.
fn scenario(top: &Tmux, dir: &std::path::Path, mount: &mut Option<LoopMount>) -> Scenario {
    // A core-dump helper that waits for a child.
    let helper = script(dir, "core-helper", "/bin/sleep 60 &\nwait\n");
    let _pattern = core_pattern_to(&helper);
    let mut crasher = crash();
    let crasher_pid = crasher.id().to_string();
    let screen = top.wait_for("the helper running", |s| {
        line_with(s, &["running", "core-helper"]).is_some()
    });
    let row = line_with(&screen, &["running", "core-helper"]).unwrap();
    // The pid after `running` (at 200 columns the tree shares the line).
    let words: Vec<&str> = row.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "running").unwrap();
    let helper_pid = words[at + 1].to_string();
    let mut killer = Command::new("/bin/kill")
        .args(["-KILL", &helper_pid])
        .spawn()
        .unwrap();
    let killer_pid = killer.id().to_string();
    assert!(killer.wait().unwrap().success());
    let _ = crasher.wait();

    let status = Command::new("/bin/kill")
        .args(["-TERM", "2"])
        .status()
        .unwrap();
    assert!(status.success());

    *mount = Some(LoopMount::new());
    let dev = loop_device(mount.as_ref().unwrap().path());
    Scenario {
        helper_pid,
        killer_pid,
        crasher_pid,
        jbd2: format!("jbd2/{dev}-8"),
    }
}

/// The helper pane's row for the killed helper, with killer and requester.
fn assert_killed_helper(screen: &str, s: &Scenario) {
    let row = line_with(screen, &["killed", &s.helper_pid, "core-helper"])
        .unwrap_or_else(|| panic!("no killed helper row:\n{screen}"));
    assert!(
        row.contains(&format!("{} (kill)", s.killer_pid)),
        "killer: {row}"
    );
    assert!(
        row.contains(&format!("for {} (sh", s.crasher_pid)),
        "requester: {row}"
    );
}

/// The signals pane's row for `kill -TERM 2`.
fn assert_ignored_term_to_kthreadd(screen: &str) {
    let row = line_with(screen, &["SIGTERM", "to       2 kthreadd", "ignored"]);
    assert!(row.is_some(), "no ignored SIGTERM to kthreadd:\n{screen}");
}

/// `/` with the jbd2 thread's name: the tree is kthreadd and it, one
/// level down; the helper pane holds no core helper any more.
fn filter_to(top: &Tmux, jbd2: &str) -> String {
    top.keys(&["/"]);
    top.type_text(jbd2);
    top.keys(&["Enter"]);
    // (The status line says `filter: ...`, cut at 80 columns.)
    let screen = top.wait_for("the filtered tree", |s| s.contains("Tasks (2 shown)"));
    let kthreadd = line_with(&screen, &["kthreadd", "      2  kthreadd"])
        .unwrap_or_else(|| panic!("kthreadd row:\n{screen}"));
    let thread =
        line_with(&screen, &["kthread ", jbd2]).unwrap_or_else(|| panic!("{jbd2} row:\n{screen}"));
    let indent = |l: &str, name: &str| l.find(name).unwrap();
    assert!(
        indent(thread, jbd2) > indent(kthreadd, "  kthreadd") + 2,
        "{jbd2} one level under kthreadd:\n{screen}"
    );
    assert!(
        !screen.contains("core-helper"),
        "the filter narrows the helpers:\n{screen}"
    );
    screen
}

/// `f` on the jbd2 row: its subtree only, and no signals (they went to
/// kthreadd, outside it).
fn follow_selected(top: &Tmux, jbd2: &str) {
    top.keys(&["Down", "f"]);
    let screen = top.wait_for("following the jbd2 thread", |s| s.contains("following"));
    assert!(screen.contains("Tasks (1 shown)"), "{screen}");
    assert!(
        line_with(&screen, &["kthread ", jbd2]).is_some(),
        "{screen}"
    );
    assert!(
        !screen.contains("SIGTERM"),
        "follow narrows the signals:\n{screen}"
    );
}

/// One size: the live scenario on the screen, recorded beside it when
/// `record` names a log.
fn live_at(
    width: u16,
    height: u16,
    record: Option<&std::path::Path>,
) -> (Scenario, Option<LoopMount>) {
    let dir = tempfile::tempdir().unwrap();
    let recording = record.map(|log| start_recording(log, &[]));
    let top = Tmux::start(width, height, &[], &[]);
    top.wait_for("the screen", |s| s.contains("tracer top | live"));
    let mut mount = None;
    let s = scenario(&top, dir.path(), &mut mount);
    let screen = top.wait_for("the helper killed", |sc| {
        line_with(sc, &["killed", &s.helper_pid]).is_some()
    });
    assert_killed_helper(&screen, &s);
    let screen = top.wait_for("SIGTERM to kthreadd", |sc| sc.contains("SIGTERM"));
    assert_ignored_term_to_kthreadd(&screen);
    if width >= 150 {
        // The churn pane names whom the jbd2 thread was made for.
        top.wait_for("jbd2 churn for mount", |sc| {
            line_with(sc, &["jbd2/*", "mount ×"]).is_some()
        });
    }
    // docs/top.md's capture comes from here.
    if let Ok(path) = std::env::var("TRACER_TOP_CAPTURE") {
        std::fs::write(format!("{path}-{width}x{height}.txt"), &screen).unwrap();
    }
    filter_to(&top, &s.jbd2);
    follow_selected(&top, &s.jbd2);
    top.quit();
    if let Some(r) = recording {
        stop_recording(r);
    }
    (s, mount)
}

#[test]
fn live_screen_at_80x24_and_200x50() {
    let _serial = serial();
    for (w, h) in [(80, 24), (200, 50)] {
        let (_, mount) = live_at(w, h, None);
        drop(mount);
    }
}

#[test]
fn a_recording_shows_the_same_and_its_cursor_finds_the_kill() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("top.log");
    let (s, mount) = live_at(80, 24, Some(&log));
    drop(mount);
    let top = Tmux::start(80, 24, &[log.to_str().unwrap()], &[]);
    // The end of the log: the same panes.
    let screen = top.wait_for("the recording's end", |sc| {
        line_with(sc, &["killed", &s.helper_pid]).is_some()
    });
    assert!(screen.contains("top.log | event "), "{screen}");
    assert_killed_helper(&screen, &s);
    assert_ignored_term_to_kthreadd(&screen);
    filter_to(&top, &s.jbd2);
    top.keys(&["/", "BSpace"]);
    for _ in 0..s.jbd2.len() {
        top.keys(&["BSpace"]);
    }
    top.keys(&["Enter"]);
    // From the start, the next helper kill: the helper still runs.
    top.keys(&["{", "n"]);
    let screen = top.wait_for("the cursor before the kill", |sc| {
        line_with(sc, &["running", &s.helper_pid, "core-helper"]).is_some()
    });
    assert!(
        line_with(&screen, &["killed", &s.helper_pid]).is_none(),
        "{screen}"
    );
    // One event on: killed.
    top.keys(&["."]);
    let screen = top.wait_for("the kill, one event on", |sc| {
        line_with(sc, &["killed", &s.helper_pid]).is_some()
    });
    assert_killed_helper(&screen, &s);
    top.quit();
}

#[test]
fn no_color_sigterm_and_a_pipe() {
    let _serial = serial();
    let coloured = |env: &[&str]| {
        let top = Tmux::start(80, 24, &[], env);
        top.wait_for("the screen", |s| s.contains("tracer top | live"));
        std::thread::sleep(Duration::from_millis(500));
        let escapes = top.escapes();
        top.quit();
        // SGR foreground colours: tmux writes the 8 colours as
        // `\e[38;5;Nm` (or `\e[3Nm`).
        escapes.contains("\x1b[38;5;") || (30..38).any(|c| escapes.contains(&format!("\x1b[{c}m")))
    };
    assert!(coloured(&["TERM=xterm"]), "kinds are coloured by default");
    assert!(!coloured(&["NO_COLOR=1"]), "NO_COLOR is honoured");
    // SIGTERM: the terminal is put back too.
    let top = Tmux::start(80, 24, &[], &[]);
    top.wait_for("the screen", |s| s.contains("tracer top | live"));
    kill(top.tracer_pid(), libc::SIGTERM);
    top.restored();
    let out = run_bounded(&["top"]);
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(
        err.contains("needs a terminal") && err.contains("tracer trace"),
        "{err}"
    );
}
