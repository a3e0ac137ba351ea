//! Hooks for the bench (`cargo xtask bench`) and the tests, shipped in the
//! product but no part of its interface: hidden, undocumented in `--help`,
//! and free to change with the bench. This module holds those that are
//! code of their own; the others act where they must and are listed here,
//! so this is the one place that says what they all are.
//!
//! Here:
//! - [`storm`]: counts a bench storm's own events (`--bench-comm COMM`).
//! - [`bench_log`]: `tracer bench-log KIND FILE MB`, hostile inputs for the
//!   log reader.
//! - [`bench_table`]: `tracer bench-table N`, the task table's memory at N
//!   tasks.
//! - [`report_peak_rss`]: `TRACER_BENCH_PEAK_RSS` set, the process's peak
//!   RSS at exit (`tracer-peak-rss-kb:` on stderr).
//!
//! Elsewhere:
//! - Hidden options of `trace`/`record`/`ps --live` (`cli::args`):
//!   `--bench-stats` (a `tracer-stats:` JSON line at the end, written by
//!   `live::session`), `--bench-comm COMM` (see `storm`),
//!   `--test-delay-ring N:MS` (`kernel::rings` drains a ring late),
//!   `--refuse-program EVENT,...` (`kernel::loader` loads those programs in
//!   a form the verifier refuses), `--helper-map-entries N` and
//!   `--follow-map-entries N` (shrink the kernel's maps).
//! - Hidden `--proc-root DIR` of `ps` and `tree` (a procfs fixture) and the
//!   hidden `tracer generate man|completions DIR` (packaging, `cli::generate`).
//! - `TRACER_STARTUP_TIMES` (`kernel::timing`): start-up phase times on
//!   stderr.
//! - `TRACER_PROBE_LOG` (`kernel::probe`): the verifier log of a refused
//!   feature probe.
//! - `TRACER_HOST_NAME` and `TRACER_MACHINE_ID` (`log::header::machine`):
//!   the host identity a new log's header records, so that one machine can
//!   record the logs of several "hosts" (fleet-dataset tests).

pub mod bench_log;
pub mod bench_table;
pub mod storm;

/// With `TRACER_BENCH_PEAK_RSS` set, says this image's peak RSS on stderr
/// (for `cargo xtask bench`; a parent's rusage would count the high-water
/// mark of the image exec replaced).
pub fn report_peak_rss() {
    if std::env::var_os("TRACER_BENCH_PEAK_RSS").is_some() {
        crate::say!(
            "tracer-peak-rss-kb: {}",
            crate::model::procfs::peak_rss_kb()
        );
    }
}
