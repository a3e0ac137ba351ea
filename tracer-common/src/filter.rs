//! In-kernel pre-filters, set by the loader as one read-only global. They
//! drop only events the userspace task table does not need: fork, exec and
//! exit always flow, since lineage is built from them.

use core::mem::size_of;

use crate::EventKind;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelFilter {
    /// Bit `1 << tag` set for each [`EventKind`] to emit.
    pub event_mask: u32,
    /// When non-zero, signal and rename events are emitted only if a task
    /// they concern has this pid or tgid.
    pub pid: u32,
}

impl KernelFilter {
    pub const ALL: KernelFilter = KernelFilter {
        event_mask: u32::MAX,
        pid: 0,
    };

    pub const fn wants(&self, kind: EventKind) -> bool {
        self.event_mask & (1 << kind as u32) != 0
    }
}

const _: () = assert!(size_of::<KernelFilter>() == 8);

#[cfg(feature = "user")]
mod pod {
    // SAFETY: repr(C), two u32 fields, no padding.
    unsafe impl aya::Pod for super::KernelFilter {}
}
