//! What the tap counts and the server reads: atomics, one writer.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

use tracer_common::{EventKind, MAX_RINGS};

use crate::model::{classify::Kind, signals::GenerateResult};

/// Event kinds, by tag.
pub(super) const TAGS: usize = EventKind::COUNTERS as usize;
pub(super) const KINDS: usize = Kind::ALL.len();
/// Signal numbers an exit status can carry (7 bits).
pub(super) const SIGNALS: usize = 128;
/// `signal_generate` results: the five the kernel names, and any other.
pub(super) const RESULTS: [&str; 6] = [
    "delivered",
    "ignored",
    "already_pending",
    "overflow_fail",
    "lose_info",
    "unknown",
];

/// Everything counted, written by the tap alone.
pub(super) struct Counts {
    pub(super) events: [AtomicU64; TAGS],
    pub(super) lost: [AtomicU64; TAGS],
    /// Events dropped by the per-source throttle, by kind (no uid label:
    /// label values stay bounded).
    pub(super) throttled: [AtomicU64; TAGS],
    /// Lost records of a kind this build does not know.
    pub(super) lost_unknown: AtomicU64,
    /// Events `record`'s decode thread dropped (the log has them).
    pub(super) decode_dropped: AtomicU64,
    pub(super) helpers_started: AtomicU64,
    pub(super) helpers_failed: AtomicU64,
    /// Helpers killed, by signal number.
    pub(super) helpers_killed: [AtomicU64; SIGNALS],
    /// Signals generated for kernel-side tasks, by result and target kind.
    pub(super) kernel_signals: [[AtomicU64; KINDS]; RESULTS.len()],
    pub(super) kthreads_created: AtomicU64,
    /// Tasks in the table by kind, at the last tick.
    pub(super) tasks: [AtomicU64; KINDS],
    /// The table has been counted once: until then the gauge is absent,
    /// not zero.
    pub(super) tasks_counted: AtomicBool,
    /// Per ring: its size and the most bytes it held in the last second.
    pub(super) ring_size: [AtomicU64; MAX_RINGS],
    pub(super) ring_peak: [AtomicU64; MAX_RINGS],
    pub(super) rings: AtomicUsize,
}

impl Counts {
    pub(super) fn new() -> Counts {
        fn zeros<const N: usize>() -> [AtomicU64; N] {
            std::array::from_fn(|_| AtomicU64::new(0))
        }
        Counts {
            events: zeros(),
            lost: zeros(),
            throttled: zeros(),
            lost_unknown: AtomicU64::new(0),
            decode_dropped: AtomicU64::new(0),
            helpers_started: AtomicU64::new(0),
            helpers_failed: AtomicU64::new(0),
            helpers_killed: zeros(),
            kernel_signals: std::array::from_fn(|_| zeros()),
            kthreads_created: AtomicU64::new(0),
            tasks: zeros(),
            tasks_counted: AtomicBool::new(false),
            ring_size: zeros(),
            ring_peak: zeros(),
            rings: AtomicUsize::new(0),
        }
    }
}

/// Adds `n` to a count that only the tap writes: a plain load and store,
/// no locked read-modify-write; the server thread reads it whole.
#[inline]
pub(super) fn bump(count: &AtomicU64, n: u64) {
    count.store(count.load(Relaxed).saturating_add(n), Relaxed);
}

pub(super) fn result_index(r: GenerateResult) -> usize {
    match r {
        GenerateResult::Delivered => 0,
        GenerateResult::Ignored => 1,
        GenerateResult::AlreadyPending => 2,
        GenerateResult::OverflowFail => 3,
        GenerateResult::LoseInfo => 4,
        GenerateResult::Unknown(_) => 5,
    }
}
