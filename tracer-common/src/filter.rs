//! In-kernel pre-filters, set by the loader as one read-only global. They
//! drop only events the userspace task table does not need: fork, exec and
//! exit always flow, since lineage is built from them.

use core::mem::size_of;

use crate::EventKind;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelFilter {
    /// [`EventKind::bit`] set for each kind to emit.
    pub event_mask: u32,
    /// When non-zero, signal and rename events are emitted only if a task
    /// they concern has this pid or tgid.
    pub pid: u32,
    /// [`SIGNALS_ALL`] or [`SIGNALS_KERNEL_SIDE`].
    pub signals: u32,
    pub _pad: u32,
}

/// Every signal event.
pub const SIGNALS_ALL: u32 = 0;
/// Only signals whose target (generate) or taker (deliver) is kernel-side:
/// PF_KTHREAD, an io_uring or other user worker, or a user-mode helper or
/// its descendant. Signals between ordinary user processes are dropped in kernel.
pub const SIGNALS_KERNEL_SIDE: u32 = 1;

impl KernelFilter {
    pub const ALL: KernelFilter = KernelFilter {
        event_mask: u32::MAX,
        pid: 0,
        signals: SIGNALS_ALL,
        _pad: 0,
    };

    pub const fn wants(&self, kind: EventKind) -> bool {
        self.event_mask & kind.bit() != 0
    }
}

const _: () = assert!(size_of::<KernelFilter>() == 16);

#[cfg(feature = "user")]
mod pod {
    // SAFETY: repr(C), only u32 fields, no padding.
    unsafe impl aya::Pod for super::KernelFilter {}
}
