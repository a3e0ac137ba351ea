//! The phase times `cargo xtask test` prints at its end, failed or not.

use std::{
    fmt::Write as _,
    time::{Duration, Instant},
};

use anyhow::Result;

/// How a phase ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    Ok,
    Failed,
    /// Left out (`--no-vm`).
    NotRun,
}

/// The phases so far, in order, with the run's start.
pub(crate) struct Phases {
    began: Instant,
    rows: Vec<(String, Duration, End)>,
}

impl Phases {
    pub(crate) fn start() -> Phases {
        Phases {
            began: Instant::now(),
            rows: Vec::new(),
        }
    }

    /// Runs one phase, noting its time and whether it failed.
    pub(crate) fn time<T>(&mut self, name: &str, phase: impl FnOnce() -> Result<T>) -> Result<T> {
        let started = Instant::now();
        let result = phase();
        let end = if result.is_ok() { End::Ok } else { End::Failed };
        self.add(name, started.elapsed(), end);
        result
    }

    pub(crate) fn add(&mut self, name: &str, took: Duration, end: End) {
        self.rows.push((name.to_string(), took, end));
    }

    /// The table: one row per phase, then the total.
    pub(crate) fn format(&self) -> String {
        self.format_total(self.began.elapsed())
    }

    fn format_total(&self, total: Duration) -> String {
        let width = self
            .rows
            .iter()
            .map(|(name, ..)| name.len())
            .chain([5])
            .max()
            .unwrap_or(0);
        let mut out = String::from("\nphase times:\n");
        for (name, took, end) in &self.rows {
            let mark = match end {
                End::Ok => "",
                End::Failed => "  FAILED",
                End::NotRun => "  not run",
            };
            let _ = writeln!(out, "  {name:width$}  {}{mark}", clock(*took));
        }
        let _ = writeln!(out, "  {:width$}  {}", "total", clock(total));
        out
    }
}

/// `m:ss`, or `h:mm:ss` from an hour.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{:2}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_marks_failed_and_left_out_phases() {
        let mut phases = Phases::start();
        phases.add("fmt+clippy", Duration::from_secs(65), End::Ok);
        assert!(phases
            .time("host tests", || -> Result<()> { anyhow::bail!("no") })
            .is_err());
        phases.add("deb-test", Duration::ZERO, End::NotRun);
        let table = phases.format_total(Duration::from_secs(3725));
        assert_eq!(
            table,
            "\nphase times:\n  \
             fmt+clippy   1:05\n  \
             host tests   0:00  FAILED\n  \
             deb-test     0:00  not run\n  \
             total       1:02:05\n"
        );
    }
}
