//! Live tests of following: `tracer trace -- CMD`, `tracer record -- CMD`
//! and `--follow PID` on the real kernel: every exec and exit of the
//! followed tree, daemons, io_uring workers, nothing else, and tracer's
//! exit status.

use std::{
    collections::HashSet,
    io::{BufRead as _, BufReader, Write as _},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::common::*;

/// Runs `tracer ARGS` to its end: (exit code, JSON events, stdout's other
/// lines, stderr).
fn follow(args: &[&str]) -> (i32, Vec<Value>, Vec<String>, String) {
    let (code, out, err) = run_tracer(args);
    let (mut events, mut other) = (Vec::new(), Vec::new());
    for line in out.lines() {
        // CMD shares tracer's stdout: its lines are not events.
        match serde_json::from_str::<Value>(line) {
            Ok(v) if v.is_object() => events.push(v),
            _ => other.push(line.to_string()),
        }
    }
    (code, events, other, err)
}

/// Every thread group of the followed tree: the first exec's (CMD, or
/// PID's first event) and every group a followed task created.
fn followed_groups(events: &[Value], root: u64) -> HashSet<u64> {
    let mut groups = HashSet::from([root]);
    for v in events.iter().filter(|v| is(v, "fork")) {
        groups.insert(u64_of(v, "tgid"));
    }
    groups
}

/// Asserts that every event concerns the followed tree: its subject, or
/// for a signal its sender.
fn only_followed(events: &[Value], groups: &HashSet<u64>) {
    for v in events.iter().filter(|v| !is(v, "lost")) {
        let subject = u64_of(v, "tgid");
        let sender = v.get("sender").map(|s| u64_of(s, "tgid"));
        let creator = v.get("creator").map(|c| u64_of(c, "tgid"));
        assert!(
            groups.contains(&subject)
                || sender.is_some_and(|s| groups.contains(&s))
                || creator.is_some_and(|c| groups.contains(&c)),
            "an event outside the followed tree {groups:?}: {v}"
        );
    }
}

fn execs<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|v| is(v, "exec") && str_of(v, "filename").rsplit('/').next() == Some(name))
        .collect()
}

fn exit_of(events: &[Value], pid: u64) -> Option<&Value> {
    events.iter().find(|v| is(v, "exit") && v["pid"] == pid)
}

fn dump(events: &[Value]) -> String {
    events
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_pipeline_every_exec_and_exit() {
    let _serial = serial();
    let (code, events, other, err) = follow(&[
        "trace",
        "--format",
        "json",
        "--",
        "sh",
        "-c",
        // CMD's output goes to tracer's stderr, which it shares: on
        // stdout, a line of it could land inside one of tracer's.
        "echo a | tr a b | cat >&2",
    ]);
    assert_eq!(code, 0, "stderr:\n{err}");
    assert!(other.is_empty(), "only events on stdout: {other:?}");
    assert!(err.lines().any(|l| l == "b"), "CMD's output: {err}");
    let all = dump(&events);
    let sh = execs(&events, "sh");
    assert!(!sh.is_empty(), "no exec of sh:\n{all}");
    let root = u64_of(sh[0], "tgid");
    assert!(
        is(&events[0], "exec") && events[0]["pid"] == root,
        "CMD's exec comes first: {all}"
    );
    for name in ["tr", "cat"] {
        let found = execs(&events, name);
        assert_eq!(found.len(), 1, "one exec of {name}:\n{all}");
        let pid = u64_of(found[0], "pid");
        let exit = exit_of(&events, pid).unwrap_or_else(|| panic!("no exit of {name}:\n{all}"));
        assert_eq!(exit["exit_status"], 0, "{exit}");
    }
    // Every task created (the pipeline's three) exits, CMD too.
    let forks: Vec<u64> = events
        .iter()
        .filter(|v| is(v, "fork"))
        .map(|v| u64_of(v, "pid"))
        .collect();
    assert!(forks.len() >= 2, "the pipeline's forks:\n{all}");
    for pid in forks.iter().chain([&root]) {
        assert!(exit_of(&events, *pid).is_some(), "no exit of {pid}:\n{all}");
    }
    let last = events.iter().rev().find(|v| is(v, "exit")).expect("exits");
    assert_eq!(last["pid"], root, "CMD's exit is the last: {all}");
    only_followed(&events, &followed_groups(&events, root));
}

#[test]
fn unrelated_processes_are_left_out() {
    let _serial = serial();
    // Other processes run all along, children of this test.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let others = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut pids = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut child = Command::new("/bin/true").spawn().expect("spawning true");
                pids.push(u64::from(child.id()));
                child.wait().expect("waiting for true");
                std::thread::sleep(Duration::from_millis(20));
            }
            pids
        })
    };
    let (code, events, _, err) = follow(&[
        "trace",
        "--format",
        "json",
        "--all-signals",
        "--",
        "sh",
        "-c",
        "sleep 0.5; /bin/true",
    ]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let others: HashSet<u64> = others
        .join()
        .expect("the other processes")
        .into_iter()
        .collect();
    assert_eq!(code, 0, "stderr:\n{err}");
    assert!(others.len() > 3, "unrelated processes ran meanwhile");
    let all = dump(&events);
    let root = u64_of(execs(&events, "sh")[0], "tgid");
    assert_eq!(execs(&events, "sleep").len(), 1, "{all}");
    assert_eq!(execs(&events, "true").len(), 1, "{all}");
    for v in &events {
        assert!(
            !others.contains(&u64_of(v, "tgid")) && v["tgid"] != me(),
            "an unrelated process's event: {v}"
        );
    }
    only_followed(&events, &followed_groups(&events, root));
}

#[test]
fn exit_status_is_the_commands() {
    let _serial = serial();
    let (code, events, _, err) = follow(&["trace", "--format", "json", "--", "sh", "-c", "exit 7"]);
    assert_eq!(code, 7, "stderr:\n{err}");
    let exit = events.iter().find(|v| is(v, "exit")).expect("CMD's exit");
    assert_eq!(exit["exit_status"], 7, "{exit}");

    // A death by signal N is 128+N, as a shell says it.
    let (code, events, _, err) = follow(&[
        "trace",
        "--format",
        "json",
        "--",
        "sh",
        "-c",
        "kill -TERM $$",
    ]);
    assert_eq!(code, 143, "stderr:\n{err}");
    let exit = events.iter().find(|v| is(v, "exit")).expect("CMD's exit");
    assert_eq!(exit["exit_signal"], "SIGTERM", "{exit}");

    // record too; its log replays the command's events.
    let dir = tempdir();
    let log = dir.join("follow.log");
    let log_arg = log.to_str().expect("a UTF-8 path");
    let (code, _, err) = run_tracer(&["record", "-o", log_arg, "--", "sh", "-c", "exit 5"]);
    assert_eq!(code, 5, "stderr:\n{err}");
    assert!(err.contains("followed tasks ended"), "{err}");
    let (code, out, err) = run_tracer(&["replay", log_arg, "--format", "json"]);
    assert_eq!(code, 0, "replay: {err}");
    let replayed: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let sh = execs(&replayed, "sh");
    assert_eq!(sh.len(), 1, "{}", dump(&replayed));
    let exit = exit_of(&replayed, u64_of(sh[0], "pid")).expect("the exit, replayed");
    assert_eq!(exit["exit_status"], 5);
    std::fs::remove_dir_all(&dir).expect("removing the test directory");
}

/// A daemon: CMD's subshell forks it in the background and exits, so it
/// is reparented (a double fork), with no stdio of tracer's. It runs
/// `inner` in its own shell.
fn with_daemon(inner: &str, then: &str) -> String {
    format!("(sh -c '{inner}' </dev/null >/dev/null 2>&1 &); {then}")
}

#[test]
fn a_daemonized_grandchild_while_cmd_runs() {
    let _serial = serial();
    // The daemon execs sleep at once, and outlives CMD.
    let cmd = with_daemon("exec sleep 2.5", "sleep 0.5");
    let (code, events, _, err) = follow(&["trace", "--format", "json", "--", "sh", "-c", &cmd]);
    assert_eq!(code, 0, "stderr:\n{err}");
    let all = dump(&events);
    let daemon = events
        .iter()
        .find(|v| is(v, "exec") && v["argv"] == serde_json::json!(["sleep", "2.5"]))
        .unwrap_or_else(|| panic!("no exec of the daemon's sleep:\n{all}"));
    let root = u64_of(execs(&events, "sh")[0], "tgid");
    assert_ne!(daemon["ppid"], root, "a grandchild: {daemon}");
    // Tracing ends with CMD, not with the daemon.
    assert!(
        exit_of(&events, u64_of(daemon, "pid")).is_none(),
        "the daemon still runs: {all}"
    );
    let cmd_exit = exit_of(&events, root).unwrap_or_else(|| panic!("CMD's exit: {all}"));
    let last = events.iter().rev().find(|v| is(v, "exit")).expect("exits");
    assert_eq!(last, cmd_exit, "CMD's exit is the last: {all}");
    only_followed(&events, &followed_groups(&events, root));
    // Let the daemon end before the next test.
    let stat = format!("/proc/{}/stat", u64_of(daemon, "pid"));
    // Gone, or a zombie its new parent has yet to reap.
    let running = || {
        std::fs::read_to_string(&stat)
            .is_ok_and(|s| s.rsplit(')').next().is_some_and(|r| !r.starts_with(" Z")))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn keep_following_a_daemon_that_execs_after_cmd_exited() {
    let _serial = serial();
    let started = Instant::now();
    let cmd = with_daemon("sleep 1; exec sleep 0.2", "exit 3");
    let (code, events, _, err) = follow(&[
        "trace",
        "--format",
        "json",
        "--keep-following",
        "--",
        "sh",
        "-c",
        &cmd,
    ]);
    let took = started.elapsed();
    assert_eq!(code, 3, "CMD's status: {err}");
    let all = dump(&events);
    let root = u64_of(execs(&events, "sh")[0], "tgid");
    let cmd_exit = exit_of(&events, root).unwrap_or_else(|| panic!("CMD's exit:\n{all}"));
    let daemon = events
        .iter()
        .find(|v| is(v, "exec") && v["argv"] == serde_json::json!(["sleep", "0.2"]))
        .unwrap_or_else(|| panic!("no exec of the daemon's sleep:\n{all}"));
    assert!(
        u64_of(daemon, "boot_ns") > u64_of(cmd_exit, "boot_ns"),
        "the daemon execs after CMD exited: {all}"
    );
    let daemon_exit = exit_of(&events, u64_of(daemon, "pid"))
        .unwrap_or_else(|| panic!("no exit of the daemon:\n{all}"));
    assert_eq!(daemon_exit["exit_status"], 0);
    assert!(
        took >= Duration::from_millis(1200),
        "waited for it: {took:?}"
    );
    let last = events.iter().rev().find(|v| is(v, "exit")).expect("exits");
    assert_eq!(last, daemon_exit, "the daemon's exit is the last: {all}");
    only_followed(&events, &followed_groups(&events, root));
}

/// Not a test of its own: run by `io_uring_workers_of_a_followed_process`
/// as the followed command (the variable says so); it makes an SQPOLL
/// thread and an io-wq worker. Without the variable it does nothing.
#[test]
fn io_uring_command() {
    if std::env::var_os("TRACER_FOLLOW_IO_URING").is_none() {
        return;
    }
    let ring = sqpoll_ring();
    let read = AsyncRead::start();
    std::thread::sleep(Duration::from_millis(200));
    drop(read);
    // SAFETY: closing the fd sqpoll_ring returned, which we own.
    unsafe { libc::close(ring) };
}

#[test]
fn io_uring_workers_of_a_followed_process() {
    let _serial = serial();
    let me = std::env::current_exe().expect("the test binary");
    // The test harness's own output goes to /dev/null: a line of it
    // could land inside one of tracer's.
    let out = Command::new(tracer_exe())
        .args(["trace", "--format", "json", "--", "sh", "-c"])
        .arg(r#"exec "$0" --exact "$1" --test-threads=1 >/dev/null"#)
        .arg(&me)
        .arg(test_name(module_path!(), "io_uring_command"))
        .env("TRACER_FOLLOW_IO_URING", "1")
        .output()
        .expect("running tracer");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{err}");
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.is_object())
        .collect();
    let all = dump(&events);
    let root = u64_of(&events[0], "tgid");
    assert!(is(&events[0], "exec"), "CMD's exec first: {all}");
    let workers: Vec<&Value> = events
        .iter()
        .filter(|v| is(v, "fork") && has_flag(v, "IO_WORKER"))
        .collect();
    // Named after their creator at fork, renamed after (kernels differ):
    // the name they exit with.
    let names: Vec<&str> = workers
        .iter()
        .filter_map(|v| exit_of(&events, u64_of(v, "pid")))
        .map(|v| str_of(v, "comm"))
        .collect();
    for prefix in ["iou-sqp-", "iou-wrk-"] {
        assert!(
            names.iter().any(|n| n.starts_with(prefix)),
            "no {prefix}* worker among {names:?}:\n{all}"
        );
    }
    for w in &workers {
        assert_eq!(w["tgid"], root, "a thread of the followed process: {w}");
        assert_eq!(w["kind"], "io_worker", "{w}");
        let pid = u64_of(w, "pid");
        assert!(
            exit_of(&events, pid).is_some(),
            "no exit of worker {pid}:\n{all}"
        );
    }
    only_followed(&events, &followed_groups(&events, root));
}

#[test]
fn follow_a_running_process() {
    let _serial = serial();
    // It waits for a line, then runs a child and ends with status 5.
    let mut target = Command::new("sh")
        .args(["-c", "read x; /bin/true; exit 5"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawning the process to follow");
    let pid = target.id();
    let mut tracer = Command::new(tracer_exe())
        .args(["trace", "--format", "json", "--follow", &pid.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning tracer");
    let mut stderr = BufReader::new(tracer.stderr.take().expect("stderr"));
    let mut line = String::new();
    while !line.contains("attached") {
        line.clear();
        let n = stderr.read_line(&mut line).expect("tracer's stderr");
        assert!(n > 0, "tracer ended before attaching");
    }
    assert!(line.contains(&format!("following pid {pid}")), "{line}");
    let mut stdin = target.stdin.take().expect("stdin");
    stdin.write_all(b"go\n").expect("starting the process");
    drop(stdin);
    assert_eq!(target.wait().expect("waiting for it").code(), Some(5));
    let out = tracer.wait_with_output().expect("waiting for tracer");
    assert_eq!(out.status.code(), Some(5), "PID's status");
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let all = dump(&events);
    let pid = u64::from(pid);
    let fork = events
        .iter()
        .find(|v| is(v, "fork") && v["creator"]["tgid"] == pid)
        .unwrap_or_else(|| panic!("no fork by {pid}:\n{all}"));
    let child = u64_of(fork, "pid");
    assert_eq!(execs(&events, "true").len(), 1, "{all}");
    assert!(exit_of(&events, child).is_some(), "{all}");
    let exit = exit_of(&events, pid).unwrap_or_else(|| panic!("no exit of {pid}:\n{all}"));
    assert_eq!(exit["exit_status"], 5);
    only_followed(&events, &followed_groups(&events, pid));
}

/// CMD is forked before the programs load and waits for tracer's start-up:
/// its lifetime counts from its exec, not from that fork.
#[test]
fn a_commands_lifetime_counts_from_its_exec() {
    let _serial = serial();
    let (code, events, _, err) = follow(&["trace", "--format", "json", "--", "/bin/sleep", "0.2"]);
    assert_eq!(code, 0, "{err}");
    let exec = events
        .iter()
        .find(|v| is(v, "exec"))
        .unwrap_or_else(|| panic!("CMD's exec: {}", dump(&events)));
    let pid = u64_of(exec, "pid");
    let exit = exit_of(&events, pid).unwrap_or_else(|| panic!("CMD's exit: {}", dump(&events)));
    let lived = u64_of(exit, "lifetime_ns");
    assert_eq!(
        lived,
        u64_of(exit, "boot_ns") - u64_of(exec, "boot_ns"),
        "from the exec: {exit}"
    );
    assert!(
        u64_of(exec, "boot_ns") > u64_of(exec, "start_ns"),
        "it was forked before: {exec}"
    );
    assert!(
        (200_000_000..1_000_000_000).contains(&lived),
        "a 0.2 s command: {exit}"
    );
}
