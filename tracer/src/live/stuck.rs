//! Requesters stuck on a user-mode helper, said live (`trace
//! --stuck-after`): a task that waits for its helper's exit (request-key, a
//! waiting modprobe) or writes its core dump into a core_pattern helper's
//! pipe gets a warning on stderr once it has been held longer than the
//! threshold, and a note when the wait ends. A tap: it sees every event
//! with the task table's annotation, and checks the clock once a second
//! (live sessions tick; a replay never does, and `report` lists the same
//! waits from a log).

use std::{collections::VecDeque, time::Duration};

use anyhow::Result;
use tracer_common::EventKind;

use crate::{
    model::{
        classify::Kind,
        clock,
        event::{Event, Record},
        flags::PF_KTHREAD,
        tasks::{Annotation, TaskTable},
    },
    output::{self, escape::quote_name},
    pipeline::tap::Tap,
};

/// Waits watched at once: past it (a storm of requests) the oldest is
/// forgotten.
const WATCHED: usize = 4096;

/// One requester held by its helper.
struct Wait {
    pid: u32,
    start_ns: u64,
    comm: String,
    reason: Option<String>,
    dumping: bool,
    queued_ns: u64,
    /// The kworker that makes the helper.
    kworker: u32,
    helper: Option<u32>,
    /// The program the kernel was asked to run (a helper may exec
    /// others after it).
    path: String,
    /// The warning was said.
    told: bool,
}

impl Wait {
    fn held(&self) -> output::Held<'_> {
        output::Held {
            pid: self.pid,
            comm: &self.comm,
            reason: self.reason.as_deref(),
            dumping: self.dumping,
            helper: self.helper,
            path: &self.path,
        }
    }
}

pub struct StuckWatch {
    after_ns: u64,
    waits: VecDeque<Wait>,
}

impl StuckWatch {
    pub fn new(after: Duration) -> StuckWatch {
        StuckWatch {
            after_ns: u64::try_from(after.as_nanos()).unwrap_or(u64::MAX),
            waits: VecDeque::new(),
        }
    }

    /// The wait at `i` ended at `at_ns`: said if its start was.
    fn end(&mut self, i: usize, at_ns: u64) {
        let Some(w) = self.waits.remove(i) else {
            return;
        };
        if w.told {
            let ns = at_ns.saturating_sub(w.queued_ns);
            crate::say!(
                "tracer: note: {}",
                output::unstuck(&w.held(), ns, quote_name)
            );
        }
    }

    /// Says each wait that passed the threshold at `now_ns`, once.
    fn check(&mut self, now_ns: u64) {
        for w in self.waits.iter_mut().filter(|w| !w.told) {
            let ns = now_ns.saturating_sub(w.queued_ns);
            if ns >= self.after_ns {
                w.told = true;
                crate::say!(
                    "tracer: warning: {}",
                    output::stuck(&w.held(), ns, quote_name)
                );
            }
        }
    }
}

impl Tap for StuckWatch {
    fn event(&mut self, rec: &Record, ann: &Annotation, _shown: bool) {
        match &rec.event {
            Event::HelperRequest { kworker, request } => {
                let (Some(r), Some(queued_ns)) = (&request.requester, request.queued_ns) else {
                    return;
                };
                let dumping = request.dumping_core();
                if !dumping && !request.waits_for_exit() {
                    return;
                }
                if self.waits.len() >= WATCHED {
                    self.waits.pop_front();
                }
                self.waits.push_back(Wait {
                    pid: r.pid,
                    start_ns: r.start_ns,
                    comm: r.comm.clone(),
                    reason: ann.helper.as_ref().and_then(|h| h.reason.clone()),
                    dumping,
                    queued_ns,
                    kworker: kworker.pid,
                    helper: None,
                    path: request.path.clone(),
                    told: false,
                });
            }
            // The kworker's next helper is the one it was asked for (as
            // the task table joins them).
            Event::Fork { creator, child, .. }
                if ann.subject == Kind::Helper && child.pid == child.tgid =>
            {
                if let Some(w) = self
                    .waits
                    .iter_mut()
                    .find(|w| w.kworker == creator.pid && w.helper.is_none())
                {
                    w.helper = Some(child.pid);
                }
            }
            Event::Exit { task, .. } => {
                // The requester's own exit ends its wait (a dump is over);
                // a helper's exit ends the waits for it.
                let leader = task.pid == task.tgid;
                while let Some(i) = self.waits.iter().position(|w| {
                    (w.pid == task.pid && w.start_ns == task.start_ns)
                        || (leader && !w.dumping && w.helper == Some(task.pid))
                }) {
                    self.end(i, rec.boot_ns);
                }
                // A kworker gone before it made the helper: the request
                // went with it.
                if task.flags & PF_KTHREAD != 0 {
                    self.waits
                        .retain(|w| !(w.kworker == task.pid && w.helper.is_none()));
                }
            }
            _ => {}
        }
    }

    fn lost(&mut self, _kind: Option<EventKind>, _count: u64, _boot_ns: u64) {}

    fn tick(&mut self, _table: &TaskTable) {
        self.check(clock::boottime_ns());
    }

    fn finish(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::{HelperRequest, Task};

    fn task(pid: u32, comm: &str, flags: u32) -> Task {
        Task {
            pid,
            tgid: pid,
            ppid: 1,
            flags,
            has_mm: true,
            comm: comm.into(),
            start_ns: u64::from(pid) * 10,
            context: None,
        }
    }

    fn rec(boot_ns: u64, event: Event) -> Record {
        Record {
            boot_ns,
            cpu: 0,
            event,
        }
    }

    /// A dump into a helper is held until the dumper's own exit, told
    /// once past the threshold; the helper's exit does not end it.
    #[test]
    fn a_dump_past_the_threshold_is_told_once_and_ends_with_the_dumper() {
        let mut watch = StuckWatch::new(Duration::from_secs(2));
        let mut table = TaskTable::from_snapshot(Vec::new(), None, 100);
        let mut feed = |watch: &mut StuckWatch, boot_ns: u64, event: Event| {
            let rec = rec(boot_ns, event);
            let ann = table.apply(&rec);
            watch.event(&rec, &ann, true);
        };
        let sh = task(500, "sh", tracer_common::pf::PF_DUMPCORE);
        let kworker = task(
            40,
            "kworker/u8:1",
            PF_KTHREAD | tracer_common::pf::PF_WQ_WORKER,
        );
        let request = HelperRequest {
            requester: Some(sh.clone()),
            queued_ns: Some(1_000_000_000),
            requester_func: None,
            wait: tracer_common::UMH_WAIT_EXEC,
            path: "/tmp/h".into(),
            path_truncated: false,
        };
        feed(
            &mut watch,
            1_000_000_000,
            Event::HelperRequest {
                kworker: kworker.clone(),
                request,
            },
        );
        let helper = task(501, "kworker/u8:1", 0);
        feed(
            &mut watch,
            1_100_000_000,
            Event::Fork {
                creator: kworker,
                child: helper.clone(),
                clone_flags: 0,
            },
        );
        assert_eq!(watch.waits[0].helper, Some(501));
        watch.check(2_900_000_000);
        assert!(!watch.waits[0].told, "not yet past 2s");
        watch.check(3_100_000_000);
        assert!(watch.waits[0].told);
        assert_eq!(
            output::stuck(&watch.waits[0].held(), 2_100_000_000, quote_name),
            "500 (sh, dumping core) has been dumping core into helper 501 /tmp/h for 2.1s"
        );
        let exit = |t: &Task| Event::Exit {
            task: t.clone(),
            status: crate::model::signals::ExitStatus::Exited(0),
            group_dead: None,
        };
        feed(&mut watch, 4_000_000_000, exit(&helper));
        assert_eq!(watch.waits.len(), 1, "the dumper is still at it");
        feed(&mut watch, 4_100_000_000, exit(&sh));
        assert!(watch.waits.is_empty());
    }
}
