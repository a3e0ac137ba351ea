//! The report's kernel threads created, by the task that asked kthreadd
//! for them (`model::kthreads`): `jbd2/* ×1 for mount`.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use crate::model::{event::Task, kthreads::duration, tasks::Annotation};

/// Each kernel thread kthreadd made, by its pid and start: its requester's
/// label, its latest name and the time from its request to its first run.
/// Before 6.2 (roughly) kthreadd forks a thread under its own name and the
/// requester renames it after: the groups are made from the final names.
#[derive(Default)]
pub(super) struct ByRequester(HashMap<(u32, u64), Made>);

struct Made {
    requester: String,
    name: String,
    run_after_request_ns: Option<u64>,
}

/// One group: threads made, and the times from request to first run of
/// those that have one, sorted.
#[derive(Default)]
struct Group {
    count: u64,
    timed: Vec<u64>,
}

impl Group {
    fn median(&self) -> Option<u64> {
        (!self.timed.is_empty()).then(|| self.timed[self.timed.len() / 2])
    }

    fn max(&self) -> Option<u64> {
        self.timed.last().copied()
    }
}

impl ByRequester {
    /// A fork: kept when it is a kernel thread kthreadd made.
    pub(super) fn note(&mut self, child: &Task, ann: &Annotation) {
        if let Some(k) = &ann.kthread {
            let key = (child.pid, child.start_ns);
            self.0.insert(
                key,
                Made {
                    requester: k.requester_label(),
                    name: child.comm.clone(),
                    run_after_request_ns: k.run_after_request_ns(),
                },
            );
        }
    }

    /// A rename of `task`: its new name, if it is one of ours, and its
    /// requester where the rename learnt it (its requester named it).
    pub(super) fn renamed(&mut self, task: &Task, new_comm: &str, ann: &Annotation) {
        if let Some(made) = self.0.get_mut(&(task.pid, task.start_ns)) {
            new_comm.clone_into(&mut made.name);
            if let Some(k) = &ann.kthread {
                made.requester = k.requester_label();
                made.run_after_request_ns = k.run_after_request_ns();
            }
        }
    }

    /// A kernel-thread record: where it is a thread's first run, the
    /// annotation has the thread's object, timed.
    pub(super) fn started(&mut self, child: &Task, ann: &Annotation) {
        let (Some(made), Some(k)) = (self.0.get_mut(&(child.pid, child.start_ns)), &ann.kthread)
        else {
            return;
        };
        made.run_after_request_ns = k.run_after_request_ns();
    }

    /// Threads made, by (requester, thread name pattern).
    fn groups(&self) -> BTreeMap<(String, String), Group> {
        let mut groups: BTreeMap<_, Group> = BTreeMap::new();
        for made in self.0.values() {
            let g = groups
                .entry((made.requester.clone(), name_pattern(&made.name)))
                .or_default();
            g.count += 1;
            g.timed.extend(made.run_after_request_ns);
        }
        for g in groups.values_mut() {
            g.timed.sort_unstable();
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
        for ((requester, threads), g) in &groups {
            let whom = match requester.as_str() {
                "unknown" => "an unknown requester".to_string(),
                r => pattern(r),
            };
            let n = g.count;
            s.push_str(&format!("  {:<24} ×{n:<5} for {whom}", pattern(threads)));
            if let (Some(median), Some(max)) = (g.median(), g.max()) {
                let timed = match g.timed.len() as u64 {
                    t if t == n => String::new(),
                    t => format!(", {t} timed"),
                };
                s.push_str(&format!(
                    " (first run after the request: median {}, max {}{timed})",
                    duration(median),
                    duration(max)
                ));
            }
            s.push('\n');
        }
        s
    }

    pub(super) fn json(&self) -> Value {
        Value::Array(
            self.groups()
                .iter()
                .map(|((requester, threads), g)| {
                    json!({
                        "requester": requester,
                        "threads": threads,
                        "count": g.count,
                        "timed": g.timed.len(),
                        "run_after_request_ns_median": g.median(),
                        "run_after_request_ns_max": g.max(),
                    })
                })
                .collect(),
        )
    }
}

/// Groups kthread names: `kworker/u8:3` → `kworker/*`, `scsi_eh_1` → `scsi_eh_*`.
pub(super) fn name_pattern(comm: &str) -> String {
    if let Some((prefix, _)) = comm.split_once('/') {
        return format!("{prefix}/*");
    }
    let trimmed = comm.trim_end_matches(|c: char| c.is_ascii_digit());
    if trimmed.len() < comm.len() {
        format!("{trimmed}*")
    } else {
        comm.to_string()
    }
}

#[cfg(test)]
mod tests {
    use tracer_common::{
        pf::{PF_KTHREAD, PF_WQ_WORKER},
        EventKind, ForkEvent, Header, KthreadEvent, Plain, RenameEvent, TaskInfo, KTHREAD_EXACT,
        KTHREAD_NAMED, KTHREAD_NO_WAITER, KTHREAD_STARTED,
    };

    use super::ByRequester;
    use crate::model::{
        decode::decode,
        event::Event,
        kthreads::KthreadLink,
        tasks::{Annotation, TaskTable},
    };

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
            // Requested 1 ns before the fork record.
            Some(t) => (k.requester, k.link, k.requested_ns) = (t, KTHREAD_EXACT, at - 1),
            None => k.link = KTHREAD_NO_WAITER,
        }
        // SAFETY: as above.
        let mut f: ForkEvent = unsafe { std::mem::zeroed() };
        f.header = Header::new(EventKind::Fork, 0, at + 1);
        f.creator = info(2, "kthreadd", PF_KTHREAD);
        f.child = child;
        // The first run, 5 ns after the request; and an interrupt's wakeup
        // in it, which changes nothing.
        let mut started = k;
        started.header = Header::new(EventKind::Kthread, 0, at + 4);
        (started.link, started.requested_ns) = (KTHREAD_STARTED, 0);
        started.requester = info(77, "other", 0);
        let mut again = started;
        again.header = Header::new(EventKind::Kthread, 0, at + 6);
        for raw in [bytes(&k), bytes(&f), bytes(&started), bytes(&again)] {
            let rec = decode(&raw).unwrap();
            let ann = table.apply(&rec);
            if let Event::Fork { child, .. } = &rec.event {
                r.note(child, &ann);
            }
            if let Event::Kthread { child, .. } = &rec.event {
                r.started(child, &ann);
            }
            if let Event::Rename { task, new_comm } = &rec.event {
                r.renamed(task, new_comm, &ann);
            }
        }
    }

    /// `requester` names `child` `new_comm`: the kernel side's record, then
    /// the rename; the rename's annotation.
    fn named(
        r: &mut ByRequester,
        table: &mut TaskTable,
        at: u64,
        child: TaskInfo,
        requester: TaskInfo,
        new_comm: &str,
    ) -> Annotation {
        // SAFETY: as above.
        let mut k: KthreadEvent = unsafe { std::mem::zeroed() };
        k.header = Header::new(EventKind::Kthread, 0, at);
        (k.child, k.requester, k.link) = (child, requester, KTHREAD_NAMED);
        // SAFETY: as above.
        let mut n: RenameEvent = unsafe { std::mem::zeroed() };
        n.header = Header::new(EventKind::Rename, 0, at + 1);
        n.task = child;
        n.task.comm = table.get(child.pid).map_or([0; 16], |e| {
            let mut comm = [0; 16];
            comm[..e.comm.len()].copy_from_slice(e.comm.as_bytes());
            comm
        });
        n.new_comm[..new_comm.len()].copy_from_slice(new_comm.as_bytes());
        table.apply(&decode(&bytes(&k)).unwrap());
        let rec = decode(&bytes(&n)).unwrap();
        let ann = table.apply(&rec);
        if let Event::Rename { task, new_comm } = &rec.event {
            r.renamed(task, new_comm, &ann);
        }
        ann
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
        // Older kernels fork under kthreadd's name and the requester names
        // the thread once it ran: that naming gives a requester the fork
        // did not find waiting.
        let late = TaskInfo {
            ppid: 2,
            ..info(930, "kthreadd", kt)
        };
        made(&mut r, &mut table, 95, late, None);
        let ann = named(&mut r, &mut table, 96, late, mount, "jbd2/loop1-8");
        let k = ann.kthread.expect("the rename says whom for");
        assert_eq!(k.request.link, KthreadLink::Named);
        // Its first run is known, its request's time not (the fork found
        // no waiter).
        assert_eq!(k.first_run_ns, Some(99));
        assert_eq!(k.phrase(|s| s.to_string()), "for 4242 (mount)");
        let timed = table.get(900).unwrap().kthread.clone().unwrap();
        assert_eq!(timed.run_after_request_ns(), Some(5));
        assert_eq!(
            timed.phrase(|s| s.to_string()),
            "for 4242 (mount), ran 5 ns after the request"
        );
        assert_eq!(table.get(930).unwrap().kthread.as_deref(), Some(&*k));
        // A second naming changes nothing: only the first is the requester's.
        let ann = named(
            &mut r,
            &mut table,
            97,
            late,
            info(5, "x", 0),
            "jbd2/loop1-8",
        );
        assert!(ann.kthread.is_none());
        let json = r.json().to_string();
        assert!(!json.contains(r#""threads":"kthreadd""#), "{json}");
        assert!(
            json.contains(
                r#"{"requester":"mount","threads":"jbd2/*","count":2,"timed":1,"run_after_request_ns_median":5,"run_after_request_ns_max":5}"#
            ),
            "{json}"
        );
        assert!(
            json.contains(
                r#"{"requester":"kworker/u8:*","threads":"kworker/*","count":3,"timed":3,"#
            ),
            "{json}"
        );
        assert!(
            json.contains(
                r#""threads":"khugepaged","count":1,"timed":0,"run_after_request_ns_median":null"#
            ),
            "{json}"
        );
        assert!(
            json.contains(r#""requester":"unknown","threads":"khugepaged""#),
            "{json}"
        );
        let text = r.text(|p| p.to_string());
        assert!(
            text.contains(
                "kworker/*                ×3     for kworker/u8:* (first run after the request: \
                 median 5 ns, max 5 ns)"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "for mount (first run after the request: median 5 ns, max 5 ns, 1 timed)"
            ),
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
