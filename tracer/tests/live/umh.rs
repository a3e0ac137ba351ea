//! Live tests of the helper story and of signals to kernel-side tasks:
//! real core-dump helpers, kworkers, io_uring workers.

use std::fs;

use crate::common::*;

#[test]
fn killed_core_dump_helper_is_diagnosed() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // A core-dump helper that forks a child and waits for it.
    let helper = script(dir.path(), "core-helper", "/bin/sleep 60 &\nwait\n");
    let mut tracer = Tracer::start(&["--umh"]);
    let _pattern = core_pattern_to(&helper);
    let mut crasher = crash();
    let crasher_pid = crasher.id().to_string();

    let exec = tracer.wait_for("helper exec", |v| {
        is(v, "exec") && v["filename"] == helper.as_str()
    });
    assert_eq!(exec["kind"], "umh", "{exec}");
    // A script's image runs its interpreter: argv is the interpreter's.
    assert_eq!(
        exec["argv"],
        serde_json::json!(["/bin/sh", helper, crasher_pid]),
        "{exec}"
    );
    assert_eq!(
        u64_of(&exec, "ppid"),
        2,
        "core pipes are CLONE_PARENT: kthreadd: {exec}"
    );
    let spawner = str_of(&exec["helper"], "spawner_comm");
    assert!(
        spawner.starts_with("kworker/"),
        "spawned by a kworker: {exec}"
    );
    let helper_pid = u64_of(&exec, "pid");
    let spawn = tracer.wait_for("helper spawn", |v| is(v, "fork") && v["pid"] == helper_pid);
    assert_eq!(spawn["kind"], "umh");
    assert_eq!(field(&spawn, "creator")["kind"], "kworker", "{spawn}");

    let child = tracer.wait_for("helper's child", |v| {
        is(v, "exec") && v["ppid"] == helper_pid && v["filename"] == "/bin/sleep"
    });
    assert_eq!(child["kind"], "umh_child", "{child}");
    let child_pid = u64_of(&child, "pid");

    kill(helper_pid, libc::SIGKILL);
    let sig = tracer.wait_for("SIGKILL to the helper", |v| {
        is(v, "signal_generate") && v["pid"] == helper_pid
    });
    assert_eq!(sig["signal"], "SIGKILL");
    assert_eq!(sig["kind"], "umh");
    assert_eq!(u64_of(field(&sig, "sender"), "tgid"), me());
    let exit = tracer.wait_for("helper exit", |v| is(v, "exit") && v["pid"] == helper_pid);
    assert_eq!(exit["exit_signal"], "SIGKILL");
    let killer = field(&exit, "killed_by");
    assert_eq!(u64_of(killer, "tgid"), me(), "{exit}");
    let sender = field(&sig, "sender");
    let prefix = format!(
        "umh {helper_pid} {helper} for {crasher_pid} (sh, dumping core) killed by SIGKILL \
         from {} ({}) uid=0 after ",
        sender["pid"],
        str_of(sender, "comm")
    );
    let diagnosis = str_of(&exit, "diagnosis");
    assert!(
        diagnosis.starts_with(&prefix),
        "{diagnosis}\nexpected: {prefix}..."
    );

    kill(child_pid, libc::SIGKILL);
    let child_exit = tracer.wait_for("child exit", |v| is(v, "exit") && v["pid"] == child_pid);
    assert!(
        str_of(&child_exit, "diagnosis").starts_with(&format!(
            "umh_child {child_pid} /bin/sleep killed by SIGKILL from"
        )),
        "{child_exit}"
    );
    crasher.wait().expect("reaping the crasher");
    let (events, _) = tracer.stop();
    assert!(
        events.iter().all(|v| v["kind"] == "umh"
            || v["kind"] == "umh_child"
            || is(v, "helper_request")
            || v.get("creator")
                .or(v.get("sender"))
                .is_some_and(|o| o["kind"] == "umh" || o["kind"] == "umh_child")),
        "--umh shows only the helper story"
    );
}

#[test]
fn signals_to_kthreadd_and_a_kworker_are_ignored() {
    let _serial = serial();
    let kworker: u64 = fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .find(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.starts_with("kworker/"))
        })
        .expect("a kworker");
    let mut tracer = Tracer::start(&["--event", "signal"]);
    kill(2u32, libc::SIGTERM);
    kill(kworker, libc::SIGTERM);
    for (pid, kind) in [(2, "kthreadd"), (kworker, "kworker")] {
        let sig = tracer.wait_for("SIGTERM", |v| {
            is(v, "signal_generate") && v["pid"] == pid && v["signo"] == 15
        });
        assert_eq!(sig["result"], "ignored", "{sig}");
        assert_eq!(sig["kind"], kind, "{sig}");
        assert!(has_flag(&sig, "KTHREAD"));
    }
    tracer.stop();
}

#[test]
fn io_uring_workers_and_a_signal_to_one() {
    let _serial = serial();
    let mut tracer = Tracer::start(&[]);
    let sq = sqpoll_ring();
    let sqp = tracer.wait_for("SQPOLL thread", |v| {
        is(v, "fork") && v["tgid"] == me() && has_flag(v, "IO_WORKER")
    });
    assert_eq!(sqp["kind"], "io_worker");
    assert_eq!(
        field(&sqp, "creator")["kind"],
        "user",
        "its user parent: {sqp}"
    );
    let read = AsyncRead::start();
    let wrk = tracer.wait_for("io-wq worker", |v| {
        is(v, "fork") && v["tgid"] == me() && has_flag(v, "IO_WORKER") && v["pid"] != sqp["pid"]
    });
    assert_eq!(wrk["kind"], "io_worker");
    assert_eq!(u64_of(field(&wrk, "creator"), "tgid"), me());
    let wrk_pid = u64_of(&wrk, "pid");
    tracer.wait_for("iou-wrk name", |v| {
        v["pid"] == wrk_pid
            && (v["comm"]
                .as_str()
                .is_some_and(|c| c.starts_with("iou-wrk-"))
                || v["new_comm"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("iou-wrk-")))
    });
    // SIGURG is ignored by default: a signal the worker can take safely.
    // SAFETY: tgkill() has no memory-safety preconditions.
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, me() as i32, wrk_pid as i32, libc::SIGURG) };
    assert_eq!(rc, 0, "tgkill: {}", std::io::Error::last_os_error());
    let sig = tracer.wait_for("SIGURG to the worker", |v| {
        is(v, "signal_generate") && v["pid"] == wrk_pid
    });
    assert_eq!(sig["kind"], "io_worker", "{sig}");
    assert_eq!(sig["signal"], "SIGURG");
    assert_eq!(field(&sig, "group"), false, "thread-directed");
    drop(read);
    // SAFETY: closing the SQPOLL ring fd we opened.
    unsafe { libc::close(sq) };
    tracer.stop();
}

#[test]
fn sigkill_to_an_io_worker_kills_its_whole_process() {
    let _serial = serial();
    let mut tracer = Tracer::start(&[]);
    // A child process with an io-wq worker, kept until it is killed.
    let child = fork_waiting_child(AsyncRead::start);
    /// Kills the child if the test fails before it is reaped.
    struct Reap(i32);
    impl Drop for Reap {
        fn drop(&mut self) {
            // SAFETY: signalling and reaping our own child.
            unsafe {
                libc::kill(self.0, libc::SIGKILL);
                libc::waitpid(self.0, std::ptr::null_mut(), 0);
            }
        }
    }
    let reap = Reap(child);
    let child = child as u64;
    let worker = tracer.wait_for("the child's io-wq worker", |v| {
        is(v, "fork") && v["tgid"] == child && has_flag(v, "IO_WORKER")
    });
    let worker_pid = u64_of(&worker, "pid");
    kill(worker_pid, libc::SIGKILL);
    let sig = tracer.wait_for("SIGKILL to the worker", |v| {
        is(v, "signal_generate") && v["pid"] == worker_pid
    });
    assert_eq!(sig["kind"], "io_worker", "{sig}");
    assert_eq!(sig["result"], "delivered", "{sig}");
    // The whole process dies: its main thread exits killed by SIGKILL.
    let exit = tracer.wait_for("the process's exit", |v| is(v, "exit") && v["pid"] == child);
    assert_eq!(exit["exit_signal"], "SIGKILL", "{exit}");
    assert_eq!(exit["kind"], "user");
    let mut status = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(child as i32, &mut status, 0) };
    std::mem::forget(reap);
    assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL);
    tracer.stop();
}

#[test]
fn a_full_helper_map_is_reported_by_the_kernel_side() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let helper = script(dir.path(), "slow-helper", "exec /bin/sleep 30\n");
    // Room for one helper group: the second cannot be marked, and the eBPF
    // program says so through aya-log.
    let mut tracer = Tracer::start(&["--umh", "--helper-map-entries", "1"]);
    let _pattern = core_pattern_to(&helper);
    let mut crashers = Vec::new();
    let mut helpers = Vec::new();
    for _ in 0..2 {
        crashers.push(crash());
        let exec = tracer.wait_for("a helper's exec", |v| {
            is(v, "exec") && v["kind"] == "umh" && !helpers.contains(&v["pid"])
        });
        helpers.push(exec["pid"].clone());
    }
    for pid in &helpers {
        kill(pid.as_u64().unwrap(), libc::SIGKILL);
    }
    for mut c in crashers {
        c.wait().unwrap();
    }
    let (_, stderr) = tracer.stop();
    assert!(
        stderr.contains("tracer: kernel warn: helper lineage map full"),
        "{stderr}"
    );
}

#[test]
fn a_helper_started_before_tracing_keeps_its_signals() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // Forks its child once tracer is running (a line on the `go` FIFO; the
    // shell's `read` forks nothing while it waits): a fixed delay would race
    // the tracer's start-up on a slow (emulated) machine.
    let go = dir.path().join("go");
    let c_go = std::ffi::CString::new(go.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_go.as_ptr(), 0o600) }, 0, "mkfifo");
    let helper = script(
        dir.path(),
        "late-forker",
        &format!("read line < {}\n/bin/sleep 60 &\nwait\n", go.display()),
    );
    let pattern = core_pattern_to(&helper);
    let mut crasher = crash();
    // Wait for the helper to exist, then start tracing.
    let helper_pid = (0..100)
        .find_map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            fs::read_dir("/proc").ok()?.find_map(|e| {
                let pid: u64 = e.ok()?.file_name().to_str()?.parse().ok()?;
                let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                let path = helper.as_bytes();
                cmdline
                    .windows(path.len())
                    .any(|w| w == path)
                    .then_some(pid)
            })
        })
        .expect("the helper started");
    drop(pattern);
    let mut tracer = Tracer::start(&[]);
    fs::write(&go, "go\n").expect("writing to the go FIFO");
    let child = tracer.wait_for("the helper's child", |v| {
        is(v, "fork") && v["ppid"] == helper_pid
    });
    assert_eq!(child["kind"], "umh_child", "{child}");
    let child_pid = u64_of(&child, "pid");
    // The default filter keeps this signal only if the kernel knew the
    // helper when the child was forked: seeded from the start-up snapshot.
    kill(child_pid, libc::SIGTERM);
    let sig = tracer.wait_for("SIGTERM to the helper's child", |v| {
        is(v, "signal_generate") && v["pid"] == child_pid
    });
    assert_eq!(sig["kind"], "umh_child");
    // The helper ends when its child does; make sure of it.
    // SAFETY: kill() has no memory-safety preconditions.
    unsafe { libc::kill(helper_pid as i32, libc::SIGKILL) };
    crasher.wait().unwrap();
    tracer.stop();
}
