//! tracer: a live Linux task tracer built on eBPF. The library holds
//! everything; `main.rs` is the command line's entry point, and the fuzz
//! targets (tracer/fuzz) drive the log reader and record decoder.
//!
//! Layers, from the kernel up; each imports only those above it:
//!
//! - [`kernel`]: BTF, offsets, probes, loading the programs, the live
//!   session that drains the ring buffer.
//! - [`model`]: records decoded into events, the task table, kinds and
//!   the kernel-thread tests, procfs snapshots, flags, signals, clocks.
//! - [`log`]: the recording format, written and read back.
//! - [`pipeline`]: decode, annotate, filter and format a stream of records.
//! - [`output`]: one module per format.
//! - [`ship`]: taps that send events on: OTLP logs, Prometheus metrics.
//! - [`commands`]: one module per subcommand, built on the layers above and
//!   never on each other (checked by `tests/structure.rs`).

pub mod cli;
pub mod commands;
pub mod kernel;
pub mod log;
pub mod model;
pub mod output;
pub mod pipeline;
pub mod ship;
