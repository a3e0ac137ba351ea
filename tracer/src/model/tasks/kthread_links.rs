//! The task table's part of who asked kthreadd for each kernel thread
//! (`model::kthreads`): the fork's link, the naming's where the fork found
//! no requester, and the functions' names.

use super::TaskTable;
use crate::model::{
    event::Task,
    kthreads::{self, FnNames, KthreadInfo, KthreadRequest},
};

impl TaskTable {
    /// Whom kthreadd made `child` for (`model::kthreads`), functions named
    /// where this table can.
    pub(super) fn kthread_info(
        &mut self,
        creator: &Task,
        child: &Task,
    ) -> Option<Box<KthreadInfo>> {
        let request = self.kthreads.take(creator, child)?;
        Some(Box::new(KthreadInfo {
            requester_kind: request.requester.as_ref().map(|r| self.kind_of(r)),
            threadfn: self.fn_name(request.threadfn, &request.named.threadfn),
            work: self.fn_name(request.requester_func, &request.named.requester_func),
            request,
            first_run_ns: None,
        }))
    }

    /// The kernel thread `child` ran for the first time at `at_ns`
    /// (`KthreadLink::Started`): kept on its entry, where it is the thread
    /// kthreadd made and no earlier record said so (an interrupt during
    /// the first run can send a second). Its kernel-thread object, now
    /// timed, for the record's annotation.
    pub(super) fn kthread_started(&mut self, child: &Task, at_ns: u64) -> Option<Box<KthreadInfo>> {
        let e = self.live.get_mut(&child.pid)?;
        if e.start_ns != child.start_ns {
            return None;
        }
        let k = e.kthread.as_mut()?;
        if k.first_run_ns.is_some() {
            return None;
        }
        k.first_run_ns = Some(at_ns);
        Some(k.clone())
    }

    /// A kernel function's name: as the recording named it, else from
    /// this boot's symbols where they are the log's, else its address.
    fn fn_name(&self, addr: Option<u64>, recorded: &Option<String>) -> Option<String> {
        if recorded.is_some() {
            return recorded.clone();
        }
        let addr = addr?;
        let named = self.kallsyms.as_ref().and_then(|k| k.name_of(addr));
        Some(named.unwrap_or_else(|| format!("{addr:#x}")))
    }

    /// A task named the kernel thread `child` kthreadd made: its requester
    /// (`KthreadLink::Named`), taken where the fork left it unknown and the
    /// thread still has the name it was forked with (`kthreadd`: the first
    /// naming is its requester's). The rename that follows says so.
    pub(super) fn kthread_named(&mut self, child: &Task, request: &KthreadRequest) {
        let requester_kind = request.requester.as_ref().map(|r| self.kind_of(r));
        let work = self.fn_name(request.requester_func, &request.named.requester_func);
        let Some(e) = self.live.get_mut(&child.pid) else {
            return;
        };
        let known = e
            .kthread
            .as_ref()
            .is_some_and(|k| k.request.requester.is_some());
        if known || &*e.comm != "kthreadd" || e.ppid != kthreads::KTHREADD {
            return;
        }
        let old = e.kthread.take();
        let info = Box::new(KthreadInfo {
            request: KthreadRequest {
                threadfn: old.as_ref().and_then(|k| k.request.threadfn),
                named: FnNames {
                    threadfn: old.as_ref().and_then(|k| k.request.named.threadfn.clone()),
                    ..request.named.clone()
                },
                ..request.clone()
            },
            requester_kind,
            first_run_ns: old.as_ref().and_then(|k| k.first_run_ns),
            threadfn: old.and_then(|k| k.threadfn),
            work,
        });
        e.kthread = Some(info.clone());
        self.named_now = Some((child.pid, info));
    }
}
