//! Kernel thread churn: created and exited per second, by name pattern
//! (`kworker/u*`, `jbd2/*`), over the last few seconds.

use std::collections::HashMap;

/// Seconds the rates average over.
pub const WINDOW_SECS: u64 = 10;

/// Per pattern: totals, and per-second counts of the window.
#[derive(Default)]
pub struct Counts {
    pub created: u64,
    pub exited: u64,
    /// (second, created, exited), oldest first.
    recent: Vec<(u64, u32, u32)>,
    pub last_ns: u64,
    /// Threads created per requester (`mount`, `kworker/u8:*`, `unknown`:
    /// `KthreadInfo::requester_label`), where the kernel says it.
    pub requesters: HashMap<String, u32>,
}

impl Counts {
    fn bump(&mut self, boot_ns: u64, created: bool) {
        let sec = boot_ns / 1_000_000_000;
        self.last_ns = self.last_ns.max(boot_ns);
        if self.recent.last().is_none_or(|(s, _, _)| *s != sec) {
            self.recent.push((sec, 0, 0));
            self.recent.retain(|(s, _, _)| s + WINDOW_SECS > sec);
        }
        let last = self.recent.last_mut().expect("pushed");
        if created {
            self.created += 1;
            last.1 += 1;
        } else {
            self.exited += 1;
            last.2 += 1;
        }
    }

    /// Created and exited per second over the window ending at `now_ns`.
    pub fn rates(&self, now_ns: u64) -> (f64, f64) {
        let now = now_ns / 1_000_000_000;
        let (mut c, mut e) = (0, 0);
        for (s, created, exited) in &self.recent {
            if s + WINDOW_SECS > now {
                c += created;
                e += exited;
            }
        }
        let w = WINDOW_SECS as f64;
        (f64::from(c) / w, f64::from(e) / w)
    }

    /// The requester that asked for most of this pattern's threads, and
    /// how many (the first by name among equals, so frames do not flicker).
    pub fn top_requester(&self) -> Option<(&str, u32)> {
        self.requesters
            .iter()
            .map(|(r, n)| (r.as_str(), *n))
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
    }
}

#[derive(Default)]
pub struct Churn {
    pub by_pattern: HashMap<String, Counts>,
}

impl Churn {
    /// A kernel thread `comm` was made, for `requester` where known.
    pub fn created(&mut self, comm: &str, boot_ns: u64, requester: Option<String>) {
        let counts = self.entry(comm);
        counts.bump(boot_ns, true);
        if let Some(r) = requester {
            *counts.requesters.entry(r).or_default() += 1;
        }
    }

    pub fn exited(&mut self, comm: &str, boot_ns: u64) {
        self.entry(comm).bump(boot_ns, false);
    }

    fn entry(&mut self, comm: &str) -> &mut Counts {
        let p = pattern(comm);
        if !self.by_pattern.contains_key(&p) {
            self.by_pattern.insert(p.clone(), Counts::default());
        }
        self.by_pattern.get_mut(&p).expect("inserted")
    }

    /// Patterns, most recently active first.
    pub fn rows(&self) -> Vec<(&str, &Counts)> {
        let mut rows: Vec<_> = self
            .by_pattern
            .iter()
            .map(|(p, c)| (p.as_str(), c))
            .collect();
        rows.sort_by(|a, b| b.1.last_ns.cmp(&a.1.last_ns).then(a.0.cmp(b.0)));
        rows
    }
}

/// A kernel thread's name pattern: what follows a `/` becomes `*`
/// (`jbd2/loop0-8` → `jbd2/*`), unbound kworkers keep their `u`
/// (`kworker/u8:3` → `kworker/u*`), and trailing numbers go
/// (`iou-wrk-4242` → `iou-wrk-*`).
pub fn pattern(comm: &str) -> String {
    if let Some(rest) = comm.strip_prefix("kworker/") {
        return match rest.as_bytes().first() {
            Some(b'u') => "kworker/u*".into(),
            Some(b'R') => "kworker/R-*".into(),
            _ => "kworker/*".into(),
        };
    }
    if let Some((head, _)) = comm.split_once('/') {
        return format!("{head}/*");
    }
    let trimmed = comm.trim_end_matches(|c: char| c.is_ascii_digit());
    if trimmed.len() == comm.len() || trimmed.is_empty() {
        comm.to_string()
    } else {
        format!("{trimmed}*")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_group_numbered_names() {
        assert_eq!(pattern("kworker/u8:3"), "kworker/u*");
        assert_eq!(pattern("kworker/3:1H"), "kworker/*");
        assert_eq!(pattern("kworker/R-ext4-"), "kworker/R-*");
        assert_eq!(pattern("jbd2/loop0-8"), "jbd2/*");
        assert_eq!(pattern("iou-wrk-4242"), "iou-wrk-*");
        assert_eq!(pattern("ext4lazyinit"), "ext4lazyinit");
        assert_eq!(pattern("42"), "42");
    }

    #[test]
    fn rates_cover_the_window_only() {
        let mut churn = Churn::default();
        let s = 1_000_000_000;
        for i in 0..20 {
            let requester = (i % 4 == 0).then(|| "kworker/u8:*".to_string());
            churn.created("kworker/u8:1", 100 * s + i, requester);
        }
        churn.exited("kworker/u8:2", 105 * s);
        let c = &churn.by_pattern["kworker/u*"];
        assert_eq!((c.created, c.exited), (20, 1));
        assert_eq!(c.rates(105 * s), (2.0, 0.1));
        assert_eq!(c.rates(120 * s), (0.0, 0.0));
        assert_eq!(c.top_requester(), Some(("kworker/u8:*", 5)));
    }

    #[test]
    fn the_top_requester_is_the_most_frequent_then_the_first_by_name() {
        let mut churn = Churn::default();
        for r in ["mount", "udevd", "udevd", "mount"] {
            churn.created("jbd2/loop0-8", 1, Some(r.into()));
        }
        churn.created("jbd2/loop1-8", 2, None);
        assert_eq!(
            churn.by_pattern["jbd2/*"].top_requester(),
            Some(("mount", 2))
        );
    }
}
