//! Event times: the kernel stamps events with the boot clock (the clock of
//! `task->start_boottime`); output shows wall-clock time.
//!
//! Dates and the local time zone are in `calendar.rs`; the times a reader
//! of a log may name (`--since`, `--until`) in `window.rs`.

use std::time::{SystemTime, UNIX_EPOCH};

use super::calendar::{civil_from_days, local, Local};

pub(crate) const NS: i128 = 1_000_000_000;

/// Maps boot-clock ns to wall-clock ns since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WallClock {
    /// Wall-clock ns at boot-clock zero.
    pub boot_epoch_ns: i128,
}

impl WallClock {
    pub fn now() -> WallClock {
        let boot = boottime_ns();
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        WallClock {
            boot_epoch_ns: wall - i128::from(boot),
        }
    }

    pub fn wall_ns(&self, boot_ns: u64) -> i128 {
        self.boot_epoch_ns + i128::from(boot_ns)
    }

    /// `2026-11-27T02:51:36.123456Z`.
    pub fn rfc3339(&self, boot_ns: u64) -> String {
        rfc3339_wall(self.wall_ns(boot_ns))
    }

    /// The boot-clock ns of wall-clock ns `wall` (negative: before boot).
    pub fn boot_of_wall(&self, wall: i128) -> i128 {
        wall - self.boot_epoch_ns
    }

    /// `HH:MM:SS.uuuuuu` in local time, as execsnoop-style tools print.
    pub fn local_hms(&self, boot_ns: u64) -> String {
        let ns = self.wall_ns(boot_ns);
        let micros = ns.rem_euclid(NS) / 1000;
        match local(ns.div_euclid(NS)) {
            Some(tm) => format!(
                "{:02}:{:02}:{:02}.{micros:06}",
                tm.hour, tm.minute, tm.second
            ),
            None => format!("{}.{micros:06}", ns / NS),
        }
    }
}

/// `2026-11-27T02:51:36.123456Z` for wall-clock ns since the epoch.
pub fn rfc3339_wall(ns: i128) -> String {
    let secs = ns.div_euclid(NS);
    let micros = ns.rem_euclid(NS) / 1000;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Writes RFC 3339 times for a stream of events, recomputing the date and
/// time of day only when the second changes (they are printed per event).
pub struct TimeWriter {
    clock: WallClock,
    second: i128,
    prefix: [u8; 19],
}

impl TimeWriter {
    pub fn new(clock: WallClock) -> TimeWriter {
        TimeWriter {
            clock,
            second: i128::MIN,
            prefix: [0; 19],
        }
    }

    /// Appends `2026-11-27T02:51:36.123456Z` (no quotes).
    pub fn write(&mut self, out: &mut Vec<u8>, boot_ns: u64) {
        let ns = self.clock.wall_ns(boot_ns);
        let second = ns.div_euclid(1_000_000_000);
        if second != self.second {
            let full = self.clock.rfc3339(boot_ns);
            self.prefix.copy_from_slice(&full.as_bytes()[..19]);
            self.second = second;
        }
        out.extend_from_slice(&self.prefix);
        let micros = (ns.rem_euclid(1_000_000_000) / 1000) as u32;
        let mut digits = [b'.', b'0', b'0', b'0', b'0', b'0', b'0', b'Z'];
        let mut m = micros;
        for d in digits[1..7].iter_mut().rev() {
            *d = b'0' + (m % 10) as u8;
            m /= 10;
        }
        out.extend_from_slice(&digits);
    }
}

/// Local times for a stream of events: `localtime_r` once a second, not
/// once an event.
pub struct LocalTimes {
    clock: WallClock,
    second: i128,
    local: Option<Local>,
}

impl LocalTimes {
    pub fn new(clock: WallClock) -> LocalTimes {
        LocalTimes {
            clock,
            second: i128::MIN,
            local: None,
        }
    }

    /// The local time of `boot_ns` (to the second), and the ns past that
    /// second; `None` when the C library cannot say (then `secs` says).
    pub fn at(&mut self, boot_ns: u64) -> (Option<Local>, i128, u32) {
        let ns = self.clock.wall_ns(boot_ns);
        let second = ns.div_euclid(NS);
        if second != self.second {
            self.second = second;
            self.local = local(second);
        }
        (self.local, second, ns.rem_euclid(NS) as u32)
    }
}

/// CLOCK_BOOTTIME now, in ns (what `bpf_ktime_get_boot_ns()` reads).
pub fn boottime_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::calendar::days_from_civil;

    #[test]
    fn formats_rfc3339() {
        let clock = WallClock {
            boot_epoch_ns: 1_795_748_296_000_000_000,
        };
        assert_eq!(clock.rfc3339(123_456_000), "2026-11-27T02:58:16.123456Z");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        let mut w = TimeWriter::new(clock);
        let mut out = Vec::new();
        w.write(&mut out, 123_456_000);
        w.write(&mut out, 999_000_007_000);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "{}{}",
                clock.rfc3339(123_456_000),
                clock.rfc3339(999_000_007_000)
            )
        );
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        for days in [-1000, 0, 11_016, 20_784, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
