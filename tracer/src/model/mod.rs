//! What tracer knows about tasks: records decoded into events, the task
//! table that follows lineage through them, the kernel-thread tests and
//! kinds, procfs snapshots, PF_* flag names, signals, clocks and the time
//! window a reader of a log asks for.

pub mod calendar;
pub mod classify;
pub mod clock;
pub mod context;
pub mod counts;
pub mod decode;
pub mod duration;
pub mod errno;
pub mod event;
pub mod flags;
mod hash;
pub mod kallsyms;
pub mod kthreads;
pub mod procfs;
pub mod signals;
pub mod snapshot;
pub mod task_id;
pub mod tasks;
pub mod text;
pub mod window;
