//! What tracer does with what a kernel offers: a program the verifier
//! refuses costs only its own events, says why in one line, and is kept in
//! a log's header; `--strict` makes it fatal. Refusals here are real: a
//! hidden option loads a program in a form every verifier rejects.

use std::process::Command;

use crate::common::*;

/// The one stderr line that names the missing events.
fn missing_line<'a>(lines: impl IntoIterator<Item = &'a String>, event: &str) -> &'a String {
    let wanted = format!("{event} events are missing");
    lines
        .into_iter()
        .find(|l| l.contains(&wanted))
        .unwrap_or_else(|| panic!("no line says {wanted}"))
}

#[test]
fn a_refused_program_costs_only_its_events() {
    let _serial = serial();
    let mut tracer = Tracer::start(&["--refuse-program", "exec"]);
    let line = missing_line(&tracer.startup, "exec").clone();
    let log_line = tracer
        .startup
        .iter()
        .find(|l| l.contains("verifier's whole log is in"))
        .expect("a line naming the verifier log file")
        .clone();
    let path = log_line
        .split("is in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .expect("a path");
    let log = std::fs::read_to_string(path).expect("reading the verifier log");
    let tail: Vec<&str> = log.lines().rev().take(20).collect();
    // The verifier's own verdict, in one line, and where the whole log is
    // (older verifiers call the plain number 'inv', newer ones 'scalar').
    assert!(
        line.contains("refused program sched_process_exec (")
            && line.contains("invalid mem access '"),
        "{line}\nthe log's last lines, last first:\n{}",
        tail.join("\n")
    );
    assert!(log.contains("invalid mem access '"), "{log}");
    let _ = std::fs::remove_file(path);

    let status = Command::new("/bin/true").status().expect("running true");
    assert!(status.success());
    let exit = tracer.wait_for("exit of true", |v| {
        is(v, "exit") && v["ppid"] == me() && v["comm"] == "true"
    });
    let pid = exit["pid"].clone();
    tracer.wait_for("fork of true", |v| is(v, "fork") && v["pid"] == pid);
    let (events, _) = tracer.stop();
    assert!(
        !events.iter().any(|v| is(v, "exec")),
        "no exec event can come from a refused program"
    );
}

#[test]
fn strict_makes_a_refusal_fatal() {
    let _serial = serial();
    let (code, _, err) = run_tracer(&[
        "trace",
        "--strict",
        "--verbose",
        "--refuse-program",
        "signal_generate",
        "--duration",
        "5s",
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("signal_generate events are missing")
            && err.contains("--strict asks for every event"),
        "{err}"
    );
    // --verbose shows the whole verifier log instead of a file.
    assert!(err.contains("verifier log for signal_generate:"), "{err}");
    assert!(err.contains("processed "), "{err}");
}

#[test]
fn a_log_says_which_events_its_kernel_refused() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("refused.log");
    let log = log.to_str().expect("UTF-8 path");
    let (code, _, err) = run_tracer(&[
        "record",
        "-o",
        log,
        "--refuse-program",
        "rename",
        "--duration",
        "1s",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("rename events are missing"), "{err}");
    // Leave no verifier log behind.
    if let Some(path) = err
        .split("is in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
    {
        let _ = std::fs::remove_file(path);
    }

    let (code, text, err) = run_tracer(&["report", log]);
    assert_eq!(code, 0, "{err}");
    let section = text
        .split("missing events (the kernel refused their programs):\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no missing-events section:\n{text}"));
    let first = section.lines().next().unwrap_or_default();
    assert!(
        first.contains("rename")
            && first.contains("task_rename: ")
            && first.contains("invalid mem access '"),
        "{first}"
    );

    let (code, json, err) = run_tracer(&["report", log, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&json).expect("report JSON");
    assert_eq!(report["json_version"], 10, "{report}");
    let missing = report["missing_events"].as_array().expect("missing_events");
    assert_eq!(missing.len(), 1, "{report}");
    assert_eq!(missing[0]["event"], "rename");
    assert_eq!(missing[0]["program"], "task_rename");
    assert!(
        str_of(&missing[0], "reason").contains("invalid mem access"),
        "{report}"
    );
}

/// 5.10 charges BPF maps to RLIMIT_MEMLOCK, 64 KiB by default there: tracer
/// lifts it before creating the default 8 MiB ring (later kernels ignore it).
#[test]
fn starts_under_a_64k_locked_memory_limit() {
    use std::os::unix::process::CommandExt as _;
    let _serial = serial();
    let mut cmd = Command::new(tracer_exe());
    cmd.args(["trace", "--duration", "1s", "--verbose"]);
    // SAFETY: setrlimit is async-signal-safe and touches no parent state.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 64 << 10,
                rlim_max: 64 << 10,
            };
            if libc::setrlimit(libc::RLIMIT_MEMLOCK, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("running tracer");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // One per event kind, and the helper requester side with them; the
    // kernel-thread requester side where this kernel allows it.
    let linked = err.contains("kernel threads: requesters exact");
    let attached = format!("attached {} programs", 8 + usize::from(linked));
    assert!(err.contains(&attached), "{err}");
}

/// `name`'s address as /proc/kallsyms lists it.
fn listed_address(name: &str) -> u64 {
    let table = std::fs::read_to_string("/proc/kallsyms").expect("reading /proc/kallsyms");
    table
        .lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            let (addr, _, sym) = (f.next()?, f.next()?, f.next()?);
            (sym == name).then(|| u64::from_str_radix(addr, 16).expect("a hex address"))
        })
        .unwrap_or_else(|| panic!("/proc/kallsyms lists no {name}"))
}

/// (major, minor) of the running kernel.
fn kernel_version() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    let mut parts = release.trim().split(['.', '-']);
    let mut next = || {
        parts
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a version")
    };
    (next(), next())
}

/// Start-up asks BPF for the helper work function's address (5.16+) instead
/// of reading all of /proc/kallsyms: the answer must be the table's, and
/// must be refused where the table hides addresses.
#[test]
fn bpf_symbol_lookup_agrees_with_kallsyms() {
    use tracer::kernel::{ksym, requests::WORK_FN};
    let _serial = serial();
    let listed = listed_address(WORK_FN);
    assert_ne!(listed, 0, "root reads addresses at this kptr_restrict");
    match ksym::lookup(WORK_FN) {
        Some(addr) => assert_eq!(addr, listed, "{addr:#x} against the table's {listed:#x}"),
        None => assert!(
            kernel_version() < (5, 16),
            "{:?} has bpf_kallsyms_lookup_name, and the lookup failed",
            kernel_version()
        ),
    }
    assert_eq!(ksym::lookup("tracer_no_such_symbol"), None);
    // Even root reads zeros from /proc/kallsyms at 2; BPF must not say more.
    let _hide = Restore::set("/proc/sys/kernel/kptr_restrict", "2");
    assert_eq!(listed_address(WORK_FN), 0);
    assert_eq!(ksym::lookup(WORK_FN), None);
}
