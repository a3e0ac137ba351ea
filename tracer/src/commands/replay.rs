//! `tracer replay`: a recorded log rendered exactly as live `trace` would
//! have shown the same events (same kinds, lineage and diagnoses), since
//! the same pipeline runs over the same records; `--since`/`--until` show
//! only the events of a time window, the task table still seeing them all.

use std::path::PathBuf;

use anyhow::Result;

use crate::{
    model::window::WindowSpec,
    output::{self, Format},
    pipeline::{filter::TraceFilter, from_log, LostNotices, Pipeline},
};

/// Replays the log (or the rotated logs, as one stream) `inputs` names to
/// stdout, each event with `ancestors` generations above its task.
/// Lost-record notices go where `lost` says.
pub fn run(
    inputs: &[PathBuf],
    (format, ancestors): (Format, usize),
    filter: TraceFilter,
    window: &WindowSpec,
    lost: LostNotices,
) -> Result<()> {
    from_log::run(inputs, |header| {
        let window = window
            .resolve(header.wall_clock(), header.started_boot_ns)
            .map_err(anyhow::Error::msg)?;
        Ok(Pipeline::new(
            std::io::stdout().lock(),
            output::formatter(format, header.wall_clock(), header.pf_names()),
            header.take_task_table(),
            filter,
            lost,
        )
        .with_window(window)
        .with_ancestors(ancestors))
    })
}
