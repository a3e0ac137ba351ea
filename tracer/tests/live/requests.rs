//! Live tests of whom each user-mode helper ran for: the kernel's own
//! triggers (a core dump, request_key(2), a bridge's STP, a cgroup v1
//! release agent), the requester named on the helper's lines, and helpers
//! the kernel could not run.

use std::{
    ffi::CString,
    process::{Child, Command},
};

use serde_json::Value;

use crate::common::*;

/// The `helper_request` event for a request of `path`.
fn request_of(tracer: &mut Tracer, path: &str) -> Value {
    tracer.wait_for("helper request", |v| {
        is(v, "helper_request") && v["request_path"] == path
    })
}

/// The helper a kworker made for `request` (its first after it), and
/// its exit.
fn helper_of(tracer: &mut Tracer, request: &Value) -> (u64, Value) {
    let kworker = request["pid"].clone();
    let after = u64_of(request, "boot_ns");
    let fork = tracer.wait_for("helper fork", |v| {
        is(v, "fork")
            && field(v, "creator")["pid"] == kworker
            && v["kind"] == "umh"
            && v["boot_ns"].as_u64().is_some_and(|t| t > after)
    });
    let pid = u64_of(&fork, "pid");
    let exit = tracer.wait_for("helper exit", |v| is(v, "exit") && v["pid"] == pid);
    (pid, exit)
}

/// `request_key("user", desc, "callout", KEY_SPEC_SESSION_KEYRING)` from
/// this thread; its tid. The key is never instantiated: the call fails
/// once the helper has run, which is all the test needs.
fn request_key(desc: &str) -> u64 {
    let (kind, desc, info) = (
        CString::new("user").unwrap(),
        CString::new(desc).unwrap(),
        CString::new("callout").unwrap(),
    );
    // SAFETY: NUL-terminated strings that outlive the call.
    unsafe {
        libc::syscall(
            libc::SYS_request_key,
            kind.as_ptr(),
            desc.as_ptr(),
            info.as_ptr(),
            -3i32, // KEY_SPEC_SESSION_KEYRING
        )
    };
    // SAFETY: no arguments, no memory touched.
    (unsafe { libc::gettid() }) as u64
}

/// A unique key description, so no cached key or negative entry answers.
fn key_desc(what: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("tracer-test:{what}:{}:{now}", std::process::id())
}

fn crash_and_reap() -> (u64, Child) {
    let crasher = crash();
    (u64::from(crasher.id()), crasher)
}

#[test]
fn core_dump_helper_names_the_crashing_process() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let helper = script(dir.path(), "core-helper", "cat >/dev/null\n");
    let mut tracer = Tracer::start(&["--umh"]);
    let _pattern = core_pattern_to(&helper);
    let (crasher, mut child) = crash_and_reap();

    let request = request_of(&mut tracer, &helper);
    let by = field(&request, "requested_by");
    assert_eq!(u64_of(by, "pid"), crasher, "{request}");
    assert_eq!(by["comm"], "sh", "{request}");
    assert_eq!(by["reason"], "dumping core", "{request}");
    assert_eq!(request["kind"], "kworker", "{request}");
    assert_eq!(
        request["waits"], "exec",
        "core pipes wait for the exec: {request}"
    );
    assert!(request["queued_ns"].as_u64().is_some(), "{request}");

    let (pid, exit) = helper_of(&mut tracer, &request);
    let exec = tracer.wait_for("helper exec", |v| is(v, "exec") && v["pid"] == pid);
    assert_eq!(
        u64_of(field(&exec["helper"], "requested_by"), "pid"),
        crasher,
        "{exec}"
    );
    let diagnosis = str_of(&exit, "diagnosis");
    let expected = format!("umh {pid} {helper} for {crasher} (sh, dumping core) exited 0");
    assert!(
        diagnosis.starts_with(&expected),
        "{diagnosis}\nexpected {expected}"
    );
    assert_eq!(exit["helper"]["exec_failed"], false, "{exit}");
    assert_eq!(
        exit["helper"].get("waited_ns"),
        Some(&Value::Null),
        "not a waiting helper: {exit}"
    );
    child.wait().unwrap();
    tracer.stop();
}

#[test]
fn request_key_helper_names_its_caller_and_the_wait() {
    let _serial = serial();
    let _helper = Installed::script("/sbin/request-key", "sleep 0.2\nexit 0\n");
    let mut tracer = Tracer::start(&["--umh"]);
    let caller = request_key(&key_desc("wait"));

    let request = request_of(&mut tracer, "/sbin/request-key");
    let by = field(&request, "requested_by");
    assert_eq!(u64_of(by, "pid"), caller, "{request}");
    assert_eq!(
        request["waits"], "exit",
        "request-key waits for the exit: {request}"
    );
    let (pid, exit) = helper_of(&mut tracer, &request);
    let waited = u64_of(&exit["helper"], "waited_ns");
    assert!(
        waited >= 200_000_000,
        "the caller waited out the helper's sleep: {exit}"
    );
    let diagnosis = str_of(&exit, "diagnosis");
    assert!(
        diagnosis.starts_with(&format!("umh {pid} /sbin/request-key for {caller} (")),
        "{diagnosis}"
    );
    assert!(
        diagnosis.contains(&format!("; {caller} waited ")),
        "{diagnosis}"
    );
    tracer.stop();
}

/// `SIOCBRADDBR` / `SIOCBRDELBR`: a bridge without iproute2.
fn bridge(name: &str, add: bool) -> std::io::Result<()> {
    let name = CString::new(name).unwrap();
    // SAFETY: plain socket(2) and ioctl(2) calls; the name outlives them.
    unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let req = if add { 0x89a0 } else { 0x89a1 };
        let rc = libc::ioctl(fd, req, name.as_ptr());
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if rc < 0 {
            return Err(err);
        }
    }
    Ok(())
}

struct Bridge(&'static str);

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Err(e) = bridge(self.0, false) {
            eprintln!("failed to delete bridge {}: {e}", self.0);
        }
    }
}

#[test]
fn bridge_stp_helper_names_the_task_that_set_stp_state() {
    let _serial = serial();
    let _helper = Installed::script("/sbin/bridge-stp", "exit 0\n");
    let name = "trbr0";
    if let Err(e) = bridge(name, true) {
        panic!("creating bridge {name} (the bridge driver must be loaded): {e}");
    }
    let _bridge = Bridge(name);
    let mut tracer = Tracer::start(&["--umh"]);
    let mut setter = Command::new("/bin/sh")
        .args([
            "-c",
            &format!("echo 1 > /sys/class/net/{name}/bridge/stp_state"),
        ])
        .spawn()
        .unwrap();
    let setter_pid = u64::from(setter.id());
    assert!(setter.wait().unwrap().success(), "setting stp_state");

    let request = request_of(&mut tracer, "/sbin/bridge-stp");
    assert_eq!(
        u64_of(field(&request, "requested_by"), "pid"),
        setter_pid,
        "{request}"
    );
    assert_eq!(request["waits"], "exit", "{request}");
    let (pid, exit) = helper_of(&mut tracer, &request);
    let diagnosis = str_of(&exit, "diagnosis");
    assert!(
        diagnosis.starts_with(&format!("umh {pid} /sbin/bridge-stp for {setter_pid} (sh)")),
        "{diagnosis}"
    );
    tracer.stop();
}

/// A cgroup v1 hierarchy with no controllers, mounted until dropped.
struct V1Hierarchy(tempfile::TempDir);

impl Drop for V1Hierarchy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(self.0.path().join("child"));
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn release_agent_names_a_kworker_and_its_work_function() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let agent = script(dir.path(), "agent", "exit 0\n");
    let mount = tempfile::tempdir().unwrap();
    let ok = Command::new("mount")
        .args(["-t", "cgroup", "-o", "none,name=tracertest", "cgroup"])
        .arg(mount.path())
        .status()
        .unwrap();
    assert!(ok.success(), "mounting a cgroup v1 hierarchy");
    let hierarchy = V1Hierarchy(mount);
    let root = hierarchy.0.path();
    std::fs::write(root.join("release_agent"), &agent).unwrap();
    std::fs::create_dir(root.join("child")).unwrap();
    std::fs::write(root.join("child/notify_on_release"), "1").unwrap();

    let mut tracer = Tracer::start(&["--umh"]);
    // A shell that joins the group and exits, leaving it empty.
    let procs = root.join("child/cgroup.procs");
    let status = Command::new("/bin/sh")
        .args(["-c", &format!("echo $$ > {} && exit 0", procs.display())])
        .status()
        .unwrap();
    assert!(status.success());

    let request = request_of(&mut tracer, &agent);
    let by = field(&request, "requested_by");
    assert_eq!(by["kind"], "kworker", "a kworker queued it: {request}");
    let reason = str_of(by, "reason");
    assert!(
        reason.starts_with("running work cgroup1_release_agent"),
        "the work function is named: {request}"
    );
    let (pid, exit) = helper_of(&mut tracer, &request);
    let diagnosis = str_of(&exit, "diagnosis");
    assert!(
        diagnosis.starts_with(&format!("umh {pid} {agent} for {} (", by["pid"])),
        "{diagnosis}"
    );
    tracer.stop();
}

#[test]
fn a_missing_core_dump_helper_is_diagnosed() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let helper = dir.path().join("no-such-helper");
    let helper = helper.to_str().unwrap();
    let mut tracer = Tracer::start(&["--umh"]);
    let _pattern = core_pattern_to(helper);
    let (crasher, mut child) = crash_and_reap();
    let request = request_of(&mut tracer, helper);
    let (pid, exit) = helper_of(&mut tracer, &request);
    assert_eq!(exit["helper"]["exec_failed"], true, "{exit}");
    assert_eq!(exit["helper"]["exec_error_inferred"], "ENOENT", "{exit}");
    let diagnosis = str_of(&exit, "diagnosis");
    let expected = format!(
        "umh {pid} {helper} for {crasher} (sh, dumping core) could not be run: exec failed \
         (ENOENT, inferred from the path now); exited 0"
    );
    assert!(
        diagnosis.starts_with(&expected),
        "{diagnosis}\nexpected {expected}"
    );
    child.wait().unwrap();
    tracer.stop();
}

#[test]
fn a_missing_request_key_helper_is_diagnosed() {
    let _serial = serial();
    let _gone = Installed::absent("/sbin/request-key");
    let mut tracer = Tracer::start(&["--umh"]);
    let caller = request_key(&key_desc("missing"));
    let request = request_of(&mut tracer, "/sbin/request-key");
    let (pid, exit) = helper_of(&mut tracer, &request);
    assert_eq!(exit["helper"]["exec_failed"], true, "{exit}");
    assert_eq!(exit["helper"]["exec_error_inferred"], "ENOENT", "{exit}");
    let diagnosis = str_of(&exit, "diagnosis");
    assert!(
        diagnosis.starts_with(&format!("umh {pid} /sbin/request-key for {caller} ("))
            && diagnosis.contains("could not be run: exec failed (ENOENT"),
        "{diagnosis}"
    );
    tracer.stop();
}

#[test]
fn a_helper_that_is_not_executable_is_diagnosed() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let helper = dir.path().join("not-executable");
    std::fs::write(&helper, "#!/bin/sh\nexit 0\n").unwrap();
    let helper = helper.to_str().unwrap();
    let mut tracer = Tracer::start(&["--umh"]);
    let _pattern = core_pattern_to(helper);
    let (_, mut child) = crash_and_reap();
    let request = request_of(&mut tracer, helper);
    let (_, exit) = helper_of(&mut tracer, &request);
    assert_eq!(exit["helper"]["exec_failed"], true, "{exit}");
    assert_eq!(exit["helper"]["exec_error_inferred"], "EACCES", "{exit}");
    assert!(
        str_of(&exit, "diagnosis").contains("could not be run: exec failed (EACCES"),
        "{exit}"
    );
    child.wait().unwrap();
    tracer.stop();
}

#[test]
fn a_recorded_night_reports_whom_each_helper_ran_for() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("night.log");
    let _rk = Installed::script("/sbin/request-key", "sleep 0.3\n");
    let missing = dir.path().join("gone");
    let missing = missing.to_str().unwrap();
    let recorder = start_recording(&log, &["--failed-execs"]);
    let nowhere = dir.path().join("nowhere");
    let _ = Command::new(&nowhere).status();
    let caller = request_key(&key_desc("report"));
    let crasher = {
        let _pattern = core_pattern_to(missing);
        let (crasher, mut child) = crash_and_reap();
        // Reaped once its core dump is over: the kernel read the pattern
        // and requested the helper by then.
        child.wait().unwrap();
        crasher
    };
    // Let the records of the helper's start and exit reach the log.
    std::thread::sleep(std::time::Duration::from_millis(300));
    stop_recording(recorder);

    let log = log.to_str().unwrap();
    let (code, text, err) = run_tracer(&["report", log]);
    assert_eq!(code, 0, "{err}");
    let helpers = text
        .split("user-mode helpers (failed first):\n")
        .nth(1)
        .expect("a helper section");
    let first = helpers.lines().next().unwrap();
    assert!(
        first.contains(&format!(" {missing} [] for {crasher} (sh, dumping core)"))
            && first.contains("could not be run: exec failed"),
        "the failed helper comes first, with its requester:\n{text}"
    );
    assert!(
        helpers.contains("/sbin/request-key [/bin/sh /sbin/request-key"),
        "{text}"
    );
    let waits = text
        .split("longest waits on a helper (for its exit, or dumping core into it):\n")
        .nth(1)
        .expect("a waits section");
    assert!(
        waits
            .lines()
            .take_while(|l| !l.is_empty())
            .any(|wait| wait.contains(&format!(" {caller} ("))
                && wait.contains(" waited for ")
                && wait.ends_with("/sbin/request-key to exit")),
        "{text}"
    );
    // The crashing shell dumped core into the helper that could not run.
    assert!(
        waits
            .lines()
            .any(|l| l.contains(&format!(" {crasher} (sh, dumping core) dumped core into "))),
        "{text}"
    );

    let nowhere = nowhere.to_str().unwrap();
    let failed = text
        .split("failed execs (count):\n")
        .nth(1)
        .expect("a failed-exec section");
    assert!(
        failed
            .lines()
            .any(|l| l == format!("       1 {nowhere} ENOENT")),
        "{text}"
    );

    let (code, json, err) = run_tracer(&["report", log, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&json).unwrap();
    assert!(
        report["failed_execs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == nowhere && f["error"] == "ENOENT" && f["count"] == 1),
        "{json}"
    );
    let helpers = report["helpers"].as_array().unwrap();
    assert_eq!(helpers[0]["exec_failed"], true, "{json}");
    assert_eq!(helpers[0]["requested_by"]["pid"], crasher, "{json}");
    assert_eq!(
        helpers[0]["requested_by"]["reason"], "dumping core",
        "{json}"
    );
    let rk = helpers
        .iter()
        .find(|h| h["request_path"] == "/sbin/request-key")
        .expect("the request-key helper");
    assert_eq!(rk["requested_by"]["pid"], caller, "{json}");
    assert!(u64_of(rk, "waited_ns") >= 300_000_000, "{json}");
}

#[test]
fn hidden_kernel_addresses_leave_helpers_traced_without_requesters() {
    let _serial = serial();
    // Even root reads zeros from /proc/kallsyms at 2.
    let _hide = Restore::set("/proc/sys/kernel/kptr_restrict", "2");
    let dir = tempfile::tempdir().unwrap();
    let helper = script(dir.path(), "core-helper", "cat >/dev/null\n");
    let mut tracer = Tracer::start(&["--umh"]);
    let note = tracer
        .startup
        .iter()
        .find(|l| l.contains("helpers are traced without their requesters"))
        .unwrap_or_else(|| panic!("one line says why: {:?}", tracer.startup));
    assert!(
        note.contains("/proc/kallsyms hides kernel addresses") && note.contains("kptr_restrict=2"),
        "{note}"
    );
    let _pattern = core_pattern_to(&helper);
    let (_, mut child) = crash_and_reap();
    let exec = tracer.wait_for("helper exec", |v| {
        is(v, "exec") && v["filename"] == helper.as_str()
    });
    assert_eq!(exec["kind"], "umh", "{exec}");
    assert_eq!(
        exec["helper"].get("requested_by"),
        Some(&Value::Null),
        "{exec}"
    );
    child.wait().unwrap();
    let (events, _) = tracer.stop();
    assert!(events.iter().all(|v| !is(v, "helper_request")));
}
