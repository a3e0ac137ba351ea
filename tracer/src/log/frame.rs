//! The framing: the preamble, and each frame's head and type.

pub const MAGIC: &[u8; 8] = b"TRACERLG";
/// Bumped whenever the framing or a frame payload changes. Version 2: the
/// header lists events the kernel's refusals left out. Version 3: the header
/// says which file of a rotating recording it starts (`header::Part`).
/// Version 4: the header ends with the machine id (for task ids).
/// Readers take every version from 1 up to this one.
pub const LOG_VERSION: u16 = 4;
/// Magic + version + reserved.
pub const PREAMBLE_LEN: usize = 12;
/// Length + checksum.
pub const FRAME_HEAD: usize = 8;
/// The largest header frame: larger claims are damage, not data (a header
/// of 100,000 tasks is ~15 MB). Other frames are as long as their record.
pub const MAX_HEADER: u32 = 32 << 20;
/// Payload bytes of a lost frame (kind tag, count, time) and an end frame.
pub const LOST_PAYLOAD: usize = 18;
pub const END_PAYLOAD: usize = 8;

/// Frame types. Numbers are part of the format: never reuse one.
pub const FRAME_HEADER: u8 = 1;
pub const FRAME_EVENT: u8 = 2;
pub const FRAME_LOST: u8 = 3;
pub const FRAME_END: u8 = 4;
