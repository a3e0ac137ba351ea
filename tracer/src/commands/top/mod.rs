//! `tracer top`: a live screen of the kernel-side task population (or of
//! a recording, with a time cursor): the task tree, helper stories,
//! signals to kernel-side tasks, kthread churn, health and an event feed.
//!
//! - `state`: the model, fed by every event (it keeps its own task table);
//! - `view`: one frame drawn from it (ratatui), as the terminal's size
//!   allows;
//! - `keys`: the screen's own state, changed by keys;
//! - `screen`: the loop on the screen's thread (events in, frames out);
//! - `term`: the terminal guard (restored on every way out);
//! - `live` and `recording`: where events come from.

pub mod keys;
pub mod live;
pub mod recording;
pub mod screen;
pub mod state;
pub mod term;
pub mod view;

use std::{io::IsTerminal as _, path::PathBuf};

use anyhow::{bail, Result};
pub use keys::ParseFilter;

use crate::{
    live::session::SessionOptions,
    output::style::{ColorChoice, LayoutChoice, Surroundings},
    pipeline::filter::TraceFilter,
};

pub struct TopOptions {
    /// Live: how the session runs (`None` with `files`).
    pub session: Option<SessionOptions>,
    /// A recording to show instead.
    pub files: Vec<PathBuf>,
    /// The command line's filter: the pipeline's, and the screen's first
    /// `/` filter.
    pub filter: TraceFilter,
    /// Parses a `/` line (the command line's filter options).
    pub parse: ParseFilter,
}

pub async fn run(opts: TopOptions) -> Result<()> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!(
            "tracer top draws a screen and needs a terminal on stdin and stdout; for a stream \
             of events use `tracer trace` (live) or `tracer replay LOG` (a recording)"
        );
    }
    let color = Surroundings::of_stdout()
        .style(ColorChoice::Auto, LayoutChoice::Auto)
        .color;
    match opts.session {
        Some(session) => live::run(session, opts.filter, opts.parse, color).await,
        None => recording::run(&opts.files, opts.filter, opts.parse, color).await,
    }
}
