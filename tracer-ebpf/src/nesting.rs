//! Runs the kernel skips, and the rescue programs that take them.
//!
//! Since Linux 6.1 the kernel will not start a tp_btf program on a CPU
//! where that same program is mid-run: it skips the run and counts it in
//! the program's `recursion_misses`. Where tracepoints run with preemption
//! off (before 7.x), only an interrupt could start such a run, and the one
//! tracepoint here that fires in interrupts, `signal_generate`, runs with
//! them off: nothing nests. Where tracepoints run preemptible (7.x), a
//! task preempted mid-program makes the next task's run on that CPU nest:
//! a killed thread group's threads, woken at once on one CPU, preempt each
//! other's exits.
//!
//! So where a kind's program can nest (the loader decides, and sets
//! `RESCUED_KINDS`), its tracepoint gets [`RESCUES`] more programs,
//! attached after the first, at levels 1, 2, ...: the program at level
//! `n` does nothing unless every program below it is mid-run on this CPU,
//! which (with the kernel's check) means each was skipped for this call;
//! then it does the first's work, marked mid-run itself. Elsewhere the
//! first program marks nothing and no rescue runs: the protection costs
//! nothing where nothing nests.
//!
//! One race is left, and rarer than the losses it removes: a task
//! preempted between its first program's end and its rescue's check,
//! while another task is preempted inside the first program, gets its
//! event twice.

use aya_ebpf::{macros::map, maps::PerCpuArray};
use tracer_common::{EventKind, RESCUES};

/// Per CPU, at `level * COUNTERS + tag`: whether that kind's program at
/// that level is mid-run on the CPU. Named as
/// `tracer_common::names::BUSY`.
#[map]
static BUSY: PerCpuArray<u32> =
    PerCpuArray::with_max_entries(EventKind::COUNTERS * (1 + RESCUES as u32), 0);

/// Per CPU, by kind tag: runs a rescue did in place of the first program.
/// The first's skips less these are the events lost. Named as
/// `tracer_common::names::RESCUED`.
#[map]
static RESCUED: PerCpuArray<u64> = PerCpuArray::with_max_entries(EventKind::COUNTERS, 0);

#[inline(always)]
fn slot(kind: EventKind, level: u32) -> u32 {
    level * EventKind::COUNTERS + u32::from(kind.tag())
}

/// Runs `work` marked mid-run at `level` on this CPU.
#[inline(always)]
fn marked(kind: EventKind, level: u32, work: impl FnOnce() -> i32) -> i32 {
    let busy = BUSY.get_ptr_mut(slot(kind, level));
    if let Some(busy) = busy {
        // SAFETY: the pointer is this CPU's slot, from the map lookup. Only
        // this program writes it, and the kernel runs no second copy of it
        // on this CPU meanwhile (a program cannot migrate mid-run), so the
        // set and the clear below cannot interleave with another.
        unsafe { *busy = 1 };
    }
    let ret = work();
    if let Some(busy) = busy {
        // SAFETY: as above.
        unsafe { *busy = 0 };
    }
    ret
}

/// The first program of `kind`: marked mid-run only where rescues follow
/// it. A constant to the verifier, so elsewhere the marking is not even
/// in the program.
#[inline(always)]
pub(crate) fn first(kind: EventKind, work: impl FnOnce() -> i32) -> i32 {
    let rescued = crate::globals::rescued_kinds();
    if rescued & (1 << kind.tag()) == 0 {
        return work();
    }
    marked(kind, 0, work)
}

/// The rescue of `kind` at `level` (1..=RESCUES): runs `work` only when
/// every program below it is mid-run on this CPU, and so was skipped for
/// this call.
#[inline(always)]
pub(crate) fn rescue(kind: EventKind, level: u32, work: impl FnOnce() -> i32) -> i32 {
    let mut below = 0;
    while below < level {
        if BUSY.get(slot(kind, below)).is_none_or(|&busy| busy == 0) {
            return 0;
        }
        below += 1;
    }
    if let Some(count) = RESCUED.get_ptr_mut(u32::from(kind.tag())) {
        // SAFETY: this CPU's slot, from the map lookup. A rescue preempted
        // mid-add by another could drop one count, which overstates the
        // losses by one: it never hides one.
        unsafe { *count += 1 };
    }
    marked(kind, level, work)
}
