//! The live tests: the real tracer on the real kernel, as root (programs
//! loaded, mounts, sysctls, core_pattern). `cargo xtask test` runs this
//! binary on the host and `cargo xtask vm-test` in every kernel of the
//! matrix; plain `cargo test` leaves it out (`test = false` in Cargo.toml):
//! `cargo test -p tracer --test live` runs it by hand.
//!
//! One module per subject (the test names are `module::test`); every test
//! that loads programs or changes global state holds [`common::serial`].

#[path = "../common/mod.rs"]
mod common;
#[path = "../throttle_util/mod.rs"]
mod throttle_util;

mod context;
mod first_screen;
mod follow;
mod hostile;
mod kernels;
mod kthreads;
mod priority;
mod record;
mod requests;
mod stuck;
mod tasks;
mod throttle;
mod trace;
mod truncation;
mod umh;
