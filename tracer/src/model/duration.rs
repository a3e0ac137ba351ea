//! The one reader of lengths of time given on the command line
//! (`--duration`, `--rotate-every`, `ps --live`, and the offsets of
//! `--since`/`--until`): numbers with units, added up (`1h30m`,
//! `1.5s`, `2d 4h`). A number without a unit is refused, with the
//! example: `--duration 5` read as seconds surprised people who meant
//! minutes. Zero needs no unit.

use std::time::Duration;

/// The units, with their length in seconds.
const UNITS: [(&str, f64); 6] = [
    ("ms", 1e-3),
    ("s", 1.0),
    ("min", 60.0),
    ("m", 60.0),
    ("h", 3600.0),
    ("d", 86_400.0),
];

/// The longest length taken: more than any recording, and within u64 ns
/// (584 years).
pub const MAX_SECS: u64 = 15_000_000_000;

/// Examples for messages.
pub const EXAMPLES: &str = "500ms, 30s, 10m, 1h30m, 2d";

/// `500ms`, `30s`, `10m`, `1h30m`, `1.5h`, `2d`, `1h 30m`, or `0`; the
/// message (one sentence, naming `s`) when it is none of these.
pub fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err(format!(
            "`{s}` is not a length of time (examples: {EXAMPLES})"
        ));
    }
    if t.bytes().all(|c| c == b'0' || c == b'.') && t.bytes().any(|c| c == b'0') {
        return Ok(Duration::ZERO);
    }
    if t.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return Err(format!(
            "`{s}` has no unit: write {t}s for seconds, {t}m for minutes (examples: {EXAMPLES})"
        ));
    }
    let too_long = || {
        format!(
            "`{s}` is too long: at most {}d ({MAX_SECS}s, about 475 years)",
            MAX_SECS / 86_400
        )
    };
    let mut ns: u64 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(digits);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let n: f64 = match num.parse() {
            Ok(n) if !num.is_empty() => n,
            _ => {
                return Err(format!(
                    "`{s}` is not a length of time (examples: {EXAMPLES})"
                ))
            }
        };
        if unit.is_empty() {
            return Err(format!("`{s}`: `{num}` has no unit (examples: {EXAMPLES})"));
        }
        let Some(&(_, per)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(format!(
                "`{s}`: unknown unit `{unit}` (use ms, s, m, h or d; examples: {EXAMPLES})"
            ));
        };
        let secs = n * per;
        if !secs.is_finite() || secs > MAX_SECS as f64 {
            return Err(too_long());
        }
        ns = ns
            .checked_add((secs * 1e9).round() as u64)
            .filter(|&t| t <= MAX_SECS * 1_000_000_000)
            .ok_or_else(too_long)?;
        rest = tail.trim_start();
    }
    Ok(Duration::from_nanos(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: &str) -> f64 {
        parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .as_secs_f64()
    }

    #[test]
    fn units_add_up() {
        assert_eq!(secs("500ms"), 0.5);
        assert_eq!(secs("30s"), 30.0);
        assert_eq!(secs("10m"), 600.0);
        assert_eq!(secs("10min"), 600.0);
        assert_eq!(secs("1h30m"), 5400.0);
        assert_eq!(secs("1h 30m"), 5400.0);
        assert_eq!(secs(" 1.5s "), 1.5);
        assert_eq!(secs("2d"), 172_800.0);
        assert_eq!(secs("1m1s1ms"), 61.001);
        assert_eq!(secs("0"), 0.0);
        assert_eq!(secs("0s"), 0.0);
        assert_eq!(secs("15000000000s"), MAX_SECS as f64);
    }

    #[test]
    fn a_number_without_a_unit_is_refused_with_the_example() {
        for bare in ["5", "90", "1.5"] {
            let e = parse(bare).unwrap_err();
            assert!(
                e.contains(&format!("`{bare}` has no unit: write {bare}s")),
                "{e}"
            );
        }
        let e = parse("1h30").unwrap_err();
        assert!(e.contains("`30` has no unit"), "{e}");
    }

    #[test]
    fn other_forms_are_refused_naming_the_value() {
        for bad in [
            "",
            "-1s",
            "5 days",
            "1y",
            "ten minutes",
            "1.2.3s",
            "s",
            "1\u{e9}",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(&format!("`{bad}`")), "{bad}: {e}");
        }
        assert!(parse("1y").unwrap_err().contains("unknown unit `y`"));
        for long in ["15000000001s", "173611d3h", "99999999999999999999999999d"] {
            let e = parse(long).unwrap_err();
            assert!(e.contains("at most 173611d (15000000000s"), "{long}: {e}");
        }
    }
}
