//! The live tests that run on the host only, as root: `cargo xtask test`
//! runs them, the kernel matrix does not (`cargo test -p tracer --test
//! live_host` by hand). What they test is userspace on the real event
//! stream, which the matrix does not change: the command line (`args`),
//! the text output's layout and escaping (`text_output`, `escape`),
//! failing output streams (`failing_streams`), all of which passed on
//! every kernel when they ran there (about 90 s a kernel under TCG). Or
//! they need what guests lack:
//! the host's Python decoders and Prometheus (`otlp`, `metrics`,
//! `perfetto`, `recipes`), exec storms that cost minutes a kernel under
//! TCG (`rotate`, `throttle_host`: a million renames; `throttle` in
//! `live` has the matrix's short variant), tmpfs mounts and storms as
//! uid 65534 (`record_dir_hostile`), the README's example run for real
//! (`readme`).
//!
//! One module per subject (the test names are `module::test`); every test
//! that loads programs or changes global state holds [`common::serial`].

#[path = "../common/mod.rs"]
mod common;
#[path = "../throttle_util/mod.rs"]
mod throttle_util;
#[path = "../two_days/mod.rs"]
mod two_days;

mod args;
mod escape;
mod failing_streams;
mod metrics;
mod otlp;
mod parquet;
mod perfetto;
mod readme;
mod recipes;
mod record_dir_hostile;
mod rotate;
mod task_ids;
mod text_output;
mod throttle_host;
mod top;
