//! `sched_process_exit(struct task_struct *p, bool group_dead)`; before 6.16
//! the tracepoint has no `group_dead` (the loader reads the arity from BTF).

use aya_ebpf::programs::BtfTracePointContext;
use tracer_common::{pf::PF_KTHREAD, EventKind, ExitEvent, KernelOffsets, GROUP_DEAD_UNKNOWN};

use crate::{
    emit, follow,
    globals::{self, offset},
    kread::Kptr,
    task, throttle, umh,
};

programs!(
    "sched_process_exit",
    EventKind::Exit,
    sched_process_exit,
    exit,
    1 => sched_process_exit_rescue1,
    2 => sched_process_exit_rescue2
);

#[inline(always)]
fn exit(ctx: &BtfTracePointContext) -> i32 {
    let features = globals::features();
    super::refuse_if_asked(&features, EventKind::Exit);
    let p = Kptr::btf(ctx.arg(0));
    let (pid, tgid): (u32, u32) = (p.read(offset!(task_pid)), p.read(offset!(task_tgid)));
    let group_dead = if offset!(exit_has_group_dead) != 0 {
        let group_dead: u64 = ctx.arg(1);
        (group_dead & 1) as u8
    } else {
        GROUP_DEAD_UNKNOWN
    };
    // Without group_dead (< 6.16), the leader's exit stands for the
    // group's. Done whether or not the event passes, so a following
    // session still forgets helpers.
    let helper_gone = match group_dead {
        GROUP_DEAD_UNKNOWN => pid == tgid,
        dead => dead != 0,
    } && umh::on_group_exit(tgid);
    if follow::on() {
        // Before 6.16, the group's live-thread count, which every exiting
        // thread drops before this tracepoint, says whether it is over (a
        // leader may end before its threads).
        let group_over = match group_dead {
            GROUP_DEAD_UNKNOWN => {
                let (signal, live) = (offset!(task_signal), offset!(signal_live));
                if signal == KernelOffsets::ABSENT || live == KernelOffsets::ABSENT {
                    pid == tgid
                } else {
                    p.ptr(signal).read::<i32>(live) <= 0
                }
            }
            dead => dead != 0,
        };
        if !follow::on_exit(tgid, group_over) {
            return 0;
        }
    }
    // Kernel threads' and helpers' exits (and their children's) are never
    // throttled.
    if !throttle::admits(EventKind::Exit, throttle::uid_of(p), p, || {
        helper_gone || p.read::<u32>(offset!(task_flags)) & PF_KTHREAD != 0 || umh::is_helper(tgid)
    }) {
        return 0;
    }
    let Some(mut entry) = emit::reserve::<ExitEvent>() else {
        return 0;
    };
    let ev = emit::body(&mut entry);
    task::fill(&mut ev.task, p);
    ev.exit_code = p.read(offset!(task_exit_code));
    ev.group_dead = group_dead;
    ev._pad = [0; 3];
    emit::submit(entry);
    0
}
