//! The tap: on the event stream, the only writer of the counts.

use std::sync::{atomic::Ordering::Relaxed, Arc};

use anyhow::Result;
use tracer_common::{EventKind, MAX_RINGS};

use super::{
    counts::{bump, result_index, Counts, KINDS, SIGNALS},
    server,
};
use crate::{
    kernel::rings::RingFill,
    model::{
        classify::Kind,
        event::{Event, Record},
        signals::ExitStatus,
        tasks::{Annotation, TaskTable},
    },
    pipeline::tap::Tap,
};

/// The tap: counts each event, and hands the server the gauges once a
/// second.
pub(super) struct MetricsTap {
    pub(super) counts: Arc<Counts>,
    /// The HTTP server (live); none for a log.
    pub(super) serving: Option<server::Serving>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ship::metrics::exposition::scrape;

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
