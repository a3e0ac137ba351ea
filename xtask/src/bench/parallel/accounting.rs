//! The books of a parallel storm: the tracer counts the storm's own
//! events (`--bench-comm`), the workload knows how many it made, and
//! recorded + lost must equal generated for each kind.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::bench::common::Mode;

/// What the tracer's `tracer-stats:` line holds beyond [`crate::bench::Stats`].
#[derive(Default, Clone, Debug, Deserialize)]
pub(super) struct StormStats {
    #[serde(default)]
    pub(super) lost_by_kind: BTreeMap<String, u64>,
    #[serde(default)]
    pub(super) storm: Option<BTreeMap<String, u64>>,
    #[serde(default)]
    pub(super) late: u64,
    #[serde(default)]
    pub(super) rings: u64,
    /// `throttled` records (storms run with `--throttle off`: none).
    #[serde(default)]
    pub(super) throttle_records: u64,
}

/// The storm's events by kind: what `n` processes of `ops` each generate,
/// and what the tracer is asked to see (`None`: filtered in the kernel).
pub(super) fn generated(
    workload: &str,
    n: usize,
    ops: u64,
    mode: &Mode,
) -> Vec<(&'static str, Option<u64>)> {
    let total = n as u64 * ops;
    match workload {
        "signal" if mode.args.contains(&"--all-signals") => vec![("signal_generate", Some(total))],
        "signal" => vec![("signal_generate", None)],
        "fork" => vec![("fork", Some(total)), ("exit", Some(total))],
        _ => vec![
            ("fork", Some(total)),
            ("exec", Some(total)),
            ("exit", Some(total)),
        ],
    }
}

/// recorded + lost against generated, over a storm's kinds.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Accounting {
    pub(crate) recorded: u64,
    pub(crate) lost: u64,
    pub(crate) generated: u64,
    /// Kinds the kernel filter drops by design (nothing to account for).
    pub(crate) filtered: bool,
    /// Events of the storm neither recorded nor counted lost.
    pub(crate) missing: u64,
    /// Recorded beyond what was generated (a counting bug).
    pub(crate) extra: u64,
    /// Losses beyond the storm's: other processes' events of the same kinds.
    pub(crate) others_lost: u64,
    pub(crate) late: u64,
    /// `throttled` records: throttled events are neither recorded nor
    /// lost, and the statistics hold no count of them, so with throttling
    /// off (the storms) there must be none.
    pub(crate) throttled: u64,
}

impl Accounting {
    pub(super) fn of(
        workload: &str,
        n: usize,
        ops: u64,
        mode: &Mode,
        stats: &StormStats,
    ) -> Result<Accounting> {
        let Some(storm) = &stats.storm else {
            bail!("the tracer did not count the storm (a tracer without --bench-comm?)");
        };
        let mut a = Accounting {
            late: stats.late,
            throttled: stats.throttle_records,
            ..Accounting::default()
        };
        for (kind, expected) in generated(workload, n, ops, mode) {
            let rec = storm.get(kind).copied().unwrap_or(0);
            let lost = stats.lost_by_kind.get(kind).copied().unwrap_or(0);
            let Some(generated) = expected else {
                a.filtered = true;
                a.extra += rec;
                continue;
            };
            a.recorded += rec;
            a.lost += lost;
            a.generated += generated;
            if rec + lost < generated {
                a.missing += generated - rec - lost;
            } else if rec > generated {
                a.extra += rec - generated;
            } else {
                a.others_lost += rec + lost - generated;
            }
        }
        Ok(a)
    }

    /// The storm's events all recorded or counted lost, none throttled.
    pub(crate) fn ok(&self) -> bool {
        self.missing == 0 && self.extra == 0 && self.throttled == 0
    }

    pub(crate) fn exact(&self) -> bool {
        self.ok() && self.others_lost == 0
    }

    pub(crate) fn describe(&self) -> String {
        let throttled = match self.throttled {
            0 => String::new(),
            n => format!(" THROTTLED ({n} records)"),
        };
        self.describe_counts() + &throttled
    }

    fn describe_counts(&self) -> String {
        if self.filtered && self.generated == 0 {
            return if self.extra == 0 {
                "filtered in kernel".into()
            } else {
                format!("FILTER LEAKED {}", self.extra)
            };
        }
        let sums = format!("{}+{}", self.recorded, self.lost);
        if self.missing > 0 {
            format!("{sums}<{} MISSING {}", self.generated, self.missing)
        } else if self.extra > 0 {
            format!("{sums}>{} EXTRA {}", self.generated, self.extra)
        } else if self.others_lost > 0 {
            format!(
                "{sums}={} +{} others' lost",
                self.generated, self.others_lost
            )
        } else {
            format!("{sums}={} exact", self.generated)
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::bench::common::{parse_stats, RECORD, TRACE_DEFAULT};

    pub(crate) fn stats(storm: &[(&str, u64)], lost: &[(&str, u64)]) -> StormStats {
        StormStats {
            lost_by_kind: lost.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
            storm: Some(storm.iter().map(|(k, n)| (k.to_string(), *n)).collect()),
            late: 0,
            rings: 2,
            throttle_records: 0,
        }
    }

    #[test]
    fn accounting_adds_up_recorded_and_lost() {
        let a = Accounting::of(
            "signal",
            2,
            100,
            RECORD,
            &stats(&[("signal_generate", 150)], &[("signal_generate", 50)]),
        )
        .unwrap();
        assert!(a.exact());
        assert_eq!(a.describe(), "150+50=200 exact");
        // Others' losses of the same kind at the same time: fine, noted.
        let a = Accounting::of(
            "fork",
            1,
            10,
            RECORD,
            &stats(&[("fork", 10), ("exit", 8)], &[("exit", 3)]),
        )
        .unwrap();
        assert!(a.ok() && !a.exact());
        assert_eq!(a.describe(), "18+3=20 +1 others' lost");
        // Events gone without a count: the failure this bench looks for.
        let a = Accounting::of(
            "forkexec",
            1,
            10,
            RECORD,
            &stats(&[("fork", 10), ("exec", 9), ("exit", 10)], &[]),
        )
        .unwrap();
        assert!(!a.ok());
        assert_eq!(a.describe(), "29+0<30 MISSING 1");
        // Signals the default filter drops in the kernel.
        let a = Accounting::of(
            "signal",
            2,
            100,
            TRACE_DEFAULT,
            &stats(&[("signal_generate", 0)], &[]),
        )
        .unwrap();
        assert!(a.exact());
        assert_eq!(a.describe(), "filtered in kernel");
        // A tracer that did not count the storm is an error, not a pass.
        assert!(Accounting::of("signal", 1, 1, RECORD, &StormStats::default()).is_err());
    }

    #[test]
    fn reads_the_extra_tracer_stats() {
        let line = r#"{"events":3,"lost":1,"cpu_ns":5,"maxrss_kb":1,"rings":2,"late":0,"lost_by_kind":{"fork":1,"exec":0},"storm":{"fork":2},"programs":{}}"#;
        let extra: StormStats = serde_json::from_str(line).unwrap();
        assert_eq!(extra.rings, 2);
        assert_eq!(extra.lost_by_kind["fork"], 1);
        assert_eq!(extra.storm.unwrap()["fork"], 2);
        assert_eq!(parse_stats(line).unwrap().events, 3);
    }

    #[test]
    fn a_throttled_storm_is_not_accounted() {
        let mut extra = stats(&[("signal_generate", 200)], &[]);
        extra.throttle_records = 3;
        let a = Accounting::of("signal", 2, 100, RECORD, &extra).unwrap();
        assert!(!a.ok() && !a.exact());
        assert_eq!(a.describe(), "200+0=200 exact THROTTLED (3 records)");
    }
}
