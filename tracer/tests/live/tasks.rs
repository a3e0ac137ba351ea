//! Live tests of the task model: `tracer ps`, `tracer tree` and kinds in
//! `tracer trace`, against the real kernel.

use std::{
    fs,
    process::Command,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::common::*;

const PF_KTHREAD: u64 = 0x0020_0000;

/// Field 9 of /proc/TGID/task/PID/stat, read independently of tracer.
fn stat_flags(tgid: u64, pid: u64) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{tgid}/task/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(6)?.parse().ok()
}

#[test]
fn ps_agrees_with_proc_stat_for_every_task() {
    // One binary holds every live test: no storm of another may run beside it.
    let _serial = serial();
    let rows = ps_json(&[]);
    let mut compared = 0;
    for row in &rows {
        let (pid, tgid) = (u64_of(row, "pid"), u64_of(row, "tgid"));
        let Some(flags) = stat_flags(tgid, pid) else {
            continue; // exited since
        };
        let pf_kthread = flags & PF_KTHREAD != 0;
        assert_eq!(
            row["tests"]["pf_kthread"], pf_kthread,
            "pid {pid}: stat flags {flags:#x}: {row}"
        );
        compared += 1;
    }
    assert!(compared > 20, "only {compared} tasks compared");
    // Every task procfs lists now (minus those born since) is in the output.
    let listed: std::collections::HashSet<u64> = rows.iter().map(|r| u64_of(r, "pid")).collect();
    let kthreads: Vec<&Value> = rows.iter().filter(|r| r["kind"] == "kthread").collect();
    assert!(!kthreads.is_empty());
    assert!(listed.contains(&1) && listed.contains(&2) && listed.contains(&me()));
    let kthreadd = rows
        .iter()
        .find(|r| r["pid"] == 2)
        .expect("kthreadd listed");
    assert_eq!(kthreadd["kind"], "kthreadd");
    assert_eq!(kthreadd["tests"]["kthreadd_lineage"], "self");
    let this = rows
        .iter()
        .find(|r| r["pid"] == me())
        .expect("this test listed");
    assert_eq!(this["kind"], "user");
}

#[test]
fn ps_filters_and_notes() {
    // One binary holds every live test: no storm of another may run beside it.
    let _serial = serial();
    let rows = ps_json(&["--kind", "kworker,kthreadd"]);
    assert!(rows.iter().any(|r| r["kind"] == "kthreadd"));
    assert!(rows
        .iter()
        .all(|r| r["kind"] == "kworker" || r["kind"] == "kthreadd"));
    let rows = ps_json(&["--pid", "2"]);
    assert_eq!(rows.len(), 1, "{rows:?}");

    let (code, out, err) = run_tracer(&["ps", "-v"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("    PID"), "{out}");
    assert!(
        err.contains("umh is inferred"),
        "ps -v says which tests it could not run: {err}"
    );
    assert_eq!(err.matches("umh is inferred").count(), 1, "once: {err}");
    let (code, quiet_out, err) = run_tracer(&["ps", "--quiet"]);
    assert_eq!(code, 0, "{err}");
    assert!(quiet_out.starts_with("    PID"), "{quiet_out}");
    assert!(!err.contains("note:"), "no notes without -v: {err}");
    let (code, _, err) = run_tracer(&["ps", "--kind", "thread"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("invalid value 'thread' for '--kind") && err.contains("kthread"),
        "{err}"
    );
}

#[test]
fn tree_shows_kthreadd_subtree_and_this_test() {
    // One binary holds every live test: no storm of another may run beside it.
    let _serial = serial();
    let (code, out, err) = run_tracer(&["tree"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("0 [idle]\n"), "{out}");
    // Box-drawing under a UTF-8 locale, ASCII (`|-- `) otherwise.
    assert!(
        out.contains("─ 1 ") || out.contains("-- 1 "),
        "init under idle: {out}"
    );
    assert!(
        out.contains("─ 2 kthreadd [kthreadd]") || out.contains("-- 2 kthreadd [kthreadd]"),
        "{out}"
    );
    assert!(
        out.contains(&format!("─ {} ", me())) || out.contains(&format!("-- {} ", me())),
        "this test is in the tree"
    );
    let (code, out, err) = run_tracer(&["tree", "2"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("2 kthreadd [kthreadd]\n"), "{out}");
    assert!(
        out.lines().skip(1).all(|l| l.contains("[k")),
        "only kthreads: {out}"
    );
    // A pid that names no task: status 1, as `ps --pid` and `--follow`.
    let (code, _, err) = run_tracer(&["tree", "4000000"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no task with pid 4000000"), "{err}");
}

#[test]
fn io_uring_sqpoll_thread_is_an_io_worker_of_its_process() {
    let _serial = serial();
    let fd = sqpoll_ring();
    // The SQ thread renames itself once it runs; wait for that.
    let deadline = Instant::now() + Duration::from_secs(10);
    let row = loop {
        let rows = ps_json(&["--pid", &me().to_string()]);
        if let Some(r) = rows
            .into_iter()
            .find(|r| str_of(r, "comm").starts_with("iou-sqp-"))
        {
            break r;
        }
        assert!(Instant::now() < deadline, "no iou-sqp thread in ps");
        std::thread::sleep(Duration::from_millis(50));
    };
    // SAFETY: closing the ring fd we opened.
    unsafe { libc::close(fd) };
    assert_eq!(row["kind"], "io_worker", "{row}");
    assert_eq!(u64_of(&row, "parent"), me(), "its user process: {row}");
    assert_eq!(u64_of(&row, "tgid"), me());
    assert_eq!(row["tests"]["pf_kthread"], false);
    assert_eq!(row["tests"]["io_worker"], true);
    assert_eq!(
        row["disagree"], true,
        "looks user-like, never runs in user mode"
    );
}

/// A task forked while tracer starts is listed once, whichever of procfs
/// and the event stream saw it first.
#[test]
fn tasks_born_during_startup_appear_once() {
    let _serial = serial();
    // A parent that keeps forking children through start-up. They live
    // long enough that some born before the programs attach are still
    // there for the snapshot, however slow start-up is (seconds under
    // emulation); the whole group is killed at the end.
    use std::os::unix::process::CommandExt as _;
    let forker = Command::new("/bin/sh")
        .args(["-c", "while :; do /bin/sleep 20 & sleep 0.01; done"])
        .process_group(0)
        .spawn()
        .expect("forker");
    // Killed on every exit, a failed assertion included: the loop must
    // not outlive the test.
    let mut forker = KillGroup(forker, false);
    std::thread::sleep(Duration::from_millis(300));
    let rows = ps_json(&["--live", "500ms"]);
    forker.kill();
    let forker = &forker.0;
    // A child born between attaching and the snapshot is in both; it must
    // come out as one task whose creator (from its fork event) is known.
    let children: Vec<&Value> = rows
        .iter()
        .filter(|r| u64_of(r, "parent") == u64::from(forker.id()))
        .collect();
    assert!(
        children.iter().any(|r| r["creator"].is_null()),
        "some children came from the procfs snapshot"
    );
    assert!(
        children
            .iter()
            .any(|r| r["creator"] == u64::from(forker.id())),
        "some children were born during the live window: {children:?}"
    );
    for r in &children {
        assert_eq!(r["kind"], "user", "{r}");
        assert!(
            r["creator"].is_null() || r["creator"] == u64::from(forker.id()),
            "a merged child keeps its real creator: {r}"
        );
    }
}

#[test]
fn ext4_loop_mount_shows_a_new_jbd2_kthread() {
    let _serial = serial();
    let mut tracer = Tracer::start(&["--kind", "kthread", "--event", "fork,rename"]);
    let mount = LoopMount::new();
    let jbd2 = |c: &Value| c.as_str().is_some_and(|c| c.starts_with("jbd2/"));
    // Since 6.x a kthread has its final name at fork; before, kthreadd forks
    // it under its own name and the new thread renames itself.
    let named = tracer.wait_for("jbd2 kthread", |v| {
        (is(v, "fork") && jbd2(&v["comm"])) || (is(v, "rename") && jbd2(&v["new_comm"]))
    });
    let pid = named["pid"].clone();
    let fork = tracer.wait_for("the jbd2 kthread's fork", |v| {
        is(v, "fork") && v["pid"] == pid
    });
    assert_eq!(fork["kind"], "kthread", "{fork}");
    assert_eq!(u64_of(&fork, "ppid"), 2, "kthreadd is its parent: {fork}");
    assert_eq!(field(&fork, "creator")["kind"], "kthreadd");
    assert!(has_flag(&fork, "KTHREAD"));
    // ps sees it too, under kthreadd.
    let pid = u64_of(&fork, "pid");
    let rows = ps_json(&["--pid", &pid.to_string()]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["kind"], "kthread");
    assert_eq!(u64_of(&rows[0], "parent"), 2);
    assert!(mount.path().exists());
    let (events, _) = tracer.stop();
    assert!(
        events
            .iter()
            .all(|v| v["kind"] == "kthread"
                || v.get("creator").is_some_and(|c| c["kind"] == "kthread")),
        "--kind kthread shows only events about kthreads"
    );
    drop(mount);
}

/// A child and its process group, killed with SIGKILL when dropped.
struct KillGroup(std::process::Child, bool);

impl KillGroup {
    /// Once only: after the wait, the group id may belong to another.
    fn kill(&mut self) {
        if std::mem::replace(&mut self.1, true) {
            return;
        }
        // SAFETY: kill() of the child's own process group (it called
        // setpgid(0, 0), so the group id is its pid), not yet reaped.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

impl Drop for KillGroup {
    fn drop(&mut self) {
        self.kill();
    }
}
