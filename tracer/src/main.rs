//! tracer: a live Linux task tracer built on eBPF.

use std::process::ExitCode;

use clap::Parser as _;
use tracer::cli;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tracer: error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tracer: error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// The README's exit codes: 3 and 4 for the errors scripts branch on.
fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<tracer::kernel::loader::RequiredMissing>()
        .is_some()
    {
        tracer::kernel::loader::EXIT_REQUIRED_MISSING
    } else if e
        .downcast_ref::<tracer::log::reader::DamagedInput>()
        .is_some()
    {
        tracer::log::reader::EXIT_DAMAGED
    } else {
        1
    }
}
