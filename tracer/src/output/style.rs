//! How text meets a terminal: the layout of event lines (full, or compact
//! for a narrow terminal), colour, date lines, and the characters `tree`
//! draws with.
//!
//! Each is chosen once per command from the command line, the environment
//! and what stdout is, the way `ls`, `grep` and `systemctl` choose:
//!
//! - **Layout.** The full layout needs [`FULL_LAYOUT_COLUMNS`] columns.
//!   When stdout is a terminal narrower than that, the compact one is used
//!   (80 columns; see `text.rs`). The width is `COLUMNS` when set to a
//!   number, else the terminal's own (`TIOCGWINSZ`). Output that is not a
//!   terminal always gets the full layout, whatever `COLUMNS` says: scripts
//!   read its columns. `--wide` and `--narrow` choose one outright. Full
//!   lines longer than [`FULL_LAYOUT_MAX_COLUMNS`] fold at spaces onto
//!   continuation lines that start blank up to the DETAILS column.
//! - **Colour.** `--color=auto` (the default) colours only a terminal whose
//!   `TERM` is set and not `dumb`, and only when `NO_COLOR` is unset or
//!   empty (<https://no-color.org>); `always` and `never` override both.
//!   Colour codes are tracer's own, written around text that is already
//!   escaped, so a task's name can still never reach the terminal as a
//!   control sequence.
//! - **Character set.** `tree` draws box-drawing characters where the
//!   locale's character set is UTF-8 (the first of `LC_ALL`, `LC_CTYPE`,
//!   `LANG` that is set and not empty names `UTF-8` or `utf8`), ASCII
//!   (`|--`, `` `-- ``) otherwise, as `tree(1)` and `pstree` do.

use std::{io::IsTerminal as _, sync::OnceLock};

use clap::ValueEnum;

/// Columns the full layout of event lines needs: its fixed columns (114)
/// and room for details.
pub const FULL_LAYOUT_COLUMNS: usize = 150;

/// The longest line of the full layout on stdout, but on a terminal wider
/// than this (which folds at its own width): longer details fold onto
/// continuation lines in the DETAILS column, so a 160-column terminal or
/// editor shows every event without wrapping it (only an argument longer
/// than the column runs over).
pub const FULL_LAYOUT_MAX_COLUMNS: usize = 160;

/// The width the compact layout fits when there is no terminal to ask
/// (`--narrow` into a pipe).
pub const NARROW_COLUMNS: usize = 80;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Every column, one line per event.
    Wide,
    /// The compact layout, wrapped to `width` columns.
    Narrow { width: usize },
}

/// When event text says the date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dates {
    /// Never (a line for another consumer, such as an OTLP body).
    Off,
    /// A date line when the local day changes between two events (live).
    OnChange,
    /// Also before the first event (replays: the log may be from any day).
    First,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub layout: Layout,
    pub color: bool,
    pub dates: Dates,
    /// Every context field on every line (`--context`), not only those
    /// that set a task apart (see `text`).
    pub all_context: bool,
    /// Fold full-layout lines longer than this at spaces (never inside an
    /// argument), onto lines blank up to DETAILS; `None`: one line per
    /// event whatever its length (text for another consumer, such as an
    /// OTLP body).
    pub fold_at: Option<usize>,
}

impl Default for Style {
    /// Plain text: the full layout, no colour, no date lines.
    fn default() -> Style {
        Style {
            layout: Layout::Wide,
            color: false,
            dates: Dates::Off,
            all_context: false,
            fold_at: None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Only on a terminal (TERM not `dumb`), unless NO_COLOR is set.
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LayoutChoice {
    /// Compact when stdout is a terminal narrower than the full layout.
    #[default]
    Auto,
    Wide,
    Narrow,
}

/// Reads an environment variable.
pub type Env = Box<dyn Fn(&str) -> Option<String>>;

/// What the choices depend on, gathered once (and given by tests).
pub struct Surroundings {
    pub stdout_is_terminal: bool,
    /// The terminal's width, when it says.
    pub terminal_columns: Option<usize>,
    pub env: Env,
}

impl Surroundings {
    /// This process's stdout and environment.
    pub fn of_stdout() -> Surroundings {
        Surroundings {
            stdout_is_terminal: std::io::stdout().is_terminal(),
            terminal_columns: terminal_columns(),
            env: Box::new(|k| std::env::var(k).ok()),
        }
    }

    fn var(&self, k: &str) -> Option<String> {
        (self.env)(k).filter(|v| !v.is_empty())
    }

    /// The style of event text on stdout (date lines on day changes).
    pub fn style(&self, color: ColorChoice, layout: LayoutChoice) -> Style {
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                self.stdout_is_terminal
                    && self.var("NO_COLOR").is_none()
                    && self.var("TERM").is_some_and(|t| t != "dumb")
            }
        };
        let width = self.width();
        let layout = match layout {
            LayoutChoice::Wide => Layout::Wide,
            LayoutChoice::Narrow => Layout::Narrow {
                width: width.unwrap_or(NARROW_COLUMNS),
            },
            LayoutChoice::Auto => match width {
                Some(w) if w < FULL_LAYOUT_COLUMNS => Layout::Narrow { width: w },
                _ => Layout::Wide,
            },
        };
        Style {
            layout,
            color,
            dates: Dates::OnChange,
            all_context: false,
            // A terminal wide enough for the full layout folds at its own
            // width; a pipe, a file or a narrower terminal at 160.
            fold_at: Some(
                width
                    .filter(|&w| w >= FULL_LAYOUT_COLUMNS)
                    .unwrap_or(FULL_LAYOUT_MAX_COLUMNS),
            ),
        }
    }

    /// The terminal's width (`COLUMNS` first); `None` when stdout is not a
    /// terminal or it does not say.
    fn width(&self) -> Option<usize> {
        if !self.stdout_is_terminal {
            return None;
        }
        let columns = self
            .var("COLUMNS")
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|&c| c > 0);
        columns.or(self.terminal_columns)
    }

    /// Whether the locale's character set is UTF-8.
    pub fn utf8(&self) -> bool {
        ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .find_map(|k| self.var(k))
            .is_some_and(|v| {
                let v = v.to_ascii_lowercase();
                v.contains("utf-8") || v.contains("utf8")
            })
    }
}

/// The width of the terminal on stdout, if it is one and says.
fn terminal_columns() -> Option<usize> {
    // SAFETY: `ws` is plain C data the ioctl fills in.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize into the valid pointer given.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    (ok && ws.ws_col > 0).then_some(usize::from(ws.ws_col))
}

static STDOUT_STYLE: OnceLock<Style> = OnceLock::new();

/// Sets the style of event text on stdout for this command (once; the
/// command line decides it before any output).
pub fn set_stdout(style: Style) {
    let _ = STDOUT_STYLE.set(style);
}

/// The style of event text on stdout: what [`set_stdout`] set, else the
/// full layout without colour, with date lines on day changes.
pub fn stdout() -> Style {
    STDOUT_STYLE.get().copied().unwrap_or(Style {
        dates: Dates::OnChange,
        fold_at: Some(FULL_LAYOUT_MAX_COLUMNS),
        ..Style::default()
    })
}

/// ANSI SGR sequences: the only escape sequences tracer writes.
pub mod sgr {
    pub const RESET: &str = "\x1b[0m";
    pub const BOLD: &str = "\x1b[1m";
    pub const RED: &str = "\x1b[31m";
    pub const YELLOW: &str = "\x1b[33m";
    pub const BLUE: &str = "\x1b[34m";
    pub const MAGENTA: &str = "\x1b[35m";
    pub const CYAN: &str = "\x1b[36m";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &'static [(&'static str, &'static str)]) -> Surroundings {
        Surroundings {
            stdout_is_terminal: true,
            terminal_columns: Some(200),
            env: Box::new(move |k| {
                vars.iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, val)| val.to_string())
            }),
        }
    }

    #[test]
    fn colour_follows_the_terminal_term_and_no_color() {
        let s = env_of(&[("TERM", "xterm")]);
        assert!(s.style(ColorChoice::Auto, LayoutChoice::Auto).color);
        let s = env_of(&[("TERM", "xterm"), ("NO_COLOR", "1")]);
        assert!(!s.style(ColorChoice::Auto, LayoutChoice::Auto).color);
        assert!(s.style(ColorChoice::Always, LayoutChoice::Auto).color);
        let s = env_of(&[("TERM", "xterm"), ("NO_COLOR", "")]);
        assert!(s.style(ColorChoice::Auto, LayoutChoice::Auto).color);
        let s = env_of(&[("TERM", "dumb")]);
        assert!(!s.style(ColorChoice::Auto, LayoutChoice::Auto).color);
        let s = env_of(&[]);
        assert!(!s.style(ColorChoice::Auto, LayoutChoice::Auto).color);
        let mut s = env_of(&[("TERM", "xterm")]);
        s.stdout_is_terminal = false;
        assert!(!s.style(ColorChoice::Auto, LayoutChoice::Auto).color);
        assert!(!s.style(ColorChoice::Never, LayoutChoice::Auto).color);
    }

    #[test]
    fn the_layout_narrows_only_on_a_narrow_terminal() {
        let mut s = env_of(&[]);
        assert_eq!(
            s.style(ColorChoice::Auto, LayoutChoice::Auto).layout,
            Layout::Wide
        );
        s.terminal_columns = Some(100);
        assert_eq!(
            s.style(ColorChoice::Auto, LayoutChoice::Auto).layout,
            Layout::Narrow { width: 100 }
        );
        assert_eq!(
            s.style(ColorChoice::Auto, LayoutChoice::Wide).layout,
            Layout::Wide
        );
        let mut s = env_of(&[("COLUMNS", "80")]);
        assert_eq!(
            s.style(ColorChoice::Auto, LayoutChoice::Auto).layout,
            Layout::Narrow { width: 80 }
        );
        s.stdout_is_terminal = false;
        assert_eq!(
            s.style(ColorChoice::Auto, LayoutChoice::Auto).layout,
            Layout::Wide
        );
        assert_eq!(
            s.style(ColorChoice::Auto, LayoutChoice::Narrow).layout,
            Layout::Narrow { width: 80 }
        );
        let s = env_of(&[("COLUMNS", "wide")]);
        assert_eq!(
            s.style(ColorChoice::Auto, LayoutChoice::Auto).layout,
            Layout::Wide
        );
    }

    #[test]
    fn full_lines_fold_at_160_or_a_wider_terminal() {
        let mut s = env_of(&[]);
        let fold = |s: &Surroundings| s.style(ColorChoice::Auto, LayoutChoice::Auto).fold_at;
        assert_eq!(fold(&s), Some(200));
        s.terminal_columns = Some(150);
        assert_eq!(fold(&s), Some(150));
        s.stdout_is_terminal = false;
        assert_eq!(fold(&s), Some(FULL_LAYOUT_MAX_COLUMNS));
        let s = env_of(&[("COLUMNS", "80")]);
        assert_eq!(
            s.style(ColorChoice::Auto, LayoutChoice::Wide).fold_at,
            Some(160)
        );
        assert_eq!(Style::default().fold_at, None, "one line per event");
    }

    #[test]
    fn the_first_locale_variable_set_decides_utf8() {
        assert!(env_of(&[("LANG", "en_US.UTF-8")]).utf8());
        assert!(env_of(&[("LANG", "C.utf8")]).utf8());
        assert!(!env_of(&[]).utf8());
        assert!(!env_of(&[("LANG", "C")]).utf8());
        assert!(!env_of(&[("LC_ALL", "POSIX"), ("LANG", "en_US.UTF-8")]).utf8());
        assert!(env_of(&[("LC_ALL", ""), ("LC_CTYPE", "de_DE.UTF-8"), ("LANG", "C")]).utf8());
        assert!(!env_of(&[("LC_CTYPE", "de_DE.ISO-8859-1"), ("LANG", "C.UTF-8")]).utf8());
    }
}
