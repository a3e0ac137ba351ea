//! Live tests of hostile task data in text output: a task whose comm, file
//! name and argv hold newlines and terminal escape sequences must never add
//! a line or put a control character on root's terminal, in `trace`,
//! `replay`, `report`, `ps` or `tree`.

use std::{
    ffi::OsStr,
    io::{BufRead as _, BufReader},
    os::unix::{ffi::OsStrExt as _, process::CommandExt as _},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use crate::common::*;

/// 15 bytes, the most a comm holds: sets a window title, rings the bell,
/// starts a line that pretends to be something else and clears the screen.
const COMM: &[u8] = b"\x1b]0;x\x07\nfake\x1b[2J";
/// [`COMM`]'s characters as text output must show them.
const COMM_ESCAPED: &str = "\\e]0;x\\x07\\nfake\\e[2J";
/// [`COMM`] as text output must show it: one ANSI-C quoted word.
const COMM_QUOTED: &str = "$'\\e]0;x\\x07\\nfake\\e[2J'";
/// An argument forging a whole event line.
const ARG: &[u8] = b"x\n13:37:00 forged\x1b[2J\xc2\x85";
/// [`ARG`] as text output must show it: ANSI-C quoted.
const ARG_QUOTED: &str = "$'x\\n13:37:00 forged\\e[2J\\xc2\\x85'";

/// Panics unless `out` is lines holding no control character (C0, DEL, C1)
/// besides their terminating newlines, none starting with forged text.
fn assert_clean(what: &str, out: &[u8]) {
    let text = String::from_utf8_lossy(out);
    // Split on newlines alone: `lines()` would hide a carriage return.
    for line in text.split('\n') {
        assert!(
            !line.chars().any(char::is_control),
            "{what} printed a control character: {line:?}"
        );
        assert!(
            !line.starts_with("13:37:00 forged") && !line.starts_with("fake"),
            "{what} let task data start a line: {line:?}\n{text}"
        );
    }
}

/// A symlink to /bin/sh named [`COMM`], so an exec of it takes that comm
/// and shows that file name.
fn hostile_sh(dir: &Path) -> PathBuf {
    let link = dir.join(OsStr::from_bytes(COMM));
    std::os::unix::fs::symlink("/bin/sh", &link).expect("symlink to /bin/sh");
    link
}

/// Runs the hostile workload to its end: a child that writes [`COMM`] to
/// /proc/self/comm (a rename event), execs [`hostile_sh`] with [`ARG`] in
/// its argv, and from there sends SIGTERM to kthreadd (ignored; a signal
/// line that names the sender). Returns the child's pid.
fn hostile_workload(sh: &Path) -> u32 {
    let mut cmd = Command::new(sh);
    cmd.args([OsStr::new("-c"), OsStr::new("kill -TERM 2; exit 0")])
        .arg(OsStr::from_bytes(ARG));
    // SAFETY: the closure only calls open/write/close, which are
    // async-signal-safe, on a NUL-terminated path and a static buffer.
    unsafe {
        cmd.pre_exec(|| {
            let fd = libc::open(c"/proc/self/comm".as_ptr(), libc::O_WRONLY);
            if fd >= 0 {
                libc::write(fd, COMM.as_ptr().cast(), COMM.len());
                libc::close(fd);
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawning the hostile workload");
    let pid = child.id();
    let status = child.wait().expect("reaping the hostile workload");
    assert!(status.success(), "hostile workload: {status}");
    pid
}

/// Reads a child's stdout as raw lines (newline kept off) on a thread.
fn raw_lines(child: &mut Child) -> mpsc::Receiver<Vec<u8>> {
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).split(b'\n').map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a stderr line containing "attached", then keeps draining.
fn wait_attached(child: &mut Child) {
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.contains("attached") => break,
            Ok(line) => eprintln!("tracer stderr: {line}"),
            Err(e) => panic!("tracer did not attach: {e:?}"),
        }
    }
    std::thread::spawn(move || while rx.recv().is_ok() {});
}

/// The checks shared by live and replayed text: every line clean, the
/// escaped comm and quoted argument present on the workload's exec line.
fn assert_trace_text(what: &str, out: &[u8], pid: u32) {
    assert_clean(what, out);
    let text = unfold(&String::from_utf8_lossy(out));
    let pid = pid.to_string();
    let of_pid = |event: &str| {
        text.lines()
            .filter(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                cols.get(2) == Some(&event) && cols.get(3) == Some(&pid.as_str())
            })
            .collect::<Vec<_>>()
    };
    let execs = of_pid("exec");
    assert_eq!(execs.len(), 1, "{what}: one exec line for {pid}:\n{text}");
    let exec = execs[0];
    assert!(exec.contains(&format!(" {COMM_QUOTED} ")), "{what}: {exec}");
    assert!(
        exec.contains(" $'/") && exec.contains(&format!("/{COMM_ESCAPED}' [$'")),
        "{what}: file name and argv[0] quoted: {exec}"
    );
    assert!(
        exec.contains(&format!(" -c 'kill -TERM 2; exit 0' {ARG_QUOTED}]")),
        "{what}: {exec}"
    );
    let renames = of_pid("rename");
    assert!(
        renames
            .iter()
            // Nothing after the name but context (none for root).
            .any(|l| l.ends_with(&format!("-> {COMM_QUOTED}"))
                || l.contains(&format!("-> {COMM_QUOTED} user="))),
        "{what}: rename to the hostile comm:\n{text}"
    );
    assert_eq!(of_pid("exit").len(), 1, "{what}: one exit line:\n{text}");
    assert!(
        text.lines().any(|l| l.contains("signal_generate")
            && l.contains(&format!(" from {pid} ({COMM_QUOTED}) [user]"))),
        "{what}: the signal to kthreadd names its sender escaped:\n{text}"
    );
}

#[test]
fn trace_text_escapes_hostile_names_and_argv() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let sh = hostile_sh(dir.path());
    let mut tracer = Command::new(tracer_exe())
        .args(["trace", "--format", "text"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning tracer");
    let lines = raw_lines(&mut tracer);
    wait_attached(&mut tracer);
    let pid = hostile_workload(&sh);
    let mut out = Vec::new();
    let (exit_col, pid_col) = (b"exit".as_slice(), pid.to_string());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut saw_exit = false;
    while !saw_exit && Instant::now() < deadline {
        let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let text = String::from_utf8_lossy(&line).into_owned();
        let cols: Vec<&str> = text.split_whitespace().collect();
        saw_exit = cols.get(2).map(|c| c.as_bytes()) == Some(exit_col)
            && cols.get(3) == Some(&pid_col.as_str());
        out.extend_from_slice(&line);
        out.push(b'\n');
    }
    // SAFETY: kill() with a pid we own.
    unsafe { libc::kill(tracer.id() as i32, libc::SIGTERM) };
    let status = tracer.wait().expect("tracer exit");
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(2)) {
        out.extend_from_slice(&line);
        out.push(b'\n');
    }
    assert!(status.success(), "SIGTERM stops cleanly: {status}");
    assert!(saw_exit, "no exit line for {pid} within 10 s");
    assert_trace_text("trace", &out, pid);
}

/// A forked child that names itself [`COMM`] (or another comm) and sleeps;
/// killed on drop.
struct Sleeper(libc::pid_t);

impl Sleeper {
    fn start() -> Sleeper {
        Sleeper::named(COMM)
    }

    fn named(comm: &[u8]) -> Sleeper {
        // SAFETY: the child only calls async-signal-safe functions (open,
        // write, close, sleep, _exit) before it ends.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            // SAFETY: as above; the child never returns into the test.
            unsafe {
                let fd = libc::open(c"/proc/self/comm".as_ptr(), libc::O_WRONLY);
                if fd >= 0 {
                    libc::write(fd, comm.as_ptr().cast(), comm.len());
                    libc::close(fd);
                }
                libc::sleep(10);
                libc::_exit(0);
            }
        }
        let sleeper = Sleeper(pid);
        let deadline = Instant::now() + Duration::from_secs(5);
        let path = format!("/proc/{pid}/comm");
        while std::fs::read(&path).ok().as_deref() != Some(&[comm, b"\n"].concat()) {
            assert!(
                Instant::now() < deadline,
                "{path} never became the hostile comm"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        sleeper
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        // SAFETY: kill() and waitpid() on our own child.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
            libc::waitpid(self.0, std::ptr::null_mut(), 0);
        }
    }
}

#[test]
fn ps_and_tree_escape_a_hostile_comm() {
    let _serial = serial();
    let sleeper = Sleeper::start();
    let pid = sleeper.0.to_string();
    for args in [vec!["ps"], vec!["tree"], vec!["tree", "1"]] {
        let what = format!("tracer {}", args.join(" "));
        let out = Command::new(tracer_exe())
            .args(&args)
            .output()
            .expect("running tracer");
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_clean(&what, &out.stdout);
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find(|l| l.split_whitespace().any(|w| w == pid))
            .unwrap_or_else(|| panic!("{what}: no line for {pid}:\n{text}"));
        if args[0] == "ps" {
            assert!(line.ends_with(&format!(" {COMM_QUOTED}")), "{what}: {line}");
        } else {
            assert!(
                line.ends_with(&format!("{pid} {COMM_QUOTED} [user]")),
                "{what}: {line}"
            );
        }
    }
    drop(sleeper);
}

/// A comm that reads backwards: U+202E (right-to-left override) shows
/// `txt.exe` as `exe.txt`, and U+200B hides between letters.
const BIDI_COMM: &[u8] = b"\xe2\x80\xaetxt.exe\xe2\x80\x8b";
/// [`BIDI_COMM`] as text output must show it: its invisible characters as
/// their bytes, in one ANSI-C quoted word.
const BIDI_QUOTED: &str = "$'\\xe2\\x80\\xaetxt.exe\\xe2\\x80\\x8b'";

#[test]
fn ps_and_tree_escape_bidi_and_invisible_characters_in_a_comm() {
    let _serial = serial();
    let sleeper = Sleeper::named(BIDI_COMM);
    let pid = sleeper.0.to_string();
    for args in [vec!["ps"], vec!["tree", "1"]] {
        let what = format!("tracer {}", args.join(" "));
        let out = Command::new(tracer_exe())
            .args(&args)
            .output()
            .expect("running tracer");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{what}: {text}");
        assert!(
            !text.contains('\u{202e}') && !text.contains('\u{200b}'),
            "{what} printed a bidi or invisible character"
        );
        let line = text
            .lines()
            .find(|l| l.split_whitespace().any(|w| w == pid))
            .unwrap_or_else(|| panic!("{what}: no line for {pid}:\n{text}"));
        assert!(line.contains(&format!(" {BIDI_QUOTED}")), "{what}: {line}");
    }
    drop(sleeper);
}

#[test]
fn replay_and_report_escape_hostile_names_and_argv() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let sh = hostile_sh(dir.path());
    let log = dir.path().join("hostile.log");
    let mut recorder = Command::new(tracer_exe())
        .arg("record")
        .arg("-o")
        .arg(&log)
        .args(["--duration", "3s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning tracer record");
    wait_attached(&mut recorder);
    let pid = hostile_workload(&sh);
    let status = recorder.wait().expect("record exit");
    assert!(status.success(), "record exited with {status}");
    let log = log.to_str().unwrap();

    let out = Command::new(tracer_exe())
        .args(["replay", log])
        .output()
        .expect("running tracer replay");
    assert!(
        out.status.success(),
        "replay: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_trace_text("replay", &out.stdout, pid);

    let out = Command::new(tracer_exe())
        .args(["report", log])
        .output()
        .expect("running tracer report");
    assert!(
        out.status.success(),
        "report: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_clean("report", &out.stdout);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            " from {pid} ({COMM_QUOTED}) to 2 (kthreadd) [kthreadd]: "
        )),
        "report: the signal line names its sender escaped:\n{text}"
    );

    // JSON keeps the raw bytes, escaped the JSON way.
    let out = Command::new(tracer_exe())
        .args(["replay", log, "--format", "json"])
        .output()
        .expect("running tracer replay --format json");
    assert!(out.status.success());
    let comm = String::from_utf8(COMM.to_vec()).unwrap();
    let arg = String::from_utf8(ARG.to_vec()).unwrap();
    let exec = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .find(|v| is(v, "exec") && u64_of(v, "pid") == u64::from(pid))
        .expect("the exec in JSON");
    assert_eq!(str_of(&exec, "comm"), comm);
    assert_eq!(exec["argv"][3], arg.as_str(), "{exec}");
}

/// A name and an argument that are not UTF-8.
const RAW_NAME: &[u8] = b"bad\xff\xfename";
const RAW_ARG: &[u8] = b"arg\xc3(\x80";

/// Bytes that are not UTF-8 stay recoverable: JSON has the lossy text and
/// the exact bytes in `<field>_b64`, text shows `\xNN`, live and replayed,
/// and `ps` still lists a task whose comm is not UTF-8.
#[test]
fn bytes_that_are_not_utf8_are_kept_exactly() {
    use base64::{engine::general_purpose::STANDARD, Engine as _};
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join(OsStr::from_bytes(RAW_NAME));
    std::os::unix::fs::symlink("/bin/sleep", &link).unwrap();
    let log = dir.path().join("raw.log");
    struct Reap(Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut rec = Reap(
        Command::new(tracer_exe())
            .args(["record", "-o", log.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    wait_attached(&mut rec.0);
    let tracer = Tracer::start(&["--event", "exec,exit"]);
    let mut child = Command::new(&link)
        .arg("0.5")
        .arg(OsStr::from_bytes(RAW_ARG))
        .spawn()
        .unwrap();
    let pid = child.id();
    // While it runs, ps lists it, its comm recoverable.
    std::thread::sleep(Duration::from_millis(200));
    let rows = ps_json(&["--pid", &pid.to_string()]);
    assert_eq!(rows.len(), 1, "ps hides a task whose comm is not UTF-8");
    let comm_b64 = str_of(&rows[0], "comm_b64");
    assert_eq!(
        STANDARD.decode(comm_b64).unwrap(),
        &RAW_NAME[..RAW_NAME.len().min(15)]
    );
    let _ = child.wait();
    let (events, _) = tracer.stop();
    kill(rec.0.id(), libc::SIGINT);
    assert!(rec.0.wait().unwrap().success());

    let check = |what: &str, events: &[serde_json::Value]| {
        let exec = events
            .iter()
            .find(|v| is(v, "exec") && v["pid"] == pid)
            .unwrap_or_else(|| panic!("{what}: no exec"));
        let name = STANDARD.decode(str_of(exec, "filename_b64")).unwrap();
        assert_eq!(name, link.as_os_str().as_bytes(), "{what}");
        assert!(str_of(exec, "filename").contains('\u{fffd}'), "{what}");
        let argv_b64 = exec["argv_b64"].as_array().expect("argv_b64");
        let last = STANDARD
            .decode(argv_b64.last().unwrap().as_str().unwrap())
            .unwrap();
        assert_eq!(last, RAW_ARG, "{what}");
        assert_eq!(argv_b64.len(), exec["argv"].as_array().unwrap().len());
        assert_eq!(
            STANDARD.decode(str_of(exec, "comm_b64")).unwrap(),
            &RAW_NAME[..RAW_NAME.len().min(15)],
            "{what}"
        );
        // Fields of valid text get no `_b64`.
        assert!(exec.get("ppid_b64").is_none() && exec["helper"].is_null());
    };
    check("live", &events);
    let (code, out, err) = run_tracer(&["replay", log.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let replayed: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("strict JSON"))
        .collect();
    check("replay", &replayed);
    let (code, text, err) = run_tracer(&["replay", log.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let text = unfold(&text);
    // TIME CPU EVENT PID ...: the pid as a field, not as a substring of
    // another number.
    let line = text
        .lines()
        .find(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[2] == "exec" && f[3] == pid.to_string()
        })
        .expect("the exec line");
    assert!(line.contains("bad\\xff\\xfename"), "{line}");
    assert!(line.contains("$'arg\\xc3(\\x80'"), "{line}");
}

/// A comm forging the end of a sender and the start of a uid.
const FORGER: &str = "k) uid=0 (init";
/// How text output must show it: one quoted word.
const FORGER_QUOTED: &str = "'k) uid=0 (init'";

/// A forked child that names itself [`FORGER`] by prctl, sends SIGTERM to
/// kthreadd (ignored; a signal line naming the sender) and, with `linger`,
/// sleeps until killed; its pid, once it has done so.
fn forger(linger: bool) -> i32 {
    let mut fds = [0; 2];
    // SAFETY: a valid array of two fds.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let [r, w] = fds;
    let name = std::ffi::CString::new(FORGER).unwrap();
    let child = fork_waiting_child(|| {
        // SAFETY: prctl with a NUL-terminated name of at most 16 bytes;
        // kill, write and close on our own fds and pid 2.
        unsafe {
            libc::prctl(libc::PR_SET_NAME, name.as_ptr());
            libc::kill(2, libc::SIGTERM);
            libc::write(w, b"x".as_ptr().cast(), 1);
            libc::close(w);
            if !linger {
                libc::_exit(0);
            }
        }
    });
    let mut b = [0u8; 1];
    // SAFETY: reading one byte into a valid buffer; closing our own fds.
    unsafe {
        libc::close(w);
        assert_eq!(libc::read(r, b.as_mut_ptr().cast(), 1), 1, "the forger ran");
        libc::close(r);
    }
    child
}

/// Kills and reaps a child of this test.
fn reap(pid: i32) {
    // SAFETY: kill() and waitpid() on our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

/// Text of `trace`/`replay` with the compact layout's wrapped details put
/// back on their event's line (a wrap drops the space it breaks at).
fn unwrapped(out: &[u8]) -> String {
    unfold(&String::from_utf8_lossy(out))
}

/// The forged sentences must read as quoted words: the sender's comm in
/// the signal line, the exec'd file name and argv, the COMM column.
fn assert_unforged(what: &str, text: &str, forger: i32, file: &str) {
    assert!(
        text.contains(&format!(" from {forger} ({FORGER_QUOTED}) [user] uid=")),
        "{what}: the signal's sender, quoted:\n{text}"
    );
    assert!(
        text.contains(&format!(" '{file}' ['{file}' -c 'kill -TERM 2']")),
        "{what}: the exec'd file and argv, quoted:\n{text}"
    );
    assert!(
        text.contains(" 'x [sudo -i]' "),
        "{what}: the exec's COMM column, quoted:\n{text}"
    );
    assert!(!text.contains(&format!("({FORGER})")), "{what}:\n{text}");
    assert!(!text.contains(&format!(" {file} [")), "{what}:\n{text}");
}

/// Issue 23: a process named `k) uid=0 (init` that sends a signal must not
/// read `from 25761 (k) uid=0 (init) uid=65534`, and an exec of a file
/// named `/tmp/u/x [sudo -i]` must not read as if it ran `sudo -i`: in
/// `trace` and `replay` (both layouts), `report`, `ps` and `tree`.
#[test]
fn names_cannot_forge_words_of_a_sentence() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x [sudo -i]");
    std::os::unix::fs::symlink("/bin/sh", &file).expect("symlink to /bin/sh");
    let file = file.to_str().unwrap().to_string();
    let log = dir.path().join("forged.log");
    let wide_out = dir.path().join("wide.txt");
    let narrow_out = dir.path().join("narrow.txt");
    let recorder = start_recording(&log, &[]);
    let mut traces = Vec::new();
    for (out, layout) in [(&wide_out, "--wide"), (&narrow_out, "--narrow")] {
        let mut child = Command::new(tracer_exe())
            .args(["trace", layout])
            .env("COLUMNS", "80")
            .stdout(std::fs::File::create(out).unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning tracer trace");
        wait_attached(&mut child);
        traces.push(child);
    }
    let forger_pid = forger(false);
    reap(forger_pid);
    let mut exec = Command::new(&file)
        .args(["-c", "kill -TERM 2"])
        .spawn()
        .expect("running the bracketed file");
    let exec_pid = exec.id();
    assert!(exec.wait().unwrap().success());
    // Events reach the output within about 50 ms.
    std::thread::sleep(Duration::from_millis(500));
    for mut t in traces {
        kill(t.id(), libc::SIGTERM);
        assert!(t.wait().unwrap().success());
    }
    stop_recording(recorder);
    for (what, out) in [("trace", &wide_out), ("trace --narrow", &narrow_out)] {
        let bytes = std::fs::read(out).unwrap();
        assert_clean(what, &bytes);
        let text = unwrapped(&bytes);
        assert_unforged(what, &text, forger_pid, &file);
    }
    let log = log.to_str().unwrap();
    for args in [vec!["replay", log], vec!["replay", "--narrow", log]] {
        let out = Command::new(tracer_exe())
            .args(&args)
            .env("COLUMNS", "80")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        assert_clean(&args.join(" "), &out.stdout);
        let text = unwrapped(&out.stdout);
        assert_unforged(&args.join(" "), &text, forger_pid, &file);
    }
    let (code, text, err) = run_tracer(&["report", log]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains(&format!(
            " from {forger_pid} ({FORGER_QUOTED}) to 2 (kthreadd) [kthreadd]: "
        )) && text.contains(&format!(
            " from {exec_pid} ('x [sudo -i]') to 2 (kthreadd) [kthreadd]: "
        )),
        "report: senders quoted:\n{text}"
    );
    assert!(!text.contains(&format!("({FORGER})")), "report:\n{text}");

    // A live task of that name, in ps and tree.
    let sleeper = forger(true);
    for args in [vec!["ps"], vec!["tree"]] {
        let (code, text, err) = run_tracer(&args);
        assert_eq!(code, 0, "{err}");
        let line = text
            .lines()
            .find(|l| l.split_whitespace().any(|w| w == sleeper.to_string()))
            .unwrap_or_else(|| panic!("{args:?}: no line for {sleeper}:\n{text}"));
        let want = if args[0] == "ps" {
            format!(" {FORGER_QUOTED}")
        } else {
            format!("{sleeper} {FORGER_QUOTED} [user]")
        };
        assert!(line.ends_with(&want), "{args:?}: {line}");
    }
    reap(sleeper);
}
