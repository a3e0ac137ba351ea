//! tracer: a live Linux task tracer built on eBPF.

mod bench_table;
mod btf;
mod classify;
mod cli;
mod clock;
mod decode;
mod event;
mod filter;
mod flags;
mod kernel_log;
mod loader;
mod log;
mod offsets;
mod output;
mod privileges;
mod procfs;
mod ps;
mod record;
mod replay;
mod report;
mod session;
mod signals;
mod tasks;
mod trace;
mod tree;

use std::process::ExitCode;

use clap::Parser as _;

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
            ExitCode::FAILURE
        }
    }
}
