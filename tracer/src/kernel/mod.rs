//! Everything that talks to the running kernel: its BTF and the offsets
//! and read modes taken from it, loading and attaching the eBPF programs,
//! and the live session that drains their ring buffers and merges them
//! into time order.

pub mod btf;
pub mod ebpf_log;
pub mod follow;
pub mod ksym;
pub mod loader;
pub mod merge;
pub mod offsets;
pub mod privileges;
pub mod probe;
pub mod requests;
pub mod rings;
pub mod session;
pub mod storm;
pub mod throttle;
pub mod timing;
pub mod verifier;
