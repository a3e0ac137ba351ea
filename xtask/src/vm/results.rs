//! Reading the guest's `@@tracer-vm` console lines into results, and
//! reporting them: a kernel x test table, timings, skip reasons, and
//! `target/vm-test/results.json`.

use std::{collections::BTreeMap, path::Path};

use anyhow::{Context as _, Result};
use serde_json::json;

use super::console::{after_mark, after_result, Console};

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    Ok,
    Failed,
    Skip(String),
}

pub(crate) struct TestResult {
    /// `<binary stem>::<test name>`.
    pub(crate) name: String,
    pub(crate) outcome: Outcome,
    /// Wall-clock seconds seen from the host (emulated time is slower).
    pub(crate) secs: f64,
    /// The test's last output lines, for failures.
    pub(crate) output: Vec<String>,
}

pub(crate) enum End {
    /// The guest ran every test and powered off.
    Done,
    TimedOut,
    /// QEMU ended before the guest was done (panic, QEMU error).
    Crashed,
}

pub(crate) struct KernelRun {
    pub(crate) name: String,
    pub(crate) abi: String,
    pub(crate) uname: Option<String>,
    /// `uname -m` in the guest.
    pub(crate) machine: Option<String>,
    /// The tracer binary the guest ran (set by the caller).
    pub(crate) tracer: String,
    /// Host seconds from QEMU start to the guest's /init.
    pub(crate) boot_s: Option<f64>,
    /// Host seconds from the first test to the last result.
    pub(crate) tests_s: Option<f64>,
    pub(crate) results: Vec<TestResult>,
    /// Lines about modules that failed to load.
    pub(crate) warnings: Vec<String>,
    /// What the tracer's load-time probes chose on this kernel (its
    /// `--verbose` notes): the read modes this kernel needs.
    pub(crate) read_modes: Vec<String>,
    /// The first boot never reached /init and this is the second.
    pub(crate) retried: bool,
    pub(crate) end: End,
    /// The console's last lines, shown when the run did not end well.
    pub(crate) tail: Vec<String>,
}

/// Parses a console transcript.
pub(crate) fn parse(name: &str, abi: &str, console: &Console) -> KernelRun {
    let mut run = KernelRun {
        name: name.into(),
        abi: abi.into(),
        uname: None,
        machine: None,
        tracer: String::new(),
        boot_s: None,
        tests_s: None,
        results: Vec::new(),
        warnings: Vec::new(),
        read_modes: Vec::new(),
        retried: false,
        end: End::Crashed,
        tail: Vec::new(),
    };
    let mut tests_begin = None;
    let mut test_begin = None;
    let mut running: Option<String> = None;
    for (t, line) in &console.lines {
        if let Some(rest) = after_result(line) {
            let (test, verdict) = rest.split_once(' ').unwrap_or((rest, ""));
            let outcome = match verdict.split_once(' ').unwrap_or((verdict, "")) {
                ("ok", _) => Outcome::Ok,
                ("skip", reason) => Outcome::Skip(reason.trim().into()),
                _ => Outcome::Failed,
            };
            run.results.push(TestResult {
                name: test.into(),
                outcome,
                secs: t - test_begin.unwrap_or(*t),
                output: Vec::new(),
            });
            running = None;
            run.tests_s = tests_begin.map(|b| t - b);
        } else if let Some(rest) = after_mark(line) {
            let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
            match key {
                "uname" => {
                    run.uname = Some(value.into());
                    run.boot_s = Some(*t);
                }
                "machine" => run.machine = Some(value.into()),
                "module" if !value.ends_with(" ok") => run.warnings.push(value.into()),
                "probe" => run.read_modes.push(value.into()),
                "tests-begin" => tests_begin = Some(*t),
                "begin" => {
                    test_begin = Some(*t);
                    running = Some(value.into());
                }
                "out" => {
                    if let Some(last) = run.results.last_mut() {
                        last.output.push(value.into());
                    }
                }
                "done" => run.end = End::Done,
                _ => {}
            }
        }
    }
    if console.timed_out {
        run.end = End::TimedOut;
    }
    if !matches!(run.end, End::Done) {
        // The test that was running when the guest died or hung.
        if let Some(test) = running {
            let secs = console.elapsed - test_begin.unwrap_or(0.0);
            run.results.push(TestResult {
                name: test,
                outcome: Outcome::Failed,
                secs,
                output: vec![match run.end {
                    End::TimedOut => "(the kernel's time ran out during this test)".into(),
                    _ => "(the guest died during this test)".into(),
                }],
            });
        }
        run.tail = tail(&console.lines);
    }
    run
}

/// Lines from a kernel message that says the kernel went wrong (a lockup,
/// an RCU stall, an oops, a panic): the stacks that say why follow it.
const TROUBLE: &[&str] = &[
    "BUG: ",
    "rcu: INFO: ",
    "Kernel panic",
    "Oops: ",
    "WARNING: CPU: ",
    "general protection fault",
];

/// What a dead or hung guest's console says about why: the first kernel
/// trouble report (up to 150 lines of it; later reports mostly repeat it),
/// then the console's last 40 lines.
fn tail(lines: &[(f64, String)]) -> Vec<String> {
    let n = lines.len();
    let last = n.saturating_sub(40);
    let first = lines
        .iter()
        .position(|(_, l)| TROUBLE.iter().any(|t| l.contains(t)))
        .filter(|&i| i < last);
    let mut out = Vec::new();
    if let Some(i) = first {
        let end = (i + 150).min(last);
        out.extend(lines[i..end].iter().map(|l| l.1.clone()));
        if end < last {
            out.push(format!("[... {} lines ...]", last - end));
        }
    }
    out.extend(lines[last..].iter().map(|l| l.1.clone()));
    out
}

impl KernelRun {
    pub(crate) fn failed(&self) -> bool {
        !matches!(self.end, End::Done)
            || self.results.is_empty()
            || self.results.iter().any(|r| r.outcome == Outcome::Failed)
    }

    fn end_word(&self) -> &'static str {
        match self.end {
            End::Done => "done",
            End::TimedOut => "timed out",
            End::Crashed => "ended early",
        }
    }
}

/// Prints the table, timings, skip reasons and failures.
pub(crate) fn print(runs: &[KernelRun]) {
    print_table(runs);
    print_kernels(runs);
    print_skips(runs);
    print_read_modes(runs);
    print_failures(runs);
}

/// The test x kernel table of outcomes.
fn print_table(runs: &[KernelRun]) {
    // Rows: every test seen on any kernel, in first-seen order.
    let mut rows: Vec<&str> = Vec::new();
    for run in runs {
        for r in &run.results {
            if !rows.contains(&r.name.as_str()) {
                rows.push(&r.name);
            }
        }
    }
    let width = rows.iter().map(|r| r.len()).max().unwrap_or(4).max(4);
    let cols: Vec<usize> = runs.iter().map(|r| r.name.len().max(5)).collect();
    let mut header = format!("{:width$}", "test");
    for (run, w) in runs.iter().zip(&cols) {
        header.push_str(&format!("  {:>w$}", run.name));
    }
    println!("\n{header}");
    for row in &rows {
        let mut line = format!("{row:width$}");
        for (run, w) in runs.iter().zip(&cols) {
            let cell = match run.results.iter().find(|r| r.name == *row) {
                Some(r) => match r.outcome {
                    Outcome::Ok => "ok",
                    Outcome::Failed => "FAIL",
                    Outcome::Skip(_) => "skip",
                },
                None => "-",
            };
            line.push_str(&format!("  {cell:>w$}"));
        }
        println!("{line}");
    }
}

/// One line per kernel: its release, how it ended, timings and counts.
fn print_kernels(runs: &[KernelRun]) {
    println!();
    for run in runs {
        let count = |o: fn(&Outcome) -> bool| run.results.iter().filter(|r| o(&r.outcome)).count();
        println!(
            "{:10} {:32} {:8} {:10} boot {:>6}  tests {:>7}  ok {} fail {} skip {}{}",
            run.name,
            run.uname.as_deref().unwrap_or(&run.abi),
            run.machine.as_deref().unwrap_or("-"),
            run.end_word(),
            run.boot_s.map_or("-".into(), |s| format!("{s:.1}s")),
            run.tests_s.map_or("-".into(), |s| format!("{s:.1}s")),
            count(|o| *o == Outcome::Ok),
            count(|o| *o == Outcome::Failed),
            count(|o| matches!(o, Outcome::Skip(_))),
            if run.retried {
                "  (second boot: the first died before /init)"
            } else {
                ""
            },
        );
    }
    let mut tracers: Vec<&str> = runs.iter().map(|r| r.tracer.as_str()).collect();
    tracers.dedup();
    for t in tracers.iter().filter(|t| !t.is_empty()) {
        println!("tracer in the guests: {t}");
    }
}

/// Each skipped test and reason, with the kernels that skipped it.
fn print_skips(runs: &[KernelRun]) {
    let mut skips: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for run in runs {
        for r in &run.results {
            if let Outcome::Skip(reason) = &r.outcome {
                skips.entry((&r.name, reason)).or_default().push(&run.name);
            }
        }
    }
    if !skips.is_empty() {
        println!("\nskipped:");
        for ((test, reason), kernels) in skips {
            println!("  {test} on {}: {reason}", kernels.join(", "));
        }
    }
}

fn print_read_modes(runs: &[KernelRun]) {
    println!("\nread modes the probes chose (else the direct-load fast paths):");
    for run in runs {
        if run.read_modes.is_empty() {
            println!("  {:8} fast paths only", run.name);
        }
        for note in &run.read_modes {
            println!("  {:8} {note}", run.name);
        }
    }
}

/// Each failed test's output, module warnings, and the console's last lines
/// where a kernel did not finish.
fn print_failures(runs: &[KernelRun]) {
    for run in runs {
        for r in run.results.iter().filter(|r| r.outcome == Outcome::Failed) {
            println!("\n--- FAIL {} on {} ({:.1}s):", r.name, run.name, r.secs);
            for line in &r.output {
                println!("    {line}");
            }
        }
        for w in &run.warnings {
            println!("\n--- {}: module {w}", run.name);
        }
        if !matches!(run.end, End::Done) {
            println!("\n--- {} {}; last console lines:", run.name, run.end_word());
            for line in &run.tail {
                println!("    {line}");
            }
        }
    }
}

pub(crate) fn write_json(runs: &[KernelRun], path: &Path) -> Result<()> {
    let kernels: Vec<_> = runs
        .iter()
        .map(|run| {
            let tests: Vec<_> = run
                .results
                .iter()
                .map(|r| {
                    let (outcome, reason) = match &r.outcome {
                        Outcome::Ok => ("ok", None),
                        Outcome::Failed => ("fail", None),
                        Outcome::Skip(reason) => ("skip", Some(reason)),
                    };
                    json!({
                        "test": r.name, "result": outcome, "reason": reason,
                        "secs": r.secs, "output": r.output,
                    })
                })
                .collect();
            json!({
                "name": run.name, "abi": run.abi, "uname": run.uname,
                "machine": run.machine, "tracer": run.tracer,
                "end": run.end_word(), "boot_s": run.boot_s, "tests_s": run.tests_s,
                "module_warnings": run.warnings, "read_modes": run.read_modes,
                "retried_boot": run.retried, "tests": tests,
                "console_tail": run.tail,
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(&json!({ "kernels": kernels }))?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console(lines: &[&str], timed_out: bool) -> Console {
        Console {
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, l)| (i as f64, l.to_string()))
                .collect(),
            elapsed: lines.len() as f64,
            timed_out,
        }
    }

    #[test]
    fn results_skips_failures_and_output() {
        let run = parse(
            "6.1",
            "6.1.0-50-cloud-amd64",
            &console(
                &[
                    "@@tracer-vm uname 6.1.0-50-cloud-amd64",
                    "@@tracer-vm tests-begin",
                    "@@tracer-vm begin trace::a",
                    "@@tracer-vm-result trace::a ok",
                    "@@tracer-vm begin trace::b",
                    "[  9.1] some kernel message @@tracer-vm-result trace::b FAILED",
                    "@@tracer-vm out panicked at x",
                    "@@tracer-vm begin trace::c",
                    "@@tracer-vm-result trace::c skip no group_dead before 6.16",
                    "@@tracer-vm done",
                ],
                false,
            ),
        );
        assert!(matches!(run.end, End::Done));
        assert_eq!(run.boot_s, Some(0.0));
        assert_eq!(run.results.len(), 3);
        assert_eq!(run.results[0].outcome, Outcome::Ok);
        assert_eq!(run.results[1].outcome, Outcome::Failed);
        assert_eq!(run.results[1].output, ["panicked at x"]);
        assert_eq!(
            run.results[2].outcome,
            Outcome::Skip("no group_dead before 6.16".into())
        );
        assert!(run.failed());
    }

    #[test]
    fn a_hang_fails_the_running_test() {
        let run = parse(
            "5.10",
            "5.10.0-32-cloud-amd64",
            &console(
                &["@@tracer-vm tests-begin", "@@tracer-vm begin umh::x"],
                true,
            ),
        );
        assert!(matches!(run.end, End::TimedOut));
        assert_eq!(run.results[0].name, "umh::x");
        assert_eq!(run.results[0].outcome, Outcome::Failed);
        assert_eq!(run.tail.len(), 2);
    }

    #[test]
    fn results_json_round_trips() {
        let run = parse(
            "6.1",
            "6.1.0-50-cloud-amd64",
            &console(
                &[
                    "@@tracer-vm uname 6.1.0-50-cloud-amd64",
                    "@@tracer-vm machine x86_64",
                    "@@tracer-vm module veth.ko FAILED",
                    "@@tracer-vm probe siginfo: \"read\" mode",
                    "@@tracer-vm tests-begin",
                    "@@tracer-vm begin trace::a",
                    "@@tracer-vm-result trace::a ok",
                    "@@tracer-vm begin trace::b",
                    "@@tracer-vm-result trace::b skip no group_dead",
                    "@@tracer-vm done",
                ],
                false,
            ),
        );
        let hung = parse(
            "5.10",
            "5.10.0-32-cloud-amd64",
            &console(&["@@tracer-vm begin umh::x"], true),
        );
        let path = std::env::temp_dir().join(format!("xtask-results-{}.json", std::process::id()));
        write_json(&[run, hung], &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back,
            json!({"kernels": [
                {
                    "name": "6.1", "abi": "6.1.0-50-cloud-amd64",
                    "uname": "6.1.0-50-cloud-amd64", "end": "done",
                    "machine": "x86_64", "tracer": "",
                    "boot_s": 0.0, "tests_s": 4.0,
                    "module_warnings": ["veth.ko FAILED"],
                    "read_modes": ["siginfo: \"read\" mode"],
                    "retried_boot": false,
                    "tests": [
                        {"test": "trace::a", "result": "ok", "reason": null,
                         "secs": 1.0, "output": []},
                        {"test": "trace::b", "result": "skip", "reason": "no group_dead",
                         "secs": 1.0, "output": []},
                    ],
                    "console_tail": [],
                },
                {
                    "name": "5.10", "abi": "5.10.0-32-cloud-amd64",
                    "uname": null, "end": "timed out",
                    "machine": null, "tracer": "",
                    "boot_s": null, "tests_s": null,
                    "module_warnings": [], "read_modes": [],
                    "retried_boot": false,
                    "tests": [
                        {"test": "umh::x", "result": "fail", "reason": null, "secs": 1.0,
                         "output": ["(the kernel's time ran out during this test)"]},
                    ],
                    "console_tail": ["@@tracer-vm begin umh::x"],
                },
            ]})
        );
    }

    #[test]
    fn a_hung_guest_keeps_its_first_lockup_report_and_its_last_lines() {
        let mut lines = vec!["@@tracer-vm begin failing_streams::x".to_string()];
        lines.push("[ 190.1] watchdog: BUG: soft lockup - CPU#0 stuck for 22s!".into());
        lines.extend((0..300).map(|i| format!("[ 190.2] stack line {i}")));
        lines.extend((0..40).map(|i| format!("[2000.0] later {i}")));
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let run = parse("6.1", "6.1.0-50-cloud-amd64", &console(&refs, true));
        assert!(matches!(run.end, End::TimedOut));
        assert!(run.tail[0].contains("soft lockup"), "{:?}", run.tail[0]);
        assert_eq!(run.tail[149], "[ 190.2] stack line 148");
        assert_eq!(run.tail[150], "[... 151 lines ...]");
        assert_eq!(run.tail.len(), 150 + 1 + 40);
        assert_eq!(run.tail.last().unwrap(), "[2000.0] later 39");
        // With no report, only the last lines.
        let run = parse("6.1", "x", &console(&refs[200..], true));
        assert_eq!(run.tail.len(), 40);
    }
}
