//! `tracer report`: a summary of a recorded log for later analysis.
//!
//! `collect` turns the log into data; `text` and `json` print it.
//! `--since`/`--until` count only a time window of the log, and the report
//! says which.

mod collect;
mod json;
mod kthreads;
mod text;

use std::{io::Write as _, path::PathBuf};

use anyhow::{Context as _, Result};

use crate::{log::reader::DamagedInput, model::window::WindowSpec, output::Format};

/// Reports on the log, or the rotated logs read as one, that `inputs` names.
pub fn run(inputs: &[PathBuf], format: Format, window: &WindowSpec) -> Result<()> {
    let (header, report) = collect::collect(inputs, window)?;
    let clock = header.wall_clock();
    let out = match format {
        Format::Text => text::render(&header, &report, clock).into_bytes(),
        Format::Json => json::render(&header, &report, clock),
    };
    std::io::stdout()
        .lock()
        .write_all(&out)
        .context("writing to stdout")?;
    if report.damage_total > 0 {
        return Err(DamagedInput::of(inputs, report.damage_total).into());
    }
    Ok(())
}
