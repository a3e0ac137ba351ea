//! A live session, built on the `kernel` layer: attach, snapshot, pump the
//! ring buffers' records in time order (`merge`) into a sink
//! (`pipeline::sink`), follow a command or subtree and end with it
//! (`follow`), and say requesters stuck on a helper (`stuck`).

pub mod follow;
pub mod merge;
pub mod session;
pub mod stuck;
