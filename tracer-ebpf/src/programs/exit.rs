//! `sched_process_exit(struct task_struct *p, bool group_dead)`; before 6.16
//! the tracepoint has no `group_dead` (the loader reads the arity from BTF).

use aya_ebpf::programs::BtfTracePointContext;
use tracer_common::{EventKind, ExitEvent, GROUP_DEAD_UNKNOWN};

use crate::{
    emit, helpers,
    kread::{self, offset, Kptr},
    task,
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
    let features = kread::features();
    kread::refuse_if_asked(&features, EventKind::Exit);
    let p = Kptr::btf(ctx.arg(0));
    let Some(mut entry) = emit::reserve::<ExitEvent>() else {
        return 0;
    };
    let ev = emit::body(&mut entry);
    task::fill(&mut ev.task, p);
    ev.exit_code = p.read(offset!(task_exit_code));
    ev.group_dead = if offset!(exit_has_group_dead) != 0 {
        let group_dead: u64 = ctx.arg(1);
        (group_dead & 1) as u8
    } else {
        GROUP_DEAD_UNKNOWN
    };
    ev._pad = [0; 3];
    // Without group_dead (< 6.16), the leader's exit stands for the group's.
    let group_over = match ev.group_dead {
        GROUP_DEAD_UNKNOWN => ev.task.pid == ev.task.tgid,
        dead => dead != 0,
    };
    if group_over {
        helpers::on_group_exit(ev.task.tgid);
    }
    emit::submit(entry);
    0
}
