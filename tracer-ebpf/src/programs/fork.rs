//! New tasks, from `task_newtask(struct task_struct *task, u64 clone_flags)`.
//!
//! Why not `sched_process_fork`: it fires only in `kernel_clone()`, so it
//! misses io_uring workers and vhost tasks, which `create_io_thread()` and
//! `vhost_task_create()` make with `copy_process()` alone. It also fires
//! after `wake_up_new_task()`, when the child may already be running on
//! another CPU and reserve its own exec or exit record first. `task_newtask`
//! fires inside `copy_process()` for every new task, with `current` as the
//! creator, before the child can run: every task is seen once, in order.

use aya_ebpf::programs::BtfTracePointContext;
use aya_log_ebpf::warn;
use tracer_common::{pf::PF_KTHREAD, EventKind, ForkEvent};

use crate::{
    emit, follow,
    globals::{self, offset},
    kread::Kptr,
    task, throttle, umh,
};

programs!(
    "task_newtask",
    EventKind::Fork,
    task_newtask,
    new_task,
    1 => task_newtask_rescue1,
    2 => task_newtask_rescue2
);

#[inline(always)]
fn new_task(ctx: &BtfTracePointContext) -> i32 {
    let features = globals::features();
    super::refuse_if_asked(&features, EventKind::Fork);
    let child = Kptr::btf(ctx.arg(0));
    let clone_flags: u64 = ctx.arg(1);
    let creator = super::current_task(&features);
    let (creator_tgid, child_tgid): (u32, u32) = (
        creator.read(offset!(task_tgid)),
        child.read(offset!(task_tgid)),
    );
    // Helper marks are kept whether or not the event passes.
    let marked = umh::on_new_task(
        creator_tgid,
        creator.read(offset!(task_flags)),
        child_tgid,
        child.read(offset!(task_flags)),
    );
    // Following: only the new tasks of followed groups, checked before a
    // record is reserved.
    let followed = follow::on_new_task(creator_tgid, child_tgid);
    if followed == Ok(false) {
        warn_if_full(ctx, marked, Ok(true), child_tgid);
        return 0;
    }
    // Kernel threads' creations and helpers' births (made by a kernel
    // thread, or by a helper or its descendant: the mark is set above) are
    // never throttled.
    if !throttle::admits(EventKind::Fork, throttle::uid_of(creator), creator, || {
        creator.read::<u32>(offset!(task_flags)) & PF_KTHREAD != 0 || umh::is_helper(child_tgid)
    }) {
        warn_if_full(ctx, marked, followed, child_tgid);
        return 0;
    }
    let Some(mut entry) = emit::reserve::<ForkEvent>() else {
        return 0;
    };
    let ev = emit::body(&mut entry);
    task::fill(&mut ev.creator, creator);
    task::fill(&mut ev.child, child);
    ev.clone_flags = clone_flags;
    emit::submit(entry);
    warn_if_full(ctx, marked, followed, child_tgid);
    0
}

/// Says when a map was full, so a new helper or followed group is not
/// marked in kernel.
#[inline(always)]
fn warn_if_full(
    ctx: &BtfTracePointContext,
    marked: Result<(), ()>,
    followed: Result<bool, ()>,
    child_tgid: u32,
) {
    if marked.is_err() {
        // tests/live/umh.rs looks for this text.
        warn!(
            ctx,
            "helper lineage map full: signals to helper {} may be dropped by the default filter",
            child_tgid
        );
    }
    if followed.is_err() {
        warn!(
            ctx,
            "followed map full: thread group {} is not followed", child_tgid
        );
    }
}
