//! The health pane's numbers: events per second by kind (the last whole
//! second of event time), losses, ring fill, throttling.

use tracer_common::EventKind;

use crate::{
    kernel::rings::RingFill,
    model::event::{Event, Record, ThrottlePhase},
};

const KINDS: usize = EventKind::COUNTERS as usize;

#[derive(Default)]
pub struct Health {
    pub total: [u64; KINDS],
    /// The second being counted, and its counts.
    sec: u64,
    current: [u64; KINDS],
    /// The second before it.
    previous: [u64; KINDS],
    pub lost: [u64; KINDS],
    pub lost_unknown: u64,
    pub rings: Vec<RingFill>,
    /// Throttle episodes begun and ended, and what the ended ones dropped.
    pub throttle_begun: u64,
    pub throttle_ended: u64,
    pub throttle_dropped: u64,
}

impl Health {
    pub fn event(&mut self, rec: &Record) {
        let i = usize::from(rec.event.kind().tag());
        self.roll(rec.boot_ns / 1_000_000_000);
        if let Some(n) = self.current.get_mut(i) {
            *n += 1;
        }
        if let Some(n) = self.total.get_mut(i) {
            *n += 1;
        }
        if let Event::Throttle { throttle, .. } = &rec.event {
            match throttle.phase {
                ThrottlePhase::Begin => self.throttle_begun += 1,
                ThrottlePhase::End => {
                    self.throttle_ended += 1;
                    self.throttle_dropped += throttle.dropped_total();
                }
            }
        }
    }

    fn roll(&mut self, sec: u64) {
        if sec > self.sec {
            self.previous = if sec == self.sec + 1 {
                self.current
            } else {
                [0; KINDS]
            };
            self.current = [0; KINDS];
            self.sec = sec;
        }
    }

    pub fn lost(&mut self, kind: Option<EventKind>, count: u64) {
        match kind.and_then(|k| self.lost.get_mut(usize::from(k.tag()))) {
            Some(n) => *n += count,
            None => self.lost_unknown += count,
        }
    }

    /// Events per second by kind, for the last whole second before
    /// `now_ns` (zero once the stream has been quiet for longer).
    pub fn rates(&self, now_ns: u64) -> [u64; KINDS] {
        let now = now_ns / 1_000_000_000;
        if now == self.sec {
            self.previous
        } else if now == self.sec + 1 {
            self.current
        } else {
            [0; KINDS]
        }
    }

    pub fn lost_total(&self) -> u64 {
        self.lost.iter().sum::<u64>() + self.lost_unknown
    }

    /// Per ring, percent of its bytes held at the fullest moment of the
    /// last second.
    pub fn ring_percents(&self) -> Vec<u64> {
        self.rings
            .iter()
            .map(|r| r.peak_bytes * 100 / r.size_bytes.max(1))
            .collect()
    }
}

/// This process's CPU time (ns) and resident memory (KiB), from procfs.
pub fn own_usage() -> (u64, u64) {
    // SAFETY: getrusage fills the struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    let rss_kb = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page_kb());
    (tv(ru.ru_utime) + tv(ru.ru_stime), rss_kb)
}

fn page_kb() -> u64 {
    // SAFETY: sysconf only reads a constant of the system.
    let bytes = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(bytes).map_or(4, |b| (b / 1024).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{event::Task, signals::ExitStatus};

    fn exit_at(boot_ns: u64) -> Record {
        let task = Task {
            pid: 7,
            tgid: 7,
            ppid: 1,
            flags: 0,
            has_mm: true,
            comm: "x".into(),
            start_ns: 0,
            context: None,
        };
        Record {
            boot_ns,
            cpu: 0,
            event: Event::Exit {
                task,
                status: ExitStatus::Exited(0),
                group_dead: None,
            },
        }
    }

    #[test]
    fn rates_are_the_last_whole_second() {
        let mut h = Health::default();
        let s = 1_000_000_000;
        for i in 0..5 {
            h.event(&exit_at(10 * s + i));
        }
        h.event(&exit_at(11 * s));
        let exit = usize::from(EventKind::Exit.tag());
        assert_eq!(h.rates(11 * s + 5)[exit], 5);
        assert_eq!(h.rates(12 * s)[exit], 1);
        assert_eq!(h.rates(14 * s)[exit], 0);
        assert_eq!(h.total[exit], 6);
        h.lost(None, 3);
        h.lost(Some(EventKind::Exit), 2);
        assert_eq!(h.lost_total(), 5);
    }
}
