//! Prometheus metrics at `http://ADDR/metrics`, in the Prometheus text
//! format (0.0.4, as `prometheus-client` encodes it).
//!
//! Two sides share one [`Counts`] of atomics and nothing else:
//!
//! - the tap, on the event stream, which alone writes the counts: per
//!   event, a few plain increments of counters found by index (a load and a
//!   store each, never a locked read-modify-write, a hash or a lock);
//! - the server thread ([`server`], bounded against hostile clients),
//!   which reads them at each scrape and encodes them. It only ever reads,
//!   so it can never hold the event stream up, and a scrape sees every
//!   event counted up to that moment.
//!
//! Labels are bounded: kinds, results, signal names and ring numbers,
//! never a pid or a comm. A live session's `process_*` gauges come from
//! [`process`].

mod process;
pub mod server;

use std::{
    fmt,
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed},
        Arc,
    },
};

use anyhow::{anyhow, Result};
use prometheus_client::{
    collector::Collector,
    encoding::{prometheus_text, DescriptorEncoder, MetricEncoder, NoLabelSet},
    metrics::MetricType,
    registry::Registry,
};
use tracer_common::{EventKind, MAX_RINGS};

use crate::{
    kernel::rings::RingFill,
    model::{
        classify::Kind,
        event::{Event, Record},
        signals::{self, ExitStatus, GenerateResult},
        tasks::{Annotation, TaskTable},
    },
    pipeline::tap::Tap,
};

/// Event kinds, by tag.
const TAGS: usize = EventKind::COUNTERS as usize;
const KINDS: usize = Kind::ALL.len();
/// Signal numbers an exit status can carry (7 bits).
const SIGNALS: usize = 128;
/// `signal_generate` results: the five the kernel names, and any other.
const RESULTS: [&str; 6] = [
    "delivered",
    "ignored",
    "already_pending",
    "overflow_fail",
    "lose_info",
    "unknown",
];

/// The address, bound before any BPF is loaded.
pub struct Server {
    listener: server::Listener,
}

impl Server {
    /// Listens at `addr` (port 0: any free port, said on stderr), so a port
    /// in use fails at once.
    pub fn bind(addr: SocketAddr) -> Result<Server> {
        Ok(Server {
            listener: server::Listener::bind(addr)?,
        })
    }

    /// The tap that counts, with the thread that serves what it counts.
    pub fn tap(self) -> Box<dyn Tap> {
        let counts = Arc::new(Counts::new());
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Exposition {
            counts: counts.clone(),
            live: true,
        }));
        let serving = self.listener.serve(server::Page {
            content_type: prometheus_text::CONTENT_TYPE,
            render: Box::new(move || {
                let mut body = String::with_capacity(8 << 10);
                prometheus_text::encode(&mut body, &registry).ok()?;
                Some(body)
            }),
        });
        Box::new(MetricsTap {
            counts,
            serving: Some(serving),
        })
    }
}

/// A log's counts, for `export --format prometheus`: one exposition of the
/// whole log (for node_exporter's textfile collector or a Pushgateway).
pub struct LogMetrics(Arc<Counts>);

/// The tap to run over the log, and what encodes its counts at the end.
pub fn log_tap() -> (Box<dyn Tap>, LogMetrics) {
    let counts = Arc::new(Counts::new());
    let tap = Box::new(MetricsTap {
        counts: counts.clone(),
        serving: None,
    });
    (tap, LogMetrics(counts))
}

impl LogMetrics {
    /// The counters, and the tasks alive at the log's end by kind; not the
    /// exporting process's own gauges (rings, memory), which say nothing
    /// about the log.
    pub fn exposition(&self) -> Result<String> {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Exposition {
            counts: self.0.clone(),
            live: false,
        }));
        let mut body = String::with_capacity(8 << 10);
        prometheus_text::encode(&mut body, &registry)
            .map_err(|_| anyhow!("encoding the metrics failed"))?;
        Ok(body)
    }
}

/// Everything counted, written by the tap alone.
struct Counts {
    events: [AtomicU64; TAGS],
    lost: [AtomicU64; TAGS],
    /// Events dropped by the per-source throttle, by kind (no uid label:
    /// label values stay bounded).
    throttled: [AtomicU64; TAGS],
    /// Lost records of a kind this build does not know.
    lost_unknown: AtomicU64,
    /// Events `record`'s decode thread dropped (the log has them).
    decode_dropped: AtomicU64,
    helpers_started: AtomicU64,
    helpers_failed: AtomicU64,
    /// Helpers killed, by signal number.
    helpers_killed: [AtomicU64; SIGNALS],
    /// Signals generated for kernel-side tasks, by result and target kind.
    kernel_signals: [[AtomicU64; KINDS]; RESULTS.len()],
    kthreads_created: AtomicU64,
    /// Tasks in the table by kind, at the last tick.
    tasks: [AtomicU64; KINDS],
    /// The table has been counted once: until then the gauge is absent,
    /// not zero.
    tasks_counted: AtomicBool,
    /// Per ring: its size and the most bytes it held in the last second.
    ring_size: [AtomicU64; MAX_RINGS],
    ring_peak: [AtomicU64; MAX_RINGS],
    rings: AtomicUsize,
}

impl Counts {
    fn new() -> Counts {
        fn zeros<const N: usize>() -> [AtomicU64; N] {
            std::array::from_fn(|_| AtomicU64::new(0))
        }
        Counts {
            events: zeros(),
            lost: zeros(),
            throttled: zeros(),
            lost_unknown: AtomicU64::new(0),
            decode_dropped: AtomicU64::new(0),
            helpers_started: AtomicU64::new(0),
            helpers_failed: AtomicU64::new(0),
            helpers_killed: zeros(),
            kernel_signals: std::array::from_fn(|_| zeros()),
            kthreads_created: AtomicU64::new(0),
            tasks: zeros(),
            tasks_counted: AtomicBool::new(false),
            ring_size: zeros(),
            ring_peak: zeros(),
            rings: AtomicUsize::new(0),
        }
    }
}

/// Adds `n` to a count that only the tap writes: a plain load and store,
/// no locked read-modify-write; the server thread reads it whole.
#[inline]
fn bump(count: &AtomicU64, n: u64) {
    count.store(count.load(Relaxed).saturating_add(n), Relaxed);
}

fn result_index(r: GenerateResult) -> usize {
    match r {
        GenerateResult::Delivered => 0,
        GenerateResult::Ignored => 1,
        GenerateResult::AlreadyPending => 2,
        GenerateResult::OverflowFail => 3,
        GenerateResult::LoseInfo => 4,
        GenerateResult::Unknown(_) => 5,
    }
}

/// The tap: counts each event, and hands the server the gauges once a
/// second.
struct MetricsTap {
    counts: Arc<Counts>,
    /// The HTTP server (live); none for a log.
    serving: Option<server::Serving>,
}

impl Tap for MetricsTap {
    fn event(&mut self, rec: &Record, ann: &Annotation, _shown: bool) {
        let c = &*self.counts;
        if let Some(n) = c.events.get(usize::from(rec.event.kind().tag())) {
            bump(n, 1);
        }
        match &rec.event {
            Event::Fork { child, .. } => match ann.subject {
                // A helper process (not its threads).
                Kind::Helper if child.pid == child.tgid => bump(&c.helpers_started, 1),
                // What kthreadd makes (a kworker is a kthread at its birth).
                Kind::Kthread | Kind::Kworker => bump(&c.kthreads_created, 1),
                _ => {}
            },
            Event::Exit { task, status, .. }
                if ann.subject == Kind::Helper && task.pid == task.tgid =>
            {
                if ann.helper.as_ref().is_some_and(|h| h.exec_failed) {
                    bump(&c.helpers_failed, 1);
                }
                if let ExitStatus::Signaled { sig, .. } = *status {
                    bump(&c.helpers_killed[(sig as usize) % SIGNALS], 1);
                }
            }
            Event::SignalGenerate { result, .. } if ann.subject.kernel_side() => {
                bump(
                    &c.kernel_signals[result_index(*result)][ann.subject as usize],
                    1,
                );
            }
            Event::Throttle { throttle, .. } => {
                for &(kind, n) in &throttle.dropped {
                    bump(&c.throttled[usize::from(kind.tag())], n);
                }
            }
            _ => {}
        }
    }

    fn lost(&mut self, kind: Option<EventKind>, count: u64, _boot_ns: u64) {
        let c = &*self.counts;
        match kind.and_then(|k| c.lost.get(usize::from(k.tag()))) {
            Some(n) => bump(n, count),
            None => bump(&c.lost_unknown, count),
        }
    }

    fn missed(&mut self, count: u64) {
        bump(&self.counts.decode_dropped, count);
    }

    fn tick(&mut self, table: &TaskTable) {
        let mut by_kind = [0u64; KINDS];
        for e in table.iter() {
            by_kind[e.kind() as usize] += 1;
        }
        for (gauge, n) in self.counts.tasks.iter().zip(by_kind) {
            gauge.store(n, Relaxed);
        }
        self.counts.tasks_counted.store(true, Relaxed);
    }

    fn rings(&mut self, fill: &[RingFill]) {
        let c = &*self.counts;
        for (i, f) in fill.iter().take(MAX_RINGS).enumerate() {
            c.ring_size[i].store(f.size_bytes, Relaxed);
            c.ring_peak[i].store(f.peak_bytes, Relaxed);
        }
        c.rings.store(fill.len().min(MAX_RINGS), Relaxed);
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        if let Some(serving) = &mut self.serving {
            serving.stop();
        }
        Ok(())
    }
}

/// The counts as metric families, encoded at each scrape.
struct Exposition {
    counts: Arc<Counts>,
    /// A live session: the process's own gauges (rings, memory) too.
    live: bool,
}

impl fmt::Debug for Exposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Exposition")
    }
}

fn family<'a>(
    enc: &'a mut DescriptorEncoder<'_>,
    name: &'a str,
    help: &str,
    metric_type: MetricType,
) -> Result<MetricEncoder<'a>, fmt::Error> {
    enc.encode_descriptor(name, help, None, metric_type)
}

fn counter(m: &mut MetricEncoder<'_>, labels: &[(&str, &str)], v: u64) -> fmt::Result {
    if labels.is_empty() {
        m.encode_counter::<NoLabelSet, u64, u64>(&v, None)
    } else {
        m.encode_family(&labels)?
            .encode_counter::<NoLabelSet, u64, u64>(&v, None)
    }
}

fn gauge<V: prometheus_client::encoding::EncodeGaugeValue>(
    m: &mut MetricEncoder<'_>,
    labels: &[(&str, &str)],
    v: V,
) -> fmt::Result {
    if labels.is_empty() {
        m.encode_gauge(&v)
    } else {
        m.encode_family(&labels)?.encode_gauge(&v)
    }
}

impl Collector for Exposition {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let c = &*self.counts;
        let load = |n: &AtomicU64| n.load(Relaxed);

        // Counter names are given without `_total`: the encoder adds it.
        let mut m = family(
            &mut enc,
            "tracer_events",
            "Events decoded from the ring buffers, by kind (all of them, whatever the output \
             filter shows)",
            MetricType::Counter,
        )?;
        for kind in EventKind::ALL {
            let n = load(&c.events[usize::from(kind.tag())]);
            counter(&mut m, &[("event", kind.name())], n)?;
        }

        let mut m = family(
            &mut enc,
            "tracer_lost_events",
            "Events the kernel could not deliver (ring buffer full, or a nested run skipped), by \
             kind",
            MetricType::Counter,
        )?;
        for kind in EventKind::ALL {
            let n = load(&c.lost[usize::from(kind.tag())]);
            counter(&mut m, &[("event", kind.name())], n)?;
        }
        let unknown = load(&c.lost_unknown);
        if unknown > 0 {
            counter(&mut m, &[("event", "unknown")], unknown)?;
        }

        let mut m = family(
            &mut enc,
            "tracer_decode_dropped_events",
            "Events record's decode thread was too far behind to count here (the log has them \
             all)",
            MetricType::Counter,
        )?;
        counter(&mut m, &[], load(&c.decode_dropped))?;

        let mut m = family(
            &mut enc,
            "tracer_throttled_events",
            "Events the per-source throttle counted instead of recording, by kind (as throttle \
             episodes end)",
            MetricType::Counter,
        )?;
        for kind in EventKind::TRACED {
            let n = load(&c.throttled[usize::from(kind.tag())]);
            counter(&mut m, &[("event", kind.name())], n)?;
        }

        let mut m = family(
            &mut enc,
            "tracer_helpers_started",
            "User-mode helper processes the kernel started",
            MetricType::Counter,
        )?;
        counter(&mut m, &[], load(&c.helpers_started))?;

        let mut m = family(
            &mut enc,
            "tracer_helpers_failed",
            "User-mode helpers that exited without running their program (their exec failed)",
            MetricType::Counter,
        )?;
        counter(&mut m, &[], load(&c.helpers_failed))?;

        let mut m = family(
            &mut enc,
            "tracer_helpers_killed",
            "User-mode helpers killed by a signal, by signal",
            MetricType::Counter,
        )?;
        for (sig, n) in c.helpers_killed.iter().enumerate() {
            let n = load(n);
            if n > 0 {
                let name = signals::name(sig as i32);
                counter(&mut m, &[("signal", name.as_ref())], n)?;
            }
        }

        let mut m = family(
            &mut enc,
            "tracer_kernel_signals",
            "Signals generated for kernel-side tasks (kthreads, kworkers, helpers, io_uring and \
             user workers), by the kernel's result and the target's kind",
            MetricType::Counter,
        )?;
        for (result, by_kind) in RESULTS.iter().zip(&c.kernel_signals) {
            for (kind, n) in Kind::ALL.iter().zip(by_kind) {
                let n = load(n);
                if n > 0 {
                    counter(
                        &mut m,
                        &[("result", *result), ("target_kind", kind.name())],
                        n,
                    )?;
                }
            }
        }

        let mut m = family(
            &mut enc,
            "tracer_kthreads_created",
            "Kernel threads created (kworkers included)",
            MetricType::Counter,
        )?;
        counter(&mut m, &[], load(&c.kthreads_created))?;

        if c.tasks_counted.load(Relaxed) {
            let mut m = family(
                &mut enc,
                "tracer_tasks",
                "Tasks (threads included) in the tracer's task table, by kind, refreshed once a \
                 second",
                MetricType::Gauge,
            )?;
            for (kind, n) in Kind::ALL.iter().zip(&c.tasks) {
                gauge(&mut m, &[("kind", kind.name())], load(n))?;
            }
        }

        let rings = c.rings.load(Relaxed);
        if self.live && rings > 0 {
            let names: Vec<String> = (0..rings).map(|i| i.to_string()).collect();
            let mut m = family(
                &mut enc,
                "tracer_ring_buffer_size_bytes",
                "Size of each ring buffer",
                MetricType::Gauge,
            )?;
            for (i, name) in names.iter().enumerate() {
                gauge(&mut m, &[("ring", name)], load(&c.ring_size[i]))?;
            }
            let mut m = family(
                &mut enc,
                "tracer_ring_buffer_used_bytes",
                "Most bytes waiting in each ring buffer when the reader came to it, over the last \
                 second",
                MetricType::Gauge,
            )?;
            for (i, name) in names.iter().enumerate() {
                gauge(&mut m, &[("ring", name)], load(&c.ring_peak[i]))?;
            }
            let mut m = family(
                &mut enc,
                "tracer_ring_buffer_fill_ratio",
                "Most of each ring buffer in use when the reader came to it, over the last \
                 second (1: full, events are being lost)",
                MetricType::Gauge,
            )?;
            for (i, name) in names.iter().enumerate() {
                let size = load(&c.ring_size[i]).max(1) as f64;
                gauge(
                    &mut m,
                    &[("ring", name)],
                    load(&c.ring_peak[i]) as f64 / size,
                )?;
            }
        }

        let mut m = family(
            &mut enc,
            "tracer_build_info",
            "The tracer's version (always 1)",
            MetricType::Gauge,
        )?;
        gauge(&mut m, &[("version", env!("CARGO_PKG_VERSION"))], 1u64)?;
        if !self.live {
            return Ok(());
        }

        let me = process::Process::read();
        if let Some(rss) = me.rss_bytes {
            let mut m = family(
                &mut enc,
                "tracer_resident_memory_bytes",
                "The tracer's resident memory (as process_resident_memory_bytes)",
                MetricType::Gauge,
            )?;
            gauge(&mut m, &[], rss)?;
        }
        me.encode(&mut enc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(counts: Arc<Counts>) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Exposition { counts, live: true }));
        let mut body = String::new();
        prometheus_text::encode(&mut body, &registry).unwrap();
        body
    }

    #[test]
    fn every_kind_is_exposed_and_counters_end_in_total() {
        let counts = Arc::new(Counts::new());
        bump(&counts.events[usize::from(EventKind::Exec.tag())], 3);
        bump(&counts.helpers_killed[9], 1);
        bump(&counts.kernel_signals[1][Kind::Kthreadd as usize], 2);
        bump(&counts.lost_unknown, 5);
        let body = scrape(counts);
        assert!(
            body.contains("# TYPE tracer_events_total counter\n"),
            "{body}"
        );
        assert!(
            body.contains("tracer_events_total{event=\"exec\"} 3\n"),
            "{body}"
        );
        assert!(body.contains("tracer_events_total{event=\"exec_failed\"} 0\n"));
        assert!(body.contains("tracer_lost_events_total{event=\"unknown\"} 5\n"));
        assert!(body.contains("tracer_helpers_killed_total{signal=\"SIGKILL\"} 1\n"));
        assert!(body.contains(
            "tracer_kernel_signals_total{result=\"ignored\",target_kind=\"kthreadd\"} 2\n"
        ));
        assert!(body.contains("# TYPE process_cpu_seconds_total counter\n"));
        assert!(body.contains("tracer_resident_memory_bytes "));
        // No tick yet: no task gauge, no ring gauges.
        assert!(!body.contains("tracer_tasks"));
        assert!(!body.contains("tracer_ring_buffer"));
        assert!(!body.contains("# EOF"));
    }

    /// Events the decode thread dropped are counted, not silently gone.
    #[test]
    fn events_dropped_before_decoding_are_counted() {
        let counts = Arc::new(Counts::new());
        let mut tap = MetricsTap {
            counts: Arc::clone(&counts),
            serving: None,
        };
        assert!(scrape(Arc::clone(&counts)).contains("tracer_decode_dropped_events_total 0\n"));
        tap.missed(7);
        tap.missed(5);
        let body = scrape(counts);
        assert!(
            body.contains("# TYPE tracer_decode_dropped_events_total counter\n"),
            "{body}"
        );
        assert!(
            body.contains("tracer_decode_dropped_events_total 12\n"),
            "{body}"
        );
    }
}
