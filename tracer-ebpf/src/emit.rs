//! The ring buffers all events go through, and the per-CPU loss counter.
//!
//! There is one ring per group of `CPUS_PER_RING` CPUs (at most
//! [`MAX_RINGS`]): a program reserves in ring `cpu / CPUS_PER_RING`, so
//! CPUs in different groups never contend on one ring's lock. The rings
//! are separate maps chosen through a `match`, so the verifier sees each
//! reserve against one known map, and each run reserves in exactly one.

use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{bpf_get_smp_processor_id, bpf_ktime_get_boot_ns},
    macros::map,
    maps::{ring_buf::RingBufEntry, PerCpuArray, RingBuf},
};
use tracer_common::{rings::ring_of, EventKind, Header, Record, MAX_RINGS};

use crate::globals;

/// Declares the ring maps, one page each: the loader sizes the ones it
/// uses with `map_max_entries` and leaves the rest at one page. Named as
/// `tracer_common::names::RINGS`.
macro_rules! rings {
    ($($ring:ident),* $(,)?) => {
        $(
            #[map]
            static $ring: RingBuf = RingBuf::with_byte_size(4096, 0);
        )*
    };
}

rings!(
    EVENTS0, EVENTS1, EVENTS2, EVENTS3, EVENTS4, EVENTS5, EVENTS6, EVENTS7, EVENTS8, EVENTS9,
    EVENTS10, EVENTS11, EVENTS12, EVENTS13, EVENTS14, EVENTS15,
);

// The `match` in `reserve_in` has one arm per ring.
const _: () = assert!(MAX_RINGS == 16);

/// Records that did not fit in their ring, per CPU, indexed by kind tag.
/// Named as `tracer_common::names::LOST`.
#[map]
static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(EventKind::COUNTERS, 0);

/// A reserved record, with how its submit must wake the reader.
pub(crate) struct Slot<T: 'static> {
    entry: RingBufEntry<T>,
    wakeup: u64,
    cpu: u32,
}

/// Makes the record visible. Wakeups are batched: the reader polls on a
/// short timer and is woken only when a record takes the unconsumed data
/// of its ring past `WAKEUP_BYTES`. A wakeup per record would cost an
/// interrupt (a VM exit, on a VM) for every event on a quiet machine.
#[inline(always)]
pub(crate) fn submit<T: 'static>(slot: Slot<T>) {
    slot.entry.submit(slot.wakeup);
}

/// Reserves a `T` in `ring` and decides its wakeup from the ring's fill,
/// this record (already reserved) included.
#[inline(always)]
fn reserve_in<T: 'static>(ring: &RingBuf) -> Option<(RingBufEntry<T>, u64)> {
    let entry = ring.reserve::<T>(0)?;
    let threshold = globals::wakeup_bytes();
    let avail = ring.query(BPF_RB_AVAIL_DATA as u64);
    let size = size_of::<T>() as u64 + 8;
    let crossing = avail >= threshold && avail.saturating_sub(size) < threshold;
    let wakeup = if crossing {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    };
    Some((entry, wakeup as u64))
}

/// Reserves a record of type `T` in this CPU's ring, or counts one of its
/// kind as lost. The caller fills the body and submits.
#[inline(always)]
pub(crate) fn reserve<T: Record + 'static>() -> Option<Slot<T>> {
    // SAFETY: a plain helper call with no arguments.
    let cpu = unsafe { bpf_get_smp_processor_id() };
    let per = globals::cpus_per_ring();
    let reserved = match ring_of(cpu, per) {
        0 => reserve_in::<T>(&EVENTS0),
        1 => reserve_in::<T>(&EVENTS1),
        2 => reserve_in::<T>(&EVENTS2),
        3 => reserve_in::<T>(&EVENTS3),
        4 => reserve_in::<T>(&EVENTS4),
        5 => reserve_in::<T>(&EVENTS5),
        6 => reserve_in::<T>(&EVENTS6),
        7 => reserve_in::<T>(&EVENTS7),
        8 => reserve_in::<T>(&EVENTS8),
        9 => reserve_in::<T>(&EVENTS9),
        10 => reserve_in::<T>(&EVENTS10),
        11 => reserve_in::<T>(&EVENTS11),
        12 => reserve_in::<T>(&EVENTS12),
        13 => reserve_in::<T>(&EVENTS13),
        14 => reserve_in::<T>(&EVENTS14),
        _ => reserve_in::<T>(&EVENTS15),
    };
    match reserved {
        Some((entry, wakeup)) => Some(Slot { entry, wakeup, cpu }),
        None => {
            count_lost(T::KIND);
            None
        }
    }
}

/// Reserves a record of type `T` in the first ring, whatever the CPU, or
/// counts it as lost: for the rare records a program writes besides its
/// own (the throttle's), so that the ring choice above is verified once
/// per program, not once per call site (5.10's verifier, which prunes
/// less, took minutes under emulation with three). Userspace merges rings
/// by time, as it does for CPUs sharing a ring.
#[inline(always)]
pub(crate) fn reserve_first<T: Record + 'static>() -> Option<Slot<T>> {
    // SAFETY: a plain helper call with no arguments.
    let cpu = unsafe { bpf_get_smp_processor_id() };
    match reserve_in::<T>(&EVENTS0) {
        Some((entry, wakeup)) => Some(Slot { entry, wakeup, cpu }),
        None => {
            count_lost(T::KIND);
            None
        }
    }
}

#[inline(always)]
fn count_lost(kind: EventKind) {
    if let Some(counter) = LOST.get_ptr_mut(u32::from(kind.tag())) {
        // SAFETY: the pointer comes from the map lookup and is valid for this
        // CPU's slot; the programs run with preemption off, so only another
        // program interrupting this one on the same CPU (signal_generate from
        // an IRQ) could race the add and drop one count: the count is then a
        // lower bound, never wrong the other way. (core's atomic RMW is not
        // available on the bpfel target.)
        unsafe { *counter += 1 };
    }
}

/// The reserved slot as a `T` to fill in place (records are too large for
/// the 512-byte BPF stack), its header already written for a `T::KIND`
/// event happening now: the time is taken after the reserve, so a record
/// that must come first (a fork before the child's events) is also
/// earlier in time. Every other field must be written before submit:
/// ring-buffer memory is not zeroed.
#[inline(always)]
pub(crate) fn body<T: Record>(slot: &mut Slot<T>) -> &mut T {
    // SAFETY: a plain helper call with no arguments.
    let boot_ns = unsafe { bpf_ktime_get_boot_ns() };
    let cpu = slot.cpu;
    // SAFETY: the slot is exclusively ours until submit, is sized and 8-byte
    // aligned for `T` by the reserve, and holds kernel bytes that are
    // initialized memory; `T: Plain` makes any bytes a valid `T`.
    let ev = unsafe { slot.entry.assume_init_mut() };
    *ev.header_mut() = Header::new(T::KIND, cpu, boot_ns);
    crate::throttle::saw(boot_ns);
    ev
}
