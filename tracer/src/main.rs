//! tracer: a live Linux task tracer built on eBPF.

use std::{
    process::ExitCode,
    sync::atomic::{AtomicU8, Ordering},
};

use tracer::{
    cli::{self, Command},
    kernel::loader,
    live::session,
    log::{reader, trust},
    output::diag,
    say,
};

fn main() -> ExitCode {
    tracer::kernel::timing::begin();
    let closed = closed_std_fds();
    let cli = cli::Cli::parse_checked();
    if matches!(cli.command, Command::Trace { .. } | Command::Record { .. })
        || matches!(&cli.command, Command::Top { files, .. } if files.is_empty())
    {
        session::hold_stop_signals();
    }
    if closed[1] && !matches!(cli.command, Command::Record { .. }) {
        say!("tracer: error: stdout is closed; redirect it to a file or /dev/null instead");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say!("tracer: error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(cli::run(cli));
    tracer::dev::report_peak_rss();
    match result {
        // Output is done, but a diagnostic could not be written.
        Ok(()) if diag::failed() => ExitCode::FAILURE,
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say!("tracer: error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// Bit N set: fd N was closed when the process started.
static CLOSED_AT_START: AtomicU8 = AtomicU8::new(0);

/// Runs before Rust's runtime starts, which puts /dev/null on closed
/// standard fds (so the first file or BPF map tracer opens cannot take the
/// number) and leaves no trace of which were closed: note them first.
extern "C" fn note_closed_std_fds() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only queries the descriptor table.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            CLOSED_AT_START.fetch_or(1 << fd, Ordering::Relaxed);
        }
    }
}

#[used]
#[link_section = ".init_array"]
static NOTE_CLOSED_STD_FDS: extern "C" fn() = note_closed_std_fds;

/// Which of fds 0, 1 and 2 were closed at start.
fn closed_std_fds() -> [bool; 3] {
    let bits = CLOSED_AT_START.load(Ordering::Relaxed);
    [bits & 1 != 0, bits & 2 != 0, bits & 4 != 0]
}

/// The exit codes of docs/reference.md: 2 for a usage error, 3 and 4 for the errors
/// scripts branch on.
fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<loader::RequiredMissing>().is_some() {
        loader::EXIT_REQUIRED_MISSING
    } else if e.downcast_ref::<reader::DamagedInput>().is_some() {
        reader::EXIT_DAMAGED
    } else if e.downcast_ref::<trust::UnsafeDir>().is_some() {
        trust::EXIT_UNSAFE
    } else if e.downcast_ref::<diag::UsageError>().is_some() {
        diag::EXIT_USAGE
    } else {
        1
    }
}
