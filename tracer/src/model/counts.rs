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

    /// `tracer: 12 events: fork 3, ...` and `tracer: lost 0 events`.
    pub fn summary(&self) -> String {
        let by_kind: Vec<String> = EventKind::ALL
            .iter()
            .map(|k| format!("{} {}", k.name(), self.by_kind[usize::from(k.tag())]))
            .collect();
        let lost: Vec<String> = EventKind::ALL
            .iter()
            .filter(|k| self.lost[usize::from(k.tag())] > 0)
            .map(|k| format!("{} {}", k.name(), self.lost[usize::from(k.tag())]))
            .collect();
        let mut s = format!("tracer: {} events: {}\n", self.total(), by_kind.join(", "));
        if lost.is_empty() {
            s.push_str("tracer: lost 0 events");
        } else {
            s.push_str(&format!(
                "tracer: lost {} events ({})",
                self.lost_total(),
                lost.join(", ")
            ));
        }
        s
    }
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
        // Unknown tags are not counted, and do not panic.
        c.count_lost(999, 1);
        c.count_raw(&[]);
    }
}
