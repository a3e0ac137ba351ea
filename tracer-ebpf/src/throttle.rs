//! Per-source throttling, checked before a record is reserved (see
//! `tracer_common::throttle` for the contract).
//!
//! Hot path, when no source is over budget: two per-CPU array lookups
//! (inlined by the verifier where the kernel can: the source's bucket and
//! the total), two compares and two increments, and a store of the
//! record's time once it is taken ([`saw`]); no clock read. Everything
//! else (the exemptions, the records) runs only once a budget is spent. When the loader turns
//! throttling off, `on` is 0 in frozen `.rodata` and the verifier drops
//! all of it as dead code.
//!
//! Each bucket is this CPU's alone, and programs run with preemption off
//! (or, where tracepoints are preemptible, as a task that the nesting
//! guard keeps from running the same program twice): a nested run on the
//! same CPU (an interrupt) can only lose a count, which makes the budget a
//! little looser, never a drop unsaid.

use aya_ebpf::{helpers::bpf_ktime_get_boot_ns, macros::map, maps::PerCpuArray};
use tracer_common::{
    throttle::{
        bucket_of, THROTTLE_BEGIN, THROTTLE_BUCKETS, THROTTLE_BY_SOURCE, THROTTLE_BY_TOTAL,
        THROTTLE_END, THROTTLE_KINDS, THROTTLE_TOTAL,
    },
    EventKind, ThrottleBucket, ThrottleConfig, ThrottleEvent, CTX_CREDS,
};

use crate::{
    emit,
    globals::{self, offset},
    kread::Kptr,
};

/// Per CPU: the source buckets, then the total. Named as
/// `tracer_common::names::THROTTLE`.
#[map]
static THROTTLE: PerCpuArray<ThrottleBucket> =
    PerCpuArray::with_max_entries(THROTTLE_BUCKETS + 1, 0);

/// The real uid of `task`: the source an event is charged to.
#[inline(always)]
pub(crate) fn uid_of(task: Kptr) -> u32 {
    task.ptr(offset!(task_real_cred)).read(offset!(cred_uid))
}

/// Whether an event of `kind` by `task` (whose real uid is `uid`) may be
/// recorded. `exempt` says whether it is one that is never throttled
/// (asked only once a budget is spent). A refused event is counted in its
/// bucket, and the first refusal of an episode emits its begin record.
///
/// The refusal is a function of its own (a BPF-to-BPF call): inlined,
/// every path through it would reach the rest of the program in a state
/// of its own, and the verifier would walk the rest once per path. The
/// check stays inline: as a call it was verified no faster (6.18's
/// `verified_insns`), and the hot path is spared the call.
#[inline(always)]
pub(crate) fn admits(kind: EventKind, uid: u32, task: Kptr, exempt: impl FnOnce() -> bool) -> bool {
    if globals::throttle_config().on == 0 {
        return true;
    }
    let reason = check(u32::from(kind.tag()), uid);
    if reason == 0 || exempt() {
        return true;
    }
    let comm: [u64; 2] = task.read(offset!(task_comm));
    let sample = Sample {
        start: task.read(offset!(task_start_boottime)),
        pid: task.read(offset!(task_pid)),
        tgid: task.read(offset!(task_tgid)),
        // SAFETY: [u64; 2] and [u8; 16] have the same size, any bits are valid.
        comm: unsafe { core::mem::transmute::<[u64; 2], [u8; 16]>(comm) },
    };
    refuse(u32::from(kind.tag()), uid, reason, &sample);
    false
}

/// What the bucket keeps of the first task whose event it dropped.
#[repr(C)]
struct Sample {
    start: u64,
    pid: u32,
    tgid: u32,
    comm: [u8; 16],
}

/// Counts an event of kind `tag` by `uid` in its bucket and the total:
/// 0 when both budgets allow it, else the `THROTTLE_BY_*` bit of the one
/// spent (not counted then).
#[inline(always)]
fn check(tag: u32, uid: u32) -> u32 {
    let cfg = globals::throttle_config();
    let (Some(b), Some(t)) = (
        THROTTLE.get_ptr_mut(bucket_of(uid, cfg.seed)),
        THROTTLE.get_ptr_mut(THROTTLE_TOTAL),
    ) else {
        return 0;
    };
    // SAFETY: two distinct entries of this CPU's array (a source bucket is
    // below THROTTLE_TOTAL), valid for the program's run; see the module
    // comment on concurrency.
    let (b, t) = unsafe { (&mut *b, &mut *t) };
    // The windows' clock is this CPU's last record or refusal (see
    // [`saw`]): no clock read here. A clock read cost 50 ns an event on
    // this VM (the timekeeper's cache line, written every tick by another
    // CPU), five times the whole check's budget. The time lags by one
    // event at most: a recorded event brings it up to date, and so does
    // a refused one (the refusal reads the clock).
    let now = t.last_ns;
    if now.wrapping_sub(b.window_ns) >= cfg.window_ns {
        roll(b, now, &cfg);
    }
    if now.wrapping_sub(t.window_ns) >= cfg.window_ns {
        t.window_ns = now;
        t.counts[0] = 0;
    }
    // The mask keeps the index in bounds for the verifier.
    let slot = tag as usize & (THROTTLE_KINDS - 1);
    let count = b.counts[slot];
    if count >= cfg.per_source {
        return u32::from(THROTTLE_BY_SOURCE);
    }
    if t.counts[0] >= cfg.total {
        return u32::from(THROTTLE_BY_TOTAL);
    }
    b.counts[slot] = count + 1;
    t.counts[0] += 1;
    0
}

/// Starts a new window; ends the episode if the window that closes had no
/// drop.
#[inline(always)]
fn roll(b: &mut ThrottleBucket, now: u64, cfg: &ThrottleConfig) {
    if b.episode_drops != 0 && b.window_drops == 0 {
        end(b, cfg);
    }
    b.window_ns = now;
    b.counts = [0; THROTTLE_KINDS];
    b.window_drops = 0;
}

/// Counts one refused event of kind `tag` by `uid`; the first of an
/// episode emits its begin record.
#[inline(never)]
fn refuse(tag: u32, uid: u32, reason: u32, sample: &Sample) {
    let cfg = globals::throttle_config();
    let (Some(b), Some(t)) = (
        THROTTLE.get_ptr_mut(bucket_of(uid, cfg.seed)),
        THROTTLE.get_ptr_mut(THROTTLE_TOTAL),
    ) else {
        return;
    };
    // SAFETY: two distinct entries of this CPU's array, valid for the
    // program's run.
    let (b, t) = unsafe { (&mut *b, &mut *t) };
    // SAFETY: a plain helper call with no arguments.
    let boot_ns = unsafe { bpf_ktime_get_boot_ns() };
    // A throttled CPU records nothing: its clock moves on here.
    t.last_ns = boot_ns;
    let slot = tag as usize & (THROTTLE_KINDS - 1);
    if b.episode_drops == 0 {
        b.uid = uid;
        b.first_ns = boot_ns;
        b.other_uids = 0;
        b.reasons = 0;
        b.dropped = [0; THROTTLE_KINDS];
        b.sample_pid = sample.pid;
        b.sample_tgid = sample.tgid;
        b.sample_start = sample.start;
        b.sample_comm = sample.comm;
        begin(b, tag, reason, b.counts[slot], boot_ns, &cfg);
    }
    if uid != b.uid {
        b.other_uids += 1;
    }
    b.reasons |= reason;
    b.last_ns = boot_ns;
    b.window_drops += 1;
    b.episode_drops += 1;
    b.dropped[slot] += 1;
}

/// Notes the time of a record this CPU writes: the windows' clock (see
/// [`check`]). One store when throttling is on, nothing when it is off.
#[inline(always)]
pub(crate) fn saw(boot_ns: u64) {
    if globals::throttle_config().on == 0 {
        return;
    }
    if let Some(t) = THROTTLE.get_ptr_mut(THROTTLE_TOTAL) {
        // SAFETY: this CPU's entry of the array, valid for the program's
        // run.
        unsafe { (*t).last_ns = boot_ns };
    }
}

/// Fields both records share. The sample task is what the bucket kept of
/// it (a whole task snapshot here would add a third to the fork program,
/// which 5.10's verifier would not take).
#[inline(always)]
fn common(ev: &mut ThrottleEvent, b: &ThrottleBucket, cfg: &ThrottleConfig) {
    // SAFETY: TaskInfo is integers and byte arrays; zero is valid.
    ev.task = unsafe { core::mem::zeroed() };
    ev.task.pid = b.sample_pid;
    ev.task.tgid = b.sample_tgid;
    ev.task.start_boottime = b.sample_start;
    ev.task.comm = b.sample_comm;
    ev.task.uid = b.uid;
    ev.task.context = CTX_CREDS;
    ev.uid = b.uid;
    ev.per_source = cfg.per_source;
    ev.total = cfg.total;
    ev.window_ms = (cfg.window_ns / 1_000_000) as u32;
    ev._pad = 0;
    ev._pad2 = 0;
}

/// The record of an episode's first drop.
#[inline(always)]
fn begin(
    b: &ThrottleBucket,
    tag: u32,
    reason: u32,
    recorded: u32,
    boot_ns: u64,
    cfg: &ThrottleConfig,
) {
    let Some(mut entry) = emit::reserve_first::<ThrottleEvent>() else {
        return;
    };
    let ev = emit::body(&mut entry);
    common(ev, b, cfg);
    ev.phase = THROTTLE_BEGIN;
    ev.kind = tag as u8;
    ev.reasons = reason as u8;
    ev.recorded = recorded;
    ev.other_uids = 0;
    ev.first_ns = boot_ns;
    ev.last_ns = boot_ns;
    ev.dropped = [0; THROTTLE_KINDS];
    emit::submit(entry);
}

/// The record of an episode's end, with its counts; clears the episode.
#[inline(always)]
fn end(b: &mut ThrottleBucket, cfg: &ThrottleConfig) {
    if let Some(mut entry) = emit::reserve_first::<ThrottleEvent>() {
        let ev = emit::body(&mut entry);
        common(ev, b, cfg);
        ev.phase = THROTTLE_END;
        ev.kind = 0;
        ev.reasons = b.reasons as u8;
        ev.recorded = 0;
        ev.other_uids = b.other_uids;
        ev.first_ns = b.first_ns;
        ev.last_ns = b.last_ns;
        ev.dropped = b.dropped;
        emit::submit(entry);
    }
    b.episode_drops = 0;
}
