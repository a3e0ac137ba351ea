//! `tracer ps`: every task, every kernel-thread test as its own column, and
//! a `!` where the tests disagree. Works from procfs alone (no BPF).
//! On a terminal narrower than the full layout (as `trace` decides, see
//! `output::style`), a compact layout fits 80 columns: PID, COMM, KIND,
//! `!`, and the tests that say yes folded into one cell, wrapped under it
//! where a line would pass the terminal's width; a COMM longer than its
//! column (kernel threads' names can be) is cut there, with a mark.
//! `--format json` adds each task's context as live events carry it
//! (`uid`, `gid`, `cgroup_id`, `cgroup`, `container_id`,
//! `container_runtime`, `pidns`, `ns_pid`, `mntns`), read from procfs.

use std::{io::Write as _, path::PathBuf, time::Duration};

use anyhow::{bail, Context as _, Result};
use serde_json::json;
use tracer_common::{EventKind, KernelFilter};

use crate::{
    live::session::{self, SessionOptions},
    model::{
        classify::{Kind, Lineage, Verdicts},
        context,
        counts::LossCause,
        decode::decode,
        flags,
        kthreads::KthreadInfo,
        procfs::{task_context, Procfs},
        snapshot::{self, parent_of},
        tasks::{Entry, TaskTable},
    },
    output::{
        escape::quote_name,
        json::recover_text,
        no_task,
        style::{ColorChoice, Layout, LayoutChoice, Surroundings},
        Format,
    },
    pipeline::sink::{Flow, Sink},
};

pub struct PsOptions {
    pub kinds: Vec<Kind>,
    pub pids: Vec<u32>,
    pub format: Format,
    pub proc_root: PathBuf,
    /// With BPF: trace for this long after the snapshot, so tasks born
    /// meanwhile are merged in and their creators known.
    pub live: Option<(Duration, PathBuf)>,
    /// The notes on what procfs cannot tell, on stderr.
    pub verbose: bool,
}

/// Tests procfs cannot fully answer, said once per run.
fn notes(table: &TaskTable, has_kthread_line: bool, live: bool) -> Vec<String> {
    let mut notes = vec![
        "umh is inferred from the real parent (a task without PF_KTHREAD whose parent is a \
         kernel thread); the creating kworker is known only to live tracing (`tracer trace`)"
            .to_string(),
        "kthreadd_lineage follows today's parents: a task reparented after its parent died \
         has lost the ancestry it was born with"
            .to_string(),
    ];
    notes.push(if live {
        "a kernel thread's requester (the task that asked kthreadd for it) is shown for the \
         threads born while --live traced; /proc does not say it for the others"
            .to_string()
    } else {
        "a kernel thread's requester (the task that asked kthreadd for it) is not in /proc: \
         `ps --live` shows it for threads born while it traces, `tracer trace` for all"
            .to_string()
    });
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

/// Tasks born while a short live session ran, merged into the snapshot
/// the session starts from, with the task that created each.
struct Merge {
    table: TaskTable,
}

impl Sink for Merge {
    fn record(&mut self, raw: &[u8]) -> Result<Flow> {
        match decode(raw) {
            Ok(rec) => {
                self.table.apply(&rec);
            }
            Err(e) => crate::say!("tracer: warning: skipped a bad record: {e}"),
        }
        Ok(Flow::Continue)
    }

    fn lost(
        &mut self,
        _kind: EventKind,
        _count: u64,
        _boot_ns: u64,
        _cause: LossCause,
    ) -> Result<()> {
        Ok(())
    }

    fn flush(&mut self) -> Result<Flow> {
        Ok(Flow::Continue)
    }
}

/// The procfs snapshot merged with the events of a short live session;
/// `verbose` says on stderr when tracing has begun.
async fn live_table(
    proc_root: PathBuf,
    settle: Duration,
    btf: PathBuf,
    verbose: bool,
) -> Result<TaskTable> {
    let lineage_events = [
        EventKind::Fork,
        EventKind::Exec,
        EventKind::Exit,
        EventKind::Rename,
    ];
    let opts = SessionOptions {
        filter: KernelFilter {
            event_mask: lineage_events.iter().fold(0, |m, k| m | k.bit()),
            ..KernelFilter::ALL
        },
        duration: Some(settle),
        proc_root,
        announce: false,
        // A short session whose point is the threads born in it: they
        // are timed (a program at every wakeup, for its length).
        kthread_times: true,
        ..SessionOptions::new(btf)
    };
    let (merge, counts, _) = session::run(opts, |start| {
        // The programs are attached: a task born from now on is seen.
        if verbose {
            crate::say!("tracer: attached; tracing for {settle:?} to add the tasks born meanwhile");
        }
        Ok(Merge { table: start.table })
    })
    .await?;
    if counts.lost_total() > 0 {
        crate::say!(
            "tracer: warning: {} events lost; tasks born meanwhile may be missing",
            counts.lost_total()
        );
    }
    Ok(merge.table)
}

pub async fn run(opts: PsOptions) -> Result<()> {
    let live = opts.live.is_some();
    let table = match opts.live {
        Some((settle, btf)) => {
            live_table(opts.proc_root.clone(), settle, btf, opts.verbose).await?
        }
        None => snapshot::take(&Procfs::new(&opts.proc_root))?.table,
    };
    if opts.verbose {
        for note in notes(&table, snapshot::has_kthread_line(&table), live) {
            crate::say!("tracer: note: {note}");
        }
    }
    let mut rows: Vec<&Entry> = table
        .iter()
        .filter(|e| opts.kinds.is_empty() || opts.kinds.contains(&e.kind()))
        .filter(|e| {
            opts.pids.is_empty() || opts.pids.contains(&e.pid) || opts.pids.contains(&e.tgid)
        })
        .collect();
    rows.sort_by_key(|e| (e.tgid, e.pid));
    // Pids asked for that name no task: the rows found are still shown,
    // and the status says some were not (as `ls` does).
    let missing: Vec<u32> = opts
        .pids
        .iter()
        .copied()
        .filter(|&p| table.get(p).is_none() && !table.iter().any(|e| e.tgid == p))
        .collect();

    let mut out = Vec::with_capacity(rows.len() * 160);
    // The tasks are the running kernel's (also with a fake --proc-root).
    let pf = flags::PfNames::running();
    let surroundings = Surroundings::of_stdout();
    let layout = surroundings
        .style(ColorChoice::Never, LayoutChoice::Auto)
        .layout;
    // Where a name is cut: an ellipsis where the locale can show one.
    let mark = if surroundings.utf8() { "…" } else { "+" };
    let shown = !rows.is_empty() || missing.is_empty();
    if opts.format == Format::Text && shown {
        match layout {
            Layout::Wide => wide_header(&mut out),
            Layout::Narrow { .. } => compact_header(&mut out),
        }
    }
    for e in rows {
        let v = table.verdicts(e);
        match opts.format {
            Format::Text => match layout {
                Layout::Wide => wide_row(&mut out, e, &v),
                Layout::Narrow { width } => compact_row(&mut out, e, &v, width, mark),
            },
            Format::Json => json_row(&mut out, &opts.proc_root, &table, e, &v, &pf),
        }
    }
    std::io::stdout()
        .lock()
        .write_all(&out)
        .context("writing to stdout")?;
    match missing.as_slice() {
        [] => Ok(()),
        [pid] => bail!(no_task(*pid)),
        [first, rest @ ..] => bail!(
            "{} (nor {})",
            no_task(*first),
            rest.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn wide_header(out: &mut Vec<u8>) {
    let _ = writeln!(
        out,
        "{:>7} {:>7} {:>7} {:<11} {:<10} {:<5} {:<7} {:<6} {:<9} {:<11} {:<3} {:<9} {:<1} COMM",
        "PID",
        "TGID",
        "PARENT",
        "KIND",
        "PF_KTHREAD",
        "NO_MM",
        "LINEAGE",
        "ROOTCG",
        "IO_WORKER",
        "USER_WORKER",
        "UMH",
        "UMH_CHILD",
        "!"
    );
}

/// The ROOTCG cell: in parentheses where membership casts no vote.
fn rootcg(v: &Verdicts) -> String {
    if v.root_cgroup_reliable {
        opt(v.root_cgroup).to_string()
    } else {
        format!("({})", opt(v.root_cgroup))
    }
}

/// Every test its own column, COMM last (for scripts and wide terminals),
/// then whom a kernel thread born under `--live` was made for.
fn wide_row(out: &mut Vec<u8>, e: &Entry, v: &Verdicts) {
    let _ = write!(
        out,
        "{:>7} {:>7} {:>7} {:<11} {:<10} {:<5} {:<7} {:<6} {:<9} {:<11} {:<3} {:<9} {:<1} {}",
        e.pid,
        e.tgid,
        parent_of(e),
        e.kind().name(),
        yn(v.pf_kthread),
        yn(v.no_mm),
        v.kthreadd_lineage.name(),
        rootcg(v),
        yn(v.io_worker),
        yn(v.user_worker),
        yn(v.umh),
        yn(v.umh_child),
        if v.disagree() { "!" } else { "" },
        quote_name(&e.comm),
    );
    if let Some(k) = &e.kthread {
        let _ = write!(out, " {}", k.phrase(quote_name));
    }
    out.push(b'\n');
}

/// Where the compact layout's TESTS cell starts.
const COMPACT_TESTS: usize = 38;

fn compact_header(out: &mut Vec<u8>) {
    let _ = writeln!(
        out,
        "{:>7} {:<15} {:<11} ! TESTS THAT SAY YES",
        "PID", "COMM", "KIND"
    );
}

/// The tests that say yes, by the wide layout's column names in lower
/// case; `lineage=self` for kthreadd, `?` where a test cannot tell, and
/// `(rootcg)` where root cgroup membership casts no vote.
fn yes_words(v: &Verdicts) -> Vec<String> {
    let mut words = Vec::new();
    let mut say = |yes: bool, word: &str| {
        if yes {
            words.push(word.to_string());
        }
    };
    say(v.pf_kthread, "pf_kthread");
    say(v.no_mm, "no_mm");
    match v.kthreadd_lineage {
        Lineage::Kthreadd => words.push("lineage=self".into()),
        Lineage::Yes => words.push("lineage".into()),
        Lineage::Unknown => words.push("lineage?".into()),
        Lineage::No => {}
    }
    let cg = match v.root_cgroup {
        Some(true) => Some("rootcg"),
        None => Some("rootcg?"),
        Some(false) => None,
    };
    if let Some(cg) = cg {
        words.push(if v.root_cgroup_reliable {
            cg.to_string()
        } else {
            format!("({cg})")
        });
    }
    let mut say = |yes: bool, word: &str| {
        if yes {
            words.push(word.to_string());
        }
    };
    say(v.io_worker, "io_worker");
    say(v.user_worker, "user_worker");
    say(v.umh, "umh");
    say(v.umh_child, "umh_child");
    words
}

/// `name` in at most `width` characters: cut, with `mark` last, where it
/// is longer (kernel threads' names can be: the full layout has them whole).
fn cut(name: &str, width: usize, mark: &str) -> String {
    if name.chars().count() <= width {
        return name.to_string();
    }
    let mut s: String = name.chars().take(width - mark.chars().count()).collect();
    s.push_str(mark);
    s
}

/// PID, COMM, KIND, `!` and the tests that say yes; words that would pass
/// `width` go on lines of their own under the TESTS cell.
fn compact_row(out: &mut Vec<u8>, e: &Entry, v: &Verdicts, width: usize, mark: &str) {
    let mut line = format!(
        "{:>7} {:<15} {:<11} {:<1}",
        e.pid,
        cut(&quote_name(&e.comm), 15, mark),
        e.kind().name(),
        if v.disagree() { "!" } else { " " },
    );
    let mut words_on_line = 0;
    for word in yes_words(v) {
        let used = line.chars().count();
        if words_on_line > 0 && used + 1 + word.len() > width {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
            line = " ".repeat(COMPACT_TESTS - 1);
            words_on_line = 0;
        }
        line.push(' ');
        line.push_str(&word);
        words_on_line += 1;
    }
    out.extend_from_slice(line.trim_end().as_bytes());
    out.push(b'\n');
}

fn json_row(
    out: &mut Vec<u8>,
    proc_root: &std::path::Path,
    table: &TaskTable,
    e: &Entry,
    v: &Verdicts,
    pf: &flags::PfNames,
) {
    let mut row = json!({
        "task_id": table.task_id(e).to_string(),
        "parent_task_id": table.parent_id(e.ppid, e.start_ns).map(|id| id.to_string()),
        "pid": e.pid,
        "tgid": e.tgid,
        "ppid": e.ppid,
        "parent": parent_of(e),
        "comm": &*e.comm,
        "kind": e.kind().name(),
        "creator": e.creator.as_ref().map(|(pid, _)| pid),
        "kthread": e.kthread.as_deref().map(|k| kthread_json(table, k)),
        "flags": pf.names(e.flags).collect::<Vec<_>>(),
        "flags_raw": e.flags,
        "tests": {
            "pf_kthread": v.pf_kthread,
            "no_mm": v.no_mm,
            "kthreadd_lineage": v.kthreadd_lineage.name(),
            "root_cgroup": v.root_cgroup,
            "root_cgroup_reliable": v.root_cgroup_reliable,
            "io_worker": v.io_worker,
            "user_worker": v.user_worker,
            "umh": v.umh,
            "umh_child": v.umh_child,
        },
        "disagree": v.disagree(),
    });
    let (ctx, cgroup) = task_context(proc_root, e.tgid, e.pid);
    let container = cgroup.as_deref().and_then(context::container_id);
    let fields = json!({
        "uid": ctx.uid,
        "gid": ctx.gid,
        "cgroup_id": ctx.cgroup_id,
        "cgroup": cgroup,
        "container_id": container.map(|c| c.1),
        "container_runtime": container.map(|c| c.0),
        "pidns": ctx.pidns,
        "ns_pid": ctx.ns_pid,
        "mntns": ctx.mntns,
    });
    if let (Some(row), serde_json::Value::Object(fields)) = (row.as_object_mut(), fields) {
        row.extend(fields);
    }
    recover_text(&mut row);
    serde_json::to_writer(&mut *out, &row).expect("a Value always serializes");
    out.push(b'\n');
}

/// A kernel thread's requester as `trace`'s JSON gives it on the fork
/// (without the requester's context, which is the fork's).
fn kthread_json(table: &TaskTable, k: &KthreadInfo) -> serde_json::Value {
    let requested_by = k.request.requester.as_ref().map(|r| {
        json!({
            "pid": r.pid,
            "tgid": r.tgid,
            "comm": r.comm,
            "kind": k.requester_kind.map(Kind::name),
            "task_id": table.ids().of(r).to_string(),
            "work": k.work,
        })
    });
    json!({
        "requested_by": requested_by,
        "link": k.request.link.name(),
        "reason": k.request.link.reason(),
        "threadfn": k.threadfn,
        "threadfn_addr": k.request.threadfn,
        "requested_ns": k.request.requested_ns,
        "run_after_request_ns": k.run_after_request_ns(),
    })
}
