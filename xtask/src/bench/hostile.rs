//! The hostile-input part of `cargo xtask bench`: 100 MB crafted logs (see
//! `tracer bench-log`) read by `report` and `export`, each within 10 s and
//! 64 MB of peak RSS. A missed bound fails the bench.
//!
//! Compressed ones too, made with the zstd command: decompression bombs
//! (4 GiB of zeros after a header at `-19` and `--long=27`, 1 GiB of frame
//! heads with bad checksums) within the same bounds, and a bomb of valid
//! records (4 GiB of one exit record), read within 64 MB at no less than
//! half the rate of the plain `records` log by the same command.

use std::{
    fs::File,
    os::unix::process::ExitStatusExt as _,
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

use super::{
    metrics::{self, MetricsHostile},
    scenario::{Ctx, Scenario},
};

/// The inputs `tracer bench-log` writes (the argv bomb stays under the
/// header limit, about 30 MB; the cycle is 100,000 tasks, about 5 MB).
const INPUTS: [&str; 6] = ["resync", "garbage", "argv", "cycle", "sparse", "records"];
/// The compressed inputs: a shell pipeline writing `$F` with the tracer at
/// `$T`, and how many MiB of log it decompresses to.
const COMPRESSED: [(&str, &str, u64); 4] = [
    ("zst-zeros", "{ \"$T\" bench-log garbage /dev/stdout 0; head -c 4G /dev/zero; } | zstd -19 -T0 -q -o \"$F\"", 4096),
    ("zst-long", "{ \"$T\" bench-log garbage /dev/stdout 0; head -c 4G /dev/zero; } | zstd --long=27 -T0 -q -o \"$F\"", 4096),
    ("zst-starts", "\"$T\" bench-log starts /dev/stdout 1024 | zstd -19 -T0 -q -o \"$F\"", 1024),
    ("zst-records", "\"$T\" bench-log records /dev/stdout 4096 | zstd -3 -T0 -q -o \"$F\"", 4096),
];
/// The valid-records bomb, bounded by rate (not time), against `records`.
const RECORDS_BOMB: &str = "zst-records";
const RECORDS_PLAIN: &str = "records";
const COMMANDS: [&str; 2] = ["report", "export"];
const SIZE_MB: u64 = 100;
const MAX_SECS: f64 = 10.0;
const MAX_RSS_MB: f64 = 64.0;

#[derive(Serialize)]
pub(crate) struct Hostile {
    pub(crate) input: String,
    pub(crate) command: String,
    pub(crate) secs: f64,
    pub(crate) maxrss_mb: f64,
    pub(crate) exit: i32,
    /// MB of log read (decompressed), for a rate.
    pub(crate) log_mb: f64,
}

/// What tracer prints on stderr with `TRACER_BENCH_PEAK_RSS` set: its own
/// VmHWM (the rusage of a child counts the spawning image's high-water mark).
const PEAK_PREFIX: &str = "tracer-peak-rss-kb: ";

/// Runs `tracer ARGS` with stdout discarded: (seconds, peak RSS in MB, exit).
pub(crate) fn run_measured(tracer: &Path, args: &[&str]) -> Result<(f64, f64, i32)> {
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

/// Reads `file` with each command.
fn read_with_each(
    tracer: &Path,
    input: &str,
    file: &Path,
    log_mb: f64,
    out: &mut Vec<Hostile>,
) -> Result<()> {
    for command in COMMANDS {
        let (secs, maxrss_mb, exit) = run_measured(tracer, &[command, file.to_str().unwrap()])?;
        out.push(Hostile {
            input: input.to_string(),
            command: command.to_string(),
            secs,
            maxrss_mb,
            exit,
            log_mb,
        });
    }
    Ok(())
}

pub(crate) fn measure(tracer: &Path, tmp: &Path) -> Result<Vec<Hostile>> {
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
        let bytes = File::open(&file)
            .and_then(|f| f.metadata())
            .with_context(|| format!("opening {}", file.display()))?
            .len();
        read_with_each(tracer, input, &file, bytes as f64 / 1e6, &mut out)?;
        let _ = std::fs::remove_file(&file);
    }
    for (input, pipeline, mib) in COMPRESSED {
        let file = tmp.join(format!("hostile-{input}.log.zst"));
        let status = Command::new("sh")
            .args(["-c", &format!("set -e; {pipeline}")])
            .env("T", tracer)
            .env("F", &file)
            .status()
            .context("running sh (and the zstd command: cargo xtask setup installs it)")?;
        if !status.success() {
            bail!("making {input} failed ({status}): {pipeline}");
        }
        read_with_each(tracer, input, &file, (mib << 20) as f64 / 1e6, &mut out)?;
        let _ = std::fs::remove_file(&file);
    }
    Ok(out)
}

/// One line per input and command.
pub(crate) fn format(results: &[Hostile]) -> String {
    let mut s = format!(
        "\nhostile inputs ({SIZE_MB} MB each; argv bomb ~30 MB; cycle 100k tasks; zst-*: \
         compressed, 4 GiB of log, zst-starts 1 GiB; rate: MB of log read a second):\n"
    );
    for h in results {
        // A rate only where the whole log is read (the valid records).
        let rate = if [RECORDS_PLAIN, RECORDS_BOMB].contains(&h.input.as_str()) {
            format!("  {:.0} MB/s", h.log_mb / h.secs)
        } else {
            String::new()
        };
        s.push_str(&format!(
            "  {:<11} {:<7} {:>6.2} s {:>7.1} MB  exit {}{rate}\n",
            h.input, h.command, h.secs, h.maxrss_mb, h.exit
        ));
    }
    s
}

/// The bounds, as (what, met). An exit of 101 (a panic) or a signal fails.
pub(crate) fn targets(results: &[Hostile]) -> Vec<(String, bool)> {
    results
        .iter()
        .map(|h| {
            if h.input == RECORDS_BOMB {
                return records_bomb_target(h, results);
            }
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

/// The valid-records bomb: read whole, in bounded memory, at no less than
/// half the plain `records` rate by the same command.
fn records_bomb_target(h: &Hostile, results: &[Hostile]) -> (String, bool) {
    let rate = h.log_mb / h.secs;
    let plain = results
        .iter()
        .find(|p| p.input == RECORDS_PLAIN && p.command == h.command)
        .map_or(f64::INFINITY, |p| p.log_mb / p.secs);
    (
        format!(
            "hostile {} via {}: <= {MAX_RSS_MB} MB ({:.1} MB), >= half the plain records rate \
             ({rate:.0} MB/s, plain {plain:.0} MB/s), exit 0 ({})",
            h.input, h.command, h.maxrss_mb, h.exit
        ),
        h.maxrss_mb <= MAX_RSS_MB && rate * 2.0 >= plain && h.exit == 0,
    )
}

/// `--only hostile`: the hostile-input bounds, crafted logs (no root
/// needed) and a flooded `--metrics` endpoint (needs root; without it,
/// not measured). Quick: no workloads, no peers.
pub(crate) struct HostileOnly;

impl Scenario for HostileOnly {
    type Measured = (Vec<Hostile>, Option<Vec<MetricsHostile>>);

    fn measure(&self, ctx: &Ctx<'_>) -> Result<Self::Measured> {
        let results = measure(&ctx.tracers.new, &ctx.tmp)?;
        Ok((results, metrics::measure(&ctx.tracers.new, &ctx.tmp)?))
    }

    fn format(&self, (results, metrics): &Self::Measured) -> String {
        format(results) + &metrics::format(metrics)
    }

    fn targets(&self, (results, metrics): &Self::Measured) -> Option<Vec<(String, bool)>> {
        let mut targets = targets(results);
        targets.extend(metrics::targets(metrics));
        Some(targets)
    }
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
            log_mb: 100.0,
        };
        let met = |r: Hostile| targets(&[r])[0].1;
        assert!(met(h(0.5, 5.0, 4)));
        assert!(!met(h(10.5, 5.0, 4)));
        assert!(!met(h(0.5, 65.0, 4)));
        assert!(!met(h(0.5, 5.0, 101)));
        assert!(!met(h(0.5, 5.0, -1)));
    }

    #[test]
    fn the_records_bomb_is_held_to_the_plain_rate() {
        let h = |input: &str, secs, log_mb, mb| Hostile {
            input: input.into(),
            command: "report".into(),
            secs,
            maxrss_mb: mb,
            exit: 0,
            log_mb,
        };
        let plain = h(RECORDS_PLAIN, 1.0, 100.0, 20.0);
        let met = |bomb: Hostile| targets(&[plain_copy(&plain), bomb])[1].1;
        // Longer than 10 s is fine; half the plain rate is not.
        assert!(met(h(RECORDS_BOMB, 60.0, 4000.0, 20.0)));
        assert!(!met(h(RECORDS_BOMB, 90.0, 4000.0, 20.0)));
        assert!(!met(h(RECORDS_BOMB, 60.0, 4000.0, 65.0)));
    }

    fn plain_copy(h: &Hostile) -> Hostile {
        Hostile {
            input: h.input.clone(),
            command: h.command.clone(),
            ..*h
        }
    }
}
