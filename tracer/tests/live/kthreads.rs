//! Who asked kthreadd for each new kernel thread (issue 28), on the host's
//! kernel: real ext4 loop mounts, transparent-hugepage toggles and
//! kworker pools. Host only: the guests of the kernel matrix lack the loop
//! module and disk I/O worth a pool's growth.

use std::{
    collections::{HashMap, HashSet},
    process::Command,
};

use serde_json::Value;

use crate::common::*;

const THP: &str = "/sys/kernel/mm/transparent_hugepage/enabled";

/// A fork's `kthread` object, for the forks kthreadd made.
fn kthread(v: &Value) -> Option<&Value> {
    (is(v, "fork") && v["ppid"] == 2)
        .then(|| v.get("kthread"))
        .flatten()
        .filter(|k| !k.is_null())
}

fn comm(v: &Value) -> &str {
    v["comm"].as_str().unwrap_or("")
}

/// The requester's pid, when the link is exact.
fn requester(k: &Value) -> Option<u64> {
    match k["link"].as_str() {
        Some("exact") => Some(u64_of(field(k, "requested_by"), "pid")),
        Some("unknown") => {
            assert!(
                k["requested_by"].is_null(),
                "an unknown link names nobody: {k}"
            );
            assert!(k["reason"].as_str().is_some_and(|r| !r.is_empty()), "{k}");
            None
        }
        other => panic!("link {other:?}: {k}"),
    }
}

#[test]
fn ext4_mount_threads_are_for_the_mount_process() {
    let _serial = serial();
    let mut tracer = Tracer::start(&["--verbose"]);
    assert!(
        tracer
            .startup
            .iter()
            .any(|l| l.contains("kernel threads: requesters exact")),
        "the mechanism is said: {:?}",
        tracer.startup
    );
    let _mounted = LoopMount::new();
    let mount = tracer.wait_for("mount's exec", |v| {
        is(v, "exec") && v["ppid"] == me() && comm(v) == "mount"
    });
    let mount_pid = u64_of(&mount, "pid");
    let jbd2 = tracer.wait_for("the jbd2 thread's fork", |v| {
        is(v, "fork") && comm(v).starts_with("jbd2/loop")
    });
    let k = kthread(&jbd2).unwrap_or_else(|| panic!("no kthread object: {jbd2}"));
    assert_eq!(k["link"], "exact", "{jbd2}");
    let by = field(k, "requested_by");
    assert_eq!(u64_of(by, "pid"), mount_pid, "{jbd2}");
    assert_eq!(
        (by["comm"].as_str(), by["kind"].as_str()),
        (Some("mount"), Some("user"))
    );
    assert_eq!(k["threadfn"], "kjournald2", "{jbd2}");
    // Its rescuer worker is for the same mount.
    let rescuer = tracer.wait_for("the rescuer's fork", |v| {
        is(v, "fork") && comm(v).starts_with("kworker/R-ext4")
    });
    let k = kthread(&rescuer).unwrap_or_else(|| panic!("no kthread object: {rescuer}"));
    assert_eq!(requester(k), Some(mount_pid), "{rescuer}");
    // A fork that is not kthreadd's has none.
    let other = tracer.wait_for("mount's fork", |v| is(v, "fork") && v["pid"] == mount_pid);
    assert!(other["kthread"].is_null(), "{other}");
}

#[test]
fn report_and_replay_name_the_requester() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("kthreads.log");
    let recording = start_recording(&log, &[]);
    drop(LoopMount::new());
    stop_recording(recording);
    let log = log.to_str().unwrap();
    let (code, report, err) = run_tracer(&["report", log]);
    assert_eq!(code, 0, "{err}");
    let section = report
        .split("kernel threads created, by requester:")
        .nth(1)
        .unwrap_or_else(|| panic!("no section:\n{report}"));
    assert!(
        section
            .lines()
            .any(|l| l.contains("jbd2/*") && l.ends_with("for mount")),
        "{report}"
    );
    let (code, json, err) = run_tracer(&["report", log, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&json).unwrap();
    let groups = field(&v, "kthreads_by_requester").as_array().unwrap();
    assert!(
        groups
            .iter()
            .any(|g| g["requester"] == "mount" && g["threads"] == "jbd2/*"),
        "{groups:?}"
    );
    // The fork line says whom the thread is for.
    let (code, text, err) = run_tracer(&["replay", log]);
    assert_eq!(code, 0, "{err}");
    // (Full lines fold their details at 160 columns: join them first.)
    let text = unfold(&text);
    let line = text
        .lines()
        .find(|l| l.contains(" fork ") && l.contains("jbd2/loop"))
        .unwrap_or_else(|| panic!("no jbd2 fork line:\n{text}"));
    assert!(line.contains(" (mount)"), "{line}");
    assert!(line.contains("by 2 (kthreadd)"), "{line}");
}

/// Two tasks ask for kernel threads at once, 20 ms apart each: a shell
/// restarting khugepaged (its THP knob), and `mount`s of ext4 images
/// (jbd2). Each thread names its own requester or none, never the
/// other's; at least 9 in 10 are named.
#[test]
fn two_requesters_at_once_are_never_swapped() {
    let _serial = serial();
    let old = std::fs::read_to_string(THP).expect("THP knob");
    let on = if old.contains("[never]") {
        "madvise"
    } else {
        "always"
    };
    let current = old
        .split(['[', ']'])
        .nth(1)
        .expect("the selected THP mode")
        .to_string();
    // The knob reads `always [madvise] never`: put back the mode alone,
    // also when the test fails.
    struct Mode(String);
    impl Drop for Mode {
        fn drop(&mut self) {
            if let Err(e) = std::fs::write(THP, &self.0) {
                eprintln!("failed to restore {THP} to {}: {e}", self.0);
            }
        }
    }
    let _restore = Mode(current);
    let image = tempfile::tempdir().unwrap();
    let img = image.path().join("ext4.img");
    let mnt = image.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    std::fs::File::create(&img)
        .and_then(|f| f.set_len(16 << 20))
        .unwrap();
    assert!(Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(&img)
        .status()
        .unwrap()
        .success());
    let mut tracer = Tracer::start(&[]);
    let toggles = format!(
        "for i in 1 2 3 4 5 6 7 8 9 10; do echo never > {THP}; echo {on} > {THP}; \
         sleep 0.02; done"
    );
    let mounts = format!(
        "for i in 1 2 3 4 5; do mount -o loop {img} {mnt} && umount {mnt}; sleep 0.02; done",
        img = img.display(),
        mnt = mnt.display()
    );
    let mut a = Command::new("sh").args(["-c", &toggles]).spawn().unwrap();
    let mut b = Command::new("sh").args(["-c", &mounts]).spawn().unwrap();
    let (a_pid, b_pid) = (u64::from(a.id()), u64::from(b.id()));
    assert!(a.wait().unwrap().success());
    assert!(b.wait().unwrap().success());
    // The last khugepaged start, then everything after it.
    tracer.wait_for("khugepaged", |v| is(v, "fork") && comm(v) == "khugepaged");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (events, _) = tracer.stop();

    let mounts: HashSet<u64> = events
        .iter()
        .filter(|v| is(v, "exec") && v["ppid"] == b_pid && comm(v) == "mount")
        .map(|v| u64_of(v, "pid"))
        .collect();
    assert_eq!(mounts.len(), 5, "five mounts seen");
    let mut tally: HashMap<&str, (u32, u32)> = HashMap::new();
    for v in &events {
        let Some(k) = kthread(v) else { continue };
        let (group, theirs) = match comm(v) {
            "khugepaged" => ("khugepaged", requester(k).map(|p| p == a_pid)),
            c if c.starts_with("jbd2/loop") => ("jbd2", requester(k).map(|p| mounts.contains(&p))),
            _ => continue,
        };
        assert_ne!(theirs, Some(false), "swapped: {v}");
        let t = tally.entry(group).or_default();
        t.0 += 1;
        t.1 += u32::from(theirs == Some(true));
    }
    let (khugepaged, named) = tally.get("khugepaged").copied().unwrap_or_default();
    assert_eq!(khugepaged, 10, "ten khugepaged starts: {tally:?}");
    assert!(named >= 9, "at least 9 in 10 named: {tally:?}");
    let (jbd2, named) = tally.get("jbd2").copied().unwrap_or_default();
    assert_eq!(jbd2, 5, "{tally:?}");
    assert!(named >= 4, "at least 9 in 10 named: {tally:?}");
}

/// A kworker's pool: `kworker/u9:1` → `kworker/u9`.
fn pool(comm: &str) -> Option<&str> {
    comm.strip_prefix("kworker/")?;
    Some(comm.split_once(':')?.0)
}

/// A new pool's first worker is for whoever made the pool; as the pool
/// grows, its new workers are for a kworker of that pool, not a user task.
/// writeback's workqueue (WQ_SYSFS) gets a pool of its own when its nice
/// changes; the writeback a sync(2) queues there wakes the pool's one
/// worker, which finds no idle worker left and makes another.
#[test]
fn a_growing_pool_asks_through_its_own_kworker() {
    let _serial = serial();
    const NICE: &str = "/sys/devices/virtual/workqueue/writeback/nice";
    let mut tracer = Tracer::start(&[]);
    let _nice = Restore::set(NICE, "-7");
    let first = tracer.wait_for("the new pool's first worker", |v| {
        kthread(v).is_some_and(|k| k["requested_by"]["tgid"] == me())
    });
    let new_pool = pool(comm(&first)).unwrap_or_else(|| panic!("not a pool worker: {first}"));
    let mounted = LoopMount::new();
    std::fs::write(mounted.path().join("dirty"), vec![7u8; 1 << 20]).unwrap();
    // SAFETY: sync(2) has no preconditions.
    unsafe { libc::sync() };
    let grown = tracer.wait_for("a worker the pool made for itself", |v| {
        kthread(v).is_some() && pool(comm(v)) == Some(new_pool) && v["pid"] != first["pid"]
    });
    let k = kthread(&grown).unwrap();
    assert_eq!(k["link"], "exact", "{grown}");
    let by = field(k, "requested_by");
    assert_eq!(by["kind"], "kworker", "{grown}");
    assert_eq!(pool(str_of(by, "comm")), Some(new_pool), "{grown}");
}
