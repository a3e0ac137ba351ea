//! Task context against the real kernel: credentials, cgroup v2 (nested
//! groups and each container runtime's naming), pid and mount namespaces,
//! read in kernel at the event; `ps` gives the same from procfs; logs of
//! the format before stay readable.

use std::{
    fs,
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

use crate::common::{ps_json, run_tracer, serial, unfold};

/// Where cgroup2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on
/// a hybrid host).
fn cgroup2_mount() -> PathBuf {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            (right.split_whitespace().next()? == "cgroup2")
                .then(|| PathBuf::from(left.split_whitespace().nth(4).unwrap()))
        })
        .expect("a cgroup2 mount")
}

/// A cgroup tree made for a test, removed on drop (also when the test
/// fails): leaf first, after moving any process left in it out.
struct CgroupTree {
    root: PathBuf,
    dirs: Vec<PathBuf>,
}

impl CgroupTree {
    fn new(name: &str) -> CgroupTree {
        let root = cgroup2_mount().join(name);
        let mut tree = CgroupTree {
            root: root.clone(),
            dirs: Vec::new(),
        };
        tree.remove_all();
        tree.mkdir(&root);
        tree
    }

    fn mkdir(&mut self, dir: &Path) -> PathBuf {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        self.dirs.push(dir.to_path_buf());
        dir.to_path_buf()
    }

    fn add(&mut self, rel: &str) -> PathBuf {
        let mut at = self.root.clone();
        for part in rel.split('/') {
            at = at.join(part);
            if !self.dirs.contains(&at) {
                self.mkdir(&at);
            }
        }
        at
    }

    /// The cgroup path of `dir` as /proc/PID/cgroup would say it.
    fn path_of(dir: &Path) -> String {
        format!("/{}", dir.strip_prefix(cgroup2_mount()).unwrap().display())
    }

    fn remove_all(&mut self) {
        let mut found = Vec::new();
        collect_dirs(&self.root, &mut found);
        let top = cgroup2_mount().join("cgroup.procs");
        for dir in found.iter().rev() {
            if let Ok(pids) = fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in pids.lines() {
                    let _ = fs::write(&top, pid);
                }
            }
            let _ = fs::remove_dir(dir);
        }
    }
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    if !dir.is_dir() {
        return;
    }
    out.push(dir.to_path_buf());
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_dirs(&entry.path(), out);
        }
    }
}

impl Drop for CgroupTree {
    fn drop(&mut self) {
        self.remove_all();
    }
}

/// A temporary log path, removed on drop.
struct TempLog(PathBuf);

impl TempLog {
    fn new(name: &str) -> TempLog {
        let path =
            std::env::temp_dir().join(format!("tracer-ctx-{}-{name}.log", std::process::id()));
        let _ = fs::remove_file(&path);
        TempLog(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempLog {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// `tracer record -o LOG -- CMD...`: CMD and its descendants only.
fn record(log: &TempLog, cmd: &[&str]) {
    let mut args = vec!["record", "-o", log.path(), "--"];
    args.extend_from_slice(cmd);
    let (code, _, err) = run_tracer(&args);
    assert_eq!(code, 0, "record failed: {err}");
}

fn replay_json(log: &TempLog) -> Vec<Value> {
    let (code, out, err) = run_tracer(&["replay", log.path(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The exec of /bin/true whose last argument is `marker`.
fn exec_of<'a>(events: &'a [Value], marker: &str) -> &'a Value {
    events
        .iter()
        .find(|v| {
            v["event"] == "exec"
                && v["filename"] == "/bin/true"
                && v["argv"].as_array().and_then(|a| a.last()) == Some(&Value::from(marker))
        })
        .unwrap_or_else(|| panic!("no exec of /bin/true {marker} in {events:#?}"))
}

fn ns_inode(which: &str) -> u64 {
    fs::metadata(format!("/proc/self/ns/{which}"))
        .unwrap()
        .ino()
}

#[test]
fn a_task_in_new_pid_and_mount_namespaces_says_so() {
    let _serial = serial();
    let log = TempLog::new("unshare");
    record(
        &log,
        &[
            "unshare",
            "-p",
            "-f",
            "--mount-proc",
            "sh",
            "-c",
            "exec /bin/true ctx-unshare",
        ],
    );
    let events = replay_json(&log);
    let exec = exec_of(&events, "ctx-unshare");
    // The namespace's first task: pid 1 inside, something else outside.
    assert_eq!(exec["ns_pid"], 1, "{exec}");
    assert_ne!(exec["pid"], 1, "{exec}");
    let pidns = exec["pidns"].as_u64().expect("pidns");
    let mntns = exec["mntns"].as_u64().expect("mntns");
    assert_ne!(pidns, ns_inode("pid"), "{exec}");
    assert_ne!(mntns, ns_inode("mnt"), "{exec}");
    assert_eq!(
        (exec["uid"].as_u64(), exec["gid"].as_u64()),
        (Some(0), Some(0))
    );
    // The fork that made it: the child is in the new namespace, its
    // creator (unshare) in ours.
    let fork = events
        .iter()
        .find(|v| v["event"] == "fork" && v["pid"] == exec["pid"])
        .expect("the fork of the namespace's init");
    assert_eq!(fork["pidns"].as_u64(), Some(pidns), "{fork}");
    assert_eq!(
        fork["creator"]["pidns"].as_u64(),
        Some(ns_inode("pid")),
        "{fork}"
    );
    assert_eq!(fork["creator"]["ns_pid"], fork["creator"]["pid"], "{fork}");
    // In text: the namespace and the pid inside, as the pid differs.
    let (code, text, err) = run_tracer(&["replay", log.path()]);
    assert_eq!(code, 0, "{err}");
    let text = unfold(&text);
    let line = text
        .lines()
        .find(|l| l.contains("/bin/true [/bin/true ctx-unshare]"))
        .expect("the exec line");
    assert!(line.contains(&format!("pidns={pidns} nspid=1")), "{line}");
    assert!(line.contains(&format!("mntns={mntns}")), "{line}");
}

#[test]
fn a_task_of_another_user_carries_its_ids_and_name() {
    let _serial = serial();
    let log = TempLog::new("uid");
    record(
        &log,
        &[
            "setpriv",
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "/bin/true",
            "ctx-uid",
        ],
    );
    let events = replay_json(&log);
    let exec = exec_of(&events, "ctx-uid");
    assert_eq!(
        (exec["uid"].as_u64(), exec["gid"].as_u64()),
        (Some(65534), Some(65534)),
        "{exec}"
    );
    assert_eq!(exec["pidns"].as_u64(), Some(ns_inode("pid")), "{exec}");
    assert_eq!(exec["ns_pid"], exec["pid"], "{exec}");
    assert_eq!(exec["mntns"].as_u64(), Some(ns_inode("mnt")), "{exec}");
    // setpriv itself exec'd as root.
    let setpriv = events
        .iter()
        .find(|v| v["event"] == "exec" && v["comm"] == "setpriv")
        .expect("setpriv's exec");
    assert_eq!(setpriv["uid"], 0, "{setpriv}");
    let (code, text, err) = run_tracer(&["replay", log.path()]);
    assert_eq!(code, 0, "{err}");
    let text = unfold(&text);
    let line = text
        .lines()
        .find(|l| l.contains("/bin/true [/bin/true ctx-uid]"))
        .expect("the exec line");
    let name = fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.get(2) == Some(&"65534")).then(|| f[0].to_string())
        })
        .unwrap_or_else(|| "65534".into());
    assert!(line.contains(&format!("user={name}")), "{line}");
    // Our own namespaces are not repeated on every line.
    assert!(
        !line.contains("pidns=") && !line.contains("mntns="),
        "{line}"
    );
}

/// 64 hex digits, different per runtime.
fn container_hex(seed: u8) -> String {
    (0..32)
        .map(|i| format!("{:02x}", seed.wrapping_mul(31).wrapping_add(i)))
        .collect()
}

#[test]
fn cgroups_nested_and_named_by_container_runtimes() {
    let _serial = serial();
    let mut tree = CgroupTree::new("tracer-test");
    let inner = tree.add("inner");
    let runtimes = [
        ("system.slice/docker-{}.scope", "docker"),
        ("docker/{}", "docker"),
        ("kubepods.slice/cri-containerd-{}.scope", "containerd"),
        ("kubepods.slice/crio-{}.scope", "cri-o"),
        ("machine.slice/libpod-{}.scope", "podman"),
    ];
    let mut script = format!(
        "sh -c 'echo $$ > {}/cgroup.procs && exec /bin/true ctx-inner'",
        inner.display()
    );
    let mut expected = vec![("ctx-inner".to_string(), inner.clone(), None)];
    for (i, (pattern, runtime)) in runtimes.iter().enumerate() {
        let id = container_hex(i as u8 + 1);
        let dir = tree.add(&pattern.replace("{}", &id));
        let marker = format!("ctx-{i}");
        script.push_str(&format!(
            "; sh -c 'echo $$ > {}/cgroup.procs && exec /bin/true {marker}'",
            dir.display()
        ));
        expected.push((marker, dir, Some((*runtime, id))));
    }
    let log = TempLog::new("cgroups");
    record(&log, &["sh", "-c", &script]);
    let events = replay_json(&log);
    for (marker, dir, container) in &expected {
        let exec = exec_of(&events, marker);
        let path = CgroupTree::path_of(dir);
        assert_eq!(exec["cgroup"], path.as_str(), "{exec}");
        assert_eq!(
            exec["cgroup_id"].as_u64(),
            Some(fs::metadata(dir).unwrap().ino()),
            "{exec}"
        );
        match container {
            Some((runtime, id)) => {
                assert_eq!(exec["container_id"], id.as_str(), "{exec}");
                assert_eq!(exec["container_runtime"], *runtime, "{exec}");
            }
            None => assert_eq!(exec["container_id"], Value::Null, "{exec}"),
        }
    }
    // The text line names the container by its short id.
    let (code, text, err) = run_tracer(&["replay", log.path()]);
    assert_eq!(code, 0, "{err}");
    let text = unfold(&text);
    let line = text
        .lines()
        .find(|l| l.contains("/bin/true [/bin/true ctx-0]"))
        .expect("the exec line");
    let docker = &expected[1].2.as_ref().unwrap().1;
    assert!(
        line.contains(&format!("container=docker:{}", &docker[..12])),
        "{line}"
    );
    assert!(line.contains("cgroup=/"), "{line}");
    // Once the groups are gone, their ids stay and their paths are unknown.
    let ids: Vec<u64> = expected
        .iter()
        .map(|(_, dir, _)| fs::metadata(dir).unwrap().ino())
        .collect();
    drop(tree);
    let events = replay_json(&log);
    for ((marker, _, _), id) in expected.iter().zip(ids) {
        let exec = exec_of(&events, marker);
        assert_eq!(exec["cgroup_id"].as_u64(), Some(id), "{exec}");
        assert_eq!(exec["cgroup"], Value::Null, "{exec}");
        assert_eq!(exec["container_id"], Value::Null, "{exec}");
    }
}

/// Kills and reaps a child on drop.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn ps_shows_the_same_context_from_procfs() {
    let _serial = serial();
    let mut tree = CgroupTree::new("tracer-test-ps");
    let id = container_hex(9);
    let dir = tree.add(&format!("system.slice/docker-{id}.scope"));
    let child = Reaped(
        Command::new("setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .args(["sleep", "30"])
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    fs::write(dir.join("cgroup.procs"), pid.to_string()).unwrap();
    // Until setpriv has dropped to 65534 (it execs sleep after).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep") {
        assert!(std::time::Instant::now() < deadline, "sleep never started");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let rows = ps_json(&["--pid", &pid.to_string()]);
    let row = rows
        .iter()
        .find(|r| r["pid"] == pid)
        .unwrap_or_else(|| panic!("no row for {pid}: {rows:?}"));
    assert_eq!(
        (row["uid"].as_u64(), row["gid"].as_u64()),
        (Some(65534), Some(65534)),
        "{row}"
    );
    assert_eq!(row["cgroup"], CgroupTree::path_of(&dir).as_str(), "{row}");
    assert_eq!(
        row["cgroup_id"].as_u64(),
        Some(fs::metadata(&dir).unwrap().ino()),
        "{row}"
    );
    assert_eq!(row["container_id"], id.as_str(), "{row}");
    assert_eq!(row["container_runtime"], "docker", "{row}");
    assert_eq!(row["pidns"].as_u64(), Some(ns_inode("pid")), "{row}");
    assert_eq!(row["ns_pid"], pid, "{row}");
    assert_eq!(row["mntns"].as_u64(), Some(ns_inode("mnt")), "{row}");
    drop(child);
    drop(tree);
}
