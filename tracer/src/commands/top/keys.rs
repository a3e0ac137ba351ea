//! What the keys do: the screen's own state (selection, folding, filter,
//! follow, pause, overlays, the time cursor's moves), changed by one key at
//! a time. Drawing reads it; the model never sees it.

use std::collections::HashSet;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::state::tree::Row;
use crate::pipeline::filter::TraceFilter;

/// Parses a `/` filter line: the `trace` filter options
/// (`--kind kworker --comm 'jbd2*'`); a line without options is a comm
/// glob.
pub type ParseFilter = fn(&str) -> Result<TraceFilter, String>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prompt {
    Filter(String),
    /// A recording's time cursor: jump to a time.
    Jump(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlay {
    Detail(u32),
    Help,
}

/// A move of a recording's time cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seek {
    /// By events (negative: back).
    Events(i64),
    /// By seconds of event time.
    Secs(i64),
    Start,
    End,
    /// The next (or previous) helper failure or kill.
    Failure {
        forward: bool,
    },
    /// The text typed after `g`.
    To(String),
}

/// The panes, in the order `1`..`6` toggle them.
pub const PANES: [&str; 6] = ["tasks", "helpers", "signals", "churn", "health", "events"];

pub struct Ui {
    /// The selected task in the tree, by pid (stable as rows come and go),
    /// and its row the last time the tree was drawn.
    pub selected: Option<u32>,
    pub selected_row: usize,
    /// Rows of the tree pane at the last draw (a page for PgUp/PgDn).
    pub page: usize,
    /// The pids of the tree's rows at the last draw.
    pub row_pids: Vec<u32>,
    pub expanded: HashSet<u32>,
    pub collapsed: HashSet<u32>,
    /// The `/` filter: its text and what it parsed to.
    pub filter: Option<(String, TraceFilter)>,
    pub message: Option<String>,
    pub follow: Option<u32>,
    /// Paused at this event: panes show nothing newer (counting goes on).
    pub paused: Option<u64>,
    pub prompt: Option<Prompt>,
    pub overlay: Option<Overlay>,
    pub hidden: [bool; PANES.len()],
    /// The tree as it was when paused.
    pub frozen_rows: Option<Vec<Row>>,
    pub quit: bool,
    /// A recording: keys that move the time cursor.
    pub recording: bool,
    parse: ParseFilter,
}

impl Ui {
    pub fn new(parse: ParseFilter, recording: bool) -> Ui {
        Ui {
            selected: None,
            selected_row: 0,
            page: 10,
            row_pids: Vec::new(),
            expanded: HashSet::new(),
            collapsed: HashSet::new(),
            filter: None,
            message: None,
            follow: None,
            paused: None,
            prompt: None,
            overlay: None,
            hidden: [false; PANES.len()],
            frozen_rows: None,
            quit: false,
            recording,
            parse,
        }
    }

    /// The command line's filter, as the first `/` filter.
    pub fn with_filter(mut self, f: TraceFilter) -> Ui {
        let any =
            !(f.kinds.is_empty() && f.pids.is_empty() && f.comms.is_empty() && f.events.is_empty());
        if any {
            self.filter = Some(("(command line)".into(), f));
        }
        self
    }

    pub fn filter(&self) -> Option<&TraceFilter> {
        self.filter.as_ref().map(|(_, f)| f)
    }

    /// One key; `seq` is the newest event's place (for pause). A move of
    /// the time cursor is returned for the caller to make.
    pub fn key(&mut self, key: KeyEvent, seq: u64) -> Option<Seek> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return None;
        }
        if let Some(prompt) = self.prompt.take() {
            return self.prompt_key(prompt, key.code);
        }
        self.message = None;
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Esc if self.overlay.take().is_none() => self.follow = None,
            KeyCode::Char('?') => {
                self.overlay = match self.overlay {
                    Some(Overlay::Help) => None,
                    _ => Some(Overlay::Help),
                }
            }
            KeyCode::Enter => {
                self.overlay = match self.overlay {
                    Some(_) => None,
                    None => self.selected.map(Overlay::Detail),
                }
            }
            KeyCode::Up => self.move_by(-1),
            KeyCode::Down => self.move_by(1),
            KeyCode::PageUp => self.move_by(-(self.page.max(1) as i64)),
            KeyCode::PageDown => self.move_by(self.page.max(1) as i64),
            KeyCode::Home => self.move_by(i64::MIN / 2),
            KeyCode::End => self.move_by(i64::MAX / 2),
            KeyCode::Right | KeyCode::Char('+') => {
                if let Some(pid) = self.selected {
                    self.collapsed.remove(&pid);
                    self.expanded.insert(pid);
                }
            }
            KeyCode::Left | KeyCode::Char('-') => {
                if let Some(pid) = self.selected {
                    self.expanded.remove(&pid);
                    self.collapsed.insert(pid);
                }
            }
            KeyCode::Char('/') => {
                let text = self
                    .filter
                    .as_ref()
                    .map(|(t, _)| t.clone())
                    .unwrap_or_default();
                self.prompt = Some(Prompt::Filter(text));
            }
            KeyCode::Char('f') => {
                self.follow = match (self.follow, self.selected) {
                    (Some(f), Some(s)) if f == s => None,
                    (_, s) => s,
                };
            }
            KeyCode::Char(' ') => {
                self.paused = match self.paused {
                    Some(_) => None,
                    None => Some(seq),
                }
            }
            KeyCode::Char(c @ '1'..='6') => {
                let i = usize::from(c as u8 - b'1');
                self.hidden[i] = !self.hidden[i];
            }
            code if self.recording => return self.seek_key(code),
            _ => {}
        }
        None
    }

    fn seek_key(&mut self, code: KeyCode) -> Option<Seek> {
        Some(match code {
            KeyCode::Char('.') => Seek::Events(1),
            KeyCode::Char(',') => Seek::Events(-1),
            KeyCode::Char('>') => Seek::Secs(1),
            KeyCode::Char('<') => Seek::Secs(-1),
            KeyCode::Char('{') => Seek::Start,
            KeyCode::Char('}') => Seek::End,
            KeyCode::Char('n') => Seek::Failure { forward: true },
            KeyCode::Char('N') => Seek::Failure { forward: false },
            KeyCode::Char('g') => {
                self.prompt = Some(Prompt::Jump(String::new()));
                return None;
            }
            _ => return None,
        })
    }

    fn prompt_key(&mut self, prompt: Prompt, code: KeyCode) -> Option<Seek> {
        let (mut text, jump) = match prompt {
            Prompt::Filter(t) => (t, false),
            Prompt::Jump(t) => (t, true),
        };
        match code {
            KeyCode::Esc => return None,
            KeyCode::Enter if jump => return Some(Seek::To(text)),
            KeyCode::Enter => {
                self.set_filter(&text);
                return None;
            }
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) => text.push(c),
            _ => {}
        }
        self.prompt = Some(if jump {
            Prompt::Jump(text)
        } else {
            Prompt::Filter(text)
        });
        None
    }

    /// Applies a `/` line; an empty one clears the filter.
    pub fn set_filter(&mut self, text: &str) {
        if text.trim().is_empty() {
            self.filter = None;
            return;
        }
        match (self.parse)(text) {
            Ok(f) => self.filter = Some((text.to_string(), f)),
            Err(why) => self.message = Some(why),
        }
    }

    fn move_by(&mut self, by: i64) {
        if self.row_pids.is_empty() {
            return;
        }
        let last = self.row_pids.len() - 1;
        let at = (self.selected_row as i64)
            .saturating_add(by)
            .clamp(0, last as i64) as usize;
        self.selected_row = at;
        self.selected = Some(self.row_pids[at]);
    }

    /// After the tree was laid out: keep the selection on its task, or on
    /// the same row when the task left.
    pub fn rows_drawn(&mut self, pids: Vec<u32>, page: usize) {
        self.page = page;
        match self
            .selected
            .and_then(|s| pids.iter().position(|&p| p == s))
        {
            Some(i) => self.selected_row = i,
            None if pids.is_empty() => self.selected = None,
            None => {
                self.selected_row = self.selected_row.min(pids.len() - 1);
                self.selected = Some(pids[self.selected_row]);
            }
        }
        self.row_pids = pids;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(ui: &mut Ui, code: KeyCode) -> Option<Seek> {
        ui.key(KeyEvent::new(code, KeyModifiers::NONE), 7)
    }

    fn parse(s: &str) -> Result<TraceFilter, String> {
        match s {
            "bad" => Err("no".into()),
            _ => Ok(TraceFilter::default()),
        }
    }

    #[test]
    fn selection_follows_its_task_and_keys_act() {
        let mut ui = Ui::new(parse, false);
        ui.rows_drawn(vec![2, 40, 41], 2);
        assert_eq!(ui.selected, Some(2));
        press(&mut ui, KeyCode::Down);
        assert_eq!(ui.selected, Some(40));
        ui.rows_drawn(vec![2, 99, 40, 41], 2);
        assert_eq!(ui.selected_row, 2, "the task, not the row");
        press(&mut ui, KeyCode::PageDown);
        assert_eq!(ui.selected, Some(41));
        press(&mut ui, KeyCode::Char('f'));
        assert_eq!(ui.follow, Some(41));
        press(&mut ui, KeyCode::Char(' '));
        assert_eq!(ui.paused, Some(7));
        press(&mut ui, KeyCode::Char('/'));
        for c in "bad".chars() {
            press(&mut ui, KeyCode::Char(c));
        }
        press(&mut ui, KeyCode::Enter);
        assert!(ui.filter.is_none() && ui.message.is_some());
        press(&mut ui, KeyCode::Char('/'));
        press(&mut ui, KeyCode::Char('x'));
        press(&mut ui, KeyCode::Enter);
        assert_eq!(ui.filter.as_ref().map(|f| f.0.as_str()), Some("x"));
        assert_eq!(press(&mut ui, KeyCode::Char('n')), None, "live: no cursor");
        press(&mut ui, KeyCode::Char('q'));
        assert!(ui.quit);
    }

    #[test]
    fn a_recording_moves_its_cursor() {
        let mut ui = Ui::new(parse, true);
        assert_eq!(
            press(&mut ui, KeyCode::Char('n')),
            Some(Seek::Failure { forward: true })
        );
        assert_eq!(press(&mut ui, KeyCode::Char(',')), Some(Seek::Events(-1)));
        assert_eq!(press(&mut ui, KeyCode::Char('g')), None);
        for c in "+2s".chars() {
            press(&mut ui, KeyCode::Char(c));
        }
        assert_eq!(press(&mut ui, KeyCode::Enter), Some(Seek::To("+2s".into())));
    }
}
