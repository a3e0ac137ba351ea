//! User-mode helper requests, from their queueing to a kworker starting
//! them. `call_usermodehelper_exec()` queues `sub_info->work`, whose
//! function is `call_usermodehelper_exec_work`, in the requesting task's
//! context; a kworker later runs it and makes the helper. Both
//! workqueue tracepoints fire for every work item, so each program first
//! compares the item's function with that one address (from
//! /proc/kallsyms), and other items cost only that compare.

use aya_ebpf::{
    macros::map,
    maps::{LruHashMap, PerCpuArray},
};
use tracer_common::{KernelOffsets, TaskInfo, HELPER_QUEUE_ENTRIES};

use crate::{
    globals::{self, offset},
    kread::Kptr,
};

/// What the queueing side knew, kept until a kworker starts the request.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Queued {
    pub requester: TaskInfo,
    pub queued_ns: u64,
    pub requester_func: u64,
}

/// Work item address → its queueing. LRU, so a request whose start is
/// never seen (tracing stopped, a skipped run) cannot fill it. Named as
/// `tracer_common::names::HELPER_QUEUE`.
#[map]
pub(crate) static HELPER_QUEUE: LruHashMap<u64, Queued> =
    LruHashMap::with_max_entries(HELPER_QUEUE_ENTRIES, 0);

/// Where `workqueue_queue_work` builds a [`Queued`] before it is copied
/// into [`HELPER_QUEUE`]: map memory, not the stack. The 5.10 verifier
/// tells stack slots apart by what was last stored in them (zero or not)
/// at every branch of the task's context reads, and spent 12-15 s of CPU
/// (under emulation; 50 ms on 6.1) on the stack version, a third of every
/// tracer start there. Named as `tracer_common::names::QUEUE_SCRATCH`.
#[map]
pub(crate) static QUEUE_SCRATCH: PerCpuArray<Queued> = PerCpuArray::with_max_entries(1, 0);

/// Whether the work item at `work` (a BTF-typed `work_struct *`) is a
/// helper request.
#[inline(always)]
pub(crate) fn is_helper_work(work: Kptr) -> bool {
    let umh = globals::umh_work_fn();
    umh != 0 && work.read::<u64>(offset!(work_func)) == umh
}

/// The function of the work item the workqueue worker `task` is running
/// (`kthread_data(task)->current_func`), or 0 where this kernel's layout is
/// unknown. The chain goes through `void *` fields, which have no BTF type
/// to check a direct load against, so each step is a probe read.
#[inline(always)]
pub(crate) fn running_func(task: Kptr) -> u64 {
    let (kthread, data, func) = (
        offset!(task_kthread),
        offset!(kthread_data),
        offset!(worker_current_func),
    );
    if kthread == KernelOffsets::ABSENT
        || data == KernelOffsets::ABSENT
        || func == KernelOffsets::ABSENT
    {
        return 0;
    }
    let kthread = Kptr::new(task.read::<usize>(kthread) as *const u8, false);
    if kthread.is_null() {
        return 0;
    }
    let worker = Kptr::new(kthread.read::<usize>(data) as *const u8, false);
    if worker.is_null() {
        return 0;
    }
    worker.read::<u64>(func)
}

/// The `subprocess_info` that holds the work item at `work` (its
/// `container_of`), read through the probe helper: an address computed
/// from a BTF pointer is no longer one the verifier can type.
#[inline(always)]
pub(crate) fn request_of(work: Kptr) -> Kptr {
    let at = work.addr().wrapping_sub(offset!(umh_work) as usize);
    Kptr::new(at as *const u8, false)
}
