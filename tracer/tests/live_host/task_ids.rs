//! Task ids on two "hosts": two recordings on this machine, each with its
//! own host identity (`TRACER_HOST_NAME`, `TRACER_MACHINE_ID`), as a
//! fleet's logs are. Every task id is unique across the two logs, each is
//! the documented construction from the log's header, and every
//! `parent_task_id` names a task of its log: one the events name, or one
//! of the start-up snapshot in its header.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    process::Command,
    thread,
    time::Duration,
};

use serde_json::Value;
use tracer::{log::reader::LogReader, model::task_id::BootKey};

use crate::common::*;

/// A recording (every signal) of a little fork chain (`sh` → `sh` →
/// `true`, and a `sleep` killed by SIGKILL) by a tracer told it runs on
/// `host`.
fn record_host(log: &Path, host: &str, machine_id: &str) {
    let (mut child, rx) = spawn_attached(
        Command::new(tracer_exe())
            .args(["record", "--throttle", "off", "--all-signals", "-o"])
            .arg(log)
            .env("TRACER_HOST_NAME", host)
            .env("TRACER_MACHINE_ID", machine_id),
        Duration::from_secs(30),
    );
    thread::spawn(move || while rx.recv().is_ok() {});
    for _ in 0..3 {
        // The last `wait` reports the killed sleep: the status says nothing.
        Command::new("sh")
            .args([
                "-c",
                "sh -c '/bin/true task-ids; :'; sleep 5 & sleep 0.1; kill -KILL $!; wait",
            ])
            .status()
            .unwrap();
    }
    // SAFETY: kill() with a pid we own.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(status.success(), "record exited with {status}");
}

/// `tracer export LOG --ancestors 3`: its events.
fn export(log: &Path) -> Vec<Value> {
    let (code, out, err) = run_tracer(&["export", log.to_str().unwrap(), "--ancestors", "3"]);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON ({e}): {l}")))
        .collect()
}

/// Every task of an event line as (task id, pid, start_ns when the line
/// has it): the subject, nested tasks, the killer, ancestors.
fn tasks_of(v: &Value, out: &mut Vec<(String, u64, Option<u64>)>) {
    match v {
        Value::Object(map) => {
            if let (Some(Value::String(id)), Some(pid)) =
                (map.get("task_id"), map.get("pid").and_then(Value::as_u64))
            {
                let start = map.get("start_ns").and_then(Value::as_u64);
                out.push((id.clone(), pid, start));
            }
            for (k, field) in map {
                if k != "parent_task_id" {
                    tasks_of(field, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| tasks_of(i, out)),
        _ => {}
    }
}

/// What one log says: its events' task ids and its snapshot's.
struct Host {
    events: Vec<Value>,
    /// Every task id the events name, with the task's pid.
    seen: BTreeMap<String, u64>,
    snapshot: BTreeSet<String>,
}

fn read_host(log: &Path, host: &str, machine_id: &str) -> Host {
    let (header, _) = LogReader::open(log).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(header.hostname, host);
    assert_eq!(header.machine_id, machine_id);
    let boot = BootKey::new(&header.machine_id, &header.boot_id);
    let ns_per_tick = 1_000_000_000 / header.ticks_per_sec;
    let snapshot: BTreeSet<String> = header
        .tasks
        .iter()
        .map(|t| boot.task(t.start_ticks, t.pid).to_string())
        .collect();
    assert!(snapshot.len() > 10, "a snapshot of a few tasks only");
    let events = export(log);
    let mut tasks = Vec::new();
    events.iter().for_each(|v| tasks_of(v, &mut tasks));
    let mut seen = BTreeMap::new();
    for (id, pid, start) in tasks {
        // The documented construction, from the header and the task.
        if let Some(start) = start {
            let want = boot.task(start / ns_per_tick, pid as u32).to_string();
            assert_eq!(id, want, "pid {pid} started at {start}");
        }
        // One id, one task: never two pids under one id.
        if let Some(other) = seen.insert(id.clone(), pid) {
            assert_eq!(other, pid, "task id {id}");
        }
    }
    Host {
        events,
        seen,
        snapshot,
    }
}

#[test]
fn task_ids_are_unique_across_hosts_and_parents_resolve() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let hosts = [
        ("host-a", "0123456789abcdef0123456789abcdef"),
        ("host-b", "fedcba9876543210fedcba9876543210"),
    ];
    let mut read = Vec::new();
    for (host, machine_id) in hosts {
        let log = dir.path().join(format!("{host}.log"));
        record_host(&log, host, machine_id);
        read.push(read_host(&log, host, machine_id));
    }
    // The same machine and boot, the same tasks (init, kthreadd, ...) in
    // both snapshots: only the machine id tells them apart.
    let (a, b) = (&read[0], &read[1]);
    let all_a: BTreeSet<&String> = a.seen.keys().chain(&a.snapshot).collect();
    let all_b: BTreeSet<&String> = b.seen.keys().chain(&b.snapshot).collect();
    let shared: Vec<_> = all_a.intersection(&all_b).collect();
    assert!(shared.is_empty(), "ids in both logs: {shared:?}");

    for (host, h) in hosts.iter().zip(&read) {
        let mut parents = 0;
        let mut born_here = 0;
        for v in &h.events {
            let Some(parent) = v.get("parent_task_id") else {
                assert!(v["event"] == "lost", "no parent_task_id: {v}");
                continue;
            };
            let Some(parent) = parent.as_str() else {
                continue;
            };
            parents += 1;
            let in_snapshot = h.snapshot.contains(parent);
            assert!(
                in_snapshot || h.seen.contains_key(parent),
                "{}: parent {parent} of {v} is no task of the log",
                host.0
            );
            born_here += usize::from(!in_snapshot);
            // The nearest ancestor is the parent.
            let first = &v["ancestors"][0]["task_id"];
            assert_eq!(first.as_str(), Some(parent), "{v}");
        }
        assert!(parents >= 10, "{}: {parents} events name a parent", host.0);
        // The workload's inner sh was born while recording: its children
        // name it by an id the snapshot cannot hold.
        assert!(born_here > 0, "{}: every parent from the snapshot", host.0);
        let killed = h.events.iter().find(|v| {
            v["event"] == "exit" && v["comm"] == "sleep" && v["exit_signal"] == "SIGKILL"
        });
        let killer = &killed.unwrap_or_else(|| panic!("{}: no killed sleep", host.0))["killed_by"];
        assert!(
            killer["task_id"]
                .as_str()
                .is_some_and(|id| h.seen.contains_key(id)),
            "{killer}"
        );
    }
}

/// Field 22 of /proc/PID/stat: the start in clock ticks since boot.
fn start_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    after_comm.split(' ').nth(22 - 3).unwrap().parse().unwrap()
}

/// `ps` and `tree --format json` (no BPF): this machine's tasks named as a
/// recording on it names them, the machine id as a header would take it.
#[test]
fn ps_and_tree_name_tasks_as_recordings_do() {
    let machine_id = "00112233445566778899aabbccddeeff";
    let run = |args: &[&str]| {
        let out = Command::new(tracer_exe())
            .args(args)
            .env("TRACER_MACHINE_ID", machine_id)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let boot = BootKey::new(machine_id, boot_id.trim());
    let rows: Vec<Value> = run(&["ps", "--format", "json", "--quiet"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_pid: BTreeMap<u64, &Value> = rows
        .iter()
        .map(|r| (r["pid"].as_u64().unwrap(), r))
        .collect();
    let init = by_pid[&1];
    assert_eq!(
        init["task_id"],
        boot.task(start_ticks(1), 1).to_string().as_str()
    );
    // pid 0 is in no table: init's parent is not known.
    assert_eq!(init["parent_task_id"], Value::Null);
    let mut orphans = Vec::new();
    for r in rows.iter().filter(|r| r["ppid"] != 0) {
        let ppid = r["ppid"].as_u64().unwrap();
        match r["parent_task_id"].as_str() {
            Some(parent) => assert_eq!(by_pid[&ppid]["task_id"].as_str(), Some(parent), "{r}"),
            None => orphans.push(r),
        }
    }
    // Only a parent that exited while /proc was read is not known.
    assert!(orphans.len() <= 2, "no parent_task_id: {orphans:?}");
    // The tree names init as ps does.
    let tree: Value = serde_json::from_str(&run(&["tree", "--format", "json"])).unwrap();
    assert_eq!(tree["task_id"], Value::Null, "the idle task is in no table");
    let init_node = tree["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["pid"] == 1)
        .expect("init under pid 0");
    assert_eq!(init_node["task_id"], init["task_id"]);
}
