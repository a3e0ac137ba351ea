//! The report's kernel threads created, by the task that asked kthreadd
//! for them (`model::kthreads`): `jbd2/* ×1 for mount`.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use super::collect::name_pattern;
use crate::model::{event::Task, tasks::Annotation};

/// Each kernel thread kthreadd made, by its pid and start: its requester's
/// label and its latest name. Before 6.2 (roughly) kthreadd forks a thread
/// under its own name and the requester renames it after: the groups are
/// made from the final names.
#[derive(Default)]
pub(super) struct ByRequester(HashMap<(u32, u64), (String, String)>);

impl ByRequester {
    /// A fork: kept when it is a kernel thread kthreadd made.
    pub(super) fn note(&mut self, child: &Task, ann: &Annotation) {
        if let Some(k) = &ann.kthread {
            let key = (child.pid, child.start_ns);
            self.0
                .insert(key, (k.requester_label(), child.comm.clone()));
        }
    }

    /// A rename of `task`: its new name, if it is one of ours.
    pub(super) fn renamed(&mut self, task: &Task, new_comm: &str) {
        if let Some(entry) = self.0.get_mut(&(task.pid, task.start_ns)) {
            new_comm.clone_into(&mut entry.1);
        }
    }

    /// Threads made, by (requester, thread name pattern).
    fn groups(&self) -> BTreeMap<(String, String), u64> {
        let mut groups = BTreeMap::new();
        for (requester, name) in self.0.values() {
            *groups
                .entry((requester.clone(), name_pattern(name)))
                .or_default() += 1;
        }
        groups
    }

    /// The text section; `pattern` shows a name pattern.
    pub(super) fn text(&self, pattern: impl Fn(&str) -> String) -> String {
        let mut s = String::from("\nkernel threads created, by requester:\n");
        let groups = self.groups();
        if groups.is_empty() {
            s.push_str("  none (or not linked: see `tracer trace --verbose`)\n");
        }
        for ((requester, threads), n) in &groups {
            let whom = match requester.as_str() {
                "unknown" => "an unknown requester".to_string(),
                r => pattern(r),
            };
            s.push_str(&format!("  {:<24} ×{n:<5} for {whom}\n", pattern(threads)));
        }
        s
    }

    pub(super) fn json(&self) -> Value {
        Value::Array(
            self.groups()
                .iter()
                .map(|((requester, threads), n)| {
                    json!({"requester": requester, "threads": threads, "count": n})
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use tracer_common::{
        pf::{PF_KTHREAD, PF_WQ_WORKER},
        EventKind, ForkEvent, Header, KthreadEvent, Plain, TaskInfo, KTHREAD_EXACT,
        KTHREAD_NO_WAITER,
    };

    use super::ByRequester;
    use crate::model::{decode::decode, event::Event, tasks::TaskTable};

    fn bytes<T: Plain>(v: &T) -> Vec<u8> {
        // SAFETY: T is Plain (repr(C), no implicit padding).
        unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
    }

    fn info(pid: u32, comm: &str, flags: u32) -> TaskInfo {
        // SAFETY: integers and byte arrays only: zero is a valid value.
        let mut t: TaskInfo = unsafe { std::mem::zeroed() };
        t.pid = pid;
        t.tgid = pid;
        t.flags = flags;
        t.start_boottime = u64::from(pid) * 1000;
        t.comm[..comm.len()].copy_from_slice(comm.as_bytes());
        t
    }

    /// kthreadd makes `child` for `requester` (`None`: nobody waited).
    fn made(
        r: &mut ByRequester,
        table: &mut TaskTable,
        at: u64,
        child: TaskInfo,
        requester: Option<TaskInfo>,
    ) {
        // SAFETY: as above.
        let mut k: KthreadEvent = unsafe { std::mem::zeroed() };
        k.header = Header::new(EventKind::Kthread, 0, at);
        k.child = child;
        match requester {
            Some(t) => (k.requester, k.link) = (t, KTHREAD_EXACT),
            None => k.link = KTHREAD_NO_WAITER,
        }
        // SAFETY: as above.
        let mut f: ForkEvent = unsafe { std::mem::zeroed() };
        f.header = Header::new(EventKind::Fork, 0, at + 1);
        f.creator = info(2, "kthreadd", PF_KTHREAD);
        f.child = child;
        for raw in [bytes(&k), bytes(&f)] {
            let rec = decode(&raw).unwrap();
            let ann = table.apply(&rec);
            if let Event::Fork { child, .. } = &rec.event {
                r.note(child, &ann);
            }
        }
    }

    #[test]
    fn groups_kernel_threads_by_requester() {
        let mut r = ByRequester::default();
        let mut table = TaskTable::from_snapshot(Vec::new(), None, 100);
        let mount = info(4242, "mount", 0);
        let worker = info(57, "kworker/u8:2", PF_KTHREAD | PF_WQ_WORKER);
        let kt = PF_KTHREAD;
        made(
            &mut r,
            &mut table,
            10,
            info(900, "jbd2/loop0-8", kt),
            Some(mount),
        );
        made(
            &mut r,
            &mut table,
            20,
            info(901, "ext4lazyinit", kt),
            Some(mount),
        );
        for (i, pid) in (910..913).enumerate() {
            let w = info(pid, &format!("kworker/u8:{i}"), kt | PF_WQ_WORKER);
            made(&mut r, &mut table, 30 + i as u64 * 10, w, Some(worker));
        }
        made(&mut r, &mut table, 90, info(920, "khugepaged", kt), None);
        // Older kernels fork under kthreadd's name; the requester renames.
        made(
            &mut r,
            &mut table,
            95,
            info(930, "kthreadd", kt),
            Some(mount),
        );
        let key = *r.0.keys().find(|k| k.0 == 930).unwrap();
        let task = crate::model::event::Task {
            pid: 930,
            tgid: 930,
            ppid: 2,
            flags: kt,
            has_mm: false,
            comm: "kthreadd".into(),
            start_ns: key.1,
            context: None,
        };
        r.renamed(&task, "jbd2/loop1-8");
        let json = r.json().to_string();
        assert!(!json.contains(r#""threads":"kthreadd""#), "{json}");
        assert!(
            json.contains(r#"{"requester":"mount","threads":"jbd2/*","count":2}"#),
            "{json}"
        );
        assert!(
            json.contains(r#"{"requester":"kworker/u8:*","threads":"kworker/*","count":3}"#),
            "{json}"
        );
        assert!(
            json.contains(r#""requester":"unknown","threads":"khugepaged""#),
            "{json}"
        );
        let text = r.text(|p| p.to_string());
        assert!(
            text.contains("kworker/*                ×3     for kworker/u8:*"),
            "{text}"
        );
        assert!(text.contains("for an unknown requester"), "{text}");
        // A fork that is not kthreadd's is not counted.
        let mut other = ByRequester::default();
        made(
            &mut other,
            &mut TaskTable::new(100, false),
            5,
            info(1, "x", 0),
            None,
        );
        assert!(other.json().as_array().unwrap().is_empty());
    }
}
