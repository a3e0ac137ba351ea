//! The globals the loader sets before loading: the running kernel's
//! offsets and read modes, the session's filter and options. aya finds
//! each by its symbol, named as in `tracer_common::names::GLOBALS`. They
//! live in `.rodata`, which aya freezes at load, so the verifier knows each
//! as a constant and drops the branches it closes (a session that does
//! not follow pays nothing for following). Each is read with a volatile
//! load, which stops the compiler from folding in the placeholder here.

use tracer_common::{KernelFeatures, KernelFilter, KernelOffsets, ThrottleConfig};

/// The running kernel's offsets (`tracer-common::offsets`). Named as
/// `tracer_common::names::OFFSETS`.
#[unsafe(no_mangle)]
pub(crate) static OFFSETS: KernelOffsets = KernelOffsets::UNSET;

/// One resolved offset. Each is read on its own, straight from the frozen
/// map value, so the verifier knows it as a constant and can check the load
/// it feeds against BTF.
macro_rules! offset {
    ($field:ident) => {
        // SAFETY: OFFSETS is a valid static; the volatile read stops the
        // compiler from folding in the placeholder the loader replaces.
        unsafe { core::ptr::read_volatile(&raw const $crate::globals::OFFSETS.$field) }
    };
}
pub(crate) use offset;

/// Pre-filters chosen on the command line. Named as
/// `tracer_common::names::FILTER`.
#[unsafe(no_mangle)]
static FILTER: KernelFilter = KernelFilter::ALL;

/// The in-kernel filter the loader set.
#[inline(always)]
pub(crate) fn filter() -> KernelFilter {
    // SAFETY: as for `offset!`.
    unsafe { core::ptr::read_volatile(&FILTER) }
}

/// How this kernel must be read. Named as `tracer_common::names::FEATURES`.
#[unsafe(no_mangle)]
static FEATURES: KernelFeatures = KernelFeatures::FAST;

/// The read modes the loader chose.
#[inline(always)]
pub(crate) fn features() -> KernelFeatures {
    // SAFETY: as for `offset!`.
    unsafe { core::ptr::read_volatile(&FEATURES) }
}

/// Unconsumed bytes of a ring past which a submit wakes the reader; the
/// loader sets it from the ring size. Named as
/// `tracer_common::names::WAKEUP_BYTES`.
#[unsafe(no_mangle)]
static WAKEUP_BYTES: u64 = 0;

/// The wakeup threshold (`emit.rs`).
#[inline(always)]
pub(crate) fn wakeup_bytes() -> u64 {
    // SAFETY: as for `offset!`.
    unsafe { core::ptr::read_volatile(&WAKEUP_BYTES) }
}

/// CPUs sharing one ring. Named as `tracer_common::names::CPUS_PER_RING`.
#[unsafe(no_mangle)]
static CPUS_PER_RING: u32 = 1;

/// CPUs per ring (`emit.rs`).
#[inline(always)]
pub(crate) fn cpus_per_ring() -> u32 {
    // SAFETY: as for `offset!`.
    unsafe { core::ptr::read_volatile(&CPUS_PER_RING) }
}

/// `call_usermodehelper_exec_work`'s address; the loader loads no
/// helper-request program when it is unknown. Named as
/// `tracer_common::names::UMH_WORK_FN`.
#[unsafe(no_mangle)]
static UMH_WORK_FN: u64 = 0;

/// The helper requests' work function, 0 when unknown (`requests.rs`).
#[inline(always)]
pub(crate) fn umh_work_fn() -> u64 {
    // SAFETY: as for `offset!`.
    unsafe { core::ptr::read_volatile(&UMH_WORK_FN) }
}

/// `kthread()`'s address; the loader loads no kernel-thread program when
/// it is unknown. Named as `tracer_common::names::KTHREAD_FN`.
#[unsafe(no_mangle)]
static KTHREAD_FN: u64 = 0;

/// The start function of threads kthreadd makes, 0 when unknown
/// (`programs/kthread.rs`).
#[inline(always)]
pub(crate) fn kthread_fn() -> u64 {
    // SAFETY: as for `offset!`.
    unsafe { core::ptr::read_volatile(&KTHREAD_FN) }
}

/// 1 when the session follows. Named as `tracer_common::names::FOLLOW`.
#[unsafe(no_mangle)]
static FOLLOW: u32 = 0;

/// Whether the session follows a command or subtree (`follow.rs`).
#[inline(always)]
pub(crate) fn follow() -> bool {
    // SAFETY: as for `offset!`.
    unsafe { core::ptr::read_volatile(&FOLLOW) != 0 }
}

/// Kinds whose programs can nest here, one bit per kind tag. Named as
/// `tracer_common::names::RESCUED_KINDS`.
#[unsafe(no_mangle)]
static RESCUED_KINDS: u32 = 0;

/// The kinds with rescues (`nesting.rs`).
#[inline(always)]
pub(crate) fn rescued_kinds() -> u32 {
    // SAFETY: as for `offset!`.
    unsafe { core::ptr::read_volatile(&RESCUED_KINDS) }
}

/// The throttle's budgets. Named as `tracer_common::names::THROTTLE_CONFIG`.
#[unsafe(no_mangle)]
static THROTTLE_CONFIG: ThrottleConfig = ThrottleConfig::OFF;

/// The throttle's budgets (`throttle.rs`).
#[inline(always)]
pub(crate) fn throttle_config() -> ThrottleConfig {
    // SAFETY: as for `offset!`.
    unsafe { core::ptr::read_volatile(&THROTTLE_CONFIG) }
}
