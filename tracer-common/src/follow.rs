//! Following a command or a subtree (`tracer trace -- CMD`, `--follow
//! PID`): the kernel keeps the followed thread groups in a map (see
//! tracer-ebpf's `follow.rs`), and every program drops the events of the
//! others before they cost a record.

/// Default capacity of the kernel's map of followed thread groups.
pub const FOLLOW_MAP_ENTRIES: u32 = 16384;

/// Value in the followed map: the thread group is followed and has live
/// threads.
pub const FOLLOW_LIVE: u32 = 1;
/// ... or every thread has begun its exit: the group stays in the map, so
/// the exits of its last threads still pass, until userspace sweeps it (a
/// second later) or a new thread group reuses the number.
pub const FOLLOW_DEAD: u32 = 2;
