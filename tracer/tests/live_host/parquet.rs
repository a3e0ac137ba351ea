//! `export --dataset`: two "hosts" (two recordings with overridden host
//! identity: `TRACER_HOST_NAME`, `TRACER_MACHINE_ID`), a core-dump helper
//! killed in one and a new kernel thread in it too, exported into one
//! Parquet dataset. DuckDB and polars (from PyPI, not the Rust crates
//! that wrote the files) run the recipes of docs/recording.md on it, and
//! their answers, and every row field by field, must equal the JSON
//! export of the same logs; task ids must not collide across the hosts.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    fs,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{
    common::*,
    recipes::{duckdb_recipe, polars_recipe},
};

const HOSTS: [(&str, &str); 2] = [
    ("alpha", "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"),
    ("beta", "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"),
];

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

/// The first process whose command line contains `text`.
fn process_running(text: &str) -> Option<u64> {
    fs::read_dir("/proc").ok()?.find_map(|e| {
        let pid: u64 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        String::from_utf8_lossy(&cmdline)
            .contains(text)
            .then_some(pid)
    })
}

/// A child of process `parent`.
fn child_of(parent: u64) -> Option<u64> {
    fs::read_dir("/proc").ok()?.find_map(|e| {
        let pid: u64 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let ppid: u64 = stat.rsplit_once(") ")?.1.split(' ').nth(1)?.parse().ok()?;
        (ppid == parent).then_some(pid)
    })
}

/// Host alpha: a new kernel thread (a loop mount's jbd2) and a
/// core-dump helper killed by this test.
fn alpha_night(dir: &Path) {
    let helper = script(dir, "core-helper", "/bin/sleep 60 &\nwait\n");
    let mount = LoopMount::new();
    {
        let _pattern = core_pattern_to(&helper);
        let mut crasher = crash();
        let helper_pid = wait_until("core-dump helper", || process_running(&helper));
        // Its child holds the pipe too: killed after it (killed first,
        // the child would let the helper end by itself).
        let child = wait_until("the helper's child", || child_of(helper_pid));
        kill(helper_pid, libc::SIGKILL);
        kill(child, libc::SIGKILL);
        // Its core dump ends once the helper's end of the pipe is gone.
        crasher.wait().unwrap();
    }
    drop(mount);
}

/// Host beta: a few plain commands.
fn beta_night() {
    for _ in 0..5 {
        assert!(Command::new("/bin/true").status().unwrap().success());
    }
}

/// The JSON export of one log, parsed, with the 4 ancestors the
/// Parquet export names by default.
fn json_export(log: &Path) -> Vec<Value> {
    let (code, out, err) = run_tracer(&["export", log.to_str().unwrap(), "--ancestors", "4"]);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// JSON field paths and the Parquet column that holds each.
const FIELDS: &[(&str, &str)] = &[
    ("boot_ns", "boot_ns"),
    ("cpu", "cpu"),
    ("event", "event"),
    ("pid", "pid"),
    ("tgid", "tgid"),
    ("ppid", "ppid"),
    ("comm", "comm"),
    ("kind", "kind"),
    ("flags", "flags"),
    ("flags_raw", "flags_raw"),
    ("has_mm", "has_mm"),
    ("start_ns", "start_ns"),
    ("uid", "uid"),
    ("gid", "gid"),
    ("cgroup_id", "cgroup_id"),
    ("cgroup", "cgroup"),
    ("container_id", "container_id"),
    ("pidns", "pidns"),
    ("ns_pid", "ns_pid"),
    ("mntns", "mntns"),
    ("creator/pid", "creator_pid"),
    ("creator/tgid", "creator_tgid"),
    ("creator/comm", "creator_comm"),
    ("creator/kind", "creator_kind"),
    ("clone_flags", "clone_flags"),
    ("filename", "filename"),
    ("argv", "argv"),
    ("old_pid", "old_pid"),
    ("argv_truncated", "argv_truncated"),
    ("argc", "argc"),
    ("args_bytes", "args_bytes"),
    ("filename_truncated", "filename_truncated"),
    ("exit_status", "exit_status"),
    ("exit_signal", "exit_signal"),
    ("core_dumped", "core_dumped"),
    ("group_dead", "group_dead"),
    ("lifetime_ns", "lifetime_ns"),
    ("killed_by/signal", "killer_signal"),
    ("killed_by/pid", "killer_pid"),
    ("killed_by/tgid", "killer_tgid"),
    ("killed_by/uid", "killer_uid"),
    ("killed_by/comm", "killer_comm"),
    ("killed_by/boot_ns", "killer_boot_ns"),
    ("diagnosis", "diagnosis"),
    ("signal", "signal"),
    ("signo", "signo"),
    ("errno", "errno"),
    ("code", "code"),
    ("code_name", "code_name"),
    ("result", "result"),
    ("group", "group"),
    ("sender_uid", "sender_uid"),
    ("sender/pid", "sender_pid"),
    ("sender/comm", "sender_comm"),
    ("sender/kind", "sender_kind"),
    ("handler", "handler"),
    ("handler_addr", "handler_addr"),
    ("sa_flags", "sa_flags"),
    ("new_comm", "new_comm"),
    ("helper/spawner_pid", "helper_spawner_pid"),
    ("helper/spawner_comm", "helper_spawner_comm"),
    ("helper/exe", "helper_exe"),
    ("helper/exec_failed", "helper_exec_failed"),
    ("helper/waited_ns", "helper_waited_ns"),
    ("helper/request_path", "request_path"),
    ("helper/requested_by/comm", "requester_comm"),
    ("request_path", "request_path"),
    ("queued_ns", "queued_ns"),
    ("waits", "waits"),
    ("requested_by/pid", "requester_pid"),
    ("requested_by/comm", "requester_comm"),
    ("requested_by/reason", "reason"),
    ("task_id", "task_id"),
    ("parent_task_id", "parent_task_id"),
    ("ancestors", "ancestors"),
    ("kthread/requested_by/task_id", "kthread_requester_task_id"),
    ("kthread/requested_by/pid", "kthread_requester_pid"),
    ("kthread/requested_by/comm", "kthread_requester_comm"),
    ("kthread/requested_by/kind", "kthread_requester_kind"),
    ("kthread/requested_by/work", "kthread_work"),
    ("kthread/link", "kthread_link"),
    ("kthread/reason", "kthread_reason"),
    ("kthread/threadfn", "kthread_threadfn"),
    ("kthread/threadfn_addr", "kthread_threadfn_addr"),
];

/// `v` at a `/`-separated path; None where the path is absent.
fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('/').try_fold(v, |v, k| v.get(k))
}

/// Every Parquet row of the dataset: the compared columns, the ids and
/// the host.
fn dataset_rows(dir: &Path) -> Vec<Value> {
    let mut cols: BTreeSet<&str> = FIELDS.iter().map(|(_, c)| *c).collect();
    cols.extend([
        "host",
        "machine_id",
        "task_id",
        "parent_task_id",
        "creator_task_id",
        "sender_task_id",
        "requester_task_id",
        "lost_event",
        "count",
    ]);
    let cols: Vec<String> = cols.iter().map(|c| format!("\"{c}\"")).collect();
    let sql = format!(
        "select {} from read_parquet('fleet/**/*.parquet', hive_partitioning = true)",
        cols.join(", ")
    );
    let out = Command::new(test_py_tool("duckdb"))
        .args(["-json", "-c", &sql])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A row's key: host, boot_ns, event, pid and cpu.
fn key(host: &str, v: &Value) -> String {
    format!(
        "{host} {} {} {} {}",
        v["boot_ns"], v["event"], v["pid"], v["cpu"]
    )
}

/// Sorted, for comparing answers whose order has ties.
fn sorted(mut rows: Vec<Value>) -> Vec<Value> {
    rows.sort_by_key(|r| r.to_string());
    rows
}

#[test]
fn two_hosts_make_one_dataset_that_agrees_with_json() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let logs: Vec<_> = HOSTS
        .iter()
        .map(|(host, _)| dir.path().join(format!("{host}.log")))
        .collect();
    for (i, (host, machine)) in HOSTS.iter().enumerate() {
        let rec = start_recording_as(
            &logs[i],
            &[("TRACER_HOST_NAME", host), ("TRACER_MACHINE_ID", machine)],
        );
        if i == 0 {
            alpha_night(dir.path());
        } else {
            beta_night();
        }
        // Let the last records reach the log.
        std::thread::sleep(Duration::from_millis(300));
        stop_recording(rec);
    }

    let fleet = dir.path().join("fleet");
    let mut args = vec!["export".to_string()];
    args.extend(logs.iter().map(|l| l.display().to_string()));
    args.extend(["--dataset".into(), fleet.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = run_tracer(&args);
    assert_eq!(code, 0, "{err}");
    for (host, _) in HOSTS {
        assert!(
            fleet.join(format!("host={host}")).is_dir(),
            "no partition for {host}"
        );
    }
    let rows = dataset_rows(dir.path());
    // Exported again: no new rows, said once per part.
    let (code, _, err) = run_tracer(&args);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("already in the dataset"), "{err}");
    assert_eq!(dataset_rows(dir.path()).len(), rows.len());

    // Every JSON line has its row, field for field.
    let json: Vec<(&str, Vec<Value>)> = HOSTS
        .iter()
        .zip(&logs)
        .map(|((host, _), log)| (*host, json_export(log)))
        .collect();
    let mut by_key: HashMap<String, &Value> = HashMap::new();
    for r in rows.iter().filter(|r| r["event"] != "lost") {
        let prev = by_key.insert(key(r["host"].as_str().unwrap(), r), r);
        assert!(prev.is_none(), "two rows with one key: {r}");
    }
    let lines: usize = json.iter().map(|(_, lines)| lines.len()).sum();
    assert_eq!(rows.len(), lines, "one row per JSON line");
    let mut compared = 0;
    for (host, lines) in &json {
        for line in lines.iter().filter(|l| l["event"] != "lost") {
            let row = by_key
                .get(&key(host, line))
                .unwrap_or_else(|| panic!("no row for {line}"));
            assert_eq!(
                row["machine_id"],
                HOSTS.iter().find(|h| h.0 == *host).unwrap().1
            );
            for (path, col) in FIELDS {
                if let Some(want) = at(line, path) {
                    // Unsigned values over i64::MAX (kernel addresses) are
                    // INT64 by their bits (docs/reference.md).
                    let want = &match want.as_u64() {
                        Some(v) if v > i64::MAX as u64 => Value::from(v as i64),
                        _ => want.clone(),
                    };
                    let got = row[*col].clone();
                    assert_eq!(&got, want, "{col} of {line}\nrow: {row}");
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 1000, "compared only {compared} fields");
    // The new kernel threads' requesters were among them (the loop mount's
    // jbd2 thread at least), and ancestry.
    let count = |f: fn(&Value) -> bool| json.iter().flat_map(|(_, l)| l).filter(|l| f(l)).count();
    assert!(
        count(|l| l["kthread"].is_object()) > 0,
        "no kthread object compared"
    );
    assert!(
        count(|l| l["ancestors"].as_array().is_some_and(|a| !a.is_empty())) > 10,
        "few ancestors compared"
    );

    // Task ids: one per (host, pid, start) and none shared by two hosts,
    // though both recordings ran on one machine and boot (this test's
    // process is in both).
    let mut hosts_of: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut ids_of: HashMap<(&str, String), BTreeSet<&str>> = HashMap::new();
    for r in &rows {
        let host = r["host"].as_str().unwrap();
        for col in [
            "task_id",
            "creator_task_id",
            "sender_task_id",
            "requester_task_id",
        ] {
            if let Some(id) = r[col].as_str() {
                hosts_of.entry(id).or_default().insert(host);
            }
        }
        if let Some(id) = r["task_id"].as_str() {
            ids_of
                .entry((host, format!("{} {}", r["pid"], r["start_ns"])))
                .or_default()
                .insert(id);
        }
    }
    assert!(
        hosts_of.values().all(|h| h.len() == 1),
        "a task id on two hosts"
    );
    assert!(
        ids_of.values().all(|ids| ids.len() == 1),
        "a task with two ids"
    );
    let creators = |host: &str| -> BTreeSet<&str> {
        rows.iter()
            .filter(|r| r["host"] == host && r["creator_tgid"].as_u64() == Some(me()))
            // New processes only: the harness's main thread starting other
            // tests' threads is a fork by this process too.
            .filter(|r| r["pid"] == r["tgid"])
            .filter_map(|r| r["creator_task_id"].as_str())
            .collect()
    };
    let (a, b) = (creators("alpha"), creators("beta"));
    assert_eq!(
        (a.len(), b.len()),
        (1, 1),
        "this test forked on both: {a:?} {b:?}"
    );
    assert_ne!(a, b, "one task, two machines: two ids");

    // Every parent id names its row's ppid on the same boot, and a task
    // of the same log or one older than the log (its start-up snapshot).
    let first_ns: HashMap<&str, u64> = HOSTS
        .iter()
        .map(|(h, _)| {
            let first = rows
                .iter()
                .filter(|r| r["host"] == *h)
                .filter_map(|r| r["boot_ns"].as_u64())
                .min()
                .unwrap();
            (*h, first)
        })
        .collect();
    // SAFETY: sysconf has no preconditions.
    let ns_per_tick = 1_000_000_000 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    let mut parents = 0;
    for r in rows.iter().filter(|r| r["parent_task_id"].is_string()) {
        let host = r["host"].as_str().unwrap();
        let parent = r["parent_task_id"].as_str().unwrap();
        let own = r["task_id"].as_str().unwrap();
        let parts: Vec<&str> = parent.split('-').collect();
        assert_eq!(parts.len(), 3, "{parent}");
        assert_eq!(parts[0], own.split('-').next().unwrap(), "same boot: {r}");
        assert_eq!(parts[2], r["ppid"].to_string(), "{r}");
        let start_ticks: u64 = parts[1].parse().unwrap();
        let known = hosts_of.get(parent).is_some_and(|h| h.contains(host));
        assert!(
            known || start_ticks * ns_per_tick <= first_ns[host],
            "{parent} is neither in {host}'s log nor older than it"
        );
        parents += 1;
    }
    assert!(parents > 10, "only {parents} rows name a parent");

    // The recipes, as the doc writes them, against the JSON.
    let mut killed: BTreeMap<(String, Option<String>, String), u64> = BTreeMap::new();
    let mut kthreads: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut requests: BTreeMap<(String, Option<String>), u64> = BTreeMap::new();
    for (host, lines) in &json {
        for l in lines {
            if l["event"] == "exit" && l["kind"] == "umh" && !l["exit_signal"].is_null() {
                let k = (
                    host.to_string(),
                    l["killed_by"]["comm"].as_str().map(String::from),
                    l["exit_signal"].as_str().unwrap().to_string(),
                );
                *killed.entry(k).or_default() += 1;
            }
            if l["kind"] == "kthread" {
                kthreads
                    .entry(l["comm"].as_str().unwrap().into())
                    .or_default()
                    .insert(host.to_string());
            }
            if l["event"] == "helper_request" {
                let k = (
                    l["request_path"].as_str().unwrap().to_string(),
                    l["requested_by"]["comm"].as_str().map(String::from),
                );
                *requests.entry(k).or_default() += 1;
            }
        }
    }
    let want_killed: Vec<Value> = killed
        .iter()
        .map(|((h, k, s), n)| {
            serde_json::json!({"host": h, "killer_comm": k, "exit_signal": s, "helpers": n})
        })
        .collect();
    assert!(
        killed
            .keys()
            .any(|(h, k, s)| h == "alpha" && s == "SIGKILL" && k.is_some()),
        "the killed helper and its killer: {killed:?}"
    );
    assert_eq!(
        sorted(duckdb_recipe(dir.path(), "killed-helpers")),
        sorted(want_killed.clone())
    );
    assert_eq!(
        sorted(polars_recipe(dir.path(), "killed-helpers-polars")),
        sorted(want_killed)
    );

    let hosts_with_kthreads: BTreeSet<&String> = kthreads.values().flatten().collect();
    let want_kthreads: Vec<Value> = kthreads
        .iter()
        .filter(|(_, hosts)| hosts.len() < hosts_with_kthreads.len())
        .map(|(comm, hosts)| serde_json::json!({"comm": comm, "hosts": hosts}))
        .collect();
    assert!(
        kthreads.keys().any(|c| c.starts_with("jbd2/")),
        "the loop mount's jbd2 thread: {kthreads:?}"
    );
    assert_eq!(
        sorted(duckdb_recipe(dir.path(), "kthreads-on-some-hosts")),
        sorted(want_kthreads)
    );

    let mut want_requests: Vec<Value> = requests
        .iter()
        .map(|((p, c), n)| serde_json::json!({"request_path": p, "requester_comm": c, "requests": n}))
        .collect();
    assert!(!want_requests.is_empty(), "the core dump's helper request");
    want_requests = sorted(want_requests);
    want_requests.truncate(20);
    assert_eq!(
        sorted(duckdb_recipe(dir.path(), "top-requesters")),
        want_requests
    );
}
