//! The performance targets of the whole bench (issue 24's, where it
//! restates them), each judged on the build under test: (what, met).

use super::{
    baseline::{forkexec_vs_baseline, FORKEXEC_MODES},
    common::{thousands, Mode, RECORD, TABLE_TASKS, TRACE_DEFAULT},
    hostile, nesting, parallel,
    report::Measured,
    ship,
    storms::Row,
};

/// Ratios are medians of at least this many rounds.
pub(crate) const MIN_ROUNDS: usize = 5;

/// The nesting protection's most ns per event where nothing nests.
const NESTING_NS: f64 = 10.0;

pub(crate) fn targets(m: &Measured) -> Vec<(String, bool)> {
    let cell = |w: &str, mode: &Mode| {
        m.runs
            .iter()
            .find(|r| r.workload == w && r.mode == mode.name)
    };
    // A median of fewer rounds does not count.
    let medians = |(what, ok): (String, bool)| {
        if m.rounds >= MIN_ROUNDS {
            (what, ok)
        } else {
            let what = format!("{what} [needs --rounds >= {MIN_ROUNDS}; ran {}]", m.rounds);
            (what, false)
        }
    };
    let mut out = Vec::new();
    if let Some(r) = cell("signal", TRACE_DEFAULT) {
        out.push(medians((
            format!(
                "signal storm, default filters: <= 1.15x ({:.2}x{})",
                r.new.slowdown,
                vs_baseline(r)
            ),
            r.new.slowdown <= 1.15,
        )));
    }
    if let Some(r) = cell("signal", RECORD) {
        out.push(medians((
            format!(
                "signal storm, record --all-signals: <= 1.4x ({:.2}x{}), nothing lost or \
                 throttled in any round ({} of {} did; most lost {})",
                r.new.slowdown,
                vs_baseline(r),
                r.new.lossy_rounds,
                m.rounds,
                r.new.lost
            ),
            r.new.slowdown <= 1.4 && r.new.lossy_rounds == 0,
        )));
    }
    if let Some(pair) = &m.pair {
        out.push(medians(parallel::storm_target(pair)));
    }
    for mode in FORKEXEC_MODES {
        match cell("forkexec", mode) {
            Some(
                r @ Row {
                    baseline: Some(b), ..
                },
            ) => out.push(medians(forkexec_vs_baseline(
                &format!("fork+exec storm, {}", mode.name),
                r.new.slowdown,
                b.slowdown,
            ))),
            // Without a baseline, the standing absolute bound.
            Some(r) if mode.name == RECORD.name => out.push(medians((
                format!("fork+exec storm recorded: <= 1.1x ({:.2}x)", r.new.slowdown),
                r.new.slowdown <= 1.1,
            ))),
            _ => {}
        }
    }
    for mode in [TRACE_DEFAULT, RECORD] {
        let of = |costs: &[nesting::NestingCost]| {
            nesting::worst(costs.iter().filter(|c| c.mode == mode.name))
                .map(|c| (c.tracepoint.clone(), c.ns_per_event))
        };
        let Some((tracepoint, ns)) = of(&m.nesting) else {
            continue;
        };
        let old = of(&m.baseline_nesting)
            .map(|(t, ns)| format!("; baseline's worst {t} {ns:.1} ns"))
            .unwrap_or_default();
        out.push((
            format!(
                "nesting protection, {}: <= {NESTING_NS:.0} ns per event on every tracepoint \
                 (worst {tracepoint} {ns:.1} ns{old})",
                mode.name
            ),
            ns <= NESTING_NS,
        ));
    }
    let old_attach = m
        .baseline_attach_ms
        .map(|ms| format!("; baseline {ms:.0} ms"))
        .unwrap_or_default();
    out.push((
        format!(
            "start-up to attached: < 300 ms (median {:.0} ms{old_attach})",
            m.attach_ms
        ),
        m.attach_ms < 300.0,
    ));
    if let Some(mb) = m.table_100k_rss_mb {
        out.push((
            format!(
                "peak RSS with {} tasks <= 50 MB ({mb:.1} MB)",
                thousands(TABLE_TASKS)
            ),
            mb <= 50.0,
        ));
    }
    // Each part's own targets follow the storms'.
    out.extend(hostile::targets(&m.hostile));
    out.extend(ship::targets(&m.ship));
    out
}

/// "; baseline 1.50x" where the run had one.
fn vs_baseline(r: &Row) -> String {
    r.baseline
        .as_ref()
        .map(|b| format!("; baseline {:.2}x", b.slowdown))
        .unwrap_or_default()
}
