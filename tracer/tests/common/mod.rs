//! Helpers for the live tests: run the real `tracer` binary against the real
//! kernel and read its JSON events.
//!
//! Every live test holds [`serial`] for its whole run: each tracer sees every
//! event on the machine, so a storm from one test would make another lose
//! events, and the tests that change global kernel state must never overlap.
#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Output, Stdio},
    sync::{
        mpsc::{self, Receiver, RecvTimeoutError},
        Mutex, MutexGuard,
    },
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

mod io_uring;
mod mounts;
// Not every test binary sets up an io_uring or mounts a file system.
#[allow(unused_imports)]
pub(crate) use io_uring::*;
#[allow(unused_imports)]
pub(crate) use mounts::*;

static SERIAL: Mutex<()> = Mutex::new(());

/// Serializes live tests (a failed test poisons nothing: the guard is taken
/// back from a poisoned lock).
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The name the test harness knows test `name` of module `module` (its
/// `module_path!()`) by: the path without the binary's own name, as
/// `--exact` wants it when a test binary re-runs one of its own tests.
pub(crate) fn test_name(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_, path)) => format!("{path}::{name}"),
        None => name.to_string(),
    }
}

pub(crate) fn tracer_exe() -> &'static str {
    env!("CARGO_BIN_EXE_tracer")
}

/// A running `tracer trace --format json`.
pub(crate) struct Tracer {
    child: Child,
    /// Parsed stdout lines; an `Err` is a line that was not JSON.
    events: Receiver<Result<Value, String>>,
    stderr: Receiver<String>,
    /// Every event received so far, in order.
    pub seen: Vec<Value>,
    /// What the tracer wrote to stderr up to its `attached` line, included.
    pub startup: Vec<String>,
    /// Stderr lines after `attached` that [`Tracer::wait_for_stderr`] read.
    pub late: Vec<String>,
}

impl Tracer {
    /// Starts the tracer and waits until its programs are attached.
    pub(crate) fn start(extra: &[&str]) -> Tracer {
        let mut child = Command::new(tracer_exe())
            .args(["trace", "--format", "json"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning tracer");
        let (ev_tx, events) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value = serde_json::from_str::<Value>(&line)
                    .map_err(|e| format!("tracer printed invalid JSON ({e}): {line}"));
                if ev_tx.send(value).is_err() {
                    break;
                }
            }
        });
        let (err_tx, stderr) = mpsc::channel();
        let err = child.stderr.take().expect("stderr");
        thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if err_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut tracer = Tracer {
            child,
            events,
            stderr,
            seen: Vec::new(),
            startup: Vec::new(),
            late: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match tracer
                .stderr
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) if line.contains("attached") => {
                    tracer.startup.push(line);
                    break;
                }
                Ok(line) => {
                    eprintln!("tracer stderr: {line}");
                    tracer.startup.push(line);
                }
                Err(e) => {
                    let status = tracer.child.try_wait();
                    panic!("tracer did not attach ({e:?}); status {status:?}")
                }
            }
        }
        tracer
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to 10 s for an event matching `pred`, searching events
    /// already seen first. Panics with the events seen when none comes.
    pub(crate) fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return v.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self
                .events
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(Ok(v)) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Ok(Err(bad)) => panic!("{bad}"),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    let tail: Vec<String> = self
                        .seen
                        .iter()
                        .rev()
                        .take(30)
                        .map(|v| v.to_string())
                        .collect();
                    panic!(
                        "no {what} event within 10 s; {} events seen, the last ones:\n{}",
                        self.seen.len(),
                        tail.join("\n")
                    );
                }
            }
        }
    }

    /// Waits up to `within` for a stderr line (after `attached`) that
    /// `pred` accepts; the line. Panics with the lines read when none comes.
    pub(crate) fn wait_for_stderr(
        &mut self,
        what: &str,
        within: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        if let Some(l) = self.late.iter().find(|l| pred(l)) {
            return l.clone();
        }
        let deadline = Instant::now() + within;
        loop {
            match self
                .stderr
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => {
                    self.late.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no {what} on stderr within {within:?}; it said:\n{}",
                    self.late.join("\n")
                ),
            }
        }
    }

    /// Sends SIGINT, waits for a clean exit (asserted), and returns every
    /// event seen and everything written to stderr after attaching.
    pub(crate) fn stop(mut self) -> (Vec<Value>, String) {
        // SAFETY: kill() with a pid we own and a valid signal number.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait().expect("waiting for tracer");
        let mut seen = std::mem::take(&mut self.seen);
        // The reader threads end at EOF, which closes their channels.
        while let Ok(v) = self.events.recv_timeout(Duration::from_secs(5)) {
            seen.push(v.unwrap_or_else(|bad| panic!("{bad}")));
        }
        let mut stderr = std::mem::take(&mut self.late);
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(5)) {
            stderr.push(line);
        }
        let stderr = stderr.join("\n");
        assert!(
            status.success(),
            "tracer exited with {status} after SIGINT; stderr:\n{stderr}"
        );
        (seen, stderr)
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key)
        .unwrap_or_else(|| panic!("event has no `{key}`: {v}"))
}

pub(crate) fn u64_of(v: &Value, key: &str) -> u64 {
    field(v, key)
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` is not a number: {v}"))
}

pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    field(v, key)
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string: {v}"))
}

pub(crate) fn has_flag(v: &Value, flag: &str) -> bool {
    field(v, "flags")
        .as_array()
        .unwrap_or_else(|| panic!("`flags` is not an array: {v}"))
        .iter()
        .any(|f| f == flag)
}

pub(crate) fn is(v: &Value, event: &str) -> bool {
    v["event"] == event
}

/// The process id of this test binary (the tgid every test action runs in).
pub(crate) fn me() -> u64 {
    u64::from(std::process::id())
}

/// Runs `tracer ARGS` to completion; returns (exit code, stdout, stderr).
pub(crate) fn run_tracer(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(tracer_exe())
        .args(args)
        .output()
        .expect("running tracer");
    (
        out.status.code().expect("exited normally, not by a signal"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `tracer ps --format json ARGS`, parsed.
pub(crate) fn ps_json(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["ps", "--format", "json"];
    all.extend_from_slice(args);
    let (code, out, err) = run_tracer(&all);
    assert_eq!(code, 0, "tracer ps failed: {err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON ({e}): {l}")))
        .collect()
}

/// Sets a sysctl-like file for the duration of a test and restores the old
/// value on drop, also when the test fails.
pub(crate) struct Restore {
    path: &'static str,
    old: String,
}

impl Restore {
    pub(crate) fn set(path: &'static str, value: &str) -> Restore {
        let restore = Restore::keep(path);
        std::fs::write(path, value).unwrap_or_else(|e| panic!("writing {path}: {e}"));
        restore
    }

    /// Changes nothing now: puts back the value `path` has now on drop,
    /// whatever the test writes to it meanwhile.
    pub(crate) fn keep(path: &'static str) -> Restore {
        let old = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        Restore { path, old }
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        // A knob that lists its choices (`always [madvise] never`) is
        // written the chosen one alone.
        let old = self.old.trim_end();
        let old = match old.split(['[', ']']).nth(1) {
            Some(chosen) if old.contains('[') => chosen,
            _ => old,
        };
        if let Err(e) = std::fs::write(self.path, old) {
            eprintln!("failed to restore {}: {e}", self.path);
        }
    }
}

/// Whether this runs in a guest of the kernel matrix (`cargo xtask
/// vm-test` sets TRACER_KERNEL_MATRIX): emulated CPUs and older
/// schedulers, where a few guarantees the host gives are weaker.
pub(crate) fn in_kernel_matrix() -> bool {
    std::env::var_os("TRACER_KERNEL_MATRIX").is_some()
}

/// Marks the running test as skipped because this kernel lacks what it
/// checks (`reason` says what, from BTF or /proc), then returns so the test
/// passes. The reason goes to `$TRACER_SKIP_FILE`, where `cargo xtask test`
/// (which fails on any skip on the host kernel) and the kernel matrix pick
/// it up, and always to stderr: a skip is never silent.
pub(crate) fn skip(reason: &str) {
    eprintln!("SKIPPED: {reason}");
    if let Ok(path) = std::env::var("TRACER_SKIP_FILE") {
        use std::io::Write as _;
        let name = thread::current()
            .name()
            .unwrap_or("unnamed test")
            .to_string();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("opening {path}: {e}"));
        writeln!(f, "{reason} ({name})").expect("writing the skip file");
    }
}

/// The running kernel's BTF, as the tracer reads it.
pub(crate) fn kernel_btf() -> Vec<u8> {
    std::fs::read("/sys/kernel/btf/vmlinux").expect("reading /sys/kernel/btf/vmlinux")
}

/// Whether `sched_process_exit` passes `group_dead` here (6.16+), from BTF.
pub(crate) fn exit_has_group_dead() -> bool {
    let data = kernel_btf();
    let btf = tracer::kernel::btf::Btf::parse(&data).expect("parsing kernel BTF");
    btf.tracepoint_arity("sched_process_exit")
        .expect("sched_process_exit in BTF")
        >= 2
}

/// (major, minor) of the running kernel.
pub(crate) fn kernel_version() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    let mut parts = release.trim().split(['.', '-']);
    let mut next = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (next(), next())
}

/// kill(2), asserting it worked.
pub(crate) fn kill(pid: impl Into<u64>, sig: i32) {
    let pid = pid.into();
    // SAFETY: kill() has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid as i32, sig) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

/// An executable shell script `name` in `dir` running `body`; its path.
pub(crate) fn script(dir: &std::path::Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).expect("writing a script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .expect("making a script executable");
    path.to_str().expect("UTF-8 temp path").to_string()
}

/// Pipes core dumps to `helper` (core_pattern `|helper %p`) until the
/// returned guard drops, which restores the old pattern.
pub(crate) fn core_pattern_to(helper: &str) -> Restore {
    Restore::set("/proc/sys/kernel/core_pattern", &format!("|{helper} %p"))
}

/// A shell that kills itself with SIGSEGV: its core dump starts the helper.
pub(crate) fn crash() -> Child {
    Command::new("/bin/sh")
        .args(["-c", "kill -SEGV $$"])
        .spawn()
        .expect("spawning a crashing shell")
}

/// A file put at a fixed system path (a helper the kernel runs by name,
/// like /sbin/request-key) until the guard drops, which puts back what was
/// there, or removes it.
pub(crate) struct Installed {
    path: &'static str,
    /// Where what was there waits, renamed (so owner, mode, links and
    /// labels come back as they were).
    backup: Option<String>,
}

impl Installed {
    /// An executable shell script at `path` running `body`.
    pub(crate) fn script(path: &'static str, body: &str) -> Installed {
        Installed::file(path, &format!("#!/bin/sh\n{body}"), 0o755)
    }

    /// `text` at `path` with permission bits `mode`.
    pub(crate) fn file(path: &'static str, text: &str, mode: u32) -> Installed {
        let guard = Installed::absent(path);
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {path}: {e}"));
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {path}: {e}"));
        guard
    }

    /// Nothing at `path` until the guard drops.
    pub(crate) fn absent(path: &'static str) -> Installed {
        let backup = match std::fs::symlink_metadata(path) {
            Ok(_) => {
                let backup = format!("{path}.tracer-test-{}", std::process::id());
                std::fs::rename(path, &backup)
                    .unwrap_or_else(|e| panic!("moving {path} aside: {e}"));
                Some(backup)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => panic!("looking at {path}: {e}"),
        };
        Installed { path, backup }
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.path);
        if let Some(backup) = &self.backup {
            if let Err(e) = std::fs::rename(backup, self.path) {
                eprintln!("failed to restore {} from {backup}: {e}", self.path);
            }
        }
    }
}

/// A running `tracer record`; dropped without [`stop_recording`] (a test
/// failed), it is stopped so no programs stay attached.
pub(crate) struct Recording(Option<Child>);

impl Drop for Recording {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            // SAFETY: kill() with a pid we own.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            let _ = child.wait();
        }
    }
}

/// Spawns `cmd` (a tracer) with its stderr piped and waits up to `wait`
/// for its `attached` line; its stderr lines from then on. Lines before
/// (e.g. where --metrics listens) are passed over.
// The caller owns the child and waits for it; a test that panics here
// before `attached` leaves a tracer that exits with the test process.
#[allow(clippy::zombie_processes)]
pub(crate) fn spawn_attached(cmd: &mut Command, wait: Duration) -> (Child, Receiver<String>) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning tracer record");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        use std::io::BufRead as _;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    loop {
        let line = rx.recv_timeout(wait).expect("record attached");
        if line.contains("attached") {
            return (child, rx);
        }
    }
}

/// Starts `tracer record` and waits until it is attached.
pub(crate) fn start_recording(path: &std::path::Path, extra: &[&str]) -> Recording {
    let (child, rx) = spawn_attached(
        Command::new(tracer_exe())
            .arg("record")
            .arg("-o")
            .arg(path)
            .args(extra),
        Duration::from_secs(30),
    );
    // Keep draining stderr so the recorder never blocks on it.
    thread::spawn(move || while rx.recv().is_ok() {});
    Recording(Some(child))
}

/// [`start_recording`] with `env` set for the recorder (e.g.
/// `TRACER_HOST_NAME`, `TRACER_MACHINE_ID`: another host's identity).
pub(crate) fn start_recording_as(path: &std::path::Path, env: &[(&str, &str)]) -> Recording {
    let mut cmd = Command::new(tracer_exe());
    cmd.arg("record").arg("-o").arg(path);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (child, rx) = spawn_attached(&mut cmd, Duration::from_secs(30));
    thread::spawn(move || while rx.recv().is_ok() {});
    Recording(Some(child))
}

/// Stops a recorder with SIGINT; it must exit cleanly.
pub(crate) fn stop_recording(mut recording: Recording) {
    let mut child = recording.0.take().expect("still running");
    // SAFETY: kill() with a pid we own.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(status.success(), "record exited with {status}");
}

/// Forks this (multi-threaded) test process into a child that runs `setup`
/// (syscalls and threads only: glibc keeps malloc usable across fork),
/// keeps what it returns, and waits to be killed; its pid. The child never
/// returns into the test harness, not even by a panic.
pub(crate) fn fork_waiting_child<T>(setup: impl FnOnce() -> T) -> i32 {
    // SAFETY: the child only runs `setup` and pause(), then `_exit`s.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork: {}", std::io::Error::last_os_error());
    if child == 0 {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _kept = setup();
            loop {
                // SAFETY: pause() has no preconditions.
                unsafe { libc::pause() };
            }
        }));
        // SAFETY: _exit ends this forked child at once.
        unsafe { libc::_exit(1) };
    }
    child
}

/// A program from the tests' Python venv (`python`, `duckdb`), which
/// `cargo xtask test` installs and names in TRACER_TEST_PY_BIN.
pub(crate) fn test_py_tool(name: &str) -> std::path::PathBuf {
    let dir = std::env::var_os("TRACER_TEST_PY_BIN").expect(
        "TRACER_TEST_PY_BIN is not set: run the tests with `cargo xtask test`, which installs \
         the Python decoders they need",
    );
    std::path::Path::new(&dir).join(name)
}

/// Runs tracer; a run still going after a minute is a hang, and fails.
pub(crate) fn run_bounded(args: &[&str]) -> Output {
    let mut child = Command::new(tracer_exe())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning tracer");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tracer {args:?} hangs");
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Event text with each event on one line: a line that starts with a
/// space (details folded or wrapped onto it) is joined to the one before,
/// with the one space a fold drops.
pub(crate) fn unfold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for l in text.lines() {
        if l.starts_with(' ') && !out.is_empty() {
            out.pop();
            out.push(' ');
            out.push_str(l.trim_start());
        } else {
            out.push_str(l);
        }
        out.push('\n');
    }
    out
}

/// A session's stderr ends in a summary with no loss line (a loss of
/// none is not said).
pub(crate) fn assert_no_loss(stderr: &str) {
    assert!(
        summary_line(stderr).is_some() && !stderr.contains("tracer: lost"),
        "{stderr}"
    );
}

/// The summary's first line: `tracer: 12 events: ...`, `tracer: 1 event:
/// ...` or `tracer: no events` (a quiet VM may see one event or none).
pub(crate) fn summary_line(stderr: &str) -> Option<&str> {
    stderr.lines().find(|l| {
        l.starts_with("tracer: ")
            && (l.contains(" events: ") || l.contains(" 1 event: ") || l.ends_with(" no events"))
    })
}

/// A run's stderr as text.
pub(crate) fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh directory under the temporary directory.
pub(crate) fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tracer-follow-{}-{:?}",
        std::process::id(),
        thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a test directory");
    dir
}

/// Runs tracer with `args`; asserts it refused them as a usage error at
/// once (status 2, quickly, nothing attached, no Rust debug output or
/// panic) with a message holding `says`; returns stderr.
pub(crate) fn refused(args: &[&str], says: &str) -> String {
    let started = Instant::now();
    let (code, out, err) = run_tracer(args);
    assert_eq!(code, 2, "{args:?}: {err}");
    assert!(err.contains(says), "{args:?}: {err}");
    assert_sentence(args, &err);
    assert!(out.is_empty(), "{args:?}: {out}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{args:?} took {:?}",
        started.elapsed()
    );
    err
}

/// An error that is a sentence: clap's one `error:` line (and its hint),
/// no panic, backtrace or Rust debug output.
pub(crate) fn assert_sentence(args: &[&str], err: &str) {
    for bad in [
        "panicked",
        "RUST_BACKTRACE",
        "Custom {",
        "kind: ",
        "Os {",
        "attached",
    ] {
        assert!(!err.contains(bad), "{args:?}: {err}");
    }
    let errors = err.lines().filter(|l| l.contains("error")).count();
    assert_eq!(errors, 1, "{args:?}: one error line: {err}");
}

/// Pins the calling thread (or, in a child before exec, the process) to `cpu`.
pub(crate) fn pin_to(cpu: usize) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is plain data, zeroed then filled by CPU_SET; the
    // call reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, size_of_val(&set), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
