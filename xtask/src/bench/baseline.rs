//! `--baseline BINARY`: a second tracer build measured side by side with
//! the one under test, in the same cells and rounds, so that drift in a
//! shared machine's speed hits both alike.

use std::path::{Path, PathBuf};

use super::common::{Mode, RECORD, TRACE_DEFAULT};

/// Which tracer a traced run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Which {
    /// The build under test; every target is judged on it.
    New,
    /// The `--baseline` build.
    Old,
}

/// The tracers one bench run measures.
#[derive(Clone, Debug)]
pub(crate) struct Tracers {
    pub(crate) new: PathBuf,
    pub(crate) old: Option<PathBuf>,
}

impl Tracers {
    pub(crate) fn path(&self, which: Which) -> &Path {
        match (which, &self.old) {
            (Which::Old, Some(old)) => old,
            _ => &self.new,
        }
    }

    /// The traced runs of round `round` (each after its untraced run):
    /// old and new swap places every round, so that neither always runs
    /// right after the untraced run, where caches and clocks differ.
    pub(crate) fn order(&self, round: usize) -> Vec<Which> {
        match (&self.old, round % 2) {
            (None, _) => vec![Which::New],
            (Some(_), 0) => vec![Which::Old, Which::New],
            (Some(_), _) => vec![Which::New, Which::Old],
        }
    }

    /// The tracers to measure once each (in-kernel costs, start-up).
    pub(crate) fn each(&self) -> Vec<Which> {
        self.order(0)
    }
}

/// `new - old` of two ratios, signed, for the tables ("+0.03", "-0.41").
pub(crate) fn change(new: f64, old: f64) -> String {
    format!("{:+.2}", new - old)
}

/// The fork+exec rule: the new ratio at most `slack` above the baseline's
/// (being faster is fine).
pub(crate) fn within(new: f64, old: f64, slack: f64) -> bool {
    // Rounded as printed, so a printed +0.02 is met.
    ((new - old) * 100.0).round() / 100.0 <= slack
}

/// The modes the fork+exec rule compares with the baseline.
pub(crate) const FORKEXEC_MODES: [&Mode; 2] = [TRACE_DEFAULT, RECORD];

/// How far above the baseline's ratio the fork+exec storm may be.
const FORKEXEC_SLACK: f64 = 0.02;

/// The fork+exec rule: within 0.02 of the baseline's ratio in the same
/// run (above it, that is: faster is fine).
pub(crate) fn forkexec_vs_baseline(what: &str, new: f64, old: f64) -> (String, bool) {
    (
        format!(
            "{what}: within {FORKEXEC_SLACK} of the baseline's ratio ({new:.2}x, baseline \
             {old:.2}x, {})",
            change(new, old)
        ),
        within(new, old, FORKEXEC_SLACK),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_and_new_alternate_round_by_round() {
        let both = Tracers {
            new: "new".into(),
            old: Some("old".into()),
        };
        assert_eq!(both.order(0), [Which::Old, Which::New]);
        assert_eq!(both.order(1), [Which::New, Which::Old]);
        assert_eq!(both.order(4), [Which::Old, Which::New]);
        assert_eq!(both.path(Which::Old), Path::new("old"));
        assert_eq!(both.path(Which::New), Path::new("new"));
        let alone = Tracers {
            new: "new".into(),
            old: None,
        };
        assert_eq!(alone.order(1), [Which::New]);
        assert_eq!(alone.each(), [Which::New]);
        assert_eq!(alone.path(Which::Old), Path::new("new"));
    }

    #[test]
    fn changes_print_signed_and_the_slack_is_inclusive() {
        assert_eq!(change(1.10, 1.45), "-0.35");
        assert_eq!(change(1.03, 1.01), "+0.02");
        assert_eq!(change(1.0, 1.0), "+0.00");
        assert!(within(1.03, 1.01, 0.02));
        assert!(within(1.021, 1.0, 0.02));
        assert!(within(0.90, 1.10, 0.02));
        assert!(!within(1.04, 1.01, 0.02));
    }
}
