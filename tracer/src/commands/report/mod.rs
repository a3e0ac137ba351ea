//! `tracer report`: a summary of a recorded log for later analysis.
//!
//! `collect` turns the log into data; `text` and `json` print it.

mod collect;
mod json;
mod text;

use std::{io::Write as _, path::Path};

use anyhow::{Context as _, Result};

use crate::{log::reader::DamagedInput, output::Format};

pub fn run(path: &Path, format: Format) -> Result<()> {
    let (header, report) = collect::collect(path)?;
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
        return Err(DamagedInput {
            path: path.to_path_buf(),
            stretches: report.damage_total,
        }
        .into());
    }
    Ok(())
}
