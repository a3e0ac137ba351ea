//! Names by which the loader finds the eBPF object's maps and read-only
//! globals. aya finds both by symbol, so each eBPF static is named exactly
//! as here (the loader's tests check the built object has every one).
//! Programs are named by [`crate::EventKind::program`].

/// The ring buffer all records go through (tracer-ebpf `emit.rs`).
pub const EVENTS: &str = "EVENTS";
/// Records lost to a full ring buffer, per CPU, indexed by kind tag
/// (`emit.rs`).
pub const LOST: &str = "LOST";
/// Thread groups that are user-mode helpers or their descendants
/// (`helpers.rs`).
pub const HELPER_TGIDS: &str = "HELPER_TGIDS";

/// The running kernel's [`crate::KernelOffsets`] (`kread.rs`).
pub const OFFSETS: &str = "OFFSETS";
/// The [`crate::KernelFilter`] (`kread.rs`).
pub const FILTER: &str = "FILTER";
/// The [`crate::KernelFeatures`] (`kread.rs`).
pub const FEATURES: &str = "FEATURES";
/// Unconsumed ring bytes past which a submit wakes the reader (`emit.rs`).
pub const WAKEUP_BYTES: &str = "WAKEUP_BYTES";

/// Every map the loader uses.
pub const MAPS: [&str; 3] = [EVENTS, LOST, HELPER_TGIDS];
/// Every global the loader sets (all in `.rodata`, so constants to the
/// verifier).
pub const GLOBALS: [&str; 4] = [OFFSETS, FILTER, FEATURES, WAKEUP_BYTES];
