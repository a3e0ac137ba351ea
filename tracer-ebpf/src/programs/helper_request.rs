//! User-mode helper requests: `workqueue_queue_work(req_cpu, pwq, work)`
//! notes who queued one, `workqueue_execute_start(work)` emits it when a
//! kworker starts it, just before that kworker makes the helper.

use aya_ebpf::{
    helpers::bpf_ktime_get_boot_ns, macros::btf_tracepoint, programs::BtfTracePointContext,
};
use tracer_common::{pf::PF_WQ_WORKER, EventKind, HelperRequestEvent, FILENAME_LEN};

use crate::{
    emit, follow,
    globals::{self, offset},
    kread::{self, Kptr},
    requests::{self, Queued, HELPER_QUEUE, QUEUE_SCRATCH},
    task,
};

/// In the requester's context: remember who it is. Not rescued: a skipped
/// run only leaves the request without a requester, which output says.
#[btf_tracepoint(function = "workqueue_queue_work")]
pub(crate) fn workqueue_queue_work(ctx: BtfTracePointContext) -> i32 {
    let work = Kptr::btf(ctx.arg(2));
    if !requests::is_helper_work(work) {
        return 0;
    }
    let features = globals::features();
    let current = super::current_task(&features);
    let Some(queued) = QUEUE_SCRATCH.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: this CPU's slot of a per-CPU array, valid for the run; the
    // program does not nest in itself (a helper request is queued from
    // process context only), so nothing else writes it meanwhile. Every
    // field is written below.
    let queued: &mut Queued = unsafe { &mut *queued };
    task::fill(&mut queued.requester, current);
    // SAFETY: a plain helper call with no arguments.
    queued.queued_ns = unsafe { bpf_ktime_get_boot_ns() };
    queued.requester_func = if queued.requester.flags & PF_WQ_WORKER != 0 {
        requests::running_func(current)
    } else {
        0
    };
    // A full map evicts the oldest request (LRU): never an error worth a
    // message here.
    let _ = HELPER_QUEUE.insert(work.addr() as u64, queued, 0);
    0
}

programs!(
    "workqueue_execute_start",
    EventKind::HelperRequest,
    workqueue_execute_start,
    helper_start,
    1 => workqueue_execute_start_rescue1,
    2 => workqueue_execute_start_rescue2
);

#[inline(always)]
fn helper_start(ctx: &BtfTracePointContext) -> i32 {
    let work = Kptr::btf(ctx.arg(0));
    if !requests::is_helper_work(work) {
        return 0;
    }
    let features = globals::features();
    super::refuse_if_asked(&features, EventKind::HelperRequest);
    let key = work.addr() as u64;
    // Following: only the requests of followed tasks (a request queued
    // before tracing has no requester, and is not theirs to know).
    if follow::on() {
        // SAFETY: only a field is copied out, at once.
        let requester = unsafe { HELPER_QUEUE.get(key) }.map(|q| q.requester.tgid);
        if requester.is_none_or(|tgid| follow::drops(|| tgid)) {
            let _ = HELPER_QUEUE.remove(key);
            return 0;
        }
    }
    let Some(mut entry) = emit::reserve::<HelperRequestEvent>() else {
        let _ = HELPER_QUEUE.remove(key);
        return 0;
    };
    let ev = emit::body(&mut entry);
    task::fill(&mut ev.kworker, super::current_task(&features));
    // Copied field by field into the record: the verifier refuses the
    // partly-initialized stack copy an `Option<Queued>` compiles to.
    // SAFETY: the value is read at once, before the delete below frees it.
    match unsafe { HELPER_QUEUE.get(key) } {
        Some(q) => {
            ev.requester = q.requester;
            ev.queued_ns = q.queued_ns;
            ev.requester_func = q.requester_func;
        }
        None => {
            // SAFETY: TaskInfo is integers and byte arrays; zero is valid.
            ev.requester = unsafe { core::mem::zeroed() };
            ev.queued_ns = 0;
            ev.requester_func = 0;
        }
    }
    let _ = HELPER_QUEUE.remove(key);
    let info = requests::request_of(work);
    ev.wait = info.read::<u32>(offset!(umh_wait));
    let path = info.read::<usize>(offset!(umh_path)) as *const u8;
    let len = kread::kernel_str(path, &mut ev.path);
    ev.path_len = len as u16;
    ev.path_truncated =
        u8::from(len == FILENAME_LEN - 1 && kread::kernel_byte(path, FILENAME_LEN - 1) != 0);
    ev._pad = 0;
    emit::submit(entry);
    0
}
