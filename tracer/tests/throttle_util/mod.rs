//! Helpers of the throttle tests (`throttle.rs`, which the kernel matrix
//! runs, and `throttle_host.rs`): the attacker's storm as another user,
//! a recorder, and reading back what it wrote. Each test binary re-runs
//! itself as the storm (the ignored [`storm_child`] test here).
#![allow(dead_code)]

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc::Receiver,
    time::Duration,
};

use serde_json::Value;

use crate::common::*;

pub(crate) const ATTACKER: u32 = 65534;

/// The tracer under test; `TRACER_TEST_EXE` runs the same checks against
/// another build (to see them fail on the build before throttling).
pub(crate) fn tracer() -> String {
    std::env::var("TRACER_TEST_EXE").unwrap_or_else(|_| tracer_exe().to_string())
}

/// `args` run as `uid` (and gid), without supplementary groups.
pub(crate) fn as_user(uid: u32) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .arg("--clear-groups");
    cmd
}

/// `renames` renames in all, split evenly across one process per uid, all
/// at once.
pub(crate) fn storm(uids: &[u32], renames: u64) {
    let exe = std::env::current_exe().unwrap();
    let each = renames / uids.len() as u64;
    let children: Vec<Child> = uids
        .iter()
        .map(|&uid| {
            as_user(uid)
                .arg(&exe)
                .args([
                    "--ignored",
                    "--exact",
                    &test_name(module_path!(), "storm_child"),
                    "--test-threads=1",
                    "-q",
                ])
                .env("TRACER_STORM_RENAMES", each.to_string())
                .stdout(Stdio::null())
                .spawn()
                .expect("spawning setpriv")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a storm child failed");
    }
}

/// `/bin/true MARKER` as the attacker.
pub(crate) fn marker_exec(marker: &str) {
    let ok = as_user(ATTACKER)
        .args(["/bin/true", marker])
        .status()
        .expect("running setpriv");
    assert!(ok.success());
}

/// A running `tracer record`, attached, with its stderr lines.
pub(crate) struct Recorder {
    child: Child,
    stderr: Receiver<String>,
}

impl Recorder {
    pub(crate) fn start(args: &[&str]) -> Recorder {
        // Verifying every program takes long under emulation (the kernel
        // matrix runs under TCG; 5.10's verifier prunes less).
        let (child, stderr) = spawn_attached(
            Command::new(tracer()).arg("record").args(args),
            Duration::from_secs(180),
        );
        Recorder { child, stderr }
    }

    /// Stops it with SIGINT; it must exit 0. Everything it said.
    pub(crate) fn stop(mut self) -> String {
        kill(self.child.id(), libc::SIGINT);
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(5)) {
            err.push_str(&line);
            err.push('\n');
        }
        assert!(status.success(), "record exited with {status}: {err}");
        err
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            kill(self.child.id(), libc::SIGINT);
            let _ = self.child.wait();
        }
    }
}

/// `tracer replay PATH --format json` (a file or a directory).
pub(crate) fn replay(path: &Path) -> Vec<Value> {
    let out = Command::new(tracer())
        .args(["replay", path.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON ({e}): {l}")))
        .collect()
}

/// A rename of the storm's (the test harness also names its thread once).
pub(crate) fn is_storm_rename(v: &Value) -> bool {
    v["event"] == "rename"
        && v["uid"] == ATTACKER
        && v["new_comm"]
            .as_str()
            .is_some_and(|c| c.starts_with("storm-"))
}

pub(crate) fn has_marker(events: &[Value], marker: &str) -> bool {
    events.iter().any(|v| {
        v["event"] == "exec"
            && v["argv"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == marker))
    })
}

pub(crate) fn throttled<'a>(events: &'a [Value], phase: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|v| v["event"] == "throttled" && v["phase"] == phase)
        .collect()
}

/// Renames the `end` records of `uids` say were dropped.
pub(crate) fn renames_dropped(events: &[Value], uids: &[u32]) -> u64 {
    throttled(events, "end")
        .iter()
        .filter(|v| {
            v["uid"]
                .as_u64()
                .is_some_and(|u| uids.contains(&(u as u32)))
        })
        .map(|v| v["dropped"]["rename"].as_u64().unwrap_or(0))
        .sum()
}

/// The storm, when a test binary is run as one (see [`storm`]): renames
/// itself `TRACER_STORM_RENAMES` times.
#[test]
#[ignore = "the storm the throttle tests run, as another user"]
fn storm_child() {
    let n: u64 = std::env::var("TRACER_STORM_RENAMES")
        .expect("run by the throttle tests")
        .parse()
        .unwrap();
    let mut name = *b"storm-000000\0";
    for i in 0..n {
        let digits = format!("{:06}", i % 1_000_000);
        name[6..12].copy_from_slice(digits.as_bytes());
        // SAFETY: PR_SET_NAME reads a NUL-terminated name of at most 16 bytes.
        unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
    }
}
