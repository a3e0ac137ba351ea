//! Records seen and lost, by kind, for end-of-session summaries.

use tracer_common::{EventKind, Header};

/// Why the kernel did not deliver records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossCause {
    /// Their ring buffer was full.
    RingFull,
    /// The kernel skipped the program's run (nested in a run of it on the
    /// same CPU) and no rescue program took it.
    Skipped,
    /// Not known: a log keeps only the count.
    Unknown,
}

impl LossCause {
    /// Why, and what helps, for a warning.
    pub fn explain(self) -> &'static str {
        match self {
            LossCause::RingFull => {
                "(ring buffer full); a larger --ring-buffer-size or a filter helps"
            }
            LossCause::Skipped => {
                "(the kernel skipped a program's run nested in another on the same CPU)"
            }
            LossCause::Unknown => "in the kernel",
        }
    }
}

/// Counts per kind tag of records seen, for summaries.
#[derive(Default, Clone)]
pub struct Counts {
    pub by_kind: [u64; EventKind::COUNTERS as usize],
    pub lost: [u64; EventKind::COUNTERS as usize],
}

impl Counts {
    // Every count saturates: a crafted log may claim any number of losses.
    pub fn total(&self) -> u64 {
        self.by_kind.iter().fold(0, |a, n| a.saturating_add(*n))
    }

    pub fn lost_total(&self) -> u64 {
        self.lost.iter().fold(0, |a, n| a.saturating_add(*n))
    }

    /// Counts a raw record by its header's kind tag.
    pub fn count_raw(&mut self, raw: &[u8]) {
        if let Some(tag) = Header::peek_tag(raw) {
            if let Some(n) = self.by_kind.get_mut(usize::from(tag)) {
                *n = n.saturating_add(1);
            }
        }
    }

    /// `count` more records of kind `tag` lost (saturating: a damaged log
    /// may claim anything).
    pub fn count_lost(&mut self, tag: u16, count: u64) {
        if let Some(n) = self.lost.get_mut(usize::from(tag)) {
            *n = n.saturating_add(count);
        }
    }

    /// `tracer: 12 events: 3 forks, 3 execs, 4 exits, 2 renames`, then
    /// `tracer: lost 5 events (5 signals sent)` where records were lost:
    /// kinds with no event are left out, and so is a loss of none.
    pub fn summary(&self) -> String {
        let said = |counts: &[u64]| -> Vec<String> {
            EventKind::ALL
                .iter()
                .filter_map(|&k| {
                    let n = counts[usize::from(k.tag())];
                    (n > 0).then(|| counted(n, k))
                })
                .collect()
        };
        let by_kind = said(&self.by_kind);
        let mut s = match self.total() {
            0 => "tracer: no events".to_string(),
            1 => format!("tracer: 1 event: {}", by_kind.join(", ")),
            n => format!("tracer: {n} events: {}", by_kind.join(", ")),
        };
        if self.lost_total() > 0 {
            s.push_str(&format!(
                "\ntracer: lost {} events ({})",
                self.lost_total(),
                said(&self.lost).join(", ")
            ));
        }
        s
    }
}

/// `3 forks`, `1 signal sent`: a count of one kind in words.
fn counted(n: u64, kind: EventKind) -> String {
    let (one, many) = match kind {
        EventKind::Fork => ("fork", "forks"),
        EventKind::Exec => ("exec", "execs"),
        EventKind::Exit => ("exit", "exits"),
        EventKind::SignalGenerate => ("signal sent", "signals sent"),
        EventKind::SignalDeliver => ("signal delivered", "signals delivered"),
        EventKind::Rename => ("rename", "renames"),
        EventKind::HelperRequest => ("helper request", "helper requests"),
        EventKind::ExecFailed => ("failed exec", "failed execs"),
        EventKind::Throttle => ("throttling notice", "throttling notices"),
        #[allow(unreachable_patterns)] // kinds added later read by name
        _ => (kind.name(), kind.name()),
    };
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use tracer_common::EventKind;

    use super::Counts;

    #[test]
    fn counts_saturate() {
        let mut c = Counts::default();
        c.count_lost(EventKind::Fork.tag(), u64::MAX - 5);
        c.count_lost(EventKind::Exec.tag(), 10);
        c.count_lost(EventKind::Exec.tag(), u64::MAX);
        assert_eq!(c.lost_total(), u64::MAX);
        assert!(c.summary().contains(&format!("lost {}", u64::MAX)));
        assert!(c.summary().contains("(18446744073709551610 forks, "));
        // Unknown tags are not counted, and do not panic.
        c.count_lost(999, 1);
        c.count_raw(&[]);
    }

    /// Plain words, and no zero counts: neither kinds nor losses.
    #[test]
    fn the_summary_leaves_out_zeros() {
        let mut c = Counts::default();
        assert_eq!(c.summary(), "tracer: no events");
        c.by_kind[usize::from(EventKind::Fork.tag())] = 3;
        c.by_kind[usize::from(EventKind::SignalGenerate.tag())] = 1;
        assert_eq!(c.summary(), "tracer: 4 events: 3 forks, 1 signal sent");
        c.count_lost(EventKind::Exec.tag(), 2);
        assert_eq!(
            c.summary(),
            "tracer: 4 events: 3 forks, 1 signal sent\ntracer: lost 2 events (2 execs)"
        );
    }
}
