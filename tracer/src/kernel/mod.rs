//! Everything that talks to the running kernel: its BTF and the offsets
//! and read modes taken from it, loading and attaching the eBPF programs,
//! their maps (the follow map, loss counters) and their ring buffers. What
//! runs a session on top of them is the `live` layer.

pub mod btf;
pub mod counters;
pub mod ebpf_log;
pub mod follow_map;
pub mod ksym;
pub mod kthreads;
pub mod loader;
pub mod offsets;
pub mod privileges;
pub mod probe;
pub mod requests;
pub mod rings;
pub mod throttle;
pub mod timing;
pub mod verifier;
