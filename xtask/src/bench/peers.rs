//! Other tracers measured on the same workloads, where installed.

use std::{
    path::Path,
    process::{Command, Stdio},
};

/// Another tracer measured on the same workloads, where installed.
pub(crate) struct Peer {
    pub(crate) tool: &'static str,
    pub(crate) label: &'static str,
    pub(crate) args: &'static [&'static str],
    pub(crate) workloads: &'static [&'static str],
}

pub(crate) const PEERS: [Peer; 5] = [
    Peer {
        tool: "bpftrace",
        label: "bpftrace printf on signal_generate",
        args: &[
            "-e",
            "tracepoint:signal:signal_generate { printf(\"%d %d %d %d\\n\", pid, args->pid, args->sig, args->result); }",
        ],
        workloads: &["signal"],
    },
    Peer {
        tool: "bpftrace",
        label: "bpftrace printf on exec and exit",
        args: &[
            "-e",
            "tracepoint:sched:sched_process_exec { printf(\"%d %s\\n\", pid, str(args->filename)); } \
             tracepoint:sched:sched_process_exit { printf(\"%d\\n\", pid); }",
        ],
        workloads: &["forkexec", "fork"],
    },
    Peer {
        tool: "sigsnoop",
        label: "libbpf-tools sigsnoop",
        args: &[],
        workloads: &["signal"],
    },
    Peer {
        tool: "execsnoop",
        label: "libbpf-tools execsnoop",
        args: &[],
        workloads: &["forkexec"],
    },
    Peer {
        tool: "exitsnoop",
        label: "libbpf-tools exitsnoop",
        args: &[],
        workloads: &["forkexec", "fork"],
    },
];

/// Mounts tracefs for the peers (they attach through it) if it is not
/// mounted, and unmounts it again on drop.
pub(crate) struct Tracefs(bool);

impl Tracefs {
    const DIR: &'static str = "/sys/kernel/tracing";
    pub(crate) fn ensure() -> Tracefs {
        if Path::new(Self::DIR).join("events").exists() {
            return Tracefs(false);
        }
        let ok = Command::new("mount")
            .args(["-t", "tracefs", "nodev", Self::DIR])
            .status()
            .is_ok_and(|s| s.success());
        Tracefs(ok)
    }
}

impl Drop for Tracefs {
    fn drop(&mut self) {
        if self.0 {
            let _ = Command::new("umount").arg(Self::DIR).status();
        }
    }
}

pub(crate) fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
