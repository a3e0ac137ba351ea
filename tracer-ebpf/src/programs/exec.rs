//! `sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)`.
//! Runs in the exec'ing task after the new image is installed, so `p->mm`
//! is the new address space and its argument block is readable.

use aya_ebpf::programs::BtfTracePointContext;
use tracer_common::{EventKind, ExecEvent, FILENAME_LEN};

use crate::{
    emit, follow,
    globals::{self, offset},
    kread::{self, Kptr},
    task, throttle, umh,
};

programs!(
    "sched_process_exec",
    EventKind::Exec,
    sched_process_exec,
    exec,
    1 => sched_process_exec_rescue1,
    2 => sched_process_exec_rescue2
);

#[inline(always)]
fn exec(ctx: &BtfTracePointContext) -> i32 {
    let features = globals::features();
    super::refuse_if_asked(&features, EventKind::Exec);
    let p = Kptr::btf(ctx.arg(0));
    let old_pid: i32 = ctx.arg(1);
    let bprm = Kptr::btf(ctx.arg(2));
    if follow::drops(|| p.read(offset!(task_tgid))) {
        return 0;
    }
    // Helpers' execs, and their children's, are never throttled.
    if !throttle::admits(EventKind::Exec, throttle::uid_of(p), p, || {
        umh::is_helper(p.read(offset!(task_tgid)))
    }) {
        return 0;
    }
    let Some(mut entry) = emit::reserve::<ExecEvent>() else {
        return 0;
    };
    let ev = emit::body(&mut entry);
    task::fill(&mut ev.task, p);
    ev.old_pid = old_pid as u32;

    // The string reads fill only what they copy; the rest of both arrays is
    // left as it was (clearing 512 bytes of ring memory per exec doubled this
    // program's cost). Readers use the lengths, and the recorder clears the
    // tails before anything reaches a file.
    let filename = bprm.read::<usize>(offset!(binprm_filename)) as *const u8;
    let len = kread::kernel_str(filename, &mut ev.filename);
    ev.filename_len = len as u16;
    // A full buffer was cut unless the path ends exactly there.
    ev.filename_truncated =
        u8::from(len == FILENAME_LEN - 1 && kread::kernel_byte(filename, FILENAME_LEN - 1) != 0);

    let mm = p.ptr(offset!(task_mm));
    let start: u64 = mm.read(offset!(mm_arg_start));
    let end: u64 = mm.read(offset!(mm_arg_end));
    let total = end.saturating_sub(start);
    ev.args_len = kread::user_bytes(start, total, &mut ev.args) as u16;
    ev.args_total = total.min(u64::from(u32::MAX)) as u32;
    ev.argc = bprm.read::<i32>(offset!(binprm_argc)) as u32;
    ev._pad = [0; 7];
    emit::submit(entry);
    0
}
