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

/// A command-line value refused once tracer has looked at the system (a
/// pid that names no process): a usage error, exiting [`EXIT_USAGE`] as
/// the values clap refuses do.
#[derive(Debug)]
pub struct UsageError(pub String);

/// The status of a usage error, clap's.
pub const EXIT_USAGE: u8 = 2;

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// `eprintln!` for tracer: one line to stderr, never a panic.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::diag::line(format_args!($($arg)*))
    };
}
