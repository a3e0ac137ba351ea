//! `tracer tree [PID]`: the lineage tree from PID 0 (or from PID), with
//! kinds. Processes hang under their real parent; io_uring and other worker
//! threads under their process. The kthreadd subtree holds the kernel
//! threads and the user-mode helpers (real parent kthreadd or a kworker).
//!
//! Text draws the branches with box-drawing characters where the locale is
//! UTF-8 and with ASCII (`|--`, `` `-- ``) otherwise (`output::style`).
//! `--format json` writes one JSON object, nested: each task's `task_id`
//! (null for the idle task), `pid`,
//! `tgid`, `comm` (with `comm_b64` where it is not UTF-8), `kind`,
//! `disagree` (the kernel-thread tests disagree: `!` in text) and
//! `children`, in pid order.
//!
//! Both walk the tree with a stack of their own, not recursion: a chain of
//! processes can be as deep as there are pids.

use std::{
    collections::{BTreeMap, HashSet},
    io::Write as _,
    path::PathBuf,
};

use anyhow::{bail, Context as _, Result};

use crate::{
    model::{
        classify::Kind,
        procfs::Procfs,
        snapshot::{self, parent_of},
        task_id::TaskId,
        tasks::{Entry, TaskTable},
    },
    output::{
        escape::quote_name,
        json::{string, text_field},
        no_task,
        style::Surroundings,
        Format,
    },
};

pub struct TreeOptions {
    pub root: u32,
    pub proc_root: PathBuf,
    pub format: Format,
}

/// How branches are drawn: (middle child, last child, under a middle
/// child, under the last).
pub struct Branches([&'static str; 4]);

impl Branches {
    pub const UTF8: Branches = Branches(["├─ ", "└─ ", "│  ", "   "]);
    pub const ASCII: Branches = Branches(["|-- ", "`-- ", "|   ", "    "]);

    /// The set the locale of this process can show.
    pub fn for_locale() -> &'static Branches {
        if Surroundings::of_stdout().utf8() {
            &Branches::UTF8
        } else {
            &Branches::ASCII
        }
    }
}

/// Tasks shown as nodes: processes, and the worker threads of processes.
fn is_node(e: &Entry) -> bool {
    e.pid == e.tgid || matches!(e.kind(), Kind::IoWorker | Kind::UserWorker)
}

fn label(table: &TaskTable, e: &Entry) -> String {
    let marker = if table.verdicts(e).disagree() {
        " !"
    } else {
        ""
    };
    format!("{} {} [{}]{marker}", e.pid, quote_name(&e.comm), e.kind())
}

/// Each node's children, in pid order.
fn children(table: &TaskTable) -> BTreeMap<u32, Vec<&Entry>> {
    let mut children: BTreeMap<u32, Vec<&Entry>> = BTreeMap::new();
    for e in table.iter().filter(|e| is_node(e)) {
        if e.pid != 0 {
            children.entry(parent_of(e)).or_default().push(e);
        }
    }
    for list in children.values_mut() {
        list.sort_by_key(|e| e.pid);
    }
    children
}

pub fn render(table: &TaskTable, root: u32, branches: &Branches) -> Result<String> {
    let children = children(table);
    let mut out = String::new();
    if root == 0 {
        out.push_str("0 [idle]\n");
    } else {
        let Some(e) = table.get(root) else {
            bail!(no_task(root));
        };
        out.push_str(&label(table, e));
        out.push('\n');
    }
    let kids = |pid: u32| children.get(&pid).map_or(&[][..], Vec::as_slice).iter();
    // `seen` guards against a cycle in a corrupt snapshot.
    let mut seen = HashSet::from([root]);
    let mut stack = vec![(kids(root), String::new())];
    while let Some((iter, prefix)) = stack.last_mut() {
        let Some(kid) = iter.next() else {
            stack.pop();
            continue;
        };
        let last = iter.len() == 0;
        let [mid, end, bar, blank] = branches.0;
        out.push_str(prefix);
        out.push_str(if last { end } else { mid });
        out.push_str(&label(table, kid));
        out.push('\n');
        if seen.insert(kid.pid) {
            let below = format!("{prefix}{}", if last { blank } else { bar });
            stack.push((kids(kid.pid), below));
        }
    }
    Ok(out)
}

/// `{"task_id":..,"pid":..,"tgid":..,"comm":..,"kind":..,"disagree":..,
/// "children":[` (`task_id` null for the idle task, which /proc lacks).
fn open_node(
    out: &mut Vec<u8>,
    (id, pid, tgid): (Option<TaskId>, u32, u32),
    comm: &str,
    kind: Kind,
    disagree: bool,
) {
    match id {
        Some(id) => {
            let _ = write!(out, "{{\"task_id\":\"{id}\",");
        }
        None => out.extend_from_slice(b"{\"task_id\":null,"),
    }
    let _ = write!(out, "\"pid\":{pid},\"tgid\":{tgid},");
    text_field(out, "comm", comm);
    out.extend_from_slice(b",\"kind\":");
    string(out, kind.name());
    let _ = write!(out, ",\"disagree\":{disagree},\"children\":[");
}

pub fn render_json(table: &TaskTable, root: u32) -> Result<Vec<u8>> {
    let children = children(table);
    let mut out = Vec::new();
    match table.get(root) {
        Some(e) => open_node(
            &mut out,
            (Some(table.task_id(e)), e.pid, e.tgid),
            &e.comm,
            e.kind(),
            table.verdicts(e).disagree(),
        ),
        // /proc has no pid 0: the idle task, named as the kernel names
        // CPU 0's.
        None if root == 0 => open_node(&mut out, (None, 0, 0), "swapper/0", Kind::Idle, false),
        None => bail!(no_task(root)),
    }
    let kids = |pid: u32| children.get(&pid).map_or(&[][..], Vec::as_slice).iter();
    let mut seen = HashSet::from([root]);
    // (children left, whether none was written yet)
    let mut stack = vec![(kids(root), true)];
    while let Some((iter, first)) = stack.last_mut() {
        let Some(kid) = iter.next() else {
            out.extend_from_slice(b"]}");
            stack.pop();
            continue;
        };
        if !std::mem::take(first) {
            out.push(b',');
        }
        open_node(
            &mut out,
            (Some(table.task_id(kid)), kid.pid, kid.tgid),
            &kid.comm,
            kid.kind(),
            table.verdicts(kid).disagree(),
        );
        if seen.insert(kid.pid) {
            stack.push((kids(kid.pid), true));
        } else {
            out.extend_from_slice(b"]}");
        }
    }
    out.push(b'\n');
    Ok(out)
}

pub fn run(opts: TreeOptions) -> Result<()> {
    let table = snapshot::take(&Procfs::new(opts.proc_root))?.table;
    let bytes = match opts.format {
        Format::Text => render(&table, opts.root, Branches::for_locale())?.into_bytes(),
        Format::Json => render_json(&table, opts.root)?,
    };
    std::io::stdout()
        .lock()
        .write_all(&bytes)
        .context("writing to stdout")
}
