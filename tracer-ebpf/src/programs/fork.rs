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
use tracer_common::{EventKind, ForkEvent};

use crate::{emit, helpers, kread, kread::Kptr, task};

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
    let features = kread::features();
    kread::refuse_if_asked(&features, EventKind::Fork);
    let child = Kptr::btf(ctx.arg(0));
    let clone_flags: u64 = ctx.arg(1);
    let Some(mut entry) = emit::reserve::<ForkEvent>() else {
        return 0;
    };
    let ev = emit::body(&mut entry);
    task::fill(&mut ev.creator, super::current_task(&features));
    task::fill(&mut ev.child, child);
    ev.clone_flags = clone_flags;
    let (creator, child) = (&ev.creator, &ev.child);
    let marked = helpers::on_new_task(creator.tgid, creator.flags, child.tgid, child.flags);
    let child_tgid = child.tgid;
    emit::submit(entry);
    if marked.is_err() {
        // tests/umh.rs looks for this text.
        warn!(
            ctx,
            "helper lineage map full: signals to helper {} may be dropped by the default filter",
            child_tgid
        );
    }
    0
}
