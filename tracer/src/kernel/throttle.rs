//! `--throttle` and `--throttle-total`: the per-source budgets handed to
//! the kernel (see `tracer_common::throttle`), and the end records of
//! episodes still open when a session stops.

use anyhow::{bail, Result};
use tracer_common::{
    throttle::{THROTTLE_END, THROTTLE_KINDS},
    EventKind, Header, TaskInfo, ThrottleBucket, ThrottleConfig, ThrottleEvent, CTX_CREDS,
};

/// `record`'s default budget per source (real uid), per CPU, per second.
pub const DEFAULT_PER_SOURCE: u32 = 1000;
/// `record`'s default budget over all sources together, per CPU, per second.
pub const DEFAULT_TOTAL: u32 = 4000;
/// The window the budgets are counted over.
pub const WINDOW_NS: u64 = 1_000_000_000;

/// A `--throttle` or `--throttle-total` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rate {
    Off,
    /// The default.
    On,
    /// Events per second.
    PerSecond(u32),
}

/// `off`, `on`, `N/s` or `N` (events per second, at least 1).
pub fn parse_rate(s: &str) -> Result<Rate> {
    match s {
        "off" => return Ok(Rate::Off),
        "on" => return Ok(Rate::On),
        _ => {}
    }
    let n = s.strip_suffix("/s").unwrap_or(s);
    match n.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(Rate::PerSecond(n)),
        _ => bail!(
            "`{s}` is not a rate: give events per second per CPU as N/s (e.g. 1000/s, at least \
             1/s), `on` for the default or `off`"
        ),
    }
}

/// The budgets of a session: `throttle` per source, `total` over all
/// (`None`: not given on the command line), `default_on` whether the
/// command throttles when `--throttle` is not given (`record` does,
/// `trace` does not).
pub fn config(throttle: Option<Rate>, total: Option<Rate>, default_on: bool) -> ThrottleConfig {
    let per_source = match throttle {
        Some(Rate::Off) => return ThrottleConfig::OFF,
        None if !default_on => return ThrottleConfig::OFF,
        Some(Rate::PerSecond(n)) => n,
        Some(Rate::On) | None => DEFAULT_PER_SOURCE,
    };
    let total = match total {
        Some(Rate::Off) => u32::MAX,
        Some(Rate::PerSecond(n)) => n,
        Some(Rate::On) | None => DEFAULT_TOTAL.max(per_source),
    };
    ThrottleConfig {
        on: 1,
        per_source,
        total,
        seed: seed(),
        window_ns: WINDOW_NS,
    }
}

/// A random key for the uid hash: no one can pick uids that share a
/// victim's bucket.
fn seed() -> u32 {
    let mut b = [0u8; 4];
    // SAFETY: getrandom writes at most b.len() bytes into b.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n == 4 {
        u32::from_ne_bytes(b)
    } else {
        // Still differs run to run.
        std::process::id().wrapping_mul(0x9E37_79B1)
    }
}

/// One line for `--verbose` and the start-up note.
pub fn describe(cfg: &ThrottleConfig) -> String {
    if cfg.on == 0 {
        return "throttling off".into();
    }
    let total = if cfg.total == u32::MAX {
        "no total budget".to_string()
    } else {
        format!("{}/s for all sources together", cfg.total)
    };
    format!(
        "throttling each uid past {}/s per CPU, {total}",
        cfg.per_source
    )
}

/// The end record of an episode still open on `cpu` when the session
/// stopped, at `boot_ns`.
pub fn end_record(
    cpu: u32,
    b: &ThrottleBucket,
    cfg: &ThrottleConfig,
    boot_ns: u64,
) -> ThrottleEvent {
    let mut task = TaskInfo {
        start_boottime: b.sample_start,
        pid: b.sample_pid,
        tgid: b.sample_tgid,
        ppid: 0,
        flags: 0,
        comm: b.sample_comm,
        has_mm: 0,
        _pad: [0; 7],
        uid: b.uid,
        gid: 0,
        cgroup_id: 0,
        pidns_inum: 0,
        ns_pid: 0,
        mntns_inum: 0,
        context: 0,
    };
    task.context = CTX_CREDS;
    ThrottleEvent {
        header: Header::new(EventKind::Throttle, cpu, boot_ns),
        task,
        uid: b.uid,
        phase: THROTTLE_END,
        kind: 0,
        reasons: b.reasons as u8,
        _pad: 0,
        per_source: cfg.per_source,
        total: cfg.total,
        window_ms: (cfg.window_ns / 1_000_000) as u32,
        recorded: 0,
        other_uids: b.other_uids,
        _pad2: 0,
        first_ns: b.first_ns,
        last_ns: b.last_ns,
        dropped: {
            let mut d = [0; THROTTLE_KINDS];
            d.copy_from_slice(&b.dropped);
            d
        },
    }
}

/// The bytes of a record, as the kernel would have written them.
pub fn bytes(ev: &ThrottleEvent) -> Vec<u8> {
    // SAFETY: ThrottleEvent is Plain (repr(C), no implicit padding), so
    // all its bytes are initialized.
    unsafe {
        std::slice::from_raw_parts(
            (ev as *const ThrottleEvent).cast::<u8>(),
            size_of::<ThrottleEvent>(),
        )
    }
    .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(parse_rate("off").unwrap(), Rate::Off);
        assert_eq!(parse_rate("on").unwrap(), Rate::On);
        assert_eq!(parse_rate("2000/s").unwrap(), Rate::PerSecond(2000));
        assert_eq!(parse_rate("5").unwrap(), Rate::PerSecond(5));
        for bad in ["0/s", "-1", "fast", "10/m", "", "/s", "99999999999/s"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_per_command() {
        let record = config(None, None, true);
        assert_eq!(
            (record.on, record.per_source, record.total),
            (1, DEFAULT_PER_SOURCE, DEFAULT_TOTAL)
        );
        assert_eq!(config(None, None, false).on, 0);
        assert_eq!(config(Some(Rate::Off), None, true).on, 0);
        let trace_on = config(Some(Rate::On), None, false);
        assert_eq!(trace_on.per_source, DEFAULT_PER_SOURCE);
        let set = config(Some(Rate::PerSecond(50)), Some(Rate::Off), true);
        assert_eq!((set.per_source, set.total), (50, u32::MAX));
        // A source budget above the default total raises the total.
        assert_eq!(config(Some(Rate::PerSecond(9000)), None, true).total, 9000);
    }
}
