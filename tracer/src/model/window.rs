//! The times a reader of a log may name (`--since`, `--until`):
//! [`TimeSpec`] parses them, [`Window`] holds them resolved against a log.

use std::{fmt, str::FromStr};

use super::{
    calendar::{days_from_civil, days_in_month, local, local_to_epoch},
    clock::{rfc3339_wall, WallClock, NS},
    duration,
};

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
    /// ns before the log's end (its last event or end marker; now, for a
    /// log still being written): [`WindowSpec::anchored`] makes it a
    /// [`At::Wall`] once the end is known.
    FromEnd(u64),
}

/// What `--since` and `--until` take, for error messages and help.
pub const TIME_FORMS: &str = "an RFC 3339 time (2026-11-27T21:36:30Z, \
    2026-11-27T22:36:30+01:00), a local date and time (2026-11-27 21:36:30, \
    2026-11-27), a local time of day on the log's first day (21:36:30, \
    21:36), an offset from the log's start (+90s, +10m, +1h30m), or a \
    length of time before the log's end (-10m; for a log still being \
    written, before now)";

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
    if let Some(rest) = t.strip_prefix('-') {
        return parse_offset(rest).map(At::FromEnd);
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

/// `90s`, `10m`, `1h30m`, `500ms`, `2d` (see [`duration::parse`]) in ns.
fn parse_offset(s: &str) -> Result<u64, String> {
    let d = duration::parse(s)?;
    // duration::parse bounds it to MAX_SECS, within u64 ns.
    Ok(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
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

impl TimeSpec {
    /// Boot-clock ns of this time in a log whose clock is `clock` and whose
    /// recording began at `start_boot_ns` (negative: before that boot).
    pub fn resolve(&self, clock: WallClock, start_boot_ns: u64) -> Result<i128, String> {
        match self.at {
            At::Wall(wall) => Ok(clock.boot_of_wall(wall)),
            At::Offset(ns) => Ok(i128::from(start_boot_ns) + i128::from(ns)),
            At::FromEnd(_) => Err(format!(
                "--since/--until {}: the log's end is not known",
                self.text
            )),
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

    /// Whether a time counts back from the log's end (`-10m`), so the end
    /// must be found ([`WindowSpec::anchored`]) before the window can be.
    pub fn needs_end(&self) -> bool {
        [&self.since, &self.until]
            .into_iter()
            .flatten()
            .any(|t| matches!(t.at, At::FromEnd(_)))
    }

    /// The same window with times before the end (`-10m`) made wall-clock
    /// times, the end being `end_wall_ns` (ns since the epoch).
    pub fn anchored(&self, end_wall_ns: i128) -> WindowSpec {
        let anchor = |t: &Option<TimeSpec>| {
            t.clone().map(|mut t| {
                if let At::FromEnd(ns) = t.at {
                    t.at = At::Wall(end_wall_ns - i128::from(ns));
                }
                t
            })
        };
        WindowSpec {
            since: anchor(&self.since),
            until: anchor(&self.until),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
            "-10m".parse::<TimeSpec>().unwrap().at,
            At::FromEnd(600 * NS as u64)
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
            "+90",
            "-10",
            "--10m",
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
        // A number needs its unit, said with the example.
        assert!("+90"
            .parse::<TimeSpec>()
            .unwrap_err()
            .contains("`90` has no unit: write 90s"));
        // Too long is told as the limit, not as a wrong form.
        for long in [
            "+1000000000000s",
            "+15000000001s",
            "+173611d3h",
            "+99999999999999999999999999s",
        ] {
            let err = long.parse::<TimeSpec>().unwrap_err();
            assert!(
                err.contains("at most 173611d (15000000000s, about 475 years)"),
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

    #[test]
    fn times_before_the_end_are_anchored_to_it() {
        let spec = WindowSpec {
            since: Some("-10m".parse().unwrap()),
            until: Some("-1m30s".parse().unwrap()),
        };
        assert!(spec.needs_end());
        let clock = WallClock { boot_epoch_ns: 0 };
        assert!(spec
            .resolve(clock, 0)
            .unwrap_err()
            .contains("end is not known"));
        let end = wall("2026-11-27T21:00:00Z");
        let anchored = spec.anchored(end);
        assert!(!anchored.needs_end());
        assert_eq!(
            anchored.since.as_ref().unwrap().at,
            At::Wall(end - 600 * NS)
        );
        assert_eq!(anchored.until.as_ref().unwrap().at, At::Wall(end - 90 * NS));
        // Messages still say what was typed.
        assert_eq!(anchored.args(), "--since -10m --until -1m30s");
        let offset = WindowSpec {
            since: Some("+10m".parse().unwrap()),
            until: None,
        };
        assert!(!offset.needs_end());
        assert_eq!(offset.anchored(end), offset);
    }
}
