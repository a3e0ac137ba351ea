//! Views over the panes: the selected task in detail (lineage, flags,
//! every kernel-thread test, its events) and the keys.

use ratatui::{
    layout::Rect,
    style::{Modifier, Style},
    text::Line,
    widgets::{Block, Borders, Clear, Paragraph, Wrap},
    Frame,
};

use super::{
    super::state::State,
    lines::{self, name},
};
use crate::model::classify::Lineage;

fn yn(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The text of the detail view of `pid`.
pub fn detail_text(state: &State, pid: u32) -> Vec<String> {
    let mut out = Vec::new();
    let Some(e) = state.table.get(pid) else {
        out.push(format!("task {pid} has exited"));
        return out;
    };
    out.push(format!(
        "{} {} ({}), tgid {}, parent {}, age {}",
        e.kind().name(),
        e.pid,
        name(&e.comm),
        e.tgid,
        e.ppid,
        lines::age(state.now_ns.saturating_sub(e.start_ns))
    ));
    // Lineage: the parents up to the top.
    let mut chain = Vec::new();
    let mut at = e.ppid;
    while let Some(p) = state.table.get(at) {
        chain.push(format!("{} ({})", p.pid, name(&p.comm)));
        if p.ppid == p.pid || chain.len() > 64 {
            break;
        }
        at = p.ppid;
    }
    out.push(format!("lineage: {}", chain.join(" < ")));
    if let Some((cpid, ccomm)) = &e.creator {
        out.push(format!("created by {cpid} ({})", name(ccomm)));
    }
    if let Some(f) = &e.filename {
        out.push(format!("program: {}", name(f)));
    }
    out.push(format!(
        "flags: {} ({:#x})",
        state.pf.join(e.flags),
        e.flags
    ));
    let v = state.table.verdicts(e);
    let lineage = match v.kthreadd_lineage {
        Lineage::Kthreadd => "self",
        other => other.name(),
    };
    out.push(format!(
        "tests: pf_kthread {}  no_mm {}  kthreadd_lineage {lineage}  root_cgroup {}{}  \
         io_worker {}  user_worker {}  umh {}  umh_child {}{}",
        yn(v.pf_kthread),
        yn(v.no_mm),
        v.root_cgroup.map_or("?", yn),
        if v.root_cgroup_reliable {
            ""
        } else {
            " (unreliable)"
        },
        yn(v.io_worker),
        yn(v.user_worker),
        yn(v.umh),
        yn(v.umh_child),
        if v.disagree() {
            "  ! the tests disagree"
        } else {
            ""
        },
    ));
    if let Some(k) = &e.killer {
        out.push(format!(
            "last signal: {} from {} ({})",
            crate::model::signals::name(k.sig),
            k.pid,
            name(&k.comm)
        ));
    }
    out.push("events (newest first):".into());
    let mine = state.feed.iter().rev().filter(|i| {
        i.rec.event.subject().pid == pid || i.rec.event.other().is_some_and(|o| o.pid == pid)
    });
    for i in mine.take(200) {
        out.push(format!(
            "  {}",
            lines::event_line(&state.hms(i.rec.boot_ns), &i.rec, &i.ann)
        ));
    }
    out
}

pub fn detail(frame: &mut Frame<'_>, area: Rect, state: &State, pid: u32, _color: bool) {
    let text: Vec<Line<'static>> = detail_text(state, pid)
        .into_iter()
        .map(Line::from)
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" task {pid} (Enter or Esc to close) "));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(text).block(block).wrap(Wrap { trim: false }),
        area,
    );
}

pub fn help(frame: &mut Frame<'_>, area: Rect, recording: bool) {
    let mut text = vec![
        "Up/Down, PgUp/PgDn, Home/End  select a task in the tree",
        "Right or +, Left or -          unfold, fold the selected task",
        "/                              filter: trace's options (--kind umh --comm 'jbd2*'",
        "                               --pid N --event signal), or a comm glob; empty clears",
        "f                              follow the selected task's subtree (again, or Esc: all)",
        "Enter                          detail of the selected task",
        "space                          pause (events are still counted)",
        "1-6                            show or hide a pane",
        "?                              this help;  q or Ctrl-C  quit",
    ];
    if recording {
        text.extend([
            "",
            ". ,                            one event forward, back",
            "> <                            one second forward, back",
            "n N                            next, previous helper failure or kill",
            "{ }                            start, end of the recording",
            "g                              jump to a time",
        ]);
    }
    let lines: Vec<Line<'static>> = text.into_iter().map(Line::from).collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" keys (? or Esc to close) ")
        .title_style(Style::default().add_modifier(Modifier::BOLD));
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
