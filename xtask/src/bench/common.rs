//! What every bench scenario shares: the tracer modes, starting a tracer
//! and reading its statistics, the workload, BPF statistics, medians and
//! number formats, the targets section.
//!
//! Slowdowns compare medians of alternating untraced and traced runs, with
//! `kernel.bpf_stats_enabled` off (its clock reads would inflate them);
//! in-kernel costs come from a separate pass with it on (restored after).

use std::{
    fmt::Write as _,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, ChildStderr, Command, Stdio},
    time::Instant,
};

use anyhow::{bail, Context as _, Result};
use serde::{
    de::{MapAccess, Visitor},
    Deserialize, Deserializer, Serialize, Serializer,
};

pub(crate) struct Mode {
    pub(crate) name: &'static str,
    pub(crate) args: &'static [&'static str],
    pub(crate) record: bool,
}

pub(crate) const MODES: [Mode; 3] = [
    Mode {
        name: "trace (default filters)",
        args: &["trace"],
        record: false,
    },
    Mode {
        name: "trace --format json --all-signals",
        args: &["trace", "--format", "json", "--all-signals"],
        record: false,
    },
    Mode {
        name: "record --all-signals",
        // Storms are measured with throttling off: every event recorded.
        args: &["record", "--all-signals", "--throttle", "off"],
        record: true,
    },
];

/// The modes the in-kernel pass and the targets look at.
pub(crate) const TRACE_DEFAULT: &Mode = &MODES[0];
pub(crate) const RECORD: &Mode = &MODES[2];

/// Tasks in the `tracer bench-table` run (bench.json's `table_100k_rss_mb`).
pub(crate) const TABLE_TASKS: u64 = 100_000;

/// What `tracer --bench-stats` printed on its `tracer-stats:` line.
#[derive(Default, Clone, Debug, PartialEq, Deserialize)]
pub(crate) struct Stats {
    pub(crate) events: u64,
    pub(crate) lost: u64,
    pub(crate) cpu_ns: u64,
    pub(crate) maxrss_kb: u64,
    /// `throttled` records it made (absent from tracers before them).
    #[serde(default)]
    pub(crate) throttle_records: u64,
    /// Per program, in the order the tracer lists them.
    #[serde(deserialize_with = "programs_in_order")]
    pub(crate) programs: Vec<ProgramStats>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ProgramStats {
    pub(crate) name: String,
    pub(crate) runs: u64,
    pub(crate) ns: u64,
}

/// `"programs":{"<name>":{"runs":N,"ns":N},...}` as a list in the tracer's
/// order (a map would sort it by name).
fn programs_in_order<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ProgramStats>, D::Error> {
    #[derive(Deserialize)]
    struct RunsNs {
        runs: u64,
        ns: u64,
    }
    struct InOrder;
    impl<'de> Visitor<'de> for InOrder {
        type Value = Vec<ProgramStats>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of program name to {\"runs\",\"ns\"}")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((name, RunsNs { runs, ns })) = map.next_entry::<String, RunsNs>()? {
                out.push(ProgramStats { name, runs, ns });
            }
            Ok(out)
        }
    }
    d.deserialize_map(InOrder)
}

/// The tracer's stderr line with its [`Stats`], once it has stopped.
pub(crate) const STATS_PREFIX: &str = "tracer-stats: ";

/// Parses the JSON after [`STATS_PREFIX`].
/// Starts tracer and waits until it says it attached; its stderr, for
/// what it says at the end.
pub(crate) fn start_attached(cmd: &mut Command) -> Result<(Child, BufReader<ChildStderr>)> {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting tracer")?;
    let mut stderr = BufReader::new(child.stderr.take().expect("piped"));
    let mut line = String::new();
    loop {
        line.clear();
        if stderr.read_line(&mut line)? == 0 {
            bail!("tracer exited before attaching");
        }
        if line.contains("attached") {
            return Ok((child, stderr));
        }
    }
}

pub(crate) fn parse_stats(json: &str) -> Result<Stats> {
    serde_json::from_str(json).with_context(|| format!("malformed tracer-stats line: {json}"))
}

/// What the workload prints: `{"workload":..,"ops":N,"ns":T}`.
#[derive(Deserialize)]
struct WorkloadStats {
    ns: u64,
}

/// Runs the workload generator; returns the workload's own timing in ns.
pub(crate) fn workload_ns(workload: &Path, name: &str, ops: u64) -> Result<u64> {
    let out = Command::new(workload)
        .args([name, &ops.to_string()])
        .output()
        .context("running the workload")?;
    if !out.status.success() {
        bail!(
            "workload {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stats: WorkloadStats = serde_json::from_str(&stdout)
        .with_context(|| format!("malformed workload {name} output: {stdout}"))?;
    Ok(stats.ns)
}

/// A tracer started for one bench run, attached.
pub(crate) struct TracedRun {
    child: Child,
    stderr: BufReader<ChildStderr>,
    log: Option<PathBuf>,
    /// ms from spawn to its `attached` line.
    pub(crate) attach_ms: f64,
}

impl TracedRun {
    /// Starts `tracer MODE --bench-stats EXTRA` (writing `log` when the mode
    /// records) and waits until its programs are attached.
    pub(crate) fn start(tracer: &Path, mode: &Mode, extra: &[&str], log: &Path) -> Result<Self> {
        let log = mode.record.then(|| log.to_path_buf());
        let mut cmd = Command::new(tracer);
        cmd.args(mode.args).arg("--bench-stats").args(extra);
        if let Some(log) = &log {
            let _ = std::fs::remove_file(log);
            cmd.arg("-o").arg(log);
        }
        let started = Instant::now();
        let (child, stderr) = start_attached(&mut cmd)?;
        Ok(TracedRun {
            child,
            stderr,
            log,
            attach_ms: started.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// Stops it with SIGINT; its `tracer-stats:` JSON, once it exited cleanly.
    pub(crate) fn stop(mut self, mode: &Mode) -> Result<String> {
        // SAFETY: kill() with the pid of our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let mut stats = None;
        for l in (&mut self.stderr).lines() {
            if let Some(json) = l?.strip_prefix(STATS_PREFIX) {
                stats = Some(json.to_string());
            }
        }
        let status = self.child.wait()?;
        if let Some(log) = &self.log {
            let _ = std::fs::remove_file(log);
        }
        match (status.success(), stats) {
            (true, Some(json)) => Ok(json),
            _ => bail!("tracer {} failed: {status}", mode.name),
        }
    }
}

pub(crate) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

/// Sets kernel.bpf_stats_enabled for its lifetime, restoring the old value.
pub(crate) struct BpfStats(String);

impl BpfStats {
    const PATH: &'static str = "/proc/sys/kernel/bpf_stats_enabled";
    pub(crate) fn set(on: bool) -> Result<BpfStats> {
        let old = std::fs::read_to_string(Self::PATH).context("reading bpf_stats_enabled")?;
        std::fs::write(Self::PATH, if on { "1" } else { "0" })
            .context("writing bpf_stats_enabled (needs root)")?;
        Ok(BpfStats(old.trim().to_string()))
    }
}

impl Drop for BpfStats {
    fn drop(&mut self) {
        let _ = std::fs::write(Self::PATH, &self.0);
    }
}

/// Writes `x` as the number `{x:.D}` prints: an integer for `D` = 0, null
/// where it is not finite.
pub(crate) fn fixed<const D: usize, S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    match format!("{x:.prec$}", prec = D).parse::<serde_json::Number>() {
        Ok(n) => n.serialize(s),
        Err(_) => s.serialize_none(),
    }
}

/// The hostile-input bounds fail the bench when missed.
pub(crate) fn fail_if_missed(targets: &[(String, bool)]) -> Result<()> {
    let missed: Vec<&str> = targets
        .iter()
        .filter(|(what, ok)| !ok && what.starts_with("hostile"))
        .map(|(what, _)| what.as_str())
        .collect();
    if missed.is_empty() {
        Ok(())
    } else {
        bail!("hostile-input bounds missed:\n  {}", missed.join("\n  "))
    }
}

pub(crate) fn format_targets(targets: &[(String, bool)]) -> String {
    let mut out = String::from("\ntargets:\n");
    for (what, ok) in targets {
        let _ = writeln!(out, "  [{}] {what}", if *ok { "met" } else { "NOT met" });
    }
    out
}

/// `n` with a comma between each group of three digits.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    // SAFETY: sysconf has no memory-safety preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    format!("{cpus} CPUs, {cpu}, Linux {}", kernel.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_tracer_stats_line() {
        let line = "tracer-stats: {\"events\":12,\"lost\":3,\"cpu_ns\":4500,\"maxrss_kb\":8192,\
                    \"programs\":{\"sched_exec\":{\"runs\":10,\"ns\":900},\"exit\":{\"runs\":2,\"ns\":80}}}";
        let stats = parse_stats(line.strip_prefix(STATS_PREFIX).unwrap()).unwrap();
        assert_eq!(
            stats,
            Stats {
                events: 12,
                lost: 3,
                cpu_ns: 4500,
                maxrss_kb: 8192,
                throttle_records: 0,
                // The tracer's order, not sorted by name.
                programs: vec![
                    ProgramStats {
                        name: "sched_exec".into(),
                        runs: 10,
                        ns: 900
                    },
                    ProgramStats {
                        name: "exit".into(),
                        runs: 2,
                        ns: 80
                    },
                ],
            }
        );
        let none =
            parse_stats(r#"{"events":0,"lost":0,"cpu_ns":0,"maxrss_kb":0,"programs":{}}"#).unwrap();
        assert!(none.programs.is_empty());
    }

    #[test]
    fn a_malformed_tracer_stats_line_is_an_error() {
        for bad in [
            "",
            "{\"events\":1",
            // A missing field is not read as 0.
            r#"{"events":1,"lost":0,"cpu_ns":0,"programs":{}}"#,
            r#"{"events":-1,"lost":0,"cpu_ns":0,"maxrss_kb":0,"programs":{}}"#,
            r#"{"events":1,"lost":0,"cpu_ns":0,"maxrss_kb":0,"programs":{"p":{"runs":1}}}"#,
        ] {
            let err = parse_stats(bad).unwrap_err();
            assert!(
                format!("{err:#}").starts_with("malformed tracer-stats line"),
                "{err:#}"
            );
        }
    }

    #[test]
    fn parses_workload_output() {
        let run: WorkloadStats =
            serde_json::from_str("{\"workload\":\"fork\",\"ops\":5000,\"ns\":123456789}\n")
                .unwrap();
        assert_eq!(run.ns, 123456789);
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
