//! Live tests of `tracer trace`: real programs on the real kernel, real
//! processes and signals, exact events asserted.

use std::{
    os::unix::process::CommandExt as _,
    process::{Command, Stdio},
};

use serde_json::Value;

use crate::common::*;

#[test]
fn fork_exec_signal_and_exit_of_a_child() {
    let _serial = serial();
    // Signals between user processes are dropped in kernel unless asked for.
    let mut tracer = Tracer::start(&["--all-signals"]);
    let mut child = Command::new("/bin/sleep")
        .arg("30")
        .spawn()
        .expect("spawning /bin/sleep");
    let pid = u64::from(child.id());

    let fork = tracer.wait_for("fork of the child", |v| is(v, "fork") && v["pid"] == pid);
    assert_eq!(u64_of(&fork, "tgid"), pid);
    assert_eq!(
        u64_of(&fork, "ppid"),
        me(),
        "real parent is this test: {fork}"
    );
    assert_eq!(u64_of(field(&fork, "creator"), "tgid"), me(), "{fork}");
    assert!(!has_flag(&fork, "KTHREAD"), "{fork}");
    assert_eq!(fork["kind"], "user");
    assert_eq!(field(&fork, "creator")["kind"], "user");

    let exec = tracer.wait_for("exec of /bin/sleep", |v| is(v, "exec") && v["pid"] == pid);
    assert_eq!(str_of(&exec, "filename"), "/bin/sleep");
    assert_eq!(
        field(&exec, "argv"),
        &serde_json::json!(["/bin/sleep", "30"])
    );
    assert_eq!(str_of(&exec, "comm"), "sleep");
    assert_eq!(field(&exec, "has_mm"), true);

    kill(child.id(), libc::SIGTERM);
    let sig = tracer.wait_for("SIGTERM generated for the child", |v| {
        is(v, "signal_generate") && v["pid"] == pid && v["signo"] == 15
    });
    assert_eq!(str_of(&sig, "signal"), "SIGTERM");
    assert_eq!(str_of(&sig, "result"), "delivered");
    assert_eq!(field(&sig, "group"), true, "kill(2) is process-directed");
    assert_eq!(u64_of(field(&sig, "sender"), "tgid"), me(), "{sig}");
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    assert_eq!(u64_of(&sig, "sender_uid"), u64::from(uid));

    // A fatal signal with the default action is turned into a group exit
    // at generation (complete_signal()), so get_signal() takes SIGKILL.
    let deliver = tracer.wait_for("the group-exit SIGKILL in the child", |v| {
        is(v, "signal_deliver") && v["pid"] == pid
    });
    assert_eq!(u64_of(&deliver, "signo"), 9, "{deliver}");
    assert_eq!(str_of(&deliver, "handler"), "default");

    let exit = tracer.wait_for("exit of the child", |v| is(v, "exit") && v["pid"] == pid);
    assert_eq!(str_of(&exit, "exit_signal"), "SIGTERM");
    assert_eq!(field(&exit, "exit_status"), &Value::Null);
    // group_dead is known only where the tracepoint passes it (6.16+).
    let group_dead = if exit_has_group_dead() {
        Value::Bool(true)
    } else {
        Value::Null
    };
    assert_eq!(field(&exit, "group_dead"), &group_dead, "{exit}");
    let killer = field(&exit, "killed_by");
    assert_eq!(
        u64_of(killer, "pid"),
        u64_of(field(&sig, "sender"), "pid"),
        "{exit}"
    );
    assert_eq!(killer["signal"], "SIGTERM");
    child.wait().expect("reaping the child");

    let (events, stderr) = tracer.stop();
    assert_no_loss(&stderr);
    // Each of the child's own events is reported exactly once.
    for kind in ["fork", "exec", "exit"] {
        let n = events
            .iter()
            .filter(|v| is(v, kind) && v["pid"] == pid)
            .count();
        assert_eq!(n, 1, "{kind} events for {pid}");
    }
}

#[test]
fn exit_status_of_a_shell() {
    let _serial = serial();
    let mut tracer = Tracer::start(&[]);
    let status = Command::new("/bin/sh")
        .args(["-c", "exit 3"])
        .status()
        .expect("running sh");
    assert_eq!(status.code(), Some(3));
    let exit = tracer.wait_for("exit of sh", |v| {
        is(v, "exit") && v["ppid"] == me() && v["comm"] == "sh"
    });
    assert_eq!(u64_of(&exit, "exit_status"), 3);
    assert_eq!(field(&exit, "exit_signal"), &Value::Null);
    assert_eq!(field(&exit, "core_dumped"), false);
    tracer.stop();
}

#[test]
fn sigterm_to_kthreadd_is_ignored() {
    let _serial = serial();
    let mut tracer = Tracer::start(&[]);
    kill(2u32, libc::SIGTERM);
    let sig = tracer.wait_for("SIGTERM to kthreadd", |v| {
        is(v, "signal_generate") && v["pid"] == 2 && v["signo"] == 15
    });
    assert!(
        has_flag(&sig, "KTHREAD"),
        "target carries PF_KTHREAD: {sig}"
    );
    assert_eq!(str_of(&sig, "comm"), "kthreadd");
    assert_eq!(sig["kind"], "kthreadd");
    assert_eq!(str_of(&sig, "result"), "ignored");
    assert_eq!(u64_of(field(&sig, "sender"), "tgid"), me());
    assert_eq!(field(&sig, "has_mm"), false);
    let (events, _) = tracer.stop();
    assert!(
        !events
            .iter()
            .any(|v| is(v, "signal_deliver") && v["pid"] == 2),
        "a kernel thread never reaches get_signal()"
    );
}

#[test]
fn io_uring_sqpoll_thread_is_a_new_io_worker() {
    let _serial = serial();
    let mut tracer = Tracer::start(&[]);
    let fd = sqpoll_ring();
    let worker = tracer.wait_for("new iou-sqp task", |v| {
        is(v, "fork") && v["tgid"] == me() && has_flag(v, "IO_WORKER")
    });
    // The SQ thread starts with its creator's name and renames itself
    // "iou-sqp-<tid of the creating thread>" once it runs.
    let rename = tracer.wait_for("rename to iou-sqp-", |v| {
        is(v, "rename") && v["pid"] == worker["pid"]
    });
    assert_eq!(
        str_of(&rename, "new_comm"),
        format!("iou-sqp-{}", u64_of(field(&worker, "creator"), "pid")),
        "{rename}"
    );
    // SAFETY: closing the fd we opened; the SQ thread exits with the ring.
    unsafe { libc::close(fd) };
    // PF_USER_WORKER exists from 6.4; before, io_uring workers carry
    // PF_IO_WORKER alone.
    assert_eq!(
        has_flag(&worker, "USER_WORKER"),
        kernel_version() >= (6, 4),
        "{worker}"
    );
    assert_eq!(worker["kind"], "io_worker", "{worker}");
    assert!(!has_flag(&worker, "KTHREAD"), "{worker}");
    // create_io_thread(): same tgid and mm as the process, created by it.
    assert_eq!(field(&worker, "has_mm"), true);
    assert_eq!(u64_of(field(&worker, "creator"), "tgid"), me());
    assert_eq!(
        u64_of(&worker, "ppid"),
        u64::from(std::os::unix::process::parent_id()),
        "an io worker's real parent is its process's parent: {worker}"
    );
    tracer.wait_for("exit of the SQ thread", |v| {
        is(v, "exit") && v["pid"] == worker["pid"]
    });
    tracer.stop();
}

#[test]
fn a_full_ring_buffer_counts_lost_events() {
    let _serial = serial();
    // One page of ring buffer, and a consumer that is stopped while the
    // burst runs: the ring must overflow and the loss must be counted.
    let tracer = Tracer::start(&["--ring-buffer-size", "4096", "--all-signals"]);
    let tracer_pid = tracer.pid();
    kill(tracer_pid, libc::SIGSTOP);
    const BURST: usize = 2000;
    for _ in 0..BURST {
        // SIGWINCH's default action is to ignore it: result "ignored".
        kill(std::process::id(), libc::SIGWINCH);
    }
    kill(tracer_pid, libc::SIGCONT);
    let (events, stderr) = tracer.stop();
    let received = events
        .iter()
        .filter(|v| is(v, "signal_generate") && v["signo"] == 28 && v["pid"] == me())
        .count();
    let lost_line = stderr
        .lines()
        .find(|l| l.starts_with("tracer: lost"))
        .unwrap_or_else(|| panic!("no loss summary in stderr:\n{stderr}"));
    let lost: u64 = lost_line
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unparsable loss line: {lost_line}"));
    assert!(received < BURST, "a 4 KiB ring cannot hold {BURST} events");
    assert!(
        lost >= (BURST - received) as u64,
        "{received} received + {lost} lost < {BURST} sent: {stderr}"
    );
    assert!(lost_line.contains(" signals sent"), "{lost_line}");
    // JSON output carries the losses in the stream too.
    let inline: u64 = events
        .iter()
        .filter(|v| is(v, "lost"))
        .map(|v| u64_of(v, "count"))
        .sum();
    assert_eq!(inline, lost, "lost lines in the JSON stream: {stderr}");
}

#[test]
fn text_output_shows_a_sleep() {
    let _serial = serial();
    let mut child = Command::new(tracer_exe())
        .arg("trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning tracer");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let header = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("column titles");
    assert!(header.starts_with("TIME"), "{header}");
    let mut sleeper = Command::new("/bin/sleep")
        .arg("0.1")
        .spawn()
        .expect("sleep");
    let pid = sleeper.id().to_string();
    let mut kinds = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while kinds.len() < 3 && std::time::Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(1)) else {
            continue;
        };
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.get(3) == Some(&pid.as_str()) && ["fork", "exec", "exit"].contains(&cols[2]) {
            kinds.push(cols[2].to_string());
            if cols[2] == "exec" {
                assert!(line.contains("/bin/sleep [/bin/sleep 0.1]"), "{line}");
            }
        }
    }
    sleeper.wait().expect("reaping sleep");
    assert_eq!(kinds, ["fork", "exec", "exit"]);
    // SAFETY: kill() with a pid we own.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().expect("tracer exit");
    assert!(
        out.status.success(),
        "SIGTERM stops cleanly: {:?}",
        out.status
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(" events: ") && stderr.contains(" fork"),
        "summary on stderr: {stderr}"
    );
}

fn run_as(args: &[&str], uid: Option<u32>) -> (i32, String) {
    let mut cmd = Command::new(tracer_exe());
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
    if let Some(uid) = uid {
        cmd.uid(uid);
    }
    let out = cmd.output().expect("running tracer");
    (
        out.status.code().expect("exited normally, not by a signal"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn clear_errors_for_newcomers() {
    let (code, err) = run_as(&["trace", "--btf", "/nonexistent/vmlinux"], None);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("kernel BTF not found at /nonexistent/vmlinux"),
        "{err}"
    );
    assert!(err.contains("CONFIG_DEBUG_INFO_BTF"), "{err}");

    let (code, err) = run_as(&["trace", "--no-such-flag"], None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--no-such-flag"), "{err}");

    let (code, err) = run_as(&["trace", "--format", "xml"], None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("xml"), "{err}");

    let (code, err) = run_as(&["trace", "--ring-buffer-size", "3000"], None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("power of two"), "{err}");

    // An unprivileged user (nobody) gets a sentence, not EPERM.
    let (code, err) = run_as(&["trace"], Some(65534));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("needs root"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn user_signals_are_dropped_in_kernel_by_default() {
    let _serial = serial();
    let mut tracer = Tracer::start(&[]);
    // Ignored signals to this (ordinary user) process: filtered in kernel.
    for _ in 0..100 {
        kill(std::process::id(), libc::SIGWINCH);
    }
    // A signal to kthreadd still shows, and marks the end of the burst.
    kill(2u32, libc::SIGURG);
    tracer.wait_for("SIGURG to kthreadd", |v| {
        is(v, "signal_generate") && v["pid"] == 2 && v["signo"] == 23
    });
    let (events, stderr) = tracer.stop();
    let leaked = events
        .iter()
        .filter(|v| v["event"].as_str().unwrap_or("").starts_with("signal") && v["kind"] == "user")
        .count();
    assert_eq!(leaked, 0, "user-to-user signals shown by default");
    // They never reached userspace: the summary counts no such records
    // (`N signals sent`; none said where there were none).
    let summary = summary_line(&stderr).expect(&stderr);
    let generated: u64 = summary
        .split(", ")
        .find_map(|c| {
            c.strip_suffix(" signals sent")
                .or(c.strip_suffix(" signal sent"))
        })
        .map_or(0, |n| n.rsplit(' ').next().unwrap().parse().unwrap());
    // A few kernel-side signals (the SIGURG, SIGCHLDs to kworkers) may land
    // in the window; the 100 user signals must not.
    assert!(generated <= 10, "{generated} signal records read: {stderr}");
}

#[test]
fn renames_are_reported_but_not_the_one_every_exec_does() {
    let _serial = serial();
    let mut tracer = Tracer::start(&["--event", "exec,rename"]);
    let status = Command::new("/bin/true").status().expect("true");
    assert!(status.success());
    // prctl(PR_SET_NAME) on a thread of our own.
    let tid = std::thread::spawn(|| {
        // SAFETY: PR_SET_NAME reads a NUL-terminated name of at most 16 bytes.
        unsafe { libc::prctl(libc::PR_SET_NAME, c"renamed-thread".as_ptr()) };
        // SAFETY: gettid has no preconditions.
        unsafe { libc::gettid() as u64 }
    })
    .join()
    .unwrap();
    let rename = tracer.wait_for("prctl rename", |v| is(v, "rename") && v["pid"] == tid);
    assert_eq!(rename["new_comm"], "renamed-thread");
    let exec = tracer.wait_for("exec of /bin/true", |v| {
        is(v, "exec") && v["filename"] == "/bin/true" && v["ppid"] == me()
    });
    let (events, _) = tracer.stop();
    assert!(
        !events
            .iter()
            .any(|v| is(v, "rename") && v["pid"] == exec["pid"]),
        "exec's own rename is not reported: the exec carries the name"
    );
}

/// A fork storm on both CPUs whose children run on the other CPU than
/// their fork, so a child's exec and exit land in another ring than its
/// fork; one ring is drained late (`--test-delay-ring`), as a lagging
/// consumer would. The merged output must still be in time order, with
/// every fork before its child's events: what lineage rules rely on.
#[test]
fn a_parallel_fork_storm_comes_out_in_time_order_forks_first() {
    use std::collections::HashMap;

    let _serial = serial();
    // SAFETY: sysconf has no memory-safety preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize;
    assert!(cpus >= 2, "this test needs two CPUs, not {cpus}");
    // Ring 1 (CPU 1's) is read 5 ms late (the merge's window is 10 ms):
    // without the merge its forks would print after their children's
    // execs from ring 0.
    let tracer = Tracer::start(&["--test-delay-ring", "1:5"]);
    const PER_CPU: usize = 300;
    let storms: Vec<_> = (0..2)
        .map(|cpu| {
            std::thread::spawn(move || {
                pin_to(cpu).expect("pinning the storm thread");
                let mut pids = Vec::with_capacity(PER_CPU);
                for _ in 0..PER_CPU {
                    let mut cmd = Command::new("/bin/true");
                    // SAFETY: sched_setaffinity is async-signal-safe and
                    // touches only the child.
                    unsafe { cmd.pre_exec(move || pin_to(1 - cpu)) };
                    let mut child = cmd.spawn().expect("spawning /bin/true");
                    pids.push(u64::from(child.id()));
                    child.wait().expect("reaping /bin/true");
                }
                pids
            })
        })
        .collect();
    let children: Vec<u64> = storms
        .into_iter()
        .flat_map(|s| s.join().expect("storm thread"))
        .collect();
    let (events, stderr) = tracer.stop();
    assert_no_loss(&stderr);

    // Output in time order, whatever ring each event came from.
    for pair in events.windows(2) {
        assert!(
            u64_of(&pair[0], "boot_ns") <= u64_of(&pair[1], "boot_ns"),
            "out of time order:\n{}\n{}",
            pair[0],
            pair[1]
        );
    }
    // Each child: fork, then exec, then exit, and on another CPU than its
    // fork (else the test proves nothing about rings).
    let ours: std::collections::HashSet<u64> = children.iter().copied().collect();
    let mut forked: HashMap<(u64, u64), u64> = HashMap::new();
    let mut seen: HashMap<u64, Vec<&str>> = HashMap::new();
    let mut cross = 0;
    for v in &events {
        let pid = match v.get("pid").and_then(Value::as_u64) {
            Some(pid) if ours.contains(&pid) => pid,
            _ => continue,
        };
        let task = (pid, u64_of(v, "start_ns"));
        let event = str_of(v, "event");
        match event {
            "fork" => {
                forked.insert(task, u64_of(v, "cpu"));
            }
            "exec" | "exit" => {
                let Some(&fork_cpu) = forked.get(&task) else {
                    panic!("{event} of {pid} before its fork: {v}");
                };
                if event == "exec" && fork_cpu != u64_of(v, "cpu") {
                    cross += 1;
                }
            }
            _ => continue,
        }
        seen.entry(pid).or_default().push(event);
    }
    for pid in &children {
        assert_eq!(
            seen.get(pid).map(Vec::as_slice),
            Some(&["fork", "exec", "exit"][..]),
            "events of child {pid}"
        );
    }
    assert!(
        cross >= children.len() / 2,
        "only {cross} of {} children exec'd on another CPU than their fork",
        children.len()
    );
}

/// SIGKILL to a process of many threads, all on one CPU: every thread
/// exits at once there. Where tracepoints run preemptible (7.x), one
/// thread's exit program is preempted by another's, which the kernel then
/// skips; the rescue programs must take those runs, so every thread has
/// its exit event (before them, this lost some in about one run in ten).
#[test]
fn every_thread_of_a_killed_group_has_its_exit() {
    const THREADS: usize = 48;
    let _serial = serial();
    let mut tracer = Tracer::start(&[]);
    // The child pins itself and starts threads that sleep.
    let child = fork_waiting_child(|| {
        let _ = pin_to(0);
        for _ in 0..THREADS {
            std::thread::spawn(|| loop {
                std::thread::sleep(std::time::Duration::from_secs(60));
            });
        }
    });
    let child = child as u64;
    let mut tids = std::collections::HashSet::from([child]);
    while tids.len() <= THREADS {
        let fork = tracer.wait_for("a thread of the child", |v| {
            is(v, "fork") && v["tgid"] == child && !tids.contains(&u64_of(v, "pid"))
        });
        tids.insert(u64_of(&fork, "pid"));
    }
    kill(child, libc::SIGKILL);
    let mut status = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(child as i32, &mut status, 0) };
    assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL);
    // Reaped, so every exit has fired: stopping drains them all.
    let (events, stderr) = tracer.stop();
    let exited: std::collections::HashSet<u64> = events
        .iter()
        .filter(|v| is(v, "exit") && v["tgid"] == child)
        .map(|v| u64_of(v, "pid"))
        .collect();
    let missing: Vec<_> = tids.difference(&exited).collect();
    assert!(
        missing.is_empty(),
        "{} of {} threads have no exit event: {missing:?}\ntracer stderr:\n{stderr}",
        missing.len(),
        tids.len()
    );
    assert_no_loss(&stderr);
}

/// Signals sent from interrupts (a 20 us interval timer's SIGALRM)
/// during a signal storm on the same CPU. The kernel fires
/// `signal_generate` holding the signal lock with interrupts off, so the
/// timer's never lands inside the storm's run of the program: no run is
/// skipped, and no rescue program is attached for it (on a kernel that
/// runs tracepoints preemptible as much as on one that does not), which
/// keeps the storm's cost down.
#[test]
fn signals_from_interrupts_never_nest_in_signal_generate() {
    let _serial = serial();
    let tracer = Tracer::start(&["--bench-stats"]);
    // The child pins itself to CPU 0, arms the timer and sends itself
    // ignored signals as fast as it can for two seconds; it exits 0 if
    // the timer fired at least 1,000 times meanwhile.
    // SAFETY: the child only makes system calls, then `_exit`s.
    let child = unsafe { libc::fork() };
    assert!(child >= 0);
    if child == 0 {
        static ALARMS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        extern "C" fn on_alarm(_: libc::c_int) {
            ALARMS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let _ = pin_to(0);
        // SAFETY: plain libc calls on values we own; the handler is
        // async-signal-safe (an atomic add).
        unsafe {
            libc::signal(libc::SIGALRM, on_alarm as *const () as usize);
            let every = libc::timeval {
                tv_sec: 0,
                tv_usec: 20,
            };
            let timer = libc::itimerval {
                it_interval: every,
                it_value: every,
            };
            libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut());
            let end = std::time::Instant::now() + std::time::Duration::from_secs(2);
            while std::time::Instant::now() < end {
                for _ in 0..1000 {
                    libc::kill(libc::getpid(), libc::SIGURG);
                }
            }
            let fired = ALARMS.load(std::sync::atomic::Ordering::Relaxed);
            libc::_exit(if fired >= 1000 { 0 } else { 3 });
        }
    }
    let mut status = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(child, &mut status, 0) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the storm or its timer failed: status {status:#x}"
    );
    let (_, stderr) = tracer.stop();
    let stats = stderr
        .lines()
        .find_map(|l| l.strip_prefix("tracer-stats: "))
        .unwrap_or_else(|| panic!("no stats line:\n{stderr}"));
    let stats: Value = serde_json::from_str(stats).unwrap();
    let skipped = u64_of(&stats["skipped_by_kind"], "signal_generate");
    assert_eq!(
        skipped, 0,
        "runs of signal_generate were skipped:\n{stderr}"
    );
    let programs = stats["programs"].as_object().expect("programs");
    assert!(programs.contains_key("signal_generate"), "{stderr}");
    assert!(
        !programs
            .keys()
            .any(|p| p.starts_with("signal_generate_rescue")),
        "a rescue is attached where nothing nests:\n{stderr}"
    );
    // Which kernels get rescues at all: only those whose tracepoints run
    // preemptible (7.x of the pinned ones); 6.1 and 6.12 had a
    // tracepoint_srcu too, but not preemptible tracepoints.
    let version = kernel_version();
    let rescues: Vec<&String> = programs.keys().filter(|p| p.contains("_rescue")).collect();
    if version < (6, 19) {
        assert!(rescues.is_empty(), "rescues on {version:?}: {rescues:?}");
    } else if version >= (7, 0) {
        assert!(
            programs.contains_key("sched_process_exit_rescue1")
                && programs.contains_key("task_rename_rescue2"),
            "no exit or rename rescues on {version:?}: {rescues:?}"
        );
    }
    assert_no_loss(&stderr);
}

#[test]
fn failed_execs_show_the_kernels_error_when_asked() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("not-executable");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    let missing = dir.path().join("missing");
    let mut tracer = Tracer::start(&["--failed-execs", "--verbose"]);
    // One more where kernel threads are linked to their requesters.
    let linked = tracer
        .startup
        .iter()
        .any(|l| l.contains("kernel threads: requesters exact"));
    let attached = format!("attached {} programs", 9 + usize::from(linked));
    assert!(
        tracer.startup.iter().any(|l| l.contains(&attached)),
        "the failed-exec program is loaded on request: {:?}",
        tracer.startup
    );
    for path in [&missing, &plain] {
        let err = Command::new(path).status().unwrap_err();
        assert!(err.raw_os_error().is_some(), "{err}");
    }
    // execveat(AT_FDCWD, relative path): its path is the second argument.
    let rel = std::ffi::CString::new("no-such-relative-program").unwrap();
    let argv = [rel.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null::<libc::c_char>()];
    // SAFETY: valid NUL-terminated arrays; the call fails and returns.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_execveat,
            libc::AT_FDCWD,
            rel.as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            0,
        )
    };
    assert_eq!(rc, -1);
    // SAFETY: gettid has no preconditions.
    let tid = u64::try_from(unsafe { libc::gettid() }).unwrap();

    let enoent = tracer.wait_for("ENOENT", |v| {
        is(v, "exec_failed") && v["filename"] == missing.to_str().unwrap()
    });
    assert_eq!(enoent["error"], "ENOENT", "{enoent}");
    assert_eq!(enoent["errno"], libc::ENOENT, "{enoent}");
    assert_eq!(enoent["via"], "execve", "{enoent}");
    let eacces = tracer.wait_for("EACCES", |v| {
        is(v, "exec_failed") && v["filename"] == plain.to_str().unwrap()
    });
    assert_eq!(eacces["error"], "EACCES", "{eacces}");
    let at = tracer.wait_for("execveat", |v| {
        is(v, "exec_failed") && v["filename"] == "no-such-relative-program"
    });
    assert_eq!(at["via"], "execveat", "{at}");
    assert_eq!(u64_of(&at, "pid"), tid, "{at}");
    tracer.stop();

    // Off by default: no program at every system call's exit.
    let tracer = Tracer::start(&["--verbose"]);
    let attached = format!("attached {} programs", 8 + usize::from(linked));
    assert!(
        tracer.startup.iter().any(|l| l.contains(&attached)),
        "{:?}",
        tracer.startup
    );
    let _ = Command::new(&missing).status();
    let (events, _) = tracer.stop();
    assert!(events.iter().all(|v| !is(v, "exec_failed")));
}
