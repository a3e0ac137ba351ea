//! Command-line interface.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};

use crate::{loader::DEFAULT_BTF, output::Format, trace};

/// Live Linux task tracer: kernel threads, user-mode helpers and the signals
/// they get, from eBPF.
#[derive(Parser, Debug)]
#[command(name = "tracer", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print fork, exec, exit, rename and signal events live.
    Trace {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Kernel BTF to resolve structure offsets from.
        #[arg(long, value_name = "FILE", default_value = DEFAULT_BTF)]
        btf: PathBuf,
        /// Ring buffer size: a power of two of at least one page, e.g. 64K, 4M.
        #[arg(long, value_name = "SIZE", default_value = "4M", value_parser = parse_ring_size)]
        ring_buffer_size: u32,
    },
}

/// `4096`, `64K`, `4M`: a power-of-two byte count of at least one page.
fn parse_ring_size(s: &str) -> Result<u32> {
    let (digits, mult) = match s.trim().to_ascii_uppercase() {
        t if t.ends_with('K') => (t[..t.len() - 1].to_string(), 1u64 << 10),
        t if t.ends_with('M') => (t[..t.len() - 1].to_string(), 1 << 20),
        t if t.ends_with('G') => (t[..t.len() - 1].to_string(), 1 << 30),
        t => (t, 1),
    };
    let Ok(n) = digits.parse::<u64>() else {
        bail!("`{s}` is not a size (examples: 4096, 64K, 4M)");
    };
    let bytes = n.saturating_mul(mult);
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    if !bytes.is_power_of_two() || bytes < page || bytes > 1 << 30 {
        bail!("the ring buffer size must be a power of two from {page} bytes to 1G, not {s}");
    }
    Ok(bytes as u32)
}

pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Trace {
            format,
            btf,
            ring_buffer_size,
        } => {
            trace::run(trace::TraceOptions {
                format,
                btf,
                ring_bytes: ring_buffer_size,
            })
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ring_sizes() {
        assert_eq!(parse_ring_size("4096").unwrap(), 4096);
        assert_eq!(parse_ring_size("64k").unwrap(), 65536);
        assert_eq!(parse_ring_size("4M").unwrap(), 4 << 20);
        assert!(parse_ring_size("3000").is_err());
        assert!(parse_ring_size("12K").is_err());
        assert!(parse_ring_size("lots").is_err());
        assert!(parse_ring_size("2G").is_err());
    }
}
