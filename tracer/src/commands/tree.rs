//! `tracer tree [PID]`: the lineage tree from PID 0 (or from PID), with
//! kinds. Processes hang under their real parent; io_uring and other worker
//! threads under their process. The kthreadd subtree holds the kernel
//! threads and the user-mode helpers (real parent kthreadd or a kworker).

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
        tasks::{Entry, TaskTable},
    },
    output::escape::escape,
};

pub struct TreeOptions {
    pub root: u32,
    pub proc_root: PathBuf,
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
    format!("{} {} [{}]{marker}", e.pid, escape(&e.comm), e.kind())
}

pub fn render(table: &TaskTable, root: u32) -> Result<String> {
    let mut children: BTreeMap<u32, Vec<&Entry>> = BTreeMap::new();
    for e in table.iter().filter(|e| is_node(e)) {
        if e.pid != 0 {
            children.entry(parent_of(e)).or_default().push(e);
        }
    }
    for list in children.values_mut() {
        list.sort_by_key(|e| e.pid);
    }
    let mut out = String::new();
    if root == 0 {
        out.push_str("0 [idle]\n");
    } else {
        let Some(e) = table.get(root) else {
            bail!("no task with pid {root}");
        };
        out.push_str(&label(table, e));
        out.push('\n');
    }
    let mut seen = HashSet::new();
    render_from(table, &children, root, "", &mut seen, &mut out);
    Ok(out)
}

/// Appends the subtree under `pid`. Recursion depth is the process tree's
/// depth; `seen` guards against a cycle in a corrupt snapshot.
fn render_from(
    table: &TaskTable,
    children: &BTreeMap<u32, Vec<&Entry>>,
    pid: u32,
    prefix: &str,
    seen: &mut HashSet<u32>,
    out: &mut String,
) {
    if !seen.insert(pid) {
        return;
    }
    if let Some(kids) = children.get(&pid) {
        for (i, kid) in kids.iter().enumerate() {
            let last = i + 1 == kids.len();
            out.push_str(prefix);
            out.push_str(if last { "└─ " } else { "├─ " });
            out.push_str(&label(table, kid));
            out.push('\n');
            let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
            render_from(table, children, kid.pid, &child_prefix, seen, out);
        }
    }
}

pub fn run(opts: TreeOptions) -> Result<()> {
    let table = snapshot::take(&Procfs::new(opts.proc_root))?.table;
    let text = render(&table, opts.root)?;
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("writing to stdout")
}
