//! User-mode helpers, as the kernel side tracks them: a map from thread
//! group to a mark, for helpers and their descendants (see tracer-ebpf's
//! `umh.rs`), seeded by the loader with the helpers already running.
//! Which task gets which mark is [`crate::pf::helper_mark`].

/// Default capacity of the kernel's map of helper thread groups.
pub const HELPER_MAP_ENTRIES: u32 = 16384;

/// Value in the helper map: the thread group is a user-mode helper.
pub const HELPER_MARK: u32 = 1;
/// ... or a descendant of one.
pub const HELPER_CHILD_MARK: u32 = 2;

/// Capacity of the kernel's map of helper requests queued and not yet
/// started: each lives from `queue_work` to a kworker picking it up.
pub const HELPER_QUEUE_ENTRIES: u32 = 1024;
