//! The whole bench: what it measures, in which order, and how it prints
//! (the results table, each part's section, then the targets) and saves
//! them (bench.json).

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::{
    baseline::{change, Which},
    nesting::NestingCost,
    storms::{self, Bench, KernelCost, PeerResult, Row},
    targets::targets,
};
use crate::{
    bench::{fixed, format_targets, machine, median, thousands, TABLE_TASKS},
    bench_failed_execs, bench_follow, bench_hostile, bench_parallel, bench_rotate, bench_ship,
    bench_throttle, bench_workqueue,
};

/// Everything one bench run measured; also the content of bench.json.
#[derive(Serialize)]
pub(crate) struct Measured {
    pub(crate) machine: String,
    pub(crate) rounds: usize,
    /// Seconds all the measuring took.
    #[serde(skip)]
    pub(crate) took_s: f64,
    /// Median ms from starting the tracer to its `attached` line.
    #[serde(serialize_with = "fixed::<1, _>")]
    pub(crate) attach_ms: f64,
    /// The same for the `--baseline` build.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) baseline_attach_ms: Option<f64>,
    /// Peak RSS of `tracer bench-table` with [`TABLE_TASKS`] tasks.
    #[serde(serialize_with = "fixed_1_or_null")]
    pub(crate) table_100k_rss_mb: Option<f64>,
    pub(crate) runs: Vec<Row>,
    pub(crate) kernel_ns_per_run: Vec<KernelCost>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) baseline_kernel_ns_per_run: Vec<KernelCost>,
    pub(crate) nesting: Vec<NestingCost>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) baseline_nesting: Vec<NestingCost>,
    /// The 2-way recorded signal storm.
    pub(crate) pair: Option<bench_parallel::Cell>,
    pub(crate) peers: Vec<PeerResult>,
    pub(crate) hostile: Vec<bench_hostile::Hostile>,
    pub(crate) workqueue: Vec<bench_workqueue::WorkqueueRate>,
    pub(crate) failed_execs: Option<bench_failed_execs::FailedExecsCost>,
    pub(crate) ship: Vec<bench_ship::ShipCost>,
    pub(crate) follow: Vec<bench_follow::FollowCost>,
    pub(crate) rotate: Vec<bench_rotate::RotateCost>,
    pub(crate) throttle: Option<bench_throttle::ThrottleCost>,
}

/// [`fixed`] to 1 decimal, or null where not measured.
fn fixed_1_or_null<S: serde::Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(x) => fixed::<1, _>(x, s),
        None => s.serialize_none(),
    }
}

/// `XTASK_BENCH_QUICK` (set to anything) leaves out every part after the
/// storms, the in-kernel pass and the 2-way storm: for trying the bench
/// itself, never for numbers to quote.
fn quick() -> bool {
    std::env::var_os("XTASK_BENCH_QUICK").is_some()
}

pub(crate) fn measure_all(bench: &Bench, rounds: usize) -> Result<Measured> {
    let began = Instant::now();
    let (runs, [mut attach, mut old_attach]) = storms::measure_slowdowns(bench, rounds)?;
    let (kernel_ns_per_run, nesting) = storms::measure_kernel_costs(bench, Which::New)?;
    let (baseline_kernel_ns_per_run, baseline_nesting) = match bench.tracers.old {
        Some(_) => storms::measure_kernel_costs(bench, Which::Old)?,
        None => Default::default(),
    };
    let pair = Some(bench_parallel::recorded_signal_pair(
        &bench.tracers,
        &bench.workload,
        &bench.tmp,
        rounds,
    )?);
    let mut m = Measured {
        machine: machine(),
        rounds,
        took_s: 0.0,
        attach_ms: median(&mut attach),
        baseline_attach_ms: bench.tracers.old.is_some().then(|| median(&mut old_attach)),
        table_100k_rss_mb: None,
        runs,
        kernel_ns_per_run,
        baseline_kernel_ns_per_run,
        nesting,
        baseline_nesting,
        pair,
        peers: Vec::new(),
        hostile: Vec::new(),
        workqueue: Vec::new(),
        failed_execs: None,
        ship: Vec::new(),
        follow: Vec::new(),
        rotate: Vec::new(),
        throttle: None,
    };
    if !quick() {
        measure_parts(bench, rounds, &mut m)?;
    }
    m.took_s = began.elapsed().as_secs_f64();
    Ok(m)
}

/// The parts after the storms, on the build under test only.
fn measure_parts(bench: &Bench, rounds: usize, m: &mut Measured) -> Result<()> {
    let (tracer, workload, tmp) = (&bench.tracers.new, &bench.workload, &bench.tmp);
    m.peers = storms::measure_peers(bench, rounds.min(3))?;
    m.table_100k_rss_mb = Some(measure_table_rss_mb(tracer)?);
    m.hostile = bench_hostile::measure(tracer, tmp)?;
    m.workqueue = bench_workqueue::measure(tracer, workload, tmp)?;
    m.failed_execs = Some(bench_failed_execs::measure(tracer, workload, tmp, rounds)?);
    m.ship = bench_ship::measure(tracer, workload, tmp, rounds)?;
    m.follow = bench_follow::measure(tracer, workload, tmp)?;
    m.rotate = bench_rotate::measure(tracer, workload, tmp, rounds.min(3))?;
    m.throttle = Some(bench_throttle::measure(
        tracer,
        workload,
        tmp,
        rounds.min(3),
    )?);
    Ok(())
}

/// What `tracer bench-table N` prints: `{"tasks":N,"maxrss_kb":N}`.
#[derive(serde::Deserialize)]
struct TableStats {
    maxrss_kb: u64,
}

/// Peak RSS in MB of the real task table with [`TABLE_TASKS`] tasks.
fn measure_table_rss_mb(tracer: &Path) -> Result<f64> {
    let table = std::process::Command::new(tracer)
        .args(["bench-table", &TABLE_TASKS.to_string()])
        .output()
        .context("tracer bench-table")?;
    let stdout = String::from_utf8_lossy(&table.stdout);
    let stats: TableStats = serde_json::from_str(&stdout).with_context(|| {
        format!(
            "malformed tracer bench-table output ({}): stdout {stdout:?}, stderr {:?}",
            table.status,
            String::from_utf8_lossy(&table.stderr)
        )
    })?;
    Ok(stats.maxrss_kb as f64 / 1024.0)
}

/// The results as printed: the workload x mode table (with the baseline's
/// ratio and the change, where the run had one), in-kernel costs, the
/// nesting protection, the 2-way storm, start-up, the task table, the
/// peers and each part's section.
pub(crate) fn format_results(m: &Measured) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "machine: {}", m.machine);
    let _ = writeln!(
        out,
        "rounds per cell: {}; took {:.0} s\n",
        m.rounds, m.took_s
    );
    let compared = m.runs.iter().any(|r| r.baseline.is_some());
    let old_head = if compared { " baseline  change" } else { "" };
    let _ = writeln!(
        out,
        "{:<9} {:<34} {:>8}{old_head} {:>12} {:>6} {:>8} {:>10} {:>8}",
        "workload", "mode", "slowdown", "events/s", "lost", "cpu ms", "cpu ns/ev", "RSS MB"
    );
    for r in &m.runs {
        let n = &r.new;
        let per_event = if n.events_per_s >= 1.0 {
            format!("{:.0}", n.cpu_ns_per_event)
        } else {
            "-".to_string()
        };
        let old = match &r.baseline {
            Some(b) => format!(
                " {:>7.2}x {:>7}",
                b.slowdown,
                change(n.slowdown, b.slowdown)
            ),
            None if compared => format!(" {:>8} {:>7}", "-", "-"),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "{:<9} {:<34} {:>7.2}x{old} {:>12.0} {:>6} {:>8.0} {:>10} {:>8.1}",
            r.workload,
            r.mode,
            n.slowdown,
            n.events_per_s,
            n.lost,
            n.cpu_ms,
            per_event,
            n.maxrss_mb
        );
    }
    let sides = [
        ("", &m.kernel_ns_per_run, &m.nesting),
        (
            "baseline's ",
            &m.baseline_kernel_ns_per_run,
            &m.baseline_nesting,
        ),
    ];
    for (whose, kernel, nesting) in sides {
        if kernel.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{whose}in-kernel ns per run (all workloads):");
        for k in kernel {
            let _ = writeln!(
                out,
                "  {:<31} {:<34} {:>7.0} ns  ({} runs)",
                k.program, k.mode, k.ns, k.runs
            );
        }
        let _ = writeln!(
            out,
            "{whose}nesting protection per event (rescues' ns over the first program's runs):"
        );
        for c in nesting {
            let _ = writeln!(
                out,
                "  {:<23} {:<34} {:>7.1} ns  ({} rescues, {} runs)",
                c.tracepoint, c.mode, c.ns_per_event, c.rescues, c.runs
            );
        }
    }
    if let Some(pair) = &m.pair {
        let _ = writeln!(
            out,
            "\n2-way recorded signal storm (each process: signal {}):",
            thousands(bench_parallel::STORMS[2].1)
        );
        out.push_str(&bench_parallel::format_cells(std::slice::from_ref(pair)));
    }
    let old_attach = m
        .baseline_attach_ms
        .map(|ms| format!("; baseline {ms:.0} ms"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\nstart-up to attached: {:.0} ms (median{old_attach})",
        m.attach_ms
    );
    if let Some(mb) = m.table_100k_rss_mb {
        let _ = writeln!(
            out,
            "task table with {} tasks: peak RSS {mb:.1} MB",
            thousands(TABLE_TASKS)
        );
        format_parts(m, &mut out);
    }
    out
}

/// The peers and each part's section (absent from a quick run).
fn format_parts(m: &Measured, out: &mut String) {
    if m.peers.is_empty() {
        let _ = writeln!(
            out,
            "bpftrace, libbpf-tools (sigsnoop, execsnoop, exitsnoop): not installed, not measured"
        );
    } else {
        let _ = writeln!(
            out,
            "\nother tracers on the same workloads (output to /dev/null):"
        );
        for p in &m.peers {
            let _ = writeln!(
                out,
                "  {:<9} {:<36} {:>6.2}x",
                p.workload, p.tracer, p.slowdown
            );
        }
    }
    out.push_str(&bench_workqueue::format(&m.workqueue));
    if !m.ship.is_empty() {
        out.push_str(&bench_ship::format(&m.ship));
    }
    if !m.follow.is_empty() {
        out.push_str(&bench_follow::format(&m.follow));
    }
    if let Some(c) = &m.failed_execs {
        out.push_str(&bench_failed_execs::format(c));
    }
    if !m.rotate.is_empty() {
        out.push_str(&bench_rotate::format(&m.rotate));
    }
    if let Some(t) = &m.throttle {
        out.push_str(&bench_throttle::format(t));
    }
    out.push_str(&bench_hostile::format(&m.hostile));
}

/// Measures, prints the results and the targets, writes bench.json.
pub(crate) fn measure(bench: &Bench, rounds: usize, out_dir: &Path) -> Result<()> {
    let measured = measure_all(bench, rounds)?;
    let targets = targets(&measured);
    print!("{}{}", format_results(&measured), format_targets(&targets));
    let path = write_json(&measured, out_dir)?;
    println!("\nJSON: {}", path.display());
    crate::bench::fail_if_missed(&targets)
}

/// Writes `dir`/bench.json (one line); returns its path.
pub(crate) fn write_json(m: &Measured, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("bench.json");
    let json = serde_json::to_string(m).expect("plain structs") + "\n";
    std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{
        format_targets,
        storms::Side,
        targets::{targets, MIN_ROUNDS},
        RECORD, TRACE_DEFAULT,
    };

    fn side(slowdown: f64, events_per_s: f64, cpu_ns_per_event: f64) -> Side {
        Side {
            slowdown,
            events_per_s,
            lost: 0,
            cpu_ms: 12.34,
            cpu_ns_per_event,
            maxrss_mb: 10.0,
            lossy_rounds: 0,
            throttle_records: 0,
        }
    }

    fn nest(tracepoint: &str, mode: &'static str, rescues: usize, ns: f64) -> NestingCost {
        NestingCost {
            tracepoint: tracepoint.into(),
            mode,
            rescues,
            runs: 1000,
            ns_per_event: ns,
        }
    }

    /// One of each, with numbers that show the rounding; no baseline.
    fn sample() -> Measured {
        Measured {
            machine: "2 CPUs, \"Fancy\" CPU, Linux 6.1".into(),
            rounds: 5,
            took_s: 61.4,
            attach_ms: 42.04,
            baseline_attach_ms: None,
            table_100k_rss_mb: Some(38.25),
            runs: vec![
                Row {
                    workload: "signal",
                    mode: RECORD.name,
                    new: side(1.23456, 1234567.4, 99.6),
                    baseline: None,
                },
                Row {
                    workload: "signal",
                    mode: TRACE_DEFAULT.name,
                    new: Side {
                        cpu_ms: 1.0,
                        maxrss_mb: 9.5,
                        ..side(1.25, 0.0, 5.0)
                    },
                    baseline: None,
                },
            ],
            kernel_ns_per_run: vec![KernelCost {
                program: "signal_generate".into(),
                mode: RECORD.name,
                ns: 57.2,
                runs: 1000,
            }],
            baseline_kernel_ns_per_run: Vec::new(),
            nesting: vec![
                nest("signal_generate", RECORD.name, 2, 9.96),
                nest("task_newtask", RECORD.name, 0, 0.0),
            ],
            baseline_nesting: Vec::new(),
            pair: None,
            peers: vec![PeerResult {
                tracer: "libbpf-tools sigsnoop",
                workload: "signal",
                slowdown: 3.5,
            }],
            hostile: Vec::new(),
            workqueue: Vec::new(),
            failed_execs: None,
            ship: Vec::new(),
            follow: Vec::new(),
            rotate: Vec::new(),
            throttle: None,
        }
    }

    /// The same with a baseline, fork+exec rows and a lossy round.
    fn compared() -> Measured {
        let mut m = sample();
        m.baseline_attach_ms = Some(369.4);
        m.runs[0].new.lossy_rounds = 1;
        m.runs[0].new.lost = 7;
        m.runs[0].baseline = Some(side(2.15, 900000.0, 300.0));
        m.runs[1].baseline = Some(side(1.5, 0.0, 5.0));
        m.runs.push(Row {
            workload: "forkexec",
            mode: TRACE_DEFAULT.name,
            new: side(1.03, 3000.0, 16000.0),
            baseline: Some(side(1.01, 3000.0, 16000.0)),
        });
        m.runs.push(Row {
            workload: "forkexec",
            mode: RECORD.name,
            new: side(1.04, 3000.0, 16000.0),
            baseline: Some(side(1.01, 3000.0, 16000.0)),
        });
        m.baseline_nesting = vec![nest("signal_generate", RECORD.name, 2, 70.25)];
        m.baseline_kernel_ns_per_run = vec![KernelCost {
            program: "signal_generate_rescue1".into(),
            mode: RECORD.name,
            ns: 35.4,
            runs: 1000,
        }];
        m
    }

    #[test]
    fn bench_json_keeps_its_fields_order_and_precision() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-test-{}", std::process::id()));
        let path = write_json(&sample(), &dir).unwrap();
        let json = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(path.file_name().unwrap(), "bench.json");
        assert_eq!(
            json,
            concat!(
                r#"{"machine":"2 CPUs, \"Fancy\" CPU, Linux 6.1","rounds":5,"attach_ms":42.0,"#,
                r#""table_100k_rss_mb":38.2,"runs":[{"workload":"signal","#,
                r#""mode":"record --all-signals","slowdown":1.235,"events_per_s":1234567,"#,
                r#""lost":0,"cpu_ms":12.3,"cpu_ns_per_event":100,"maxrss_mb":10.0,"#,
                r#""lossy_rounds":0,"throttle_records":0},"#,
                r#"{"workload":"signal","mode":"trace (default filters)","slowdown":1.25,"#,
                r#""events_per_s":0,"lost":0,"cpu_ms":1.0,"cpu_ns_per_event":5,"maxrss_mb":9.5,"#,
                r#""lossy_rounds":0,"throttle_records":0}],"#,
                r#""kernel_ns_per_run":[{"program":"signal_generate","#,
                r#""mode":"record --all-signals","ns":57,"runs":1000}],"#,
                r#""nesting":[{"tracepoint":"signal_generate","mode":"record --all-signals","#,
                r#""rescues":2,"runs":1000,"ns_per_event":10.0},{"tracepoint":"task_newtask","#,
                r#""mode":"record --all-signals","rescues":0,"runs":1000,"ns_per_event":0.0}],"#,
                r#""pair":null,"peers":[{"tracer":"libbpf-tools sigsnoop","workload":"signal","#,
                r#""slowdown":3.5}],"hostile":[],"workqueue":[],"failed_execs":null,"ship":[],"follow":[],"#,
                r#""rotate":[],"throttle":null}"#,
                "\n"
            )
        );
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["runs"][0]["slowdown"], 1.235);
        assert_eq!(back["kernel_ns_per_run"][0]["runs"], 1000);
        // With a baseline, its numbers sit beside the new build's.
        let path = write_json(&compared(), &dir).unwrap();
        let back: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(back["baseline_attach_ms"], 369.4);
        assert_eq!(back["runs"][0]["baseline"]["slowdown"], 2.15);
        assert_eq!(back["runs"][0]["lossy_rounds"], 1);
        assert_eq!(back["baseline_nesting"][0]["ns_per_event"], 70.2);
    }

    #[test]
    fn prints_results_and_targets() {
        let m = sample();
        let text = format_results(&m);
        assert!(text.starts_with(
            "machine: 2 CPUs, \"Fancy\" CPU, Linux 6.1\nrounds per cell: 5; took 61 s\n\n"
        ));
        assert!(text.contains(
            "\nsignal    record --all-signals                  1.23x      1234567      0       12        100     10.0\n"
        ));
        // No events: no per-event CPU cost.
        assert!(text.contains(
            "\nsignal    trace (default filters)               1.25x            0      0        1          -      9.5\n"
        ));
        assert!(text.contains(
            "\n  signal_generate                 record --all-signals                    57 ns  (1000 runs)\n"
        ));
        assert!(text.contains(
            "\nnesting protection per event (rescues' ns over the first program's runs):\n\
             \x20 signal_generate         record --all-signals                  10.0 ns  (2 rescues, 1000 runs)\n\
             \x20 task_newtask            record --all-signals                   0.0 ns  (0 rescues, 1000 runs)\n"
        ));
        assert!(!text.contains("baseline"));
        assert!(text.contains("\nstart-up to attached: 42 ms (median)\n"));
        assert!(text.contains("\ntask table with 100,000 tasks: peak RSS 38.2 MB\n"));
        assert!(text.contains("\n  signal    libbpf-tools sigsnoop                  3.50x\n"));

        assert_eq!(
            format_targets(&targets(&m)),
            "\ntargets:\n\
             \x20 [NOT met] signal storm, default filters: <= 1.15x (1.25x)\n\
             \x20 [met] signal storm, record --all-signals: <= 1.4x (1.23x), nothing lost or \
             throttled in any round (0 of 5 did; most lost 0)\n\
             \x20 [met] nesting protection, record --all-signals: <= 10 ns per event on every \
             tracepoint (worst signal_generate 10.0 ns)\n\
             \x20 [met] start-up to attached: < 300 ms (median 42 ms)\n\
             \x20 [met] peak RSS with 100,000 tasks <= 50 MB (38.2 MB)\n"
        );
    }

    #[test]
    fn with_a_baseline_both_ratios_and_their_change_are_shown() {
        let m = compared();
        let text = format_results(&m);
        assert!(text.contains(
            "\nworkload  mode                               slowdown baseline  change     events/s   lost   cpu ms  cpu ns/ev   RSS MB\n\
             signal    record --all-signals                  1.23x    2.15x   -0.92      1234567      7       12        100     10.0\n"
        ), "{text}");
        assert!(text.contains(
            "\nforkexec  record --all-signals                  1.04x    1.01x   +0.03         3000      0       12      16000     10.0\n"
        ));
        assert!(text.contains(
            "\nbaseline's in-kernel ns per run (all workloads):\n\
             \x20 signal_generate_rescue1         record --all-signals                    35 ns  (1000 runs)\n\
             baseline's nesting protection per event (rescues' ns over the first program's runs):\n\
             \x20 signal_generate         record --all-signals                  70.2 ns  (2 rescues, 1000 runs)\n"
        ), "{text}");
        assert!(text.contains("\nstart-up to attached: 42 ms (median; baseline 369 ms)\n"));
        let t = format_targets(&targets(&m));
        assert!(t.contains(
            "[NOT met] signal storm, default filters: <= 1.15x (1.25x; baseline 1.50x)\n"
        ));
        // A loss in one round of five fails it, whatever the median.
        assert!(t.contains(
            "[NOT met] signal storm, record --all-signals: <= 1.4x (1.23x; baseline 2.15x), \
             nothing lost or throttled in any round (1 of 5 did; most lost 7)\n"
        ));
        // The fork+exec rule is relative with a baseline: +0.02 passes.
        assert!(t.contains(
            "[met] fork+exec storm, trace (default filters): within 0.02 of the baseline's \
             ratio (1.03x, baseline 1.01x, +0.02)\n"
        ));
        assert!(t.contains(
            "[NOT met] fork+exec storm, record --all-signals: within 0.02 of the baseline's \
             ratio (1.04x, baseline 1.01x, +0.03)\n"
        ));
        assert!(!t.contains("<= 1.1x"));
        assert!(t.contains(
            "[met] nesting protection, record --all-signals: <= 10 ns per event on every \
             tracepoint (worst signal_generate 10.0 ns; baseline's worst signal_generate 70.2 ns)\n"
        ));
        assert!(
            t.contains("[met] start-up to attached: < 300 ms (median 42 ms; baseline 369 ms)\n")
        );
    }

    #[test]
    fn ratios_of_fewer_than_five_rounds_do_not_meet_a_target() {
        let mut m = sample();
        m.runs[1].new.slowdown = 1.0;
        m.rounds = MIN_ROUNDS - 2;
        let t = format_targets(&targets(&m));
        assert!(t.contains(
            "[NOT met] signal storm, default filters: <= 1.15x (1.00x) [needs --rounds >= 5; ran 3]\n"
        ), "{t}");
        // Start-up and the in-kernel costs are not medians of rounds.
        assert!(t.contains("[met] start-up to attached"));
        m.rounds = MIN_ROUNDS;
        let t = format_targets(&targets(&m));
        assert!(t.contains("[met] signal storm, default filters: <= 1.15x (1.00x)\n"));
        // A start-up of exactly 300 ms is not under 300 ms.
        m.attach_ms = 300.0;
        assert!(format_targets(&targets(&m)).contains("[NOT met] start-up to attached"));
    }

    #[test]
    fn a_quick_run_prints_and_judges_only_what_it_measured() {
        let mut m = sample();
        m.table_100k_rss_mb = None;
        m.peers.clear();
        let text = format_results(&m);
        assert!(!text.contains("task table"));
        assert!(!text.contains("not installed"));
        let t = format_targets(&targets(&m));
        assert!(!t.contains("peak RSS"));
        assert!(t.contains("start-up to attached"));
    }

    #[test]
    fn a_ratio_that_is_not_a_number_is_null() {
        let peer = PeerResult {
            tracer: "x",
            workload: "fork",
            slowdown: f64::NAN,
        };
        assert_eq!(
            serde_json::to_string(&peer).unwrap(),
            r#"{"tracer":"x","workload":"fork","slowdown":null}"#
        );
    }
}
