//! The hostile-input part of `cargo xtask bench`: 100 MB crafted logs (see
//! `tracer bench-log`) read by `report` and `export`, each within 10 s and
//! 64 MB of peak RSS. A missed bound fails the bench.

use std::{
    fs::File,
    os::unix::process::ExitStatusExt as _,
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

/// The inputs `tracer bench-log` writes (the argv bomb stays under the
/// header limit, about 30 MB; the cycle is 100,000 tasks, about 5 MB).
const INPUTS: [&str; 5] = ["resync", "garbage", "argv", "cycle", "sparse"];
const COMMANDS: [&str; 2] = ["report", "export"];
const SIZE_MB: u64 = 100;
const MAX_SECS: f64 = 10.0;
const MAX_RSS_MB: f64 = 64.0;

#[derive(Serialize)]
pub struct Hostile {
    pub input: String,
    pub command: String,
    pub secs: f64,
    pub maxrss_mb: f64,
    pub exit: i32,
}

/// What tracer prints on stderr with `TRACER_BENCH_PEAK_RSS` set: its own
/// VmHWM (the rusage of a child counts the spawning image's high-water mark).
const PEAK_PREFIX: &str = "tracer-peak-rss-kb: ";

/// Runs `tracer ARGS` with stdout discarded: (seconds, peak RSS in MB, exit).
fn run_measured(tracer: &Path, args: &[&str]) -> Result<(f64, f64, i32)> {
    let began = Instant::now();
    let out = Command::new(tracer)
        .args(args)
        .env("TRACER_BENCH_PEAK_RSS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running tracer {args:?}"))?;
    let secs = began.elapsed().as_secs_f64();
    let exit = out
        .status
        .code()
        .unwrap_or_else(|| -out.status.signal().unwrap_or(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kb: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix(PEAK_PREFIX))
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| {
            format!(
                "no peak RSS from tracer {args:?} ({}): {stderr}",
                out.status
            )
        })?;
    Ok((secs, kb as f64 / 1024.0, exit))
}

pub fn measure(tracer: &Path, tmp: &Path) -> Result<Vec<Hostile>> {
    let mut out = Vec::new();
    for input in INPUTS {
        let file = tmp.join(format!("hostile-{input}.log"));
        let status = Command::new(tracer)
            .args(["bench-log", input])
            .arg(&file)
            .arg(SIZE_MB.to_string())
            .status()
            .context("tracer bench-log")?;
        if !status.success() {
            bail!("tracer bench-log {input} failed: {status}");
        }
        // Sanity: the file is what we asked for (or a sparse hole of it).
        File::open(&file).with_context(|| format!("opening {}", file.display()))?;
        for command in COMMANDS {
            let (secs, maxrss_mb, exit) = run_measured(tracer, &[command, file.to_str().unwrap()])?;
            out.push(Hostile {
                input: input.to_string(),
                command: command.to_string(),
                secs,
                maxrss_mb,
                exit,
            });
        }
        let _ = std::fs::remove_file(&file);
    }
    Ok(out)
}

/// One line per input and command.
pub fn format(results: &[Hostile]) -> String {
    let mut s =
        format!("\nhostile inputs ({SIZE_MB} MB each; argv bomb ~30 MB; cycle 100k tasks):\n");
    for h in results {
        s.push_str(&format!(
            "  {:<8} {:<7} {:>6.2} s {:>7.1} MB  exit {}\n",
            h.input, h.command, h.secs, h.maxrss_mb, h.exit
        ));
    }
    s
}

/// The bounds, as (what, met). An exit of 101 (a panic) or a signal fails.
pub fn targets(results: &[Hostile]) -> Vec<(String, bool)> {
    results
        .iter()
        .map(|h| {
            (
                format!(
                    "hostile {} via {}: <= {MAX_SECS} s ({:.2} s), <= {MAX_RSS_MB} MB ({:.1} MB), \
                     a clean exit ({})",
                    h.input, h.command, h.secs, h.maxrss_mb, h.exit
                ),
                h.secs <= MAX_SECS && h.maxrss_mb <= MAX_RSS_MB && (0..=4).contains(&h.exit),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_fat_or_panicking_run_misses_its_target() {
        let h = |secs, mb, exit| Hostile {
            input: "resync".into(),
            command: "report".into(),
            secs,
            maxrss_mb: mb,
            exit,
        };
        let met = |r: Hostile| targets(&[r])[0].1;
        assert!(met(h(0.5, 5.0, 4)));
        assert!(!met(h(10.5, 5.0, 4)));
        assert!(!met(h(0.5, 65.0, 4)));
        assert!(!met(h(0.5, 5.0, 101)));
        assert!(!met(h(0.5, 5.0, -1)));
    }
}
