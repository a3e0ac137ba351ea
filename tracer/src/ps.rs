//! `tracer ps`: every task, every kernel-thread test as its own column, and
//! a `!` where the tests disagree. Works from procfs alone (no BPF).

use std::{io::Write as _, path::PathBuf, time::Duration};

use anyhow::{Context as _, Result};
use tracer_common::{EventKind, KernelFilter};

use crate::{
    classify::Kind,
    decode::decode,
    flags,
    loader::{self, LoadOptions},
    output::{escape::escape, json::string, Format},
    procfs::{self, Procfs},
    tasks::{Entry, TaskTable},
};

pub struct PsOptions {
    pub kinds: Vec<Kind>,
    pub pids: Vec<u32>,
    pub format: Format,
    pub proc_root: PathBuf,
    /// With BPF: trace for this long after the snapshot, so tasks born
    /// meanwhile are merged in and their creators known.
    pub live: Option<(Duration, PathBuf)>,
}

/// Tests procfs cannot fully answer, said once per run.
fn notes(table: &TaskTable, has_kthread_line: bool) -> Vec<String> {
    let mut notes = vec![
        "umh is inferred from the real parent (a task without PF_KTHREAD whose parent is a \
         kernel thread); the creating kworker is known only to live tracing (`tracer trace`)"
            .to_string(),
        "kthreadd_lineage follows today's parents: a task reparented after its parent died \
         has lost the ancestry it was born with"
            .to_string(),
    ];
    if !table.root_cgroup_reliable() {
        notes.push(
            "root_cgroup is unreliable here: PID 1 is itself in the root cgroup (0::/), so \
             membership says nothing about kernel threads; it casts no vote"
                .to_string(),
        );
    }
    if !has_kthread_line {
        notes.push(
            "this kernel has no `Kthread:` line in /proc/PID/status; pf_kthread uses the \
             PF_KTHREAD bit alone"
                .to_string(),
        );
    }
    notes
}

/// The lineage parent: a thread's process, else the real parent.
pub fn parent_of(e: &Entry) -> u32 {
    if e.pid != e.tgid {
        e.tgid
    } else {
        e.ppid
    }
}

fn yn(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn opt(b: Option<bool>) -> &'static str {
    match b {
        Some(b) => yn(b),
        None => "?",
    }
}

pub fn load_table(proc_root: PathBuf) -> Result<(TaskTable, bool)> {
    let procfs = Procfs::new(proc_root);
    let tasks = procfs.tasks().context("taking the task snapshot")?;
    let has_kthread_line = tasks.iter().any(|t| t.kthread_line.is_some());
    let table = TaskTable::from_snapshot(
        tasks,
        procfs.init_cgroup().as_deref(),
        procfs::clock_ticks_per_sec(),
    );
    Ok((table, has_kthread_line))
}

/// The procfs snapshot merged with the events of a short live session.
fn live_table(
    proc_root: PathBuf,
    settle: Duration,
    btf: &std::path::Path,
) -> Result<(TaskTable, bool)> {
    let lineage_events = [
        EventKind::Fork,
        EventKind::Exec,
        EventKind::Exit,
        EventKind::Rename,
    ];
    let mut session = loader::load(&LoadOptions {
        btf_path: btf,
        ring_bytes: 16 << 20,
        helper_map_entries: 16384,
        filter: KernelFilter {
            event_mask: lineage_events.iter().fold(0, |m, k| m | k.bit()),
            ..KernelFilter::ALL
        },
        strict: false,
        verbose: false,
        refuse_mask: 0,
    })?;
    session.attach()?;
    let mut ring = session.take_ring()?;
    // Attached first, then the snapshot: a task born in between is in both
    // and merges by pid + start time.
    let (mut table, has_kthread_line) = load_table(proc_root)?;
    let drain = |ring: &mut aya::maps::RingBuf<_>, table: &mut TaskTable| {
        while let Some(item) = ring.next() {
            match decode(&item) {
                Ok(rec) => {
                    table.apply(&rec);
                }
                Err(e) => eprintln!("tracer: warning: skipped a bad record: {e}"),
            }
        }
    };
    // Drain as we wait, so a long window cannot overflow the ring.
    let deadline = std::time::Instant::now() + settle;
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        drain(&mut ring, &mut table);
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
    session.detach()?;
    drain(&mut ring, &mut table);
    let lost: u64 = session.lost()?.iter().map(|(_, n)| n).sum();
    if lost > 0 {
        eprintln!("tracer: warning: {lost} events lost; tasks born meanwhile may be missing");
    }
    Ok((table, has_kthread_line))
}

pub fn run(opts: PsOptions) -> Result<()> {
    let (table, has_kthread_line) = match &opts.live {
        Some((settle, btf)) => live_table(opts.proc_root, *settle, btf)?,
        None => load_table(opts.proc_root)?,
    };
    for note in notes(&table, has_kthread_line) {
        eprintln!("tracer: note: {note}");
    }
    let mut rows: Vec<&Entry> = table
        .iter()
        .filter(|e| opts.kinds.is_empty() || opts.kinds.contains(&e.kind()))
        .filter(|e| {
            opts.pids.is_empty() || opts.pids.contains(&e.pid) || opts.pids.contains(&e.tgid)
        })
        .collect();
    rows.sort_by_key(|e| (e.tgid, e.pid));

    let mut out = Vec::with_capacity(rows.len() * 160);
    // The tasks are the running kernel's (also with a fake --proc-root).
    let pf = flags::PfNames::running();
    if opts.format == Format::Text {
        let _ =
            writeln!(
            out,
            "{:>7} {:>7} {:>7} {:<11} {:<10} {:<5} {:<7} {:<6} {:<9} {:<11} {:<3} {:<9} {:<1} COMM",
            "PID", "TGID", "PARENT", "KIND", "PF_KTHREAD", "NO_MM", "LINEAGE",
            "ROOTCG", "IO_WORKER", "USER_WORKER", "UMH", "UMH_CHILD", "!"
        );
    }
    for e in rows {
        let v = table.verdicts(e);
        match opts.format {
            Format::Text => {
                let rootcg = if v.root_cgroup_reliable {
                    opt(v.root_cgroup).to_string()
                } else {
                    format!("({})", opt(v.root_cgroup))
                };
                let _ = writeln!(
                    out,
                    "{:>7} {:>7} {:>7} {:<11} {:<10} {:<5} {:<7} {:<6} {:<9} {:<11} {:<3} {:<9} {:<1} {}",
                    e.pid,
                    e.tgid,
                    parent_of(e),
                    e.kind().name(),
                    yn(v.pf_kthread),
                    yn(v.no_mm),
                    v.kthreadd_lineage.name(),
                    rootcg,
                    yn(v.io_worker),
                    yn(v.user_worker),
                    yn(v.umh),
                    yn(v.umh_child),
                    if v.disagree() { "!" } else { "" },
                    escape(&e.comm),
                );
            }
            Format::Json => {
                let _ = write!(
                    out,
                    "{{\"pid\":{},\"tgid\":{},\"ppid\":{},\"parent\":{},\"comm\":",
                    e.pid,
                    e.tgid,
                    e.ppid,
                    parent_of(e)
                );
                string(&mut out, &e.comm);
                out.extend_from_slice(b",\"kind\":");
                string(&mut out, e.kind().name());
                match &e.creator {
                    Some((c, _)) => {
                        let _ = write!(out, ",\"creator\":{c}");
                    }
                    None => out.extend_from_slice(b",\"creator\":null"),
                }
                out.extend_from_slice(b",\"flags\":");
                pf.write_json(&mut out, e.flags);
                let _ = write!(
                    out,
                    ",\"flags_raw\":{},\"tests\":{{\"pf_kthread\":{},\"no_mm\":{},\
                     \"kthreadd_lineage\":\"{}\",\"root_cgroup\":{},\"root_cgroup_reliable\":{},\
                     \"io_worker\":{},\"user_worker\":{},\"umh\":{},\"umh_child\":{}}},\"disagree\":{}}}",
                    e.flags,
                    v.pf_kthread,
                    v.no_mm,
                    v.kthreadd_lineage.name(),
                    v.root_cgroup.map_or("null".to_string(), |b| b.to_string()),
                    v.root_cgroup_reliable,
                    v.io_worker,
                    v.user_worker,
                    v.umh,
                    v.umh_child,
                    v.disagree()
                );
                out.push(b'\n');
            }
        }
    }
    std::io::stdout()
        .lock()
        .write_all(&out)
        .context("writing to stdout")
}
