//! tracer: a live Linux task tracer built on eBPF. The library holds
//! everything; `main.rs` is the command line's entry point, and the fuzz
//! targets (tracer/fuzz) drive the log reader and record decoder.

pub mod bench_table;
pub mod btf;
pub mod classify;
pub mod cli;
pub mod clock;
pub mod decode;
pub mod event;
pub mod filter;
pub mod flags;
pub mod kernel_log;
pub mod loader;
pub mod log;
pub mod offsets;
pub mod output;
pub mod privileges;
pub mod probe;
pub mod procfs;
pub mod ps;
pub mod record;
pub mod replay;
pub mod report;
pub mod session;
pub mod signals;
pub mod tasks;
pub mod trace;
pub mod tree;
pub mod verifier;
