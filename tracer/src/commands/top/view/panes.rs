//! Each pane's lines, newest first where the pane is a list: the task
//! tree, helper stories, signals to kernel-side tasks, kthread churn,
//! health and the event feed. Narrowed by the filter, the followed
//! subtree and the pause; coloured as `trace` colours kinds.

use std::collections::HashSet;

use ratatui::{
    style::{Color, Modifier, Style},
    text::{Line, Span},
};
use tracer_common::EventKind;

use super::{
    super::{
        keys::Ui,
        state::{
            tree::{task_matches, Row},
            State, StoryState,
        },
    },
    lines::{self, name},
};
use crate::model::{classify::Kind, event::Task, signals::GenerateResult};

/// From this pane width, helper rows say everything in sentences.
const WIDE_ROWS: usize = 110;

/// What narrows the lists.
pub struct Scope<'a> {
    pub ui: &'a Ui,
    /// The followed subtree's pids.
    pub follow: Option<HashSet<u32>>,
    pub color: bool,
    pub width: usize,
}

impl Scope<'_> {
    /// Shown while paused at `seq`?
    fn before_pause(&self, seq: u64) -> bool {
        self.ui.paused.is_none_or(|p| seq <= p)
    }

    fn followed(&self, pids: &[u32]) -> bool {
        self.follow
            .as_ref()
            .is_none_or(|set| pids.iter().any(|p| set.contains(p)))
    }

    fn fg(&self, c: Option<Color>) -> Style {
        match (self.color, c) {
            (true, Some(c)) => Style::default().fg(c),
            _ => Style::default(),
        }
    }

    fn kind_style(&self, kind: Kind) -> Style {
        self.fg(kind_color(kind))
    }

    fn clip(&self, s: String) -> String {
        s.chars().take(self.width).collect()
    }
}

/// The colours `trace` gives kinds.
pub fn kind_color(kind: Kind) -> Option<Color> {
    match kind {
        Kind::Idle | Kind::Init => Some(Color::Blue),
        Kind::Kthreadd | Kind::Kthread | Kind::Kworker => Some(Color::Cyan),
        Kind::IoWorker | Kind::UserWorker => Some(Color::Yellow),
        Kind::Helper | Kind::HelperChild => Some(Color::Magenta),
        Kind::User => None,
    }
}

/// The tree's rows from `first`, `height` of them; the selected one
/// reversed.
pub fn tree(
    rows: &[Row],
    first: usize,
    height: usize,
    state: &State,
    scope: &Scope<'_>,
) -> Vec<Line<'static>> {
    rows.iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, r)| {
            let fold = match r.folded {
                Some(n) => format!(" [+{n}]"),
                None => String::new(),
            };
            let text = format!(
                "{:<10} {:>7} {}{}{}{} {}",
                r.kind.name(),
                r.pid,
                if r.disagree { "!" } else { " " },
                "  ".repeat(r.depth.min(12)),
                name(&r.comm),
                fold,
                lines::age(state.now_ns.saturating_sub(r.start_ns)),
            );
            let mut style = scope.kind_style(r.kind);
            if i == scope.ui.selected_row {
                style = style.add_modifier(Modifier::REVERSED);
            }
            Line::from(Span::styled(scope.clip(text), style))
        })
        .collect()
}

pub fn helpers(state: &State, scope: &Scope<'_>, height: usize) -> Vec<Line<'static>> {
    let filter = scope.ui.filter();
    state
        .helpers
        .stories
        .iter()
        .filter(|s| scope.before_pause(s.seq))
        .filter(|s| {
            let pids: Vec<u32> = [Some(s.pid), s.requester_pid]
                .into_iter()
                .flatten()
                .collect();
            scope.followed(&pids)
        })
        .filter(|s| {
            let base = s.program.rsplit('/').next().unwrap_or(&s.program);
            filter.is_none_or(|f| {
                task_matches(f, s.pid, s.pid, Kind::Helper, base)
                    || task_matches(f, s.pid, s.pid, Kind::Helper, &s.program)
            })
        })
        .take(height)
        .map(|s| {
            // Paused: a story that ended after the pause still runs.
            let state_now = match scope.ui.paused {
                Some(p) if s.changed_seq > p => StoryState::Running,
                _ => s.state,
            };
            // Narrow: the program's base name, who killed it and whom it
            // ran for as `pid (comm)`; wide: the whole sentences.
            let narrow = scope.width < WIDE_ROWS;
            let program = match narrow {
                true => s.program.rsplit('/').next().unwrap_or(&s.program),
                false => &s.program,
            };
            let mut text = format!("{:<8} {:>7} {}", state_now.name(), s.pid, name(program));
            let killed = state_now == StoryState::Killed;
            match (narrow, &s.killer_short, &s.killer) {
                (true, Some(k), _) if killed => text.push_str(&format!(" by {}", name(k))),
                (false, _, Some(k)) if killed => text.push_str(&format!(" killed {}", name(k))),
                _ => {
                    if let Some(sig) = &s.signalled {
                        text.push_str(&format!(" got {}", name(sig)));
                    }
                }
            }
            match (narrow, &s.requester_short, &s.requester) {
                (true, Some(r), _) => text.push_str(&format!(" for {}", name(r))),
                (false, _, Some(r)) => text.push_str(&format!(" {}", name(r))),
                _ => {}
            }
            let age = match (state_now, s.end_ns) {
                (StoryState::Running, _) | (_, None) => state.now_ns.saturating_sub(s.start_ns),
                (_, Some(end)) => end.saturating_sub(s.start_ns),
            };
            text.push_str(&format!(" {}", lines::age(age)));
            let color = match state_now {
                StoryState::Running => Some(Color::Magenta),
                StoryState::Finished => None,
                StoryState::Failed | StoryState::Killed => Some(Color::Red),
            };
            Line::from(Span::styled(scope.clip(text), scope.fg(color)))
        })
        .collect()
}

pub fn signals(state: &State, scope: &Scope<'_>, height: usize) -> Vec<Line<'static>> {
    let filter = scope.ui.filter();
    state
        .signals
        .iter()
        .rev()
        .filter(|s| scope.before_pause(s.seq))
        .filter(|s| scope.followed(&[s.target_pid, s.sender_pid]))
        .filter(|s| {
            filter.is_none_or(|f| {
                task_matches(f, s.target_pid, s.target_pid, s.target_kind, &s.target_comm)
            })
        })
        .take(height)
        .map(|s| {
            let text = format!(
                "{} {:<8} to {:>7} {} ({}) from {} ({}): {}",
                state.hms(s.boot_ns),
                s.sig,
                s.target_pid,
                name(&s.target_comm),
                s.target_kind.name(),
                s.sender_pid,
                name(&s.sender_comm),
                s.result.name()
            );
            let color = match s.result {
                GenerateResult::Delivered => None,
                GenerateResult::Ignored => Some(Color::Yellow),
                _ => Some(Color::Red),
            };
            Line::from(Span::styled(scope.clip(text), scope.fg(color)))
        })
        .collect()
}

pub fn churn(state: &State, scope: &Scope<'_>, height: usize) -> Vec<Line<'static>> {
    let mut out = vec![Line::from(Span::styled(
        scope.clip(format!(
            "{:<16} {:>5} {:>5} {:>4} {:>4}  {}",
            "PATTERN", "new/s", "end/s", "new", "end", "MOSTLY FOR"
        )),
        Style::default().add_modifier(Modifier::BOLD),
    ))];
    for (pattern, c) in state
        .churn
        .rows()
        .into_iter()
        .take(height.saturating_sub(1))
    {
        let (new, end) = c.rates(state.now_ns);
        let requester = c
            .top_requester()
            .map(|(r, n)| format!("{} ×{n}", name(r)))
            .unwrap_or_default();
        out.push(Line::from(Span::styled(
            scope.clip(format!(
                "{:<16} {:>5.1} {:>5.1} {:>4} {:>4}  {requester}",
                name(pattern),
                new,
                end,
                c.created,
                c.exited
            )),
            scope.kind_style(Kind::Kthread),
        )));
    }
    out
}

/// `own`: this process's CPU (percent of one core) and RSS (KiB), live.
pub fn health(state: &State, scope: &Scope<'_>, own: Option<(f64, u64)>) -> Vec<Line<'static>> {
    let h = &state.health;
    let rates = h.rates(state.now_ns);
    let mut per_kind: Vec<String> = EventKind::ALL
        .iter()
        .filter_map(|k| {
            let n = rates.get(usize::from(k.tag())).copied().unwrap_or(0);
            (n > 0).then(|| format!("{} {n}", k.name()))
        })
        .collect();
    if per_kind.is_empty() {
        per_kind.push("none".into());
    }
    let total: u64 = h.total.iter().sum();
    let rings = h
        .ring_percents()
        .iter()
        .map(|p| format!("{p}%"))
        .collect::<Vec<_>>()
        .join(" ");
    let lost = h.lost_total();
    let mut out = vec![
        format!("events/s: {}", per_kind.join(", ")),
        format!(
            "events {total}; lost {lost}; rings {}",
            if rings.is_empty() { "-".into() } else { rings }
        ),
        format!(
            "throttled: {} episodes, {} dropped",
            h.throttle_begun, h.throttle_dropped
        ),
    ];
    if let Some((cpu, rss)) = own {
        out.push(format!("tracer: cpu {cpu:.1}%, rss {} MiB", rss / 1024));
    }
    out.into_iter()
        .enumerate()
        .map(|(i, l)| {
            let bad = (i == 1 && lost > 0) || (i == 2 && h.throttle_begun > 0);
            let style = scope.fg(bad.then_some(Color::Red));
            Line::from(Span::styled(scope.clip(l), style))
        })
        .collect()
}

pub fn feed(state: &State, scope: &Scope<'_>, height: usize) -> Vec<Line<'static>> {
    let filter = scope.ui.filter();
    let pids = |t: &Task| [t.pid, t.tgid, t.ppid];
    state
        .feed
        .iter()
        .rev()
        .filter(|i| scope.before_pause(i.seq))
        .filter(|i| filter.is_none_or(|f| f.matches(&i.rec, &i.ann)))
        .filter(|i| {
            let mut all = pids(i.rec.event.subject()).to_vec();
            if let Some(o) = i.rec.event.other() {
                all.extend(pids(o));
            }
            scope.followed(&all)
        })
        .take(height)
        .map(|i| {
            let text = lines::event_line(&state.hms(i.rec.boot_ns), &i.rec, &i.ann);
            Line::from(Span::styled(
                scope.clip(text),
                scope.kind_style(i.ann.subject),
            ))
        })
        .collect()
}
