//! User-mode helpers, as the kernel side tracks them: a map from thread
//! group to a mark, for helpers and their descendants (see tracer-ebpf's
//! `helpers.rs`), seeded by the loader with the helpers already running.
//! Which task gets which mark is [`crate::pf::helper_mark`].

/// Default capacity of the kernel's map of helper thread groups.
pub const HELPER_MAP_ENTRIES: u32 = 16384;

/// Value in the helper map: the thread group is a user-mode helper.
pub const HELPER_MARK: u32 = 1;
/// ... or a descendant of one.
pub const HELPER_CHILD_MARK: u32 = 2;

/// Old name of [`HELPER_MARK`], kept until the userspace task table moves
/// to the new one.
#[doc(hidden)]
pub const LINEAGE_UMH: u32 = HELPER_MARK;
/// Old name of [`HELPER_CHILD_MARK`], likewise.
#[doc(hidden)]
pub const LINEAGE_UMH_CHILD: u32 = HELPER_CHILD_MARK;
