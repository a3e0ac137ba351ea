//! The nesting protection's price per event, from `--bench-stats`' program
//! statistics: on each tracepoint, the ns its rescue programs spent (those
//! named `<program>_rescue1`, `_rescue2`, ...) over the runs of its first
//! program, i.e. per event where nothing nests. A tracepoint with no rescue
//! costs 0 here; protection built into the first program shows in that
//! program's own ns per run instead, which the bench prints beside this.

use serde::Serialize;

use super::common::fixed;

/// One tracepoint's protection cost under one mode.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct NestingCost {
    /// The tracepoint, named by its first program.
    pub(crate) tracepoint: String,
    pub(crate) mode: &'static str,
    /// Rescue programs attached to it.
    pub(crate) rescues: usize,
    /// Runs of the first program (events).
    pub(crate) runs: u64,
    #[serde(serialize_with = "fixed::<1, _>")]
    pub(crate) ns_per_event: f64,
}

/// `signal_generate_rescue2` -> `signal_generate`; `None` for a program
/// that is not a rescue.
pub(crate) fn rescued_program(name: &str) -> Option<&str> {
    let (base, level) = name.rsplit_once("_rescue")?;
    let digits = !level.is_empty() && level.bytes().all(|b| b.is_ascii_digit());
    (digits && !base.is_empty()).then_some(base)
}

/// Per tracepoint, in the order the programs are listed: `programs` are
/// (name, runs, ns) summed over the workloads of one mode.
pub(crate) fn costs(mode: &'static str, programs: &[(String, u64, u64)]) -> Vec<NestingCost> {
    // (tracepoint, rescues, first program's runs, rescues' ns)
    let mut sums: Vec<(String, usize, u64, u64)> = Vec::new();
    for (name, runs, ns) in programs {
        let (tracepoint, rescue) = match rescued_program(name) {
            Some(base) => (base, true),
            None => (name.as_str(), false),
        };
        let i = match sums.iter().position(|s| s.0 == tracepoint) {
            Some(i) => i,
            None => {
                sums.push((tracepoint.to_string(), 0, 0, 0));
                sums.len() - 1
            }
        };
        let s = &mut sums[i];
        if rescue {
            s.1 += 1;
            s.3 += ns;
        } else {
            s.2 += runs;
        }
    }
    sums.into_iter()
        .map(|(tracepoint, rescues, runs, ns)| NestingCost {
            tracepoint,
            mode,
            rescues,
            runs,
            ns_per_event: ns as f64 / runs.max(1) as f64,
        })
        .collect()
}

/// The costliest tracepoint (the target is met on every one or none).
pub(crate) fn worst<'a>(
    costs: impl IntoIterator<Item = &'a NestingCost>,
) -> Option<&'a NestingCost> {
    costs
        .into_iter()
        .max_by(|a, b| a.ns_per_event.total_cmp(&b.ns_per_event))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, runs: u64, ns: u64) -> (String, u64, u64) {
        (name.to_string(), runs, ns)
    }

    #[test]
    fn rescues_are_named_by_their_program() {
        assert_eq!(
            rescued_program("signal_generate_rescue1"),
            Some("signal_generate")
        );
        assert_eq!(
            rescued_program("task_newtask_rescue12"),
            Some("task_newtask")
        );
        for not in [
            "signal_generate",
            "x_rescue",
            "_rescue1",
            "x_rescue1a",
            "x_rescuer1",
        ] {
            assert_eq!(rescued_program(not), None, "{not}");
        }
    }

    #[test]
    fn the_rescues_time_is_spread_over_the_first_programs_runs() {
        // The numbers: 45.5 ns of work, 35.4 + 34.8 ns of rescues.
        let programs = [
            p("signal_generate", 1_000_000, 45_500_000),
            p("task_newtask", 10, 5000),
            p("signal_generate_rescue1", 1_000_000, 35_400_000),
            p("signal_generate_rescue2", 1_000_000, 34_800_000),
            p("task_newtask_rescue1", 10, 400),
            // Rescues of a tracepoint that never fired: no division by 0.
            p("sys_exit", 0, 0),
            p("sys_exit_rescue1", 0, 0),
            // No rescue at all: nothing to pay.
            p("workqueue_queue_work", 7, 700),
        ];
        let c = costs("m", &programs);
        let got: Vec<_> = c
            .iter()
            .map(|c| (c.tracepoint.as_str(), c.rescues, c.runs, c.ns_per_event))
            .collect();
        assert_eq!(
            got,
            [
                ("signal_generate", 2, 1_000_000, 70.2),
                ("task_newtask", 1, 10, 40.0),
                ("sys_exit", 1, 0, 0.0),
                ("workqueue_queue_work", 0, 7, 0.0),
            ]
        );
        assert_eq!(worst(&c).unwrap().tracepoint, "signal_generate");
        assert!(worst(&costs("m", &[])).is_none());
    }
}
