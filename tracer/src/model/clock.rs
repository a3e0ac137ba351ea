//! Event times: the kernel stamps events with the boot clock (the clock of
//! `task->start_boottime`); output shows wall-clock time.
//!
//! Also the times a reader of a log may name (`--since`, `--until`):
//! [`TimeSpec`] parses them, [`Window`] holds them resolved against a log.

use std::{
    fmt,
    str::FromStr,
    time::{SystemTime, UNIX_EPOCH},
};

const NS: i128 = 1_000_000_000;

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

/// A moment in the local time zone (the `TZ` of the process, as
/// `localtime_r` reads it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Local {
    pub year: i32,
    /// 1..=12.
    pub month: u32,
    /// 1..=31.
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 (Sunday) ..= 6.
    pub weekday: u32,
    /// Seconds east of UTC.
    pub utc_offset: i64,
}

impl Local {
    /// Days since 1970-01-01 of this local date: a key that changes once a
    /// local day.
    pub fn day_number(&self) -> i64 {
        days_from_civil(i64::from(self.year), self.month, self.day)
    }

    /// `2026-11-27`.
    pub fn date(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// `Friday`.
    pub fn weekday_name(&self) -> &'static str {
        const NAMES: [&str; 7] = [
            "Sunday",
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
        ];
        NAMES[self.weekday as usize % 7]
    }

    /// `UTC+01:00`, `UTC-03:30`, `UTC`.
    pub fn zone(&self) -> String {
        let off = self.utc_offset;
        if off == 0 {
            return "UTC".into();
        }
        let sign = if off < 0 { '-' } else { '+' };
        let off = off.unsigned_abs();
        format!("UTC{sign}{:02}:{:02}", off / 3600, off / 60 % 60)
    }
}

/// The local time of `secs` since the epoch, or `None` where the C library
/// cannot say (a year it cannot represent).
pub fn local(secs: i128) -> Option<Local> {
    // The libc crate marks musl's time_t deprecated (its width changed in
    // musl 1.2), but it is the type localtime_r takes on every target.
    #[allow(deprecated)]
    let secs = libc::time_t::try_from(secs).ok()?;
    // SAFETY: `tm` is plain C data; localtime_r only writes into it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to a time_t and a tm for the duration of the call.
    if unsafe { libc::localtime_r(&secs, &mut tm) }.is_null() {
        return None;
    }
    Some(Local {
        year: tm.tm_year + 1900,
        month: (tm.tm_mon + 1) as u32,
        day: tm.tm_mday as u32,
        hour: tm.tm_hour as u32,
        minute: tm.tm_min as u32,
        second: tm.tm_sec as u32,
        weekday: tm.tm_wday as u32,
        utc_offset: tm.tm_gmtoff,
    })
}

/// Seconds since the epoch of a local date and time (`mktime`: a time a
/// daylight-saving change skips is moved past the gap, as `date -d` does).
fn local_to_epoch(y: i64, m: u32, d: u32, hh: u32, mm: u32, ss: u32) -> Option<i128> {
    // SAFETY: `tm` is plain C data.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = i32::try_from(y - 1900).ok()?;
    tm.tm_mon = m as i32 - 1;
    tm.tm_mday = d as i32;
    tm.tm_hour = hh as i32;
    tm.tm_min = mm as i32;
    tm.tm_sec = ss as i32;
    tm.tm_isdst = -1;
    // SAFETY: a valid, writable tm for the duration of the call.
    let t = unsafe { libc::mktime(&mut tm) };
    // -1 is also 1969-12-31T23:59:59Z; nobody names that one.
    (t != -1).then_some(i128::from(t))
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

/// A time given on the command line (`--since`, `--until`), before it is
/// resolved against a log: what it means may depend on the log's start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeSpec {
    /// As typed, for messages.
    pub text: String,
    pub at: At,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// Wall-clock ns since the epoch (RFC 3339, or a local date and time,
    /// resolved in the local time zone when parsed).
    Wall(i128),
    /// A local time of day on the log's first day (the local date at which
    /// recording began): hour, minute, second, ns.
    TimeOfDay(u32, u32, u32, u32),
    /// ns after the log's start (the moment recording began).
    Offset(u64),
}

/// What `--since` and `--until` take, for error messages and help.
pub const TIME_FORMS: &str = "an RFC 3339 time (2026-11-27T21:36:30Z, \
    2026-11-27T22:36:30+01:00), a local date and time (2026-11-27 21:36:30, \
    2026-11-27), a local time of day on the log's first day (21:36:30, \
    21:36), or an offset from the log's start (+90s, +10m, +1h30m)";

impl FromStr for TimeSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<TimeSpec, String> {
        let t = s.trim();
        let at = parse_at(t).map_err(|why| {
            if why.is_empty() {
                format!("`{s}` is not a time: use {TIME_FORMS}")
            } else {
                format!("`{s}` is not a time: {why}")
            }
        })?;
        Ok(TimeSpec {
            text: t.to_string(),
            at,
        })
    }
}

impl fmt::Display for TimeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `Err("")`: not of any known form (the caller lists them).
fn parse_at(t: &str) -> Result<At, String> {
    if let Some(rest) = t.strip_prefix('+') {
        return parse_offset(rest).map(At::Offset);
    }
    if t.starts_with('-') {
        return Err("offsets count forward from the log's start: write +10m, not -10m".into());
    }
    let b = t.as_bytes();
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        return parse_date_time(t);
    }
    if t.contains(':') {
        let (hh, mm, ss, ns, rest) = parse_clock(t)?;
        if !rest.is_empty() {
            return Err(String::new());
        }
        return Ok(At::TimeOfDay(hh, mm, ss, ns));
    }
    Err(String::new())
}

/// `90s`, `10m`, `1h30m`, `500ms`, `2d`, or plain seconds (`90`).
fn parse_offset(s: &str) -> Result<u64, String> {
    let bad = || "an offset is + and a number with a unit: +90s, +10m, +1h30m, +500ms".to_string();
    let too_long = || {
        format!(
            "an offset is at most {}d ({}s, about 475 years)",
            MAX_OFFSET_SECS / 86_400,
            MAX_OFFSET_SECS
        )
    };
    if s.is_empty() {
        return Err(bad());
    }
    if s.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        let n: f64 = s.parse().map_err(|_| bad())?;
        return secs_to_ns(n).ok_or_else(too_long);
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (num, tail) = rest.split_at(digits);
        if num.is_empty() {
            return Err(bad());
        }
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let per = match unit {
            "ms" => 1e-3,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            _ => return Err(format!("unknown unit `{unit}` (use ms, s, m, h or d)")),
        };
        let n: f64 = num.parse().map_err(|_| bad())?;
        total = total
            .checked_add(secs_to_ns(n * per).ok_or_else(too_long)?)
            .filter(|&t| t <= MAX_OFFSET_SECS * 1_000_000_000)
            .ok_or_else(too_long)?;
        rest = tail;
    }
    Ok(total)
}

/// The longest offset: more than any log holds, and in u64 ns (584
/// years).
const MAX_OFFSET_SECS: u64 = 15_000_000_000;

/// `secs` in ns, where it is an offset (see [`MAX_OFFSET_SECS`]).
fn secs_to_ns(secs: f64) -> Option<u64> {
    (secs.is_finite() && (0.0..=MAX_OFFSET_SECS as f64).contains(&secs))
        .then(|| (secs * 1e9).round() as u64)
}

/// `HH:MM[:SS[.fraction]]` and what follows it.
fn parse_clock(t: &str) -> Result<(u32, u32, u32, u32, &str), String> {
    let num2 = |s: &str| -> Option<u32> {
        (s.len() == 2 && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok())?
    };
    let hh = t.get(0..2).and_then(num2).ok_or_else(String::new)?;
    if t.as_bytes().get(2) != Some(&b':') {
        return Err(String::new());
    }
    let mm = t.get(3..5).and_then(num2).ok_or_else(String::new)?;
    let mut rest = &t[5..];
    let mut ss = 0;
    let mut ns = 0;
    if let Some(r) = rest.strip_prefix(':') {
        ss = r.get(0..2).and_then(num2).ok_or_else(String::new)?;
        rest = &r[2..];
        if let Some(r) = rest.strip_prefix(['.', ',']) {
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(String::new());
            }
            let frac = &r[..digits.min(9)];
            ns = frac.parse::<u32>().map_err(|_| String::new())? * 10u32.pow(9 - frac.len() as u32);
            rest = &r[digits..];
        }
    }
    if hh > 23 || mm > 59 || ss > 60 {
        return Err(format!(
            "{hh:02}:{mm:02}:{ss:02} is not a time of day (00:00:00 to 23:59:59)"
        ));
    }
    Ok((hh, mm, ss, ns, rest))
}

/// `YYYY-MM-DD`, then optionally `T` or a space and a clock time, then
/// optionally a zone (`Z`, `+01:00`, `-0330`); without a zone, local time.
fn parse_date_time(t: &str) -> Result<At, String> {
    let num = |s: &str| -> Result<i64, String> {
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().map_err(|_| String::new())
        } else {
            Err(String::new())
        }
    };
    // Bytes 4 and 7 are dashes (the caller checked), so 0..4, 5..7 and 8
    // are character boundaries; byte 10 may not be (`2026-11-2é`).
    let (Some(date), Some(rest)) = (t.get(..10), t.get(10..)) else {
        return Err(String::new());
    };
    let y = num(&date[0..4])?;
    let m = num(&date[5..7])? as u32;
    let d = num(&date[8..10])? as u32;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return Err(format!("{date} is not a date"));
    }
    if rest.is_empty() {
        let secs = local_to_epoch(y, m, d, 0, 0, 0)
            .ok_or_else(|| format!("{t} cannot be placed in the local time zone"))?;
        return Ok(At::Wall(secs * NS));
    }
    let Some(rest) = rest.strip_prefix(['T', 't', ' ']).map(str::trim_start) else {
        return Err(String::new());
    };
    let (hh, mm, ss, ns, zone) = parse_clock(rest)?;
    let zone = zone.trim_start();
    let offset_secs = match zone {
        "" => None,
        "Z" | "z" => Some(0),
        z if z.starts_with(['+', '-']) => {
            let digits: String = z[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return Err(format!("`{z}` is not a zone offset (Z, +01:00, -0330)"));
            }
            let (oh, om) = (num(&digits[0..2])?, num(&digits[2..4])?);
            if oh > 23 || om > 59 {
                return Err(format!("`{z}` is not a zone offset (Z, +01:00, -0330)"));
            }
            let sign = if z.starts_with('-') { -1 } else { 1 };
            Some(sign * (oh * 3600 + om * 60))
        }
        _ => return Err(String::new()),
    };
    let secs = match offset_secs {
        Some(off) => {
            let day = days_from_civil(y, m, d);
            i128::from(day) * 86_400 + i128::from(hh * 3600 + mm * 60 + ss) - i128::from(off)
        }
        None => local_to_epoch(y, m, d, hh, mm, ss)
            .ok_or_else(|| format!("{t} cannot be placed in the local time zone"))?,
    };
    Ok(At::Wall(secs * NS + i128::from(ns)))
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

impl TimeSpec {
    /// Boot-clock ns of this time in a log whose clock is `clock` and whose
    /// recording began at `start_boot_ns` (negative: before that boot).
    pub fn resolve(&self, clock: WallClock, start_boot_ns: u64) -> Result<i128, String> {
        match self.at {
            At::Wall(wall) => Ok(clock.boot_of_wall(wall)),
            At::Offset(ns) => Ok(i128::from(start_boot_ns) + i128::from(ns)),
            At::TimeOfDay(hh, mm, ss, ns) => {
                let start = clock.wall_ns(start_boot_ns).div_euclid(NS);
                let day = local(start).ok_or_else(|| {
                    format!(
                        "--since/--until {}: the log's start has no local date",
                        self.text
                    )
                })?;
                let secs = local_to_epoch(i64::from(day.year), day.month, day.day, hh, mm, ss)
                    .ok_or_else(|| {
                        format!("{} cannot be placed in the local time zone", self.text)
                    })?;
                Ok(clock.boot_of_wall(secs * NS + i128::from(ns)))
            }
        }
    }
}

/// `--since` and `--until` as given, before a log gives them meaning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WindowSpec {
    pub since: Option<TimeSpec>,
    pub until: Option<TimeSpec>,
}

impl WindowSpec {
    /// The window in a log with this clock and start (see
    /// [`Window::resolve`]).
    pub fn resolve(&self, clock: WallClock, start_boot_ns: u64) -> Result<Window, String> {
        Window::resolve(
            self.since.as_ref(),
            self.until.as_ref(),
            clock,
            start_boot_ns,
        )
    }

    /// `--since +10m --until 21:40`, as given (empty when neither is).
    pub fn args(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.since {
            parts.push(format!("--since {s}"));
        }
        if let Some(u) = &self.until {
            parts.push(format!("--until {u}"));
        }
        parts.join(" ")
    }
}

/// Which events a reader of a log keeps: boot-clock ns from `since` to
/// `until`, both included; `None` leaves that end open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub since: Option<i128>,
    pub until: Option<i128>,
}

impl Window {
    /// The window `--since`/`--until` name in a log with this clock and
    /// start; an error (for the user, as a usage error) when it ends before
    /// it starts.
    pub fn resolve(
        since: Option<&TimeSpec>,
        until: Option<&TimeSpec>,
        clock: WallClock,
        start_boot_ns: u64,
    ) -> Result<Window, String> {
        let w = Window {
            since: since.map(|s| s.resolve(clock, start_boot_ns)).transpose()?,
            until: until.map(|u| u.resolve(clock, start_boot_ns)).transpose()?,
        };
        if let (Some(s), Some(u), Some(ss), Some(us)) = (w.since, w.until, since, until) {
            if u < s {
                return Err(format!(
                    "the window ends before it starts: --until {us} is {} but --since {ss} is {}",
                    rfc3339_wall(clock.boot_epoch_ns + u),
                    rfc3339_wall(clock.boot_epoch_ns + s),
                ));
            }
        }
        Ok(w)
    }

    /// Whether every event is in it.
    pub fn is_all(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    pub fn contains(&self, boot_ns: u64) -> bool {
        let t = i128::from(boot_ns);
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
    }

    /// Whether events after `boot_ns` can no longer be in it.
    pub fn ended_by(&self, boot_ns: u64) -> bool {
        self.until.is_some_and(|u| i128::from(boot_ns) > u)
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

/// Howard Hinnant's civil-to-days conversion (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's days-to-civil conversion (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn wall(s: &str) -> i128 {
        match s.parse::<TimeSpec>().unwrap().at {
            At::Wall(ns) => ns,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn parses_times_given_to_since_and_until() {
        let t = wall("2026-11-27T21:36:30Z");
        assert_eq!(rfc3339_wall(t), "2026-11-27T21:36:30.000000Z");
        assert_eq!(wall("2026-11-27T22:36:30.5+01:00"), t + NS / 2);
        assert_eq!(wall("2026-11-27t18:06:30-0330"), t);
        assert_eq!(wall("2026-11-27 21:36:30z"), t);
        assert_eq!(
            "+10m".parse::<TimeSpec>().unwrap().at,
            At::Offset(600 * NS as u64)
        );
        assert_eq!(
            "+1h30m".parse::<TimeSpec>().unwrap().at,
            At::Offset(5400 * NS as u64)
        );
        assert_eq!(
            "+90".parse::<TimeSpec>().unwrap().at,
            At::Offset(90 * NS as u64)
        );
        assert_eq!(
            "+500ms".parse::<TimeSpec>().unwrap().at,
            At::Offset(500_000_000)
        );
        assert_eq!("+0s".parse::<TimeSpec>().unwrap().at, At::Offset(0));
        assert_eq!(
            " 21:36 ".parse::<TimeSpec>().unwrap().at,
            At::TimeOfDay(21, 36, 0, 0)
        );
        assert_eq!(
            "21:36:30.25".parse::<TimeSpec>().unwrap().at,
            At::TimeOfDay(21, 36, 30, 250_000_000)
        );
        for bad in [
            "-10m",
            "+10x",
            "+",
            "+m",
            "25:00",
            "21:60",
            "2026-02-30",
            "2026-13-01T00:00:00Z",
            "2026-11-27T21:36:30+25:00",
            "2026-11-27X21:36",
            "yesterday",
            "",
            "1:2",
            "21:36:30.",
            "2026-11-2\u{e9}",
            "2026-11-\u{e9}",
            "\u{e9}026-11-27",
            "2026-11-27T\u{e9}",
            "2026-11-27 21:3\u{e9}",
            "21:3\u{e9}",
            "+1\u{e9}",
            "+20000y",
            "+1000000000000s",
        ] {
            let err = bad.parse::<TimeSpec>().unwrap_err();
            assert!(err.contains(&format!("`{bad}`")), "{bad}: {err}");
        }
        assert!("-10m"
            .parse::<TimeSpec>()
            .unwrap_err()
            .contains("write +10m"));
        // Too long is told as the limit, not as a wrong form.
        for long in [
            "+1000000000000s",
            "+15000000001",
            "+173611d3h",
            "+99999999999999999999999999",
        ] {
            let err = long.parse::<TimeSpec>().unwrap_err();
            assert!(
                err.contains("an offset is at most 173611d (15000000000s, about 475 years)"),
                "{long}: {err}"
            );
        }
        assert_eq!(
            "+15000000000s".parse::<TimeSpec>().unwrap().at,
            At::Offset(15_000_000_000_000_000_000)
        );
        assert!("yesterday"
            .parse::<TimeSpec>()
            .unwrap_err()
            .contains("RFC 3339"));
    }

    #[test]
    fn a_window_is_resolved_against_the_log_and_must_not_end_before_it_starts() {
        let clock = WallClock {
            boot_epoch_ns: wall("2026-11-27T21:00:00Z"),
        };
        let start = 60 * NS as u64;
        let spec = |s: &str| s.parse::<TimeSpec>().unwrap();
        let w = Window::resolve(
            Some(&spec("+10s")),
            Some(&spec("2026-11-27T21:02:00Z")),
            clock,
            start,
        )
        .unwrap();
        assert_eq!(w.since, Some(70 * NS));
        assert_eq!(w.until, Some(120 * NS));
        assert!(!w.contains(69_999_999_999));
        assert!(w.contains(70 * NS as u64));
        assert!(w.contains(120 * NS as u64));
        assert!(!w.contains(120 * NS as u64 + 1));
        assert!(w.ended_by(121 * NS as u64));
        let err = Window::resolve(
            Some(&spec("+10m")),
            Some(&spec("2026-11-27T21:02:00Z")),
            clock,
            start,
        )
        .unwrap_err();
        assert!(
            err.contains("ends before it starts")
                && err.contains("--until 2026-11-27T21:02:00Z is 2026-11-27T21:02:00.000000Z")
                && err.contains("--since +10m is 2026-11-27T21:11:00.000000Z"),
            "{err}"
        );
        // Before boot: a negative boot time, still ordered.
        let w = Window::resolve(None, Some(&spec("2026-11-27T20:00:00Z")), clock, start).unwrap();
        assert_eq!(w.until, Some(-3600 * NS));
        assert!(!w.contains(0));
        assert!(Window::default().is_all() && Window::default().contains(u64::MAX));
    }
}
