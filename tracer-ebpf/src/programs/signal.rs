//! Signals: generation (in the sender's context) and delivery (in the
//! target's `get_signal()`, so never for a pure kernel thread).

use aya_ebpf::programs::BtfTracePointContext;
use tracer_common::{EventKind, SignalDeliverEvent, SignalGenerateEvent, SIGNALS_KERNEL_SIDE};

use crate::{
    emit, follow,
    globals::{self, offset},
    kread::Kptr,
    task, throttle, umh,
};

/// `SEND_SIG_NOINFO` and `SEND_SIG_PRIV` are the pointer values 0 and 1.
const SEND_SIG_PRIV: usize = 1;
const SI_USER: i32 = 0;
const SI_KERNEL: i32 = 0x80;

/// (errno, code) of a `kernel_siginfo *`, as the tracepoints' own
/// `TP_STORE_SIGINFO` decodes the two special pointer values.
#[inline(always)]
fn siginfo(info: Kptr) -> (i32, i32) {
    match info.addr() {
        0 => (0, SI_USER),
        SEND_SIG_PRIV => (0, SI_KERNEL),
        _ => {
            let (errno, code) = (offset!(siginfo_errno), offset!(siginfo_code));
            if !info.is_direct() && code == errno + 4 {
                // Adjacent, as on every kernel but MIPS's: one probe call
                // for both. (A direct load may not span two fields.)
                let both: [i32; 2] = info.read(errno);
                (both[0], both[1])
            } else {
                (info.read(errno), info.read(code))
            }
        }
    }
}

programs!(
    "signal_generate",
    EventKind::SignalGenerate,
    signal_generate,
    generate,
    1 => signal_generate_rescue1,
    2 => signal_generate_rescue2
);

/// `signal_generate(int sig, struct kernel_siginfo *info,
///                  struct task_struct *task, int group, int result)`.
#[inline(always)]
fn generate(ctx: &BtfTracePointContext) -> i32 {
    let sig: i32 = ctx.arg(0);
    let info: *const u8 = ctx.arg(1);
    let target = Kptr::btf(ctx.arg(2));
    let group: i32 = ctx.arg(3);
    let result: i32 = ctx.arg(4);
    let f = globals::filter();
    if !f.wants(EventKind::SignalGenerate) {
        return 0;
    }
    if f.pid != 0 && !super::current_is(f.pid) && !super::task_is(target, f.pid) {
        return 0;
    }
    if f.signals == SIGNALS_KERNEL_SIDE
        && !umh::kernel_side(
            target.read(offset!(task_flags)),
            target.read(offset!(task_tgid)),
        )
    {
        return 0;
    }
    // Following: signals a followed task sends or is sent.
    if follow::drops_both(super::current_tgid, || target.read(offset!(task_tgid))) {
        return 0;
    }
    // Past the filters (the hot path when filtered stays as it was).
    let features = globals::features();
    super::refuse_if_asked(&features, EventKind::SignalGenerate);
    let sender = super::current_task(&features);
    // Two direct loads; the uid helper would map it through the user
    // namespace with calls, on the hottest path there is.
    let sender_uid = throttle::uid_of(sender);
    // Under the default filter every signal left goes to a kernel-side
    // task, which is never throttled: no check at all.
    if f.signals != SIGNALS_KERNEL_SIDE
        && !throttle::admits(EventKind::SignalGenerate, sender_uid, sender, || {
            umh::kernel_side(
                target.read(offset!(task_flags)),
                target.read(offset!(task_tgid)),
            )
        })
    {
        return 0;
    }
    let Some(mut entry) = emit::reserve::<SignalGenerateEvent>() else {
        return 0;
    };
    let ev = emit::body(&mut entry);
    task::fill(&mut ev.sender, sender);
    // Not on 5.10, whose verifier prunes too little for a second path.
    if features.current_task_btf != 0 && target.addr() == sender.addr() {
        // A signal to itself (raise, abort, a fault, a storm): one task
        // read once.
        ev.target = ev.sender;
    } else {
        task::fill(&mut ev.target, target);
    }
    ev.sig = sig;
    (ev.errno, ev.code) = siginfo(Kptr::new(info, features.generate_siginfo_direct != 0));
    ev.group = group;
    ev.result = result;
    ev.sender_uid = sender_uid;
    emit::submit(entry);
    0
}

programs!(
    "signal_deliver",
    EventKind::SignalDeliver,
    signal_deliver,
    deliver,
    1 => signal_deliver_rescue1,
    2 => signal_deliver_rescue2
);

/// `signal_deliver(int sig, struct kernel_siginfo *info, struct k_sigaction *ka)`.
#[inline(always)]
fn deliver(ctx: &BtfTracePointContext) -> i32 {
    let features = globals::features();
    super::refuse_if_asked(&features, EventKind::SignalDeliver);
    let sig: i32 = ctx.arg(0);
    let info = Kptr::new(ctx.arg(1), features.deliver_siginfo_direct != 0);
    let ka = Kptr::btf(ctx.arg(2));
    let f = globals::filter();
    if !f.wants(EventKind::SignalDeliver) || (f.pid != 0 && !super::current_is(f.pid)) {
        return 0;
    }
    if f.signals == SIGNALS_KERNEL_SIDE {
        let me = super::current_task(&features);
        if !umh::kernel_side(me.read(offset!(task_flags)), super::current_tgid()) {
            return 0;
        }
    }
    if follow::drops(super::current_tgid) {
        return 0;
    }
    let me = super::current_task(&features);
    if f.signals != SIGNALS_KERNEL_SIDE
        && !throttle::admits(EventKind::SignalDeliver, throttle::uid_of(me), me, || {
            umh::kernel_side(me.read(offset!(task_flags)), super::current_tgid())
        })
    {
        return 0;
    }
    let Some(mut entry) = emit::reserve::<SignalDeliverEvent>() else {
        return 0;
    };
    let ev = emit::body(&mut entry);
    task::fill(&mut ev.task, me);
    ev.sig = sig;
    (ev.errno, ev.code) = siginfo(info);
    ev._pad = 0;
    ev.sa_handler = ka.read(offset!(ksigaction_handler));
    ev.sa_flags = ka.read(offset!(ksigaction_flags));
    emit::submit(entry);
    0
}
