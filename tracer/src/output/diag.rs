//! Diagnostics on stderr that never panic. `eprintln!` panics when stderr
//! fails (`2>/dev/full`, a closed pipe), which would stop a recording over a
//! warning. A failure is remembered instead, and makes the exit status
//! non-zero (`main.rs`).

use std::{
    fmt,
    io::Write as _,
    sync::atomic::{AtomicBool, Ordering},
};

static FAILED: AtomicBool = AtomicBool::new(false);

/// Writes one line to stderr; see [`crate::say!`].
pub fn line(args: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    if writeln!(err, "{args}").and_then(|()| err.flush()).is_err() {
        FAILED.store(true, Ordering::Relaxed);
    }
}

/// Whether a diagnostic could not be written.
pub fn failed() -> bool {
    FAILED.load(Ordering::Relaxed)
}

/// `eprintln!` for tracer: one line to stderr, never a panic.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::diag::line(format_args!($($arg)*))
    };
}
