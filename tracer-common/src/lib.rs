//! Types shared by the eBPF programs and the userspace loader.
//!
//! Every record that crosses the ring buffer starts with a [`Header`] carrying
//! the format version and a numbered kind tag, followed by a fixed-size body.
//! Layouts are `#[repr(C)]`, hold only integers and byte arrays (any bit
//! pattern is a valid value), and are pinned by compile-time asserts so that
//! the kernel and userspace can never silently disagree.
#![no_std]

pub mod event;
pub mod features;
pub mod filter;
pub mod follow;
pub mod kthread;
pub mod names;
pub mod offsets;
pub mod pf;
pub mod rings;
pub mod throttle;
pub mod umh;

pub use event::*;
pub use features::KernelFeatures;
pub use filter::*;
pub use follow::*;
pub use kthread::*;
pub use offsets::KernelOffsets;
pub use rings::{MAX_RINGS, MIN_RING_BYTES};
pub use throttle::{ThrottleBucket, ThrottleConfig, ThrottleEvent};
pub use umh::*;
