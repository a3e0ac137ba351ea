//! The context items after a line's details: which of a task's user,
//! cgroup, container and namespaces are said.
//!
//! By default only what sets a task apart, so the usual case costs no
//! column: a user other than root, a cgroup other than the root one and
//! tracer's own (the full layout; where tracer runs from is where the
//! commands it is watching usually run too), a container, a pid or mount
//! namespace other than tracer's own. Root is the user most lines share: tracer runs as root
//! to load its programs (so a live trace or a recording is root's view),
//! and the kernel threads, helpers and services that make up most of what
//! it shows are root's. Taking the first user seen instead would make the
//! rule depend on whichever task happened to come first. `--context`
//! ([`Style::all_context`](crate::output::style::Style)) says user and
//! cgroup on every line, in both layouts.

use std::sync::OnceLock;

use crate::{
    model::{
        context,
        event::{Task, TaskContext},
    },
    output::escape::quote_name,
};

/// The user most lines share, not said unless asked (see the module doc).
const USUAL_UID: u32 = 0;

/// Tracer's own cgroup v2 path (`0::PATH` in /proc/self/cgroup), read once.
fn own_cgroup() -> Option<&'static str> {
    static OWN: OnceLock<Option<String>> = OnceLock::new();
    OWN.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("0::"))
            .map(str::to_string)
    })
    .as_deref()
}

/// Whether a cgroup path is one most lines share: the root, or tracer's.
fn usual_cgroup(path: &str) -> bool {
    path == "/" || own_cgroup() == Some(path)
}

/// Which items are said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Said {
    /// The full layout: what sets the task apart.
    Distinct,
    /// The compact layout: the user, the container and the pid inside.
    Compact,
    /// `--context`: user and cgroup always, namespaces where foreign.
    All,
}

/// A task's context as `key=value` items (see the module doc); against
/// `base` (a nested task against the subject), every item that differs
/// from the subject's, whatever `said`.
pub(super) fn items(t: &Task, base: Option<&Task>, said: Said) -> Vec<String> {
    let Some(c) = t.context else {
        return Vec::new();
    };
    let b = base.and_then(|b| b.context);
    let nested = b.is_some();
    let differs = |f: fn(&TaskContext) -> Option<u64>| b.is_none_or(|b| f(&b) != f(&c));
    let all = said == Said::All || nested;
    let full = said != Said::Compact || nested;
    let mut items = Vec::new();
    let (own_pidns, own_mntns) = context::own_namespaces();
    if let Some(uid) = c.uid {
        if (all || uid != USUAL_UID) && differs(|c| c.uid.map(u64::from)) {
            match context::user_name(uid) {
                Some(name) => items.push(format!("user={}", quote_name(&name))),
                None => items.push(format!("user={uid}")),
            }
        }
        if let Some(gid) = c.gid.filter(|&g| g != uid && full) {
            if differs(|c| c.gid.map(u64::from)) {
                items.push(format!("gid={gid}"));
            }
        }
    }
    if let Some(id) = c.cgroup_id.filter(|_| differs(|c| c.cgroup_id)) {
        let path = context::cgroup_path(id);
        let usual = path.as_deref().is_some_and(usual_cgroup);
        if full && (all || !usual) {
            match &path {
                Some(p) => items.push(format!("cgroup={}", quote_name(p))),
                None => items.push(format!("cgroup=id:{id}(gone)")),
            }
        }
        if let Some((runtime, cid)) = path.as_deref().and_then(context::container_id) {
            items.push(format!("container={runtime}:{}", &cid[..12]));
        }
    }
    if c.pidns.is_some() && c.pidns != own_pidns && differs(|c| c.pidns.map(u64::from)) {
        if full {
            items.push(format!("pidns={}", c.pidns.unwrap_or(0)));
        }
        if let Some(nr) = c.ns_pid.filter(|&nr| nr != t.pid) {
            items.push(format!("nspid={nr}"));
        }
    }
    if full && c.mntns.is_some() && c.mntns != own_mntns && differs(|c| c.mntns.map(u64::from)) {
        items.push(format!("mntns={}", c.mntns.unwrap_or(0)));
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(uid: u32, cgroup_id: Option<u64>) -> Task {
        let (pidns, mntns) = context::own_namespaces();
        Task {
            pid: 42,
            tgid: 42,
            ppid: 1,
            flags: 0,
            has_mm: true,
            comm: "sh".into(),
            start_ns: 5,
            context: Some(TaskContext {
                uid: Some(uid),
                gid: Some(uid),
                cgroup_id,
                pidns,
                ns_pid: Some(42),
                mntns,
            }),
        }
    }

    /// The id of the root cgroup here, when cgroup2 is mounted.
    fn root_cgroup() -> Option<u64> {
        use std::os::unix::fs::MetadataExt as _;
        let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let mount = text.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            (right.split_whitespace().next()? == "cgroup2")
                .then(|| left.split_whitespace().nth(4))?
        })?;
        Some(std::fs::metadata(mount).ok()?.ino())
    }

    #[test]
    fn the_root_cgroup_and_tracers_own_are_usual() {
        assert!(usual_cgroup("/"));
        assert!(usual_cgroup(own_cgroup().expect("cgroup v2 here")));
        assert!(!usual_cgroup("/system.slice/not-tracers-own.service"));
    }

    #[test]
    fn root_in_the_root_cgroup_says_nothing_unless_asked() {
        let root = root_cgroup();
        let t = task(0, root);
        assert!(items(&t, None, Said::Distinct).is_empty());
        assert!(items(&t, None, Said::Compact).is_empty());
        let all = items(&t, None, Said::All);
        assert_eq!(all[0], "user=root", "{all:?}");
        if root.is_some() {
            assert_eq!(all[1], "cgroup=/", "{all:?}");
        }
    }

    #[test]
    fn another_user_and_a_gone_cgroup_are_said() {
        let t = task(65534, Some(u64::MAX));
        let user = context::user_name(65534).unwrap_or_else(|| "65534".into());
        assert_eq!(
            items(&t, None, Said::Distinct),
            [
                format!("user={user}"),
                format!("cgroup=id:{}(gone)", u64::MAX)
            ]
        );
        assert_eq!(items(&t, None, Said::Compact), [format!("user={user}")]);
        // A nested task says what differs from the subject, root included.
        let subject = task(65534, Some(u64::MAX));
        assert!(items(&t, Some(&subject), Said::Distinct).is_empty());
        let creator = task(0, Some(u64::MAX));
        assert_eq!(
            items(&creator, Some(&subject), Said::Distinct),
            ["user=root"]
        );
    }
}
