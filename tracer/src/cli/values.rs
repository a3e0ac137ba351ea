//! Parsers of option values (sizes, durations, ring layouts, names): a
//! refused value is one sentence, which clap shows as a usage error.

use std::time::Duration;

use anyhow::{bail, Result};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use tracer_common::EventKind;

use crate::{
    kernel::rings::DelayRing,
    model::{classify::Kind, duration},
    pipeline::filter::EventSel,
};

/// `4096`, `64K`, `100M`, `2G`: a byte count (public for the fuzz
/// targets, as are the other parsers of option values).
pub fn parse_size(s: &str) -> Result<u64> {
    let (digits, mult) = match s.trim().to_ascii_uppercase() {
        t if t.ends_with('K') => (t[..t.len() - 1].to_string(), 1u64 << 10),
        t if t.ends_with('M') => (t[..t.len() - 1].to_string(), 1 << 20),
        t if t.ends_with('G') => (t[..t.len() - 1].to_string(), 1 << 30),
        t => (t, 1),
    };
    match digits.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n.saturating_mul(mult)),
        _ => bail!("`{s}` is not a size (examples: 4096, 64K, 100M, 2G)"),
    }
}

/// A length of time: `500ms`, `30s`, `10m`, `1h30m`, `2d`, or `0` (one
/// parser for every option and offset: [`duration::parse`]).
pub fn parse_duration(s: &str) -> Result<Duration> {
    duration::parse(s).map_err(anyhow::Error::msg)
}

/// `--duration`: [`parse_duration`], more than zero (zero would stop
/// before anything is traced; no --duration runs until Ctrl-C).
pub(super) fn parse_run_duration(s: &str) -> Result<Duration> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        bail!(
            "--duration {s} would stop before anything is traced: give how long to trace \
             (30s, 10m, 1h30m), or leave --duration out to trace until Ctrl-C"
        );
    }
    Ok(d)
}

/// `4096`, `64K`, `4M`: a power-of-two byte count of at least one page.
pub fn parse_ring_size(s: &str) -> Result<u32> {
    let bytes = parse_size(s)
        .map_err(|_| anyhow::anyhow!("`{s}` is not a size (examples: 4096, 64K, 4M)"))?;
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    if !bytes.is_power_of_two() || bytes < page || bytes > 1 << 30 {
        bail!("the ring buffer size must be a power of two from {page} bytes to 1G, not {s}");
    }
    Ok(bytes as u32)
}

/// The smallest log `--rotate-size` and `--max-size` take: a header and
/// some events (the package's boot test rotates at 64K).
pub const MIN_LOG_SIZE: u64 = 48 << 10;

/// A size of a log file: [`parse_size`], at least [`MIN_LOG_SIZE`].
pub fn parse_log_size(s: &str) -> Result<u64> {
    let bytes = parse_size(s)?;
    if bytes < MIN_LOG_SIZE {
        bail!(
            "`{s}` is too small for a log: at least {}K",
            MIN_LOG_SIZE >> 10
        );
    }
    Ok(bytes)
}

/// `--rotate-every`: [`parse_duration`], at least a second.
pub(super) fn parse_rotate_every(s: &str) -> Result<Duration> {
    let every = parse_duration(s)?;
    if every < Duration::from_secs(1) {
        bail!("`{s}` is too short to start a new log each time: at least 1s");
    }
    Ok(every)
}

/// `--cpus-per-ring`: from 1 to the number of possible CPUs.
pub(super) fn parse_cpus_per_ring(s: &str) -> Result<u32> {
    let cpus = crate::kernel::rings::possible_cpus();
    match s.trim().parse::<u32>() {
        Ok(n) if (1..=cpus).contains(&n) => Ok(n),
        _ => bail!("`{s}` is not a number of CPUs from 1 to {cpus} (this machine's possible CPUs)"),
    }
}

/// The longest `ps --live`.
pub(super) const MAX_LIVE: Duration = Duration::from_secs(3600);

/// `ps --live`: [`parse_duration`], from 0 to an hour.
pub(super) fn parse_live(s: &str) -> Result<Duration> {
    let d = parse_duration(s)?;
    if d > MAX_LIVE {
        bail!("`{s}` is longer than ps --live traces: at most 1h");
    }
    Ok(d)
}

/// `1:10`: ring 1, 10 ms late.
pub(super) fn parse_delay_ring(s: &str) -> Result<DelayRing> {
    let parsed = s
        .split_once(':')
        .and_then(|(ring, ms)| Some((ring.parse().ok()?, ms.parse().ok()?)));
    match parsed {
        Some((ring, ms)) => Ok(DelayRing {
            ring,
            by: Duration::from_millis(ms),
        }),
        None => bail!("`{s}` is not RING:MS (e.g. 1:10)"),
    }
}

/// `--kind`: a kind's name, offered by completions and listed by `--help`
/// from [`Kind::ALL`].
pub(super) fn kind_parser() -> impl TypedValueParser<Value = Kind> {
    PossibleValuesParser::new(Kind::ALL.map(Kind::name)).try_map(|s| s.parse::<Kind>())
}

/// Every `--event` name, from the one list of event kinds
/// ([`EventKind::ALL`]), with `signal` (both signal events) before the two
/// it stands for.
pub fn event_names() -> Vec<&'static str> {
    let mut names = Vec::with_capacity(EventKind::ALL.len() + 1);
    for kind in EventKind::ALL {
        if kind == EventKind::SignalGenerate {
            names.push("signal");
        }
        names.push(kind.name());
    }
    names
}

/// `--event`: an event's name, offered by completions and listed by
/// `--help` ([`event_names`]).
pub(super) fn event_parser() -> impl TypedValueParser<Value = EventSel> {
    PossibleValuesParser::new(event_names()).try_map(|s| s.parse::<EventSel>())
}
