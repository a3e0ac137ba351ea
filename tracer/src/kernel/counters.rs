//! What the loaded programs counted: records lost to full rings, runs the
//! kernel skipped and the rescues took, the open throttle episodes, and
//! each program's run statistics.

use std::os::fd::{AsFd as _, AsRawFd as _};

use anyhow::{anyhow, Context as _, Result};
use aya::programs::BtfTracePoint;
use tracer_common::{names, EventKind, ThrottleBucket};

use crate::kernel::loader::Loaded;

impl Loaded {
    /// (program, runs, total ns in the program) from the kernel's BPF
    /// statistics; zeros unless `kernel.bpf_stats_enabled` is 1.
    pub fn program_stats(&self) -> Vec<(&'static str, u64, u64)> {
        self.first
            .iter()
            .chain(&self.loaded)
            .chain(&self.rescues)
            .chain(&self.companions)
            .filter_map(|name| {
                let info = self.ebpf.program(name)?.info().ok()?;
                Some((*name, info.run_count(), info.run_time().as_nanos() as u64))
            })
            .collect()
    }

    /// Records dropped because their ring was full, by kind, summed over
    /// CPUs.
    pub fn lost(&self) -> Result<Vec<(EventKind, u64)>> {
        EventKind::ALL
            .iter()
            .map(|&kind| {
                let per_cpu = self
                    .lost
                    .get(&u32::from(kind.tag()), 0)
                    .with_context(|| format!("reading the loss counter for {}", kind.name()))?;
                Ok((kind, per_cpu.iter().sum()))
            })
            .collect()
    }

    /// Events lost to runs the kernel skipped (a program's run nested on
    /// one CPU) that no rescue took, by kind: the first program's skips
    /// less the rescues' runs.
    pub fn skipped(&self) -> Result<Vec<(EventKind, u64)>> {
        let mut out = Vec::with_capacity(EventKind::TRACED.len());
        for &name in &self.loaded {
            let kind = EventKind::TRACED
                .into_iter()
                .find(|k| k.program() == name)
                .expect("loaded names are programs");
            let program: &BtfTracePoint = self
                .ebpf
                .program(name)
                .ok_or_else(|| anyhow!("program {name} vanished"))?
                .try_into()?;
            let misses = recursion_misses(program.fd()?.as_fd())
                .with_context(|| format!("reading the skips of {name}"))?;
            out.push((kind, misses.saturating_sub(self.rescued(kind)?)));
        }
        Ok(out)
    }

    /// The throttle episodes still open, per CPU: (cpu, bucket) for each
    /// bucket with drops not yet reported by an end record. Read after
    /// detaching, so no program changes them meanwhile.
    pub fn open_throttles(&self) -> Result<Vec<(u32, ThrottleBucket)>> {
        let map: aya::maps::PerCpuArray<_, ThrottleBucket> = aya::maps::PerCpuArray::try_from(
            self.ebpf
                .map(names::THROTTLE)
                .ok_or_else(|| anyhow!("map {} missing from the eBPF object", names::THROTTLE))?,
        )?;
        let mut open = Vec::new();
        for i in 0..tracer_common::throttle::THROTTLE_BUCKETS {
            let per_cpu = map
                .get(&i, 0)
                .with_context(|| format!("reading throttle bucket {i}"))?;
            for (cpu, b) in per_cpu.iter().enumerate() {
                if b.episode_drops != 0 {
                    open.push((cpu as u32, *b));
                }
            }
        }
        Ok(open)
    }

    /// Runs the rescue programs of `kind` did, summed over CPUs.
    pub fn rescued(&self, kind: EventKind) -> Result<u64> {
        Ok(self
            .rescued
            .get(&u32::from(kind.tag()), 0)
            .with_context(|| format!("reading the rescue counter for {}", kind.name()))?
            .iter()
            .sum())
    }
}

/// The kernel's count of skipped runs of the program behind `fd`, from its
/// fdinfo (the `recursion_misses` of `bpf_prog_info`, Linux 5.12+; 0 on
/// kernels without it, which never skip a tracepoint's program).
fn recursion_misses(fd: std::os::fd::BorrowedFd<'_>) -> Result<u64> {
    let path = format!("/proc/self/fdinfo/{}", fd.as_raw_fd());
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_recursion_misses(&text)
}

fn parse_recursion_misses(fdinfo: &str) -> Result<u64> {
    match fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("recursion_misses:"))
    {
        Some(n) => n
            .trim()
            .parse()
            .with_context(|| format!("recursion_misses: {n:?} is not a count")),
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_come_from_the_fdinfo() {
        let fdinfo =
            "pos:\t0\nprog_type:\t26\nrun_cnt:\t0\nrecursion_misses:\t17\nverified_insns:\t358\n";
        assert_eq!(parse_recursion_misses(fdinfo).unwrap(), 17);
        // 5.10 has no such line, and no skips.
        assert_eq!(
            parse_recursion_misses("pos:\t0\nprog_type:\t26\n").unwrap(),
            0
        );
        assert!(parse_recursion_misses("recursion_misses:\tmany\n").is_err());
    }
}
