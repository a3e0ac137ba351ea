//! Per-source throttling: the kernel/user contract (see tracer-ebpf
//! `throttle.rs` for the check itself).
//!
//! A source is a real uid (`task->real_cred->uid`, the kuid as the initial
//! user namespace sees it): unforgeable by the task, and one per user.
//! Each CPU keeps [`THROTTLE_BUCKETS`] buckets, a uid's bucket chosen by a
//! keyed hash ([`bucket_of`]), each counting the events it recorded in
//! the current window by kind (a budget per source and kind: a storm of
//! renames does not hide the same user's execs); one more bucket counts
//! every source together. An event of a throttled kind past either budget
//! is counted in its bucket, not recorded. Budgets are per CPU: no cross-CPU atomics on the hot
//! path, so a source spread over N CPUs may record up to N times the
//! budget.

use core::mem::{offset_of, size_of};

use crate::EventKind;

/// Source buckets per CPU. Uids that hash to one bucket share its budget
/// (with 64 active uids, about 4 pairs do); the record counts the drops
/// of uids other than the one that went over.
pub const THROTTLE_BUCKETS: u32 = 512;
/// Index of the bucket that counts all sources together.
pub const THROTTLE_TOTAL: u32 = THROTTLE_BUCKETS;
/// Slots of [`ThrottleBucket::dropped`], indexed by kind tag.
pub const THROTTLE_KINDS: usize = 16;

const _: () = assert!(THROTTLE_BUCKETS.is_power_of_two());
const _: () = assert!(EventKind::COUNTERS as usize <= THROTTLE_KINDS);
const _: () = assert!(THROTTLE_KINDS.is_power_of_two());

/// The budgets, as the loader sets them (a read-only global: with `on` 0
/// the verifier drops the whole check).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// 1 to throttle.
    pub on: u32,
    /// Events of one kind one source bucket may record per window, per CPU.
    pub per_source: u32,
    /// Events all sources together may record per window, per CPU.
    pub total: u32,
    /// Key of the uid hash (random per session, so no one can choose uids
    /// that share a victim's bucket).
    pub seed: u32,
    /// Window length.
    pub window_ns: u64,
}

impl ThrottleConfig {
    pub const OFF: ThrottleConfig = ThrottleConfig {
        on: 0,
        per_source: u32::MAX,
        total: u32::MAX,
        seed: 0,
        window_ns: 1_000_000_000,
    };
}

const _: () = assert!(size_of::<ThrottleConfig>() == 24);

/// One bucket's state on one CPU. The total bucket uses only `window_ns`,
/// `counts[0]` and `last_ns`: there, the boot-clock time of the CPU's last
/// record or refusal, the windows' clock.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ThrottleBucket {
    /// Start of the current window (boot clock, as the total bucket's
    /// `last_ns` had it).
    pub window_ns: u64,
    /// Boot-clock ns of the episode's first and last drop.
    pub first_ns: u64,
    pub last_ns: u64,
    /// The sample task of the episode: the first whose event was dropped.
    pub sample_start: u64,
    /// The uid whose event was dropped first in the episode.
    pub uid: u32,
    /// Drops in the current window, and in the whole episode.
    pub window_drops: u32,
    pub episode_drops: u32,
    /// Drops of uids other than `uid` (sharing the bucket).
    pub other_uids: u32,
    /// `THROTTLE_BY_*` bits: which budgets were exceeded.
    pub reasons: u32,
    pub sample_pid: u32,
    pub sample_tgid: u32,
    pub _pad: u32,
    pub sample_comm: [u8; 16],
    /// Events recorded in the current window, by kind tag (the total
    /// bucket counts all kinds in slot 0).
    pub counts: [u32; THROTTLE_KINDS],
    /// Drops by kind tag in the episode.
    pub dropped: [u32; THROTTLE_KINDS],
}

const _: () = assert!(size_of::<ThrottleBucket>() == 208);

/// [`ThrottleEvent::phase`]: a source went over its budget (the first drop
/// of an episode), or its episode ended (a whole window without a drop,
/// or the session's end).
pub const THROTTLE_BEGIN: u8 = 1;
pub const THROTTLE_END: u8 = 2;

/// [`ThrottleEvent::reasons`] bits.
pub const THROTTLE_BY_SOURCE: u8 = 1;
pub const THROTTLE_BY_TOTAL: u8 = 2;

/// The bucket of `uid`: a keyed multiplicative hash, top bits.
#[inline(always)]
pub const fn bucket_of(uid: u32, seed: u32) -> u32 {
    (uid ^ seed).wrapping_mul(0x9E37_79B1) >> (32 - THROTTLE_BUCKETS.trailing_zeros())
}

/// Whether events of `kind` are ever throttled. Helper requests never are
/// (nor, per event, what the programs exempt: helpers, kernel threads,
/// signals to kernel-side tasks), and throttle records themselves not.
pub const fn throttled_kind(kind: EventKind) -> bool {
    !matches!(kind, EventKind::HelperRequest | EventKind::Throttle)
}

/// A throttle record: when a source goes over budget on a CPU
/// ([`THROTTLE_BEGIN`]) and when that episode ends ([`THROTTLE_END`], with
/// what was dropped).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ThrottleEvent {
    pub header: crate::Header,
    /// Begin: the task whose event was the first dropped. End: the same
    /// task as far as the bucket kept it (pid, tgid, start, comm, uid).
    pub task: crate::TaskInfo,
    /// The uid that went over.
    pub uid: u32,
    pub phase: u8,
    /// Begin: the tag of the kind dropped first; end: 0.
    pub kind: u8,
    /// `THROTTLE_BY_*` bits.
    pub reasons: u8,
    pub _pad: u8,
    /// The budgets, per window per CPU.
    pub per_source: u32,
    pub total: u32,
    pub window_ms: u32,
    /// Begin: events of the kind the bucket recorded in its window before
    /// this drop.
    pub recorded: u32,
    /// End: drops of other uids sharing the bucket.
    pub other_uids: u32,
    pub _pad2: u32,
    /// Begin: the window's start (boot clock) and the drop; end: the first
    /// and last drop.
    pub first_ns: u64,
    pub last_ns: u64,
    /// End: drops by kind tag.
    pub dropped: [u32; THROTTLE_KINDS],
}

const _: () = {
    assert!(size_of::<ThrottleEvent>() == 208);
    assert!(offset_of!(ThrottleEvent, uid) == 96);
    assert!(offset_of!(ThrottleEvent, first_ns) == 128);
};

#[cfg(feature = "user")]
mod pod {
    // SAFETY: repr(C), integer fields only, no padding (sizes asserted).
    unsafe impl aya::Pod for super::ThrottleConfig {}
    // SAFETY: as above: integers and byte arrays, no implicit padding.
    unsafe impl aya::Pod for super::ThrottleBucket {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_in_range_and_spread() {
        let mut used = [false; THROTTLE_BUCKETS as usize];
        for uid in 100_000..100_064 {
            let b = bucket_of(uid, 0x1234_5678);
            assert!(b < THROTTLE_BUCKETS);
            used[b as usize] = true;
        }
        assert!(used.iter().filter(|&&u| u).count() > 48);
        assert!(bucket_of(u32::MAX, u32::MAX) < THROTTLE_BUCKETS);
    }

    #[test]
    fn helper_requests_are_never_throttled() {
        assert!(!throttled_kind(EventKind::HelperRequest));
        assert!(throttled_kind(EventKind::Rename));
    }
}
