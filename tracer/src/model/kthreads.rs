//! Who asked kthreadd for each new kernel thread. The kernel side reads it
//! at kthreadd's fork (tracer-ebpf `programs/kthread.rs`) and sends it in
//! a record just before the fork's: the task waiting on the request's
//! completion, the thread's function, and how the link was made. The task
//! table joins the two ([`Pending`]) and puts a [`KthreadInfo`] on the
//! fork's annotation, which every output shows.
//!
//! Never a guess: where the kernel side found no waiter, the requester is
//! unknown and the reason says why.

pub use crate::model::event::{FnNames, KthreadLink, KthreadRequest};
use crate::model::{classify::Kind, event::Task, hash::FastMap, kallsyms::Kallsyms};

/// Names the functions of the kernel-thread record `raw` in place, from
/// `kallsyms` (the recording boot's): `record` does so before the record
/// reaches the log, so that a replay on another boot names them too
/// (`KthreadEvent::threadfn_name`). Any other record is left alone.
pub fn name_functions(raw: &mut [u8], kallsyms: &Kallsyms) {
    use core::mem::offset_of;

    use tracer_common::{EventKind, Header, KthreadEvent, KSYM_NAME_LEN};

    if Header::peek_kind(raw) != Some(EventKind::Kthread) || raw.len() != size_of::<KthreadEvent>()
    {
        return;
    }
    for (addr_at, name_at) in [
        (
            offset_of!(KthreadEvent, threadfn),
            offset_of!(KthreadEvent, threadfn_name),
        ),
        (
            offset_of!(KthreadEvent, requester_func),
            offset_of!(KthreadEvent, requester_func_name),
        ),
    ] {
        let addr = u64::from_ne_bytes(raw[addr_at..addr_at + 8].try_into().expect("8 bytes"));
        let Some(name) = (addr != 0).then(|| kallsyms.name_of(addr)).flatten() else {
            continue;
        };
        // Cut at a character boundary, NUL-padded.
        let mut end = name.len().min(KSYM_NAME_LEN);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let slot = &mut raw[name_at..name_at + KSYM_NAME_LEN];
        slot.fill(0);
        slot[..end].copy_from_slice(&name.as_bytes()[..end]);
    }
}

/// kthreadd's pid: the creator of every thread a request makes.
pub const KTHREADD: u32 = 2;

/// What the task table adds to the fork of a kernel thread kthreadd made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KthreadInfo {
    pub request: KthreadRequest,
    /// The requester's kind (a kworker, a user task, ...).
    pub requester_kind: Option<Kind>,
    /// The thread's function, named where this boot's symbols are known.
    pub threadfn: Option<String>,
    /// For a kworker requester: the work it ran, named where known.
    pub work: Option<String>,
    /// When the thread first ran (boot clock, ns; format 7): known once
    /// its first wakeup came, after the fork.
    pub first_run_ns: Option<u64>,
}

impl KthreadInfo {
    /// From the request (the requester's wakeup of kthreadd) to the
    /// thread's first run, where both were seen.
    pub fn run_after_request_ns(&self) -> Option<u64> {
        self.first_run_ns?.checked_sub(self.request.requested_ns?)
    }

    /// `for 4242 (mount)`, `for 57 (kworker/u8:2, a kworker running work
    /// worker_thread)` or `for unknown (why)`; `quote` shows a name.
    pub fn phrase<'a, S: AsRef<str>>(&'a self, quote: impl Fn(&'a str) -> S) -> String {
        let Some(r) = &self.request.requester else {
            return format!("for unknown ({})", self.request.link.reason());
        };
        let mut s = format!("for {} ({}", r.pid, quote(&r.comm).as_ref());
        match (self.requester_kind, &self.work) {
            (Some(Kind::Kworker), Some(work)) => s.push_str(&format!(", a kworker running {work}")),
            (Some(k @ (Kind::Kworker | Kind::Kthread | Kind::Kthreadd)), None) => {
                s.push_str(&format!(", a {}", k.name()));
            }
            _ => {}
        }
        s.push(')');
        if let Some(ns) = self.run_after_request_ns() {
            s.push_str(&format!(", ran {} after the request", duration(ns)));
        }
        s
    }

    /// The requester as the report groups it: `mount`, `kworker/u8:*`
    /// (a kworker: its pool), or `unknown`.
    pub fn requester_label(&self) -> String {
        match &self.request.requester {
            Some(r) if self.requester_kind == Some(Kind::Kworker) => {
                pool_of(&r.comm).map_or_else(|| r.comm.clone(), |p| format!("{p}:*"))
            }
            Some(r) => r.comm.clone(),
            None => "unknown".into(),
        }
    }
}

/// `37 µs`, `1.2 ms`, `2.50 s`.
pub fn duration(ns: u64) -> String {
    match ns {
        0..=999 => format!("{ns} ns"),
        1_000..=999_999 => format!("{} µs", ns / 1_000),
        1_000_000..=999_999_999 => format!("{:.1} ms", ns as f64 / 1e6),
        _ => format!("{:.2} s", ns as f64 / 1e9),
    }
}

/// A kworker's pool: `kworker/u8:3` → `kworker/u8`, `kworker/0:1H` →
/// `kworker/0` (the `H` is a high-priority pool's worker number suffix,
/// kept with the pool).
pub fn pool_of(comm: &str) -> Option<String> {
    let rest = comm.strip_prefix("kworker/")?;
    let (pool, worker) = rest.split_once(':')?;
    let high = if worker.ends_with('H') { "H" } else { "" };
    Some(format!("kworker/{pool}{high}"))
}

/// Requests seen, until their fork (which follows at once), by the new
/// thread's pid and start.
#[derive(Default)]
pub struct Pending {
    by_child: FastMap<(u32, u64), KthreadRequest>,
    /// A record came: the session has the kernel side, so a kthreadd fork
    /// without one lost it.
    seen: bool,
}

impl Pending {
    pub fn note(&mut self, child: &Task, request: &KthreadRequest) {
        self.seen = true;
        // Bounded: a record whose fork never comes (lost) must not pile up.
        if self.by_child.len() >= 1024 {
            self.by_child.clear();
        }
        self.by_child
            .insert((child.pid, child.start_ns), request.clone());
    }

    /// The request of `child`, if kthreadd (`creator`) made it; `None`
    /// when the session never had the kernel side.
    pub fn take(&mut self, creator: &Task, child: &Task) -> Option<KthreadRequest> {
        if creator.pid != KTHREADD || child.flags & tracer_common::pf::PF_KTHREAD == 0 {
            return None;
        }
        match self.by_child.remove(&(child.pid, child.start_ns)) {
            Some(r) => Some(r),
            None => self.seen.then(KthreadRequest::unrecorded),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(pid: u32, comm: &str, flags: u32) -> Task {
        Task {
            pid,
            tgid: pid,
            ppid: 1,
            flags,
            has_mm: false,
            comm: comm.into(),
            start_ns: u64::from(pid) * 10,
            context: None,
        }
    }

    #[test]
    fn pools_of_kworkers() {
        assert_eq!(pool_of("kworker/u8:3").as_deref(), Some("kworker/u8"));
        assert_eq!(pool_of("kworker/0:1H").as_deref(), Some("kworker/0H"));
        assert_eq!(pool_of("kworker/R-ext4-rsv-conver"), None);
        assert_eq!(pool_of("jbd2/loop0-8"), None);
    }

    #[test]
    fn pending_joins_by_child_and_says_when_lost() {
        const KT: u32 = tracer_common::pf::PF_KTHREAD;
        let mut p = Pending::default();
        let kthreadd = task(KTHREADD, "kthreadd", KT);
        let child = task(900, "jbd2/loop0-8", KT);
        // No record ever: the session had no kernel side.
        assert_eq!(p.take(&kthreadd, &child), None);
        let req = KthreadRequest {
            requester: Some(task(4242, "mount", 0)),
            requester_func: None,
            threadfn: Some(0x10),
            link: KthreadLink::Exact,
            named: Default::default(),
            requested_ns: Some(1_000),
        };
        p.note(&child, &req);
        // Not kthreadd's fork: untouched.
        assert_eq!(p.take(&task(5, "x", 0), &child), None);
        assert_eq!(p.take(&kthreadd, &child), Some(req.clone()));
        let lost = p.take(&kthreadd, &child).unwrap();
        assert_eq!(lost.link, KthreadLink::Unrecorded);
        assert_eq!(lost.link.name(), "unknown");
        let info = KthreadInfo {
            request: req,
            requester_kind: Some(Kind::User),
            threadfn: None,
            work: None,
            first_run_ns: None,
        };
        assert_eq!(info.phrase(|s| s.to_string()), "for 4242 (mount)");
        assert_eq!(info.requester_label(), "mount");
        let unknown = KthreadInfo {
            request: lost,
            requester_kind: None,
            threadfn: None,
            work: None,
            first_run_ns: None,
        };
        assert!(unknown
            .phrase(|s| s.to_string())
            .starts_with("for unknown ("));
    }

    #[test]
    fn kworker_requesters_are_named_by_pool() {
        let info = KthreadInfo {
            request: KthreadRequest {
                requester: Some(task(57, "kworker/u8:2", 0x4208060)),
                requester_func: Some(0x20),
                threadfn: None,
                link: KthreadLink::Exact,
                named: Default::default(),
                requested_ns: None,
            },
            requester_kind: Some(Kind::Kworker),
            threadfn: None,
            work: Some("worker_thread".into()),
            first_run_ns: None,
        };
        assert_eq!(info.requester_label(), "kworker/u8:*");
        assert_eq!(
            info.phrase(|s| s.to_string()),
            "for 57 (kworker/u8:2, a kworker running worker_thread)"
        );
    }

    #[test]
    fn recorded_names_hold_on_another_boot() {
        use tracer_common::{EventKind, Header, KthreadEvent, KTHREAD_EXACT};

        let dir = tempfile::tempdir().unwrap();
        let syms = dir.path().join("kallsyms");
        std::fs::write(
            &syms,
            "ffffffff81000000 T kjournald2\nffffffff81000100 T worker_thread\n\
             ffffffff81000200 T a_function_whose_name_is_longer_than_forty_bytes\n",
        )
        .unwrap();
        // SAFETY: integers and byte arrays only: zero is a valid value.
        let mut k: KthreadEvent = unsafe { std::mem::zeroed() };
        k.header = Header::new(EventKind::Kthread, 0, 10);
        k.link = KTHREAD_EXACT;
        k.requester.pid = 57;
        k.threadfn = 0xffff_ffff_8100_0000;
        k.requester_func = 0xffff_ffff_8100_0210;
        // SAFETY: KthreadEvent is Plain (repr(C), no implicit padding).
        let mut raw = unsafe {
            std::slice::from_raw_parts((&raw const k).cast::<u8>(), size_of::<KthreadEvent>())
        }
        .to_vec();
        let unnamed = raw.clone();
        name_functions(&mut raw, &Kallsyms::new(&syms));
        let decoded = |raw: &[u8]| match crate::model::decode::decode(raw).unwrap().event {
            crate::model::event::Event::Kthread { request, .. } => request,
            other => panic!("{other:?}"),
        };
        let named = decoded(&raw).named;
        assert_eq!(named.threadfn.as_deref(), Some("kjournald2"));
        // Cut at 40 bytes, within the function (kallsyms names the nearest).
        assert_eq!(
            named.requester_func.as_deref(),
            Some("a_function_whose_name_is_longer_than_for")
        );
        assert_eq!(decoded(&unnamed).named, FnNames::default());
        // Another record is left alone.
        let mut other = vec![0u8; 64];
        name_functions(&mut other, &Kallsyms::new(&syms));
        assert!(other.iter().all(|&b| b == 0));
    }
}
