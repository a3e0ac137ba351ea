//! The task tree as rows: kthreadd's subtree and the helpers expanded,
//! user processes folded unless asked; narrowed by the `/` filter (matches
//! and their ancestors) and by following one task's subtree.

use std::collections::{HashMap, HashSet};

use crate::{
    model::{classify::Kind, tasks::TaskTable},
    pipeline::filter::TraceFilter,
};

/// One row of the tree pane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub depth: usize,
    pub pid: u32,
    pub kind: Kind,
    pub comm: std::sync::Arc<str>,
    pub start_ns: u64,
    /// The kernel-thread tests disagree on it (`ps` marks it `!`).
    pub disagree: bool,
    /// Folded: how many tasks its subtree hides.
    pub folded: Option<usize>,
}

/// How the tree is narrowed and folded.
#[derive(Default)]
pub struct Shape<'a> {
    /// Tasks the user unfolded, and folded.
    pub expanded: Option<&'a HashSet<u32>>,
    pub collapsed: Option<&'a HashSet<u32>>,
    pub filter: Option<&'a TraceFilter>,
    /// Only this task's subtree.
    pub root: Option<u32>,
}

/// Whether a task passes the filter's task parts (kinds, pids, comms).
pub fn task_matches(f: &TraceFilter, pid: u32, tgid: u32, kind: Kind, comm: &str) -> bool {
    (f.kinds.is_empty() || f.kinds.contains(&kind))
        && (f.pids.is_empty() || f.pids.contains(&pid) || f.pids.contains(&tgid))
        && (f.comms.is_empty() || f.comms.iter().any(|g| g.matches(comm)))
}

/// Thread-group leaders by parent, newest first.
pub struct Forest {
    pub children: HashMap<u32, Vec<u32>>,
    pub roots: Vec<u32>,
}

impl Forest {
    pub fn of(table: &TaskTable) -> Forest {
        let mut children: HashMap<u32, Vec<(u64, u32)>> = HashMap::new();
        let mut roots = Vec::new();
        for e in table.iter().filter(|e| e.pid == e.tgid) {
            match table
                .get(e.ppid)
                .filter(|p| e.ppid != e.pid && p.pid == p.tgid)
            {
                Some(_) => children
                    .entry(e.ppid)
                    .or_default()
                    .push((e.start_ns, e.pid)),
                None => roots.push(e.pid),
            }
        }
        // kthreadd first: the kernel's side is what the screen is for.
        roots.sort_by_key(|&pid| (pid != 2, pid));
        let children = children
            .into_iter()
            .map(|(ppid, mut kids)| {
                kids.sort_by(|a, b| b.cmp(a));
                (ppid, kids.into_iter().map(|(_, pid)| pid).collect())
            })
            .collect();
        Forest { children, roots }
    }

    fn kids(&self, pid: u32) -> &[u32] {
        self.children.get(&pid).map_or(&[], Vec::as_slice)
    }

    /// Tasks below `pid`.
    pub fn descendants(&self, pid: u32) -> usize {
        let mut n = 0;
        let mut stack = vec![pid];
        while let Some(p) = stack.pop() {
            for &k in self.kids(p) {
                n += 1;
                stack.push(k);
            }
        }
        n
    }

    /// `pid` and every task below it.
    pub fn subtree(&self, pid: u32) -> HashSet<u32> {
        let mut set = HashSet::from([pid]);
        let mut stack = vec![pid];
        while let Some(p) = stack.pop() {
            for &k in self.kids(p) {
                set.insert(k);
                stack.push(k);
            }
        }
        set
    }
}

/// The rows the tree pane shows.
pub fn rows(table: &TaskTable, shape: &Shape<'_>) -> Vec<Row> {
    let forest = Forest::of(table);
    // With a filter: the matches and their ancestors, all unfolded.
    let keep: Option<HashSet<u32>> = shape.filter.map(|f| {
        let mut keep = HashSet::new();
        for e in table.iter().filter(|e| e.pid == e.tgid) {
            if task_matches(f, e.pid, e.tgid, e.kind(), &e.comm) {
                let mut pid = e.pid;
                while keep.insert(pid) {
                    match table.get(pid) {
                        Some(p) if p.ppid != pid && table.get(p.ppid).is_some() => pid = p.ppid,
                        _ => break,
                    }
                }
            }
        }
        keep
    });
    let starts = match shape.root {
        Some(root) if table.get(root).is_some() => vec![root],
        Some(_) => vec![],
        None => forest.roots.clone(),
    };
    let mut out = Vec::new();
    let mut stack: Vec<(u32, usize)> = starts.into_iter().rev().map(|p| (p, 0)).collect();
    while let Some((pid, depth)) = stack.pop() {
        if keep.as_ref().is_some_and(|k| !k.contains(&pid)) {
            continue;
        }
        let Some(e) = table.get(pid) else { continue };
        let kind = e.kind();
        let folded_by_default = matches!(kind, Kind::User | Kind::Init);
        let is_start = depth == 0 && shape.root == Some(pid);
        let folded = keep.is_none()
            && !is_start
            && !forest.kids(pid).is_empty()
            && if folded_by_default {
                !shape.expanded.is_some_and(|s| s.contains(&pid))
            } else {
                shape.collapsed.is_some_and(|s| s.contains(&pid))
            };
        out.push(Row {
            depth,
            pid,
            kind,
            comm: e.comm.clone(),
            start_ns: e.start_ns,
            disagree: table.verdicts(e).disagree(),
            folded: folded.then(|| forest.descendants(pid)),
        });
        if !folded {
            for &k in forest.kids(pid).iter().rev() {
                stack.push((k, depth + 1));
            }
        }
    }
    out
}
