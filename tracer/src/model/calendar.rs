//! Calendar arithmetic (proleptic Gregorian days) and the local time zone
//! (as the C library's `localtime_r` and `mktime` see it).

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
pub(crate) fn local_to_epoch(y: i64, m: u32, d: u32, hh: u32, mm: u32, ss: u32) -> Option<i128> {
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

pub(crate) fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Howard Hinnant's civil-to-days conversion (proleptic Gregorian).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's days-to-civil conversion (proleptic Gregorian).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
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
