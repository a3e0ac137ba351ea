//! `task_rename(struct task_struct *task, const char *comm)`: comm changes
//! (prctl(PR_SET_NAME), writes to /proc/PID/comm, kthread naming), fired
//! before the new name is copied in. The rename every exec does is skipped:
//! the exec event already carries the new name.

use aya_ebpf::programs::BtfTracePointContext;
use tracer_common::{pf::PF_KTHREAD, EventKind, KernelOffsets, RenameEvent};

use crate::{
    emit, follow,
    globals::{self, offset},
    kread::{self, Kptr},
    task, throttle, umh,
};

programs!(
    "task_rename",
    EventKind::Rename,
    task_rename,
    rename,
    1 => task_rename_rescue1,
    2 => task_rename_rescue2
);

#[inline(always)]
fn rename(ctx: &BtfTracePointContext) -> i32 {
    let features = globals::features();
    super::refuse_if_asked(&features, EventKind::Rename);
    let t = Kptr::btf(ctx.arg(0));
    let comm: *const u8 = ctx.arg(1);
    let f = globals::filter();
    if !f.wants(EventKind::Rename) || (f.pid != 0 && !super::task_is(t, f.pid)) {
        return 0;
    }
    if follow::drops(|| t.read(offset!(task_tgid))) {
        return 0;
    }
    let in_execve = offset!(task_in_execve_bit);
    if in_execve != KernelOffsets::ABSENT && kread::bit(t, in_execve) {
        return 0;
    }
    super::kthread::named(&features, t);
    // The task renamed is the caller's own thread group (kthreads are
    // named by their creator: never throttled, like helpers).
    if !throttle::admits(EventKind::Rename, throttle::uid_of(t), t, || {
        t.read::<u32>(offset!(task_flags)) & PF_KTHREAD != 0
            || umh::is_helper(t.read(offset!(task_tgid)))
    }) {
        return 0;
    }
    let Some(mut entry) = emit::reserve::<RenameEvent>() else {
        return 0;
    };
    let ev = emit::body(&mut entry);
    task::fill(&mut ev.task, t);
    ev.new_comm = [0; 16];
    kread::kernel_str(comm, &mut ev.new_comm);
    emit::submit(entry);
    0
}
