//! `tracer export --format perfetto`: a recorded night (a core-dump helper
//! killed by a signal, a new kernel thread, an io_uring worker) exported as
//! a Perfetto trace, decoded by Python with Perfetto's own definitions
//! (tests/py/perfetto_check.py, which also checks the trace's structure),
//! and compared with the same log's JSON export.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::common::*;

/// Runs the checker on a trace; its JSON summary. Panics with the checker's
/// message when the trace is malformed.
fn check(trace: &Path) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/perfetto_check.py");
    let out = Command::new(test_py_tool("python"))
        .arg(script)
        .arg(trace)
        .output()
        .expect("running tests/py/perfetto_check.py");
    assert!(
        out.status.success(),
        "the trace fails its checks: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the checker prints JSON")
}

fn export(log: &Path, trace: &Path) -> (i32, String) {
    let (code, _, err) = run_tracer(&[
        "export",
        log.to_str().unwrap(),
        "--format",
        "perfetto",
        "-o",
        trace.to_str().unwrap(),
    ]);
    (code, err)
}

/// The summary, with lookups by task.
struct Timeline(Value);

impl Timeline {
    fn tracks(&self) -> &Vec<Value> {
        self.0["tracks"].as_array().unwrap()
    }

    fn track(&self, uuid: &Value) -> &Value {
        self.tracks()
            .iter()
            .find(|t| &t["uuid"] == uuid)
            .unwrap_or_else(|| panic!("no track {uuid}"))
    }

    fn named(&self, name: &str) -> &Value {
        self.tracks()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no track named {name}"))
    }

    fn slices(&self) -> impl Iterator<Item = &Value> {
        self.0["slices"].as_array().unwrap().iter()
    }

    /// The uuid of the track of the task `pid` started at `start_ns`
    /// (every slice names its task).
    fn of(&self, pid: u64, start_ns: u64) -> Value {
        self.slices()
            .find(|s| s["args"]["pid"] == pid && s["args"]["start_ns"] == start_ns)
            .unwrap_or_else(|| panic!("no slice of task {pid} started at {start_ns}"))["track"]
            .clone()
    }

    fn slices_on<'a>(&'a self, track: &'a Value) -> impl Iterator<Item = &'a Value> {
        self.slices().filter(move |s| &s["track"] == track)
    }

    fn flows(&self, from: &Value, to: &Value) -> Vec<&Value> {
        self.0["flows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| &f["from"]["track"] == from && &f["to"]["track"] == to)
            .collect()
    }

    fn parent_of(&self, track: &Value) -> Value {
        self.track(track)["parent"].clone()
    }
}

/// The first JSON export line matching `pred`.
fn find<'a>(events: &'a [Value], what: &str, pred: impl Fn(&Value) -> bool) -> &'a Value {
    events
        .iter()
        .find(|v| pred(v))
        .unwrap_or_else(|| panic!("no {what} in the JSON export"))
}

/// Polls for up to 10 s.
fn wait_until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "no {what} within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pids() -> Vec<u64> {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

fn cmdline(pid: u64) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

fn ppid(pid: u64) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.split(' ').nth(1)?.parse().ok()
}

#[test]
fn a_recorded_night_becomes_a_timeline() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("night.log");
    // A core-dump helper that forks a child and waits for it.
    let helper = script(dir.path(), "core-helper", "/bin/sleep 60 &\nwait\n");
    let recorder = start_recording(&log, &[]);

    let mount = LoopMount::new();
    let ring = sqpoll_ring();
    let (crasher, helper_pid, child_pid) = {
        let _pattern = core_pattern_to(&helper);
        let mut crasher = crash();
        let helper_pid = wait_until("core-dump helper", || {
            pids()
                .into_iter()
                .find(|&p| cmdline(p).contains(helper.as_str()))
        });
        let child_pid = wait_until("the helper's child", || {
            pids().into_iter().find(|&p| ppid(p) == Some(helper_pid))
        });
        kill(helper_pid, libc::SIGKILL);
        kill(child_pid, libc::SIGKILL);
        // Its core dump ends once the helper's end of the pipe is gone.
        crasher.wait().unwrap();
        (u64::from(crasher.id()), helper_pid, child_pid)
    };
    // SAFETY: closing the SQPOLL ring fd we opened.
    unsafe { libc::close(ring) };
    drop(mount);
    // Let the last records reach the log.
    std::thread::sleep(Duration::from_millis(300));
    stop_recording(recorder);

    // What happened, from the JSON export of the same log.
    let (code, jsonl, err) = run_tracer(&["export", log.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let events: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let helper_fork = find(&events, "helper fork", |v| {
        is(v, "fork") && v["pid"] == helper_pid
    });
    assert_eq!(helper_fork["kind"], "umh", "{helper_fork}");
    let helper_exit = find(&events, "helper exit", |v| {
        is(v, "exit") && v["pid"] == helper_pid
    });
    let diagnosis = str_of(helper_exit, "diagnosis");
    assert!(
        diagnosis.starts_with(&format!(
            "umh {helper_pid} {helper} for {crasher} (sh, dumping core) killed by SIGKILL from"
        )),
        "{diagnosis}"
    );
    let killer = field(helper_exit, "killed_by");
    assert_eq!(u64_of(killer, "tgid"), me(), "{helper_exit}");
    let child_fork = find(&events, "helper child fork", |v| {
        is(v, "fork") && v["pid"] == child_pid
    });
    let kthread = find(&events, "jbd2 kthread fork", |v| {
        is(v, "fork") && str_of(v, "comm").starts_with("jbd2/")
    });
    assert_eq!(kthread["kind"], "kthread", "{kthread}");
    let worker = find(&events, "SQPOLL thread fork", |v| {
        is(v, "fork") && v["tgid"] == me() && has_flag(v, "IO_WORKER")
    });
    assert_eq!(worker["kind"], "io_worker", "{worker}");

    let trace = dir.path().join("night.pftrace");
    let (code, err) = export(&log, &trace);
    assert_eq!(code, 0, "{err}");
    let t = Timeline(check(&trace));
    let task = |v: &Value| t.of(u64_of(v, "pid"), u64_of(v, "start_ns"));
    let creator = |v: &Value| task(field(v, "creator"));

    // The helper and its child, in the helpers group.
    let helpers = t.named("user-mode helpers");
    assert!(helpers["parent"].is_null(), "{helpers}");
    let h = task(helper_fork);
    let c = task(child_fork);
    assert_eq!(t.parent_of(&h), helpers["uuid"]);
    assert_eq!(t.parent_of(&c), helpers["uuid"]);
    // Slices named by comm and program, one per exec segment.
    let names: Vec<&str> = t
        .slices_on(&h)
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            str_of(helper_fork, "comm").to_string(),
            format!("core-helper ({helper})")
        ],
        "before and after its exec"
    );
    assert!(
        t.slices_on(&c).any(|s| s["name"] == "sleep (/bin/sleep)"),
        "{:?}",
        t.slices_on(&c).collect::<Vec<_>>()
    );
    // Its last slice and its exit carry the diagnosis.
    let last = t.slices_on(&h).last().unwrap();
    assert_eq!(last["args"]["diagnosis"], diagnosis, "{last}");
    let exit = t.0["instants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["track"] == h && i["name"] == "exit: killed by SIGKILL")
        .expect("the helper's exit instant");
    assert_eq!(exit["args"]["diagnosis"], diagnosis, "{exit}");
    // Arrows: kworker → helper (fork), helper → its child, killer → helper.
    assert_eq!(t.flows(&creator(helper_fork), &h).len(), 1);
    assert_eq!(t.flows(&h, &c).len(), 1);
    let killer_track = t
        .slices()
        .find(|s| s["args"]["pid"] == killer["pid"])
        .expect("the killer's track")["track"]
        .clone();
    let kill_flows = t.flows(&killer_track, &h);
    assert_eq!(kill_flows.len(), 1, "{kill_flows:?}");
    assert_eq!(
        kill_flows[0]["from"]["name"],
        format!("SIGKILL to {helper_pid}")
    );

    // The kthread, under kthreadd, with an arrow from it.
    let k = task(kthread);
    let kthreadd = t.named("kthreadd 2");
    assert_eq!(t.parent_of(&k), kthreadd["uuid"]);
    assert_eq!(t.flows(&kthreadd["uuid"], &k).len(), 1);
    // And a second arrow from the task that asked kthreadd for it (the
    // mount; on this kernel the fork finds it waiting).
    let by = field(field(kthread, "kthread"), "requested_by");
    assert_eq!(by["comm"], "mount", "{kthread}");
    let asked = t.flows(&task(by), &k);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(
        asked[0]["from"]["name"],
        format!("asked for kthread {}", kthread["pid"])
    );
    assert!(t
        .slices_on(&k)
        .all(|s| s["name"].as_str().unwrap().starts_with("jbd2/")));

    // The io_uring worker, under its process (this test binary).
    let w = task(worker);
    let process = t.track(&t.parent_of(&w));
    assert!(
        process["name"]
            .as_str()
            .unwrap()
            .ends_with(&format!(" {}", me())),
        "{process}"
    );
    assert!(process["parent"].is_null(), "{process}");
    assert_eq!(t.flows(&creator(worker), &w).len(), 1);
    // Born under its creator's name, it renames itself at once: its slice
    // from then on has the new name.
    let last = t.slices_on(&w).last().unwrap();
    assert!(
        last["name"].as_str().unwrap().starts_with("iou-sqp-"),
        "{last}"
    );
}

/// A recorded log in the repository (record format 2: a core-dump helper
/// and its child).
fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/log-v2-format2.log")
}

#[test]
fn an_existing_file_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("night.pftrace");
    fs::write(&trace, b"keep me").unwrap();
    let (code, err) = export(&fixture(), &trace);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(fs::read(&trace).unwrap(), b"keep me");
}

#[test]
fn a_damaged_log_exports_what_is_readable() {
    let dir = tempfile::tempdir().unwrap();
    let whole = fs::read(fixture()).unwrap();
    let cut = dir.path().join("cut.log");
    // Cut in the middle of the last event frame (the end frame is 17 bytes).
    fs::write(&cut, &whole[..whole.len() - 17 - 5]).unwrap();

    let full = dir.path().join("full.pftrace");
    let (code, err) = export(&fixture(), &full);
    assert_eq!(code, 0, "{err}");
    let full = Timeline(check(&full));
    let trace = dir.path().join("cut.pftrace");
    let (code, err) = export(&cut, &trace);
    assert_eq!(
        code,
        i32::from(tracer::log::reader::EXIT_DAMAGED),
        "damaged input has its own status: {err}"
    );
    assert!(err.contains("damage starts at byte offset"), "{err}");
    // Still a well-formed trace (the checker passes), every slice closed,
    // with the helper story that came before the damage.
    let t = Timeline(check(&trace));
    assert!(t.slices().count() > 0);
    assert!(t.slices().count() <= full.slices().count());
    let helpers = t.named("user-mode helpers");
    assert!(t.tracks().iter().any(|tr| tr["parent"] == helpers["uuid"]));
}
