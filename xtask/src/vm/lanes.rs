//! Guests booted side by side. They share nothing but the host's CPUs
//! (each kernel has its own initramfs, console log and results), so a
//! host with CPUs to spare runs several at once.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex,
    },
    time::Instant,
};

use anyhow::{Context as _, Result};

use super::results::KernelRun;
use crate::cmd::Arch;

/// A kernel's run and its seconds, boot included.
pub(super) type Booted = (KernelRun, f64);

/// How many guests boot at once: `TRACER_VM_LANES` if set, else as many
/// as the host has CPUs for. A single-threaded TCG guest (x86-64 here)
/// keeps one host CPU busy, so a 2-CPU host runs two; KVM and
/// multi-threaded TCG (arm64) guests want a host CPU per vCPU (two).
/// Never more than there are kernels.
pub(super) fn count(arch: Arch, accel: &str, kernels: usize) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let asked = std::env::var("TRACER_VM_LANES").ok();
    let wanted = match asked.and_then(|v| v.parse().ok()) {
        Some(n) => n,
        None if arch == Arch::X86_64 && accel == "tcg" => cpus,
        None => cpus / 2,
    };
    wanted.clamp(1, kernels.max(1))
}

/// Runs `boot(i)` for every `i` below `kernels` on `lanes` threads; each
/// lane takes the next kernel not yet taken, in order, so the first (the
/// oldest and slowest) starts at once and the rest share the other lanes.
/// The results come back in order.
pub(super) fn run(
    lanes: usize,
    kernels: usize,
    boot: impl Fn(usize) -> Result<KernelRun> + Sync,
) -> Vec<Result<Booted>> {
    let next = AtomicUsize::new(0);
    let done: Vec<Mutex<Option<Result<Booted>>>> = (0..kernels).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..lanes.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= kernels {
                    break;
                }
                let started = Instant::now();
                let run = boot(i).map(|run| (run, started.elapsed().as_secs_f64()));
                *done[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(run);
            });
        }
    });
    done.into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .context("a guest lane ended without its kernel's result")?
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_named(name: &str) -> KernelRun {
        let console = crate::vm::console::Console {
            lines: Vec::new(),
            timed_out: false,
            elapsed: 0.0,
        };
        crate::vm::results::parse(name, name, &console)
    }

    #[test]
    fn every_kernel_runs_once_and_results_keep_their_order() {
        let runs = AtomicUsize::new(0);
        let out = run(2, 5, |i| {
            runs.fetch_add(1, Ordering::Relaxed);
            if i == 3 {
                anyhow::bail!("kernel 3 failed");
            }
            Ok(run_named(&format!("k{i}")))
        });
        assert_eq!(runs.into_inner(), 5);
        let names: Vec<String> = out
            .iter()
            .map(|r| match r {
                Ok((run, _)) => run.name.clone(),
                Err(e) => format!("{e}"),
            })
            .collect();
        assert_eq!(names, ["k0", "k1", "k2", "kernel 3 failed", "k4"]);
    }

    #[test]
    fn never_more_lanes_than_kernels() {
        assert_eq!(count(Arch::X86_64, "tcg", 1), 1);
        assert_eq!(count(Arch::X86_64, "tcg", 0), 1);
    }
}
