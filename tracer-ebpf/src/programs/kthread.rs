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

use aya_ebpf::{macros::btf_tracepoint, programs::BtfTracePointContext};
use tracer_common::{
    pf::{PF_KTHREAD, PF_WQ_WORKER},
    KernelFeatures, KernelOffsets, KthreadEvent, TaskInfo, KSYM_NAME_LEN, KTHREAD_EXACT,
    KTHREAD_KILLED, KTHREAD_NAMED, KTHREAD_NOT_KTHREAD, KTHREAD_NO_WAITER,
};

use crate::{
    emit, follow,
    globals::{self, offset},
    kread::Kptr,
    requests, task,
};

/// kthreadd's pid.
const KTHREADD: u32 = 2;

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
    ev.link = KTHREAD_NAMED;
    ev._pad = 0;
    ev.threadfn_name = [0; KSYM_NAME_LEN];
    ev.requester_func_name = [0; KSYM_NAME_LEN];
    emit::submit(entry);
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
