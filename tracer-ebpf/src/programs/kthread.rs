//! Who asked for each kernel thread kthreadd makes. A requester
//! (`__kthread_create_on_node()`) queues a `kthread_create_info`, wakes
//! kthreadd and waits on the info's completion; kthreadd forks a task that
//! starts in `kthread(info)`. At that fork (`task_newtask`, in kthreadd's
//! context) the start function and its argument are already saved in the
//! child (`copy_thread()`), so the info is known, and the task waiting on
//! its completion is the requester: an exact link, from tracepoints alone.
//!
//! Attached before the fork program, so its record comes first and the
//! fork's line can say whom the thread is for. Not rescued: a skipped run
//! leaves that thread's requester unknown, which output says.
//!
//! A companion on `sched_waking` ([`kthread_wake`]) times each request
//! (the requester's wakeup of kthreadd) and each new thread's first run.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_boot_ns},
    macros::{btf_tracepoint, map},
    maps::Array,
    programs::BtfTracePointContext,
};
use tracer_common::{
    pf::{PF_KTHREAD, PF_WQ_WORKER},
    KernelFeatures, KernelOffsets, KthreadEvent, TaskInfo, KSYM_NAME_LEN, KTHREAD_EXACT,
    KTHREAD_KILLED, KTHREAD_NAMED, KTHREAD_NOT_KTHREAD, KTHREAD_NO_WAITER, KTHREAD_STARTED,
};

use crate::{
    emit, follow,
    globals::{self, offset},
    kread::Kptr,
    requests, task,
};

/// kthreadd's pid.
const KTHREADD: u32 = 2;

/// The wakeup that last woke kthreadd: a request, queued just before.
#[repr(C)]
#[derive(Clone, Copy)]
struct Woken {
    /// When (boot clock), and by whom (its thread id; 0: taken).
    ns: u64,
    tid: u32,
    _pad: u32,
}

/// One [`Woken`]: kthreadd serves its whole list before it sleeps again,
/// and only a sleeping kthreadd is woken (the kernel fires `sched_waking`
/// only for a task it wakes), so the last wakeup is the one whose request
/// the next fork for that requester serves; a request queued while
/// kthreadd was awake made none, and its time stays unknown.
#[map]
static KTHREADD_WOKEN: Array<Woken> = Array::with_max_entries(1, 0);

#[btf_tracepoint(function = "task_newtask")]
pub(crate) fn kthread_create(ctx: BtfTracePointContext) -> i32 {
    // kthreadd makes few tasks: every other creator leaves here.
    if !super::current_is(KTHREADD) || follow::on() {
        return 0;
    }
    let child = Kptr::btf(ctx.arg(0));
    if child.read::<u32>(offset!(task_flags)) & PF_KTHREAD == 0 {
        return 0;
    }
    let Some(mut entry) = emit::reserve::<KthreadEvent>() else {
        return 0;
    };
    let ev = emit::body(&mut entry);
    task::fill(&mut ev.child, child);
    // SAFETY: TaskInfo is integers and byte arrays; zero is valid.
    ev.requester = unsafe { core::mem::zeroed() };
    ev.threadfn = 0;
    ev.requester_func = 0;
    ev._pad = 0;
    ev.threadfn_name = [0; KSYM_NAME_LEN];
    ev.requester_func_name = [0; KSYM_NAME_LEN];
    ev.link = KTHREAD_NOT_KTHREAD;
    ev.requested_ns = 0;
    let (start, info) = start_of(child);
    if start == globals::kthread_fn() {
        let info = Kptr::new(info as *const u8, false);
        ev.threadfn = info.read(offset!(create_threadfn));
        ev.link = match waiter(info.ptr(offset!(create_done))) {
            Waiter::Killed => KTHREAD_KILLED,
            Waiter::None => KTHREAD_NO_WAITER,
            Waiter::Task(requester) => {
                task::fill(&mut ev.requester, requester);
                if ev.requester.flags & PF_WQ_WORKER != 0 {
                    ev.requester_func = requests::running_func(requester);
                }
                ev.requested_ns = take_request_time(ev.requester.pid);
                KTHREAD_EXACT
            }
        };
    }
    emit::submit(entry);
    0
}

/// Called by the `task_rename` program for the renamed task `t`: where
/// another task names a kernel thread kthreadd made, it is the thread's
/// requester on kernels that name a new thread from its requester once it
/// ran (before about 6.4), so a record says so ([`KTHREAD_NAMED`]).
/// kthreadd's fork may have found that requester not yet waiting: on a
/// CFS kernel, kthreadd woken on the requester's CPU runs first. Rare:
/// the other renames leave at the first test.
#[inline(always)]
pub(crate) fn named(features: &KernelFeatures, t: Kptr) {
    if t.read::<u32>(offset!(task_flags)) & PF_KTHREAD == 0 || super::current_is(KTHREADD) {
        return;
    }
    let pid: u32 = t.read(offset!(task_pid));
    let parent = t.ptr(offset!(task_real_parent));
    if super::current_is(pid)
        || parent.is_null()
        || parent.read::<u32>(offset!(task_tgid)) != KTHREADD
    {
        return;
    }
    // The first ring: a second ring choice in this program would cost the
    // verifier a second walk of it (see `emit::reserve_first`).
    let Some(mut entry) = emit::reserve_first::<KthreadEvent>() else {
        return;
    };
    let ev = emit::body(&mut entry);
    // SAFETY: TaskInfo is integers and byte arrays; zero is valid.
    ev.child = unsafe { core::mem::zeroed::<TaskInfo>() };
    ev.child.pid = pid;
    ev.child.tgid = t.read(offset!(task_tgid));
    ev.child.start_boottime = t.read(offset!(task_start_boottime));
    ev.child.ppid = KTHREADD;
    let requester = super::current_task(features);
    task::fill(&mut ev.requester, requester);
    ev.requester_func = if ev.requester.flags & PF_WQ_WORKER != 0 {
        requests::running_func(requester)
    } else {
        0
    };
    ev.threadfn = 0;
    ev.requested_ns = 0;
    ev.link = KTHREAD_NAMED;
    ev._pad = 0;
    ev.threadfn_name = [0; KSYM_NAME_LEN];
    ev.requester_func_name = [0; KSYM_NAME_LEN];
    emit::submit(entry);
}

/// When `requester` woke kthreadd for the request being served, if that
/// wakeup was its; taken, so a later request of the same task that found
/// kthreadd awake does not reuse it.
#[inline(always)]
fn take_request_time(requester: u32) -> u64 {
    let Some(w) = KTHREADD_WOKEN.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: an array map's value, valid for the program's run; a
    // concurrent writer is a wakeup of kthreadd, which cannot happen while
    // kthreadd runs this fork.
    unsafe {
        if (*w).tid != requester || requester == 0 {
            return 0;
        }
        (*w).tid = 0;
        (*w).ns
    }
}

/// Every wakeup in the system comes here, so most leave after a load or
/// two. Two matter:
///
/// - a wakeup of kthreadd: a request was just queued; its time and the
///   requester are kept for the fork that serves it ([`KTHREADD_WOKEN`]);
/// - the first wakeup a new kernel thread makes: in `kthread()` its first
///   act is to complete its request, which wakes the requester, and it has
///   never been switched out (`nvcsw` and `nivcsw` are zeroed at fork).
///   A record says the thread runs ([`KTHREAD_STARTED`]); userspace takes
///   a child's first such record (an interrupt during that first run
///   could send another) for the time from request to first run.
#[btf_tracepoint(function = "sched_waking")]
pub(crate) fn kthread_wake(ctx: BtfTracePointContext) -> i32 {
    let woken = Kptr::btf(ctx.arg(0));
    if woken.read::<u32>(offset!(task_pid)) == KTHREADD {
        let waker = bpf_get_current_pid_tgid() as u32;
        if waker != KTHREADD {
            if let Some(w) = KTHREADD_WOKEN.get_ptr_mut(0) {
                // SAFETY: an array map's value, valid for the run;
                // kthreadd is woken by one task at a time.
                unsafe {
                    (*w).ns = bpf_ktime_get_boot_ns();
                    (*w).tid = waker;
                }
            }
        }
        return 0;
    }
    let current = super::current_task(&globals::features());
    if current.read::<u32>(offset!(task_flags)) & PF_KTHREAD == 0
        || current.read::<u64>(offset!(task_nvcsw)) != 0
        || current.read::<u64>(offset!(task_nivcsw)) != 0
    {
        return 0;
    }
    let parent = current.ptr(offset!(task_real_parent));
    if parent.is_null() || parent.read::<u32>(offset!(task_tgid)) != KTHREADD || follow::on() {
        return 0;
    }
    let Some(mut entry) = emit::reserve::<KthreadEvent>() else {
        return 0;
    };
    let ev = emit::body(&mut entry);
    task::fill(&mut ev.child, current);
    task::fill(&mut ev.requester, woken);
    ev.threadfn = 0;
    ev.requester_func = 0;
    ev.link = KTHREAD_STARTED;
    ev._pad = 0;
    ev.threadfn_name = [0; KSYM_NAME_LEN];
    ev.requester_func_name = [0; KSYM_NAME_LEN];
    ev.requested_ns = 0;
    emit::submit(entry);
    0
}

/// The start function and argument `copy_thread()` saved in the new task,
/// read through the probe helper (the frame is raw stack memory).
#[inline(always)]
fn start_of(child: Kptr) -> (u64, usize) {
    let frame = offset!(fork_frame);
    let base = if frame == KernelOffsets::ABSENT {
        Kptr::new(child.addr() as *const u8, false)
    } else {
        Kptr::new(child.read::<usize>(frame) as *const u8, false)
    };
    (base.read(offset!(fork_fn)), base.read(offset!(fork_arg)))
}

enum Waiter {
    /// `done` is NULL: the requester was killed and gave up.
    Killed,
    /// Nobody waits (yet, or any more).
    None,
    Task(Kptr),
}

/// The first task waiting on the completion at `done`.
#[inline(always)]
fn waiter(done: Kptr) -> Waiter {
    if done.is_null() {
        return Waiter::Killed;
    }
    let head = done.addr() + offset!(completion_waiters) as usize;
    // `list_head.next` is its first field.
    let first: usize = Kptr::new(head as *const u8, false).read(0);
    if first == 0 || first == head {
        return Waiter::None;
    }
    let queued = Kptr::new(
        first.wrapping_sub(offset!(swait_list) as usize) as *const u8,
        false,
    );
    let task = queued.ptr(offset!(swait_task));
    if task.is_null() {
        Waiter::None
    } else {
        Waiter::Task(task)
    }
}
