//! Drawing one frame: the status line, the panes the terminal has room
//! for (stacked at 80 columns, the tree beside the rest from 150), the key
//! line or prompt, and the detail or help view over them.

pub mod lines;
pub mod overlay;
pub mod panes;

use ratatui::{
    layout::{Constraint, Layout, Rect},
    style::{Modifier, Style},
    text::{Line, Span},
    widgets::Paragraph,
    Frame,
};

use self::panes::Scope;
use super::{
    keys::{Prompt, Ui, PANES},
    state::{
        tree::{self, Forest, Shape},
        State,
    },
};

/// From this width, the tree gets a column of its own.
const WIDE: u16 = 150;

/// What a frame shows besides the model.
pub struct Frame0<'a> {
    /// `live` or the recording's cursor.
    pub mode: String,
    pub color: bool,
    /// Own CPU (percent of one core) and RSS (KiB), live.
    pub own: Option<(f64, u64)>,
    /// The last warning tracer wrote while the screen was up.
    pub note: Option<&'a str>,
}

/// Draws `state` as `ui` says, and tells `ui` what the tree shows.
pub fn draw(frame: &mut Frame<'_>, state: &State, ui: &mut Ui, extra: &Frame0<'_>) {
    let area = frame.area();
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let rows = if let (Some(_), Some(frozen)) = (ui.paused, ui.frozen_rows.as_ref()) {
        frozen.clone()
    } else {
        tree::rows(
            &state.table,
            &Shape {
                expanded: Some(&ui.expanded),
                collapsed: Some(&ui.collapsed),
                filter: ui.filter(),
                root: ui.follow,
            },
        )
    };
    ui.frozen_rows = ui.paused.map(|_| rows.clone());
    let follow = ui.follow.map(|pid| Forest::of(&state.table).subtree(pid));
    frame.render_widget(Paragraph::new(status(state, ui, extra, rows.len())), top);
    frame.render_widget(Paragraph::new(keyline(ui, extra)), bottom);

    let areas = layout(body, &ui.hidden);
    let width = |r: Rect| usize::from(r.width);
    // The tree first: the selection's row is known from it.
    let page = areas[0].map_or(1, |r| usize::from(r.height.saturating_sub(1)).max(1));
    ui.rows_drawn(rows.iter().map(|r| r.pid).collect(), page);
    let scope = |w: usize| Scope {
        ui,
        follow: follow.clone(),
        color: extra.color,
        width: w,
    };
    for (i, area) in areas.iter().enumerate() {
        let Some(r) = *area else { continue };
        let s = scope(width(r));
        let h = usize::from(r.height.saturating_sub(1));
        let (title, lines) = match i {
            0 => {
                let first = ui.selected_row.saturating_sub(h.saturating_sub(1));
                let mut title = format!("Tasks ({} shown)", rows.len());
                if let Some(pid) = ui.follow {
                    title.push_str(&format!(" following {pid}"));
                }
                if let Some((text, _)) = &ui.filter {
                    title.push_str(&format!(" filter: {text}"));
                }
                (title, panes::tree(&rows, first, h, state, &s))
            }
            1 => (
                "Helpers (newest first)".into(),
                panes::helpers(state, &s, h),
            ),
            2 => (
                "Signals to kernel-side tasks".into(),
                panes::signals(state, &s, h),
            ),
            3 => (
                "Kthread churn (last 10s)".into(),
                panes::churn(state, &s, h),
            ),
            4 => ("Health".into(), panes::health(state, &s, extra.own)),
            _ => ("Events".into(), panes::feed(state, &s, h)),
        };
        let [head, rest] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(r);
        let head_style = Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(
                format!("{} {title}", i + 1),
                head_style,
            ))),
            head,
        );
        frame.render_widget(Paragraph::new(lines), rest);
    }
    match ui.overlay {
        Some(super::keys::Overlay::Help) => overlay::help(frame, body, ui.recording),
        Some(super::keys::Overlay::Detail(pid)) => {
            overlay::detail(frame, body, state, pid, extra.color)
        }
        None => {}
    }
}

/// Where each pane goes (`None`: hidden).
fn layout(body: Rect, hidden: &[bool; PANES.len()]) -> [Option<Rect>; PANES.len()] {
    let mut out = [None; PANES.len()];
    let shown = |i: usize| !hidden[i];
    let (tree_area, rest) = if body.width >= WIDE && shown(0) {
        let [l, r] = Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
            .areas(body);
        (Some(l), r)
    } else {
        (None, body)
    };
    // Stacked: (pane, constraint); churn and health share a row.
    let mut stack: Vec<(Vec<usize>, Constraint)> = Vec::new();
    if tree_area.is_none() && shown(0) {
        stack.push((vec![0], Constraint::Fill(2)));
    }
    let small = body.height < 30;
    let list = if small {
        Constraint::Length(4)
    } else {
        Constraint::Fill(1)
    };
    if shown(1) {
        stack.push((vec![1], list));
    }
    if shown(2) {
        stack.push((vec![2], list));
    }
    let side: Vec<usize> = [3, 4].into_iter().filter(|&i| shown(i)).collect();
    if !side.is_empty() {
        stack.push((side, Constraint::Length(if small { 4 } else { 6 })));
    }
    if shown(5) {
        stack.push((vec![5], Constraint::Fill(1)));
    }
    out[0] = tree_area;
    let areas = Layout::vertical(stack.iter().map(|(_, c)| *c)).split(rest);
    for ((panes, _), area) in stack.iter().zip(areas.iter()) {
        if panes.len() == 1 {
            out[panes[0]] = Some(*area);
        } else {
            let cols = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .split(*area);
            for (p, a) in panes.iter().zip(cols.iter()) {
                out[*p] = Some(*a);
            }
        }
    }
    out
}

fn status(state: &State, ui: &Ui, extra: &Frame0<'_>, shown: usize) -> Line<'static> {
    let rates: u64 = state.health.rates(state.now_ns).iter().sum();
    let mut s = format!(
        "tracer top | {} | {} | {} tasks ({shown} shown) | {rates} ev/s",
        extra.mode,
        state.hms(state.now_ns),
        state.table.iter().filter(|e| e.pid == e.tgid).count(),
    );
    if ui.paused.is_some() {
        s.push_str(" | PAUSED");
    }
    if let Some((text, _)) = &ui.filter {
        s.push_str(&format!(" | filter: {text}"));
    }
    if let Some(pid) = ui.follow {
        s.push_str(&format!(" | follow {pid}"));
    }
    Line::from(Span::styled(
        s,
        Style::default().add_modifier(Modifier::REVERSED),
    ))
}

fn keyline(ui: &Ui, extra: &Frame0<'_>) -> Line<'static> {
    let text = match (&ui.prompt, &ui.message, extra.note) {
        (Some(Prompt::Filter(t)), _, _) => {
            format!("filter (trace's options, or a comm glob): {t}_")
        }
        (Some(Prompt::Jump(t)), _, _) => {
            format!("jump to (HH:MM:SS[.frac], +SECS from the start, -SECS from the end): {t}_")
        }
        (None, Some(m), _) => m.clone(),
        (None, None, Some(note)) => format!("stderr: {note}"),
        (None, None, None) if ui.recording => {
            "q quit  / filter  f follow  Enter detail  .,<> step  n failure  g jump  ? help".into()
        }
        (None, None, None) => {
            "q quit  / filter  f follow  Enter detail  space pause  1-6 panes  ? help".into()
        }
    };
    Line::from(text)
}
