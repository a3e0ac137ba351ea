//! The ring buffer all events go through, and the per-CPU loss counter.

use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{bpf_get_smp_processor_id, bpf_ktime_get_boot_ns},
    macros::map,
    maps::{ring_buf::RingBufEntry, PerCpuArray, RingBuf},
};
use tracer_common::{EventKind, Header, Record};

/// Default size; the loader sets the real one with `map_max_entries`.
/// Named as `tracer_common::names::EVENTS`.
#[map]
static EVENTS: RingBuf = RingBuf::with_byte_size(1 << 22, 0);

/// Records that did not fit in `EVENTS`, per CPU, indexed by kind tag.
/// Named as `tracer_common::names::LOST`.
#[map]
static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(EventKind::COUNTERS, 0);

/// Unconsumed bytes past which a submit wakes the reader; the loader sets
/// it from the ring size. Named as `tracer_common::names::WAKEUP_BYTES`.
#[unsafe(no_mangle)]
static WAKEUP_BYTES: u64 = 0;

/// Makes the record visible. Wakeups are batched: the reader polls on a
/// short timer and is woken only when a record takes the unconsumed data
/// past `WAKEUP_BYTES`. A wakeup per record would cost an interrupt (a VM
/// exit, on a VM) for every event on a quiet machine.
#[inline(always)]
pub fn submit<T: 'static>(entry: RingBufEntry<T>) {
    // SAFETY: a valid static; volatile keeps the loader's value.
    let threshold = unsafe { core::ptr::read_volatile(&WAKEUP_BYTES) };
    // Unconsumed bytes, this record (already reserved) included.
    let avail = EVENTS.query(BPF_RB_AVAIL_DATA as u64);
    let size = core::mem::size_of::<T>() as u64 + 8;
    let crossing = avail >= threshold && avail.saturating_sub(size) < threshold;
    let flags = if crossing {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    };
    entry.submit(flags as u64);
}

/// Reserves a record of type `T` or counts one of its kind as lost. The
/// caller fills the body and submits.
#[inline(always)]
pub fn reserve<T: Record + 'static>() -> Option<RingBufEntry<T>> {
    let entry = EVENTS.reserve::<T>(0);
    if entry.is_none() {
        count_lost(T::KIND);
    }
    entry
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

/// The common record header for a `kind` event happening now.
#[inline(always)]
fn header(kind: EventKind) -> Header {
    // SAFETY: a plain helper call with no arguments.
    let cpu = unsafe { bpf_get_smp_processor_id() };
    // SAFETY: as above.
    let boot_ns = unsafe { bpf_ktime_get_boot_ns() };
    Header::new(kind, cpu, boot_ns)
}

/// The reserved slot as a `T` to fill in place (records are too large for
/// the 512-byte BPF stack), its header already written for a `T::KIND`
/// event happening now. Every other field must be written before submit:
/// ring-buffer memory is not zeroed.
#[inline(always)]
pub fn body<T: Record>(entry: &mut RingBufEntry<T>) -> &mut T {
    // SAFETY: the slot is exclusively ours until submit, is sized and 8-byte
    // aligned for `T` by the reserve, and holds kernel bytes that are
    // initialized memory; `T: Plain` makes any bytes a valid `T`.
    let ev = unsafe { entry.assume_init_mut() };
    *ev.header_mut() = header(T::KIND);
    ev
}
