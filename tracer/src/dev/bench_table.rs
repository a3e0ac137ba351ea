//! `tracer bench-table N` (hidden): the real task table, seeded from this
//! machine's /proc, then N synthetic tasks forked and exec'd into it; prints
//! the peak RSS. `cargo xtask bench` reports it as memory at N tasks.

use std::io::Write as _;

use anyhow::{Context as _, Result};

use crate::model::{
    event::{Event, Record, Task},
    procfs::{self, Procfs},
    snapshot,
};

pub fn run(n: u32) -> Result<()> {
    let mut table = snapshot::take(&Procfs::system())?.table;
    let parent = Task {
        pid: std::process::id(),
        tgid: std::process::id(),
        ppid: 1,
        flags: 0x400000,
        has_mm: true,
        comm: "bench".into(),
        start_ns: 1,
        context: None,
    };
    for i in 0..n {
        let child = Task {
            pid: 5_000_000 + i,
            tgid: 5_000_000 + i,
            ppid: parent.pid,
            comm: "bench".into(),
            start_ns: 1_000_000_000 + u64::from(i),
            ..parent.clone()
        };
        let at = |event| Record {
            boot_ns: child.start_ns,
            cpu: 0,
            event,
        };
        table.apply(&at(Event::Fork {
            creator: parent.clone(),
            child: child.clone(),
            clone_flags: 0x1200000,
        }));
        table.apply(&at(Event::Exec {
            task: Task {
                comm: "worker".into(),
                ..child.clone()
            },
            old_pid: child.pid,
            filename: "/usr/local/bin/worker".into(),
            argv: vec!["worker".into(), "--id".into(), i.to_string()],
            cut: None,
        }));
    }
    let line =
        serde_json::json!({"tasks": table.iter().count(), "maxrss_kb": procfs::peak_rss_kb()});
    writeln!(std::io::stdout(), "{line}").context("writing to stdout")
}
