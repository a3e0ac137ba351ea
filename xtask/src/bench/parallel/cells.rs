//! What a parallel run measured: one cell per storm, mode and N, the rate
//! search's results, the peers (also the content of bench-parallel.json).

use serde::Serialize;

use super::accounting::Accounting;
use crate::bench::common::fixed;

/// Operations per process: each storm runs for a few hundred ms untraced
/// here (the 16-CPU measurements used 300,000 signals each).
pub(crate) const STORMS: [(&str, u64); 3] =
    [("forkexec", 1000), ("fork", 2500), ("signal", 300_000)];

/// One storm under one mode, N at a time; a `cells` entry of the JSON.
#[derive(Serialize)]
pub(crate) struct Cell {
    pub(crate) parallel: usize,
    pub(crate) workload: &'static str,
    pub(crate) mode: &'static str,
    #[serde(serialize_with = "fixed::<1, _>")]
    pub(crate) untraced_ms: f64,
    /// The build under test.
    #[serde(flatten)]
    pub(crate) new: Side,
    /// The `--baseline` build, in the same rounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) baseline: Option<Side>,
}

/// One tracer's results in a [`Cell`].
#[derive(Default, Serialize)]
pub(crate) struct Side {
    #[serde(serialize_with = "fixed::<3, _>")]
    pub(crate) slowdown: f64,
    #[serde(serialize_with = "fixed::<1, _>")]
    pub(crate) traced_ms: f64,
    /// The storm's events recorded per second of traced storm.
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) events_per_s: f64,
    pub(crate) lost: u64,
    /// In-kernel ns per program run, all programs (the BPF statistics run).
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) kernel_ns_per_event: f64,
    pub(crate) kernel: Vec<(String, u64, u64)>,
    #[serde(serialize_with = "fixed::<1, _>")]
    pub(crate) tracer_cpu_ms: f64,
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) tracer_cpu_ns_per_event: f64,
    pub(crate) rings: u64,
    /// The worst round's.
    pub(crate) accounting: Accounting,
}

/// The rate search's result for one N.
#[derive(Serialize)]
pub(crate) struct ZeroLoss {
    pub(crate) parallel: usize,
    /// The highest rate asked for that recorded everything, and the rate
    /// recorded then (events of the storm / wall time).
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) asked_per_s: f64,
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) recorded_per_s: f64,
    /// The lowest rate asked for that lost events, if any did.
    #[serde(serialize_with = "fixed::<0, _>")]
    pub(crate) lossy_per_s: f64,
    pub(crate) probes: Vec<(u64, bool)>,
}

#[derive(Serialize)]
pub(crate) struct PeerCell {
    pub(crate) parallel: usize,
    pub(crate) tracer: &'static str,
    pub(crate) workload: &'static str,
    #[serde(serialize_with = "fixed::<3, _>")]
    pub(crate) slowdown: f64,
    /// Lines the peer printed, against the events generated.
    pub(crate) lines: u64,
    pub(crate) generated: u64,
}

#[derive(Serialize)]
pub(crate) struct Measured {
    pub(crate) machine: String,
    pub(crate) rounds: usize,
    pub(crate) cells: Vec<Cell>,
    pub(crate) zero_loss: Vec<ZeroLoss>,
    pub(crate) peers: Vec<PeerCell>,
}
