//! A task table seeded from a procfs snapshot: what `ps`, `tree` and the
//! start of every live session build on.

use anyhow::{Context as _, Result};

use super::{
    procfs::{clock_ticks_per_sec, ProcTask, Procfs},
    task_id,
    tasks::{Entry, TaskTable},
};

pub struct Snapshot {
    /// The tasks as procfs listed them (a log's header keeps them).
    pub tasks: Vec<ProcTask>,
    /// PID 1's cgroup v2 path.
    pub init_cgroup: Option<String>,
    pub table: TaskTable,
}

/// Reads every task under `procfs` and seeds a table with them.
pub fn take(procfs: &Procfs) -> Result<Snapshot> {
    let tasks = procfs.tasks().context("taking the task snapshot")?;
    let init_cgroup = procfs.init_cgroup();
    let mut table =
        TaskTable::from_snapshot(tasks.clone(), init_cgroup.as_deref(), clock_ticks_per_sec());
    table.identify(task_id::this_boot(procfs.root()));
    Ok(Snapshot {
        tasks,
        init_cgroup,
        table,
    })
}

/// Whether this kernel's /proc/PID/status has a `Kthread:` line (6.4+).
pub fn has_kthread_line(table: &TaskTable) -> bool {
    table.iter().any(|e| e.kthread_line.is_some())
}

/// The task a lineage hangs from: a thread's process, else the real parent.
pub fn parent_of(e: &Entry) -> u32 {
    if e.pid != e.tgid {
        e.tgid
    } else {
        e.ppid
    }
}
