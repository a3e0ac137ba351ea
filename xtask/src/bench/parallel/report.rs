//! How the parallel storms print, and their targets.

use std::fmt::Write as _;

use super::cells::{Cell, Measured, STORMS};
use crate::bench::{
    baseline as old,
    common::{thousands, Mode, RECORD},
};

pub(super) fn format(m: &Measured, rounds: usize, took_s: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "machine: {}", m.machine);
    let _ = writeln!(
        out,
        "parallel storms (each process: {}); rounds per cell: {rounds}; took {took_s:.0} s\n",
        STORMS
            .iter()
            .map(|(w, ops)| format!("{w} {}", thousands(*ops)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out.push_str(&format_cells(&m.cells));
    let _ = writeln!(
        out,
        "\nhighest signal rate recorded with nothing lost (record --all-signals, default ring size):"
    );
    for z in &m.zero_loss {
        let lossy = if z.lossy_per_s > 0.0 {
            format!("; lost events at {:.0} /s asked", z.lossy_per_s)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  N={:<3} {:.0} events/s recorded ({:.0} /s asked{lossy})",
            z.parallel, z.recorded_per_s, z.asked_per_s
        );
    }
    if m.peers.is_empty() {
        let _ = writeln!(
            out,
            "bpftrace, libbpf-tools (sigsnoop, execsnoop, exitsnoop): not installed, not measured"
        );
    } else {
        let _ = writeln!(out, "\nother tracers on the same parallel storms:");
        for p in &m.peers {
            let _ = writeln!(
                out,
                "  N={:<3} {:<9} {:<36} {:>6.2}x  printed {} lines for {} events",
                p.parallel, p.workload, p.tracer, p.slowdown, p.lines, p.generated
            );
        }
    }
    out
}

/// The cells' table, with the baseline's ratio and the change where the
/// run had one, then each tracer's `signal_generate` ns per run.
pub(crate) fn format_cells(cells: &[Cell]) -> String {
    let mut out = String::new();
    let compared = cells.iter().any(|c| c.baseline.is_some());
    let (old_head, change_head) = if compared {
        (" baseline", "  change")
    } else {
        ("", "")
    };
    let _ = writeln!(
        out,
        "{:>3} {:<9} {:<34} {:>8}{old_head}{change_head} {:>11} {:>8} {:>7} {:>7} {:>9}  \
         recorded+lost=generated",
        "N", "workload", "mode", "slowdown", "events/s", "lost", "kns/ev", "cpu ms", "cpu ns/ev"
    );
    for c in cells {
        let n = &c.new;
        // No events recorded (filtered in the kernel): no cost per event.
        let per_event = if n.events_per_s >= 1.0 {
            format!("{:.0}", n.tracer_cpu_ns_per_event)
        } else {
            "-".to_string()
        };
        let old = match &c.baseline {
            Some(b) => format!(
                " {:>7.2}x {:>7}",
                b.slowdown,
                old::change(n.slowdown, b.slowdown)
            ),
            None if compared => format!(" {:>8} {:>7}", "-", "-"),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "{:>3} {:<9} {:<34} {:>7.2}x{old} {:>11.0} {:>8} {:>7.0} {:>7.0} {:>9}  {}",
            c.parallel,
            c.workload,
            c.mode,
            n.slowdown,
            n.events_per_s,
            n.lost,
            n.kernel_ns_per_event,
            n.tracer_cpu_ms,
            per_event,
            n.accounting.describe()
        );
    }
    let _ = writeln!(out, "\nin-kernel ns per run, signal storm:");
    for c in cells.iter().filter(|c| c.workload == "signal") {
        let sides =
            std::iter::once(("", &c.new)).chain(c.baseline.iter().map(|b| (" (baseline)", b)));
        for (label, side) in sides {
            for (prog, runs, ns) in side.kernel.iter().filter(|k| k.0 == "signal_generate") {
                let _ = writeln!(
                    out,
                    "  N={:<3} {:<34} {prog} {:>6.0} ns  ({runs} runs){label}",
                    c.parallel,
                    c.mode,
                    *ns as f64 / (*runs).max(1) as f64
                );
            }
        }
        if let Some(b) = &c.baseline {
            if !b.accounting.ok() {
                let _ = writeln!(
                    out,
                    "  N={:<3} {:<34} baseline's accounting: {}",
                    c.parallel,
                    c.mode,
                    b.accounting.describe()
                );
            }
        }
    }
    out
}

/// "N-way signal storm recorded: at most 2x, exactly accounted" (the new
/// build's).
pub(crate) fn storm_target(c: &Cell) -> (String, bool) {
    let acc = &c.new.accounting;
    (
        format!(
            "{}-way signal storm recorded: <= 2x untraced ({:.2}x), exactly accounted ({})",
            c.parallel,
            c.new.slowdown,
            acc.describe()
        ),
        c.new.slowdown <= 2.0 && acc.ok(),
    )
}

/// The targets, for the largest N measured (met or not; they do
/// not fail the run, the accounting does).
pub(super) fn targets(m: &Measured) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let Some(&max) = m.cells.iter().map(|c| &c.parallel).max() else {
        return out;
    };
    let cell = |n: usize, mode: &Mode| {
        m.cells
            .iter()
            .find(|c| c.parallel == n && c.workload == "signal" && c.mode == mode.name)
    };
    if let Some(c) = cell(max, RECORD) {
        out.push(storm_target(c));
    }
    if let (Some(one), Some(all)) = (cell(1, RECORD), cell(max, RECORD)) {
        let ns = |c: &Cell| {
            c.new
                .kernel
                .iter()
                .find(|k| k.0 == "signal_generate")
                .map_or(0.0, |k| k.2 as f64 / k.1.max(1) as f64)
        };
        if max > 1 {
            out.push((
                format!(
                    "in-kernel ns per signal at N={max} within 1.5x of N=1 ({:.0} vs {:.0} ns)",
                    ns(all),
                    ns(one)
                ),
                ns(all) <= 1.5 * ns(one),
            ));
        }
    }
    let exact = m.cells.iter().filter(|c| c.new.accounting.exact()).count();
    out.push((
        format!(
            "losses exact: recorded + lost = generated in every cell ({exact} of {} exactly; \
             the rest include other processes' losses)",
            m.cells.len()
        ),
        m.cells.iter().all(|c| c.new.accounting.ok()),
    ));
    for mode in old::FORKEXEC_MODES {
        let c = m
            .cells
            .iter()
            .find(|c| c.parallel == max && c.workload == "forkexec" && c.mode == mode.name);
        if let Some((c, b)) = c.and_then(|c| Some((c, c.baseline.as_ref()?))) {
            out.push(old::forkexec_vs_baseline(
                &format!("{max}-way fork+exec storm, {}", mode.name),
                c.new.slowdown,
                b.slowdown,
            ));
        }
    }
    if let Some(z) = m.zero_loss.iter().find(|z| z.parallel == max) {
        out.push((
            format!(
                "zero-loss signal rate at N={max} >= 2M events/s ({:.0})",
                z.recorded_per_s
            ),
            z.recorded_per_s >= 2e6,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{
        super::{
            accounting::{tests::stats, Accounting},
            cells::Side,
        },
        *,
    };

    fn cell(slowdown: f64, acc: Accounting, baseline: Option<f64>) -> Cell {
        let side = |slowdown, accounting| Side {
            slowdown,
            events_per_s: 1_500_000.0,
            kernel: vec![("signal_generate".into(), 600_000, 108_000_000)],
            accounting,
            ..Side::default()
        };
        Cell {
            parallel: 2,
            workload: "signal",
            mode: RECORD.name,
            untraced_ms: 250.0,
            new: side(slowdown, acc),
            baseline: baseline.map(|b| side(b, Accounting::default())),
        }
    }

    #[test]
    fn the_recorded_pair_must_be_within_2x_and_accounted() {
        let exact = || {
            let extra = stats(
                &[("signal_generate", 500_000)],
                &[("signal_generate", 100_000)],
            );
            Accounting::of("signal", 2, 300_000, RECORD, &extra).unwrap()
        };
        let (what, ok) = storm_target(&cell(1.9, exact(), None));
        assert!(ok);
        assert_eq!(
            what,
            "2-way signal storm recorded: <= 2x untraced (1.90x), exactly accounted \
             (500000+100000=600000 exact)"
        );
        assert!(!storm_target(&cell(2.01, exact(), None)).1);
        let short = Accounting::of(
            "signal",
            2,
            300_000,
            RECORD,
            &stats(&[("signal_generate", 500_000)], &[]),
        )
        .unwrap();
        assert!(!storm_target(&cell(1.5, short, None)).1);
    }

    #[test]
    fn cells_show_the_baselines_ratio_and_the_change() {
        let text = format_cells(&[cell(1.9, Accounting::default(), Some(2.97))]);
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "  N workload  mode                               slowdown baseline  change    events/s     \
             lost  kns/ev  cpu ms cpu ns/ev  recorded+lost=generated"
        );
        assert_eq!(
            lines.next().unwrap(),
            "  2 signal    record --all-signals                  1.90x    2.97x   -1.07     1500000        \
             0       0       0         0  0+0=0 exact"
        );
        assert!(text.contains(
            "\n  N=2   record --all-signals               signal_generate    180 ns  (600000 runs)\n\
             \x20 N=2   record --all-signals               signal_generate    180 ns  (600000 runs) (baseline)\n"
        ), "{text}");
        // Without a baseline, the table as before.
        let text = format_cells(&[cell(1.9, Accounting::default(), None)]);
        assert!(text.starts_with(
            "  N workload  mode                               slowdown    events/s     lost"
        ));
        assert!(!text.contains("baseline"));
    }
}
