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
            if e.downcast_ref::<tracer::loader::RequiredMissing>()
                .is_some()
            {
                ExitCode::from(tracer::loader::EXIT_REQUIRED_MISSING)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
