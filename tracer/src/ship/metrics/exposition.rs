//! The counts as metric families in the Prometheus text format, encoded
//! at each scrape (and once for a log).

use std::{
    fmt,
    sync::{
        atomic::{AtomicU64, Ordering::Relaxed},
        Arc,
    },
};

use prometheus_client::{collector::Collector, encoding::DescriptorEncoder, metrics::MetricType};
use tracer_common::EventKind;

use super::{
    counts::{Counts, RESULTS},
    family::{counter, family, gauge},
    process,
};
use crate::model::{classify::Kind, signals};

/// The counts as metric families, encoded at each scrape.
pub(super) struct Exposition {
    pub(super) counts: Arc<Counts>,
    /// A live session: the process's own gauges (rings, memory) too.
    pub(super) live: bool,
}

impl fmt::Debug for Exposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Exposition")
    }
}

impl Collector for Exposition {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
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

/// The page a scrape gets, for tests.
#[cfg(test)]
pub(super) fn scrape(counts: Arc<Counts>) -> String {
    use prometheus_client::{encoding::prometheus_text, registry::Registry};
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Exposition { counts, live: true }));
    let mut body = String::new();
    prometheus_text::encode(&mut body, &registry).unwrap();
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ship::metrics::counts::bump;

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
}
