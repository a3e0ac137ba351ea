//! tracer: a live Linux task tracer built on eBPF. The library holds
//! everything; `main.rs` is the command line's entry point, and the fuzz
//! targets (tracer/fuzz) drive the log reader and record decoder.
//!
//! Layers, from the bottom up; each imports only those listed before it
//! (checked, with no import cycle among files, by `tests/structure/`):
//!
//! - [`model`]: records decoded into events, the task table, kinds and
//!   the kernel-thread tests, procfs snapshots, flags, signals, clocks.
//! - [`output`]: one module per format, and `diag` (`say!`, usage errors),
//!   which every layer above uses.
//! - [`log`]: the recording format, written and read back.
//! - [`kernel`]: what talks to the kernel: BTF, offsets, probes, loading
//!   the programs, their maps and ring buffers.
//! - [`pipeline`]: decode, annotate, filter and format a stream of
//!   records; `sink`, the contract a live session pumps records into.
//! - [`dev`]: the bench's and the tests' hooks, all listed there.
//! - [`live`]: a live session: attach, merge the rings in time order, feed
//!   a sink, follow a command or subtree.
//! - [`ship`]: taps that send events on: OTLP logs, Prometheus metrics.
//! - [`commands`]: one module per subcommand, built on the layers before
//!   and never on each other.
//! - [`cli`]: the command line's definition, checks and dispatch to the
//!   commands; man pages and completions.

pub mod cli;
pub mod commands;
pub mod dev;
pub mod kernel;
pub mod live;
pub mod log;
pub mod model;
pub mod output;
pub mod pipeline;
pub mod ship;
