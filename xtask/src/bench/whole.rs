//! The default run, the whole bench: the storms, then every part
//! (`report` measures and prints it, `targets` judges it), into bench.json.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{
    report::{format_results, measure_all, write_json, Measured},
    scenario::{Ctx, Scenario},
    storms::Bench,
    targets::targets,
};

pub(crate) struct Whole;

impl Scenario for Whole {
    type Measured = Measured;

    /// The results table opens with the machine.
    const MACHINE_LINE: bool = false;

    fn measure(&self, ctx: &Ctx<'_>) -> Result<Measured> {
        let bench = Bench {
            tracers: ctx.tracers.clone(),
            workload: ctx.workload.to_path_buf(),
            tmp: ctx.tmp.clone(),
        };
        measure_all(&bench, ctx.rounds)
    }

    fn format(&self, m: &Measured) -> String {
        format_results(m)
    }

    fn targets(&self, m: &Measured) -> Option<Vec<(String, bool)>> {
        Some(targets(m))
    }

    fn save(&self, m: &Measured, dir: &Path) -> Result<Option<PathBuf>> {
        write_json(m, dir).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::{
        super::{
            common::{format_targets, RECORD, TRACE_DEFAULT},
            nesting::NestingCost,
            report::*,
            storms::{KernelCost, PeerResult, Row, Side},
            targets::MIN_ROUNDS,
        },
        *,
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
