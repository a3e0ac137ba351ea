//! `tracer replay` and `tracer export`: a recorded log rendered exactly as
//! live `trace` would have shown the same events (same kinds, lineage and
//! diagnoses), since the same pipeline runs over the same records.

use std::path::Path;

use anyhow::Result;

use crate::{
    kernel::session::Flow,
    log::{
        self,
        reader::{Damage, DamagedInput, Item},
    },
    model::counts::{Counts, LossCause},
    output::{self, Format},
    pipeline::{filter::TraceFilter, LostNotices, Pipeline},
};

/// Damaged stretches warned about one by one; a hostile file can hold
/// millions.
const DAMAGE_WARNINGS: usize = 10;

/// Replays `path` to stdout. Lost-record notices go where `lost` says.
pub fn run(path: &Path, format: Format, filter: TraceFilter, lost: LostNotices) -> Result<()> {
    let (mut header, mut reader) = log::open(path)?;
    let mut pipeline = Pipeline::new(
        std::io::stdout().lock(),
        output::formatter(format, header.wall_clock(), header.pf_names()),
        header.take_task_table(),
        filter,
        lost,
    );
    let mut counts = Counts::default();
    let mut clean_end = false;
    let mut truncated = false;
    let mut stretches = 0;
    while let Some(item) = reader.next() {
        match item {
            Ok(Item::Event(raw)) => {
                counts.count_raw(raw);
                pipeline.record(raw);
                if pipeline.flush_if_full() == Flow::Stop {
                    break;
                }
            }
            Ok(Item::Lost {
                tag,
                count,
                boot_ns,
            }) => {
                counts.count_lost(tag, count);
                pipeline.lost(tag, count, boot_ns, LossCause::Unknown);
            }
            Ok(Item::End { .. }) => clean_end = true,
            Err(damage) => {
                // Whatever the damage held is unknown, execs included.
                pipeline.note_unknown_loss();
                truncated |= matches!(damage, Damage::Truncated { .. });
                stretches += 1;
                if stretches <= DAMAGE_WARNINGS {
                    crate::say!("tracer: warning: {}: {damage}", path.display());
                }
            }
        }
    }
    if stretches > DAMAGE_WARNINGS {
        crate::say!(
            "tracer: warning: {}: {} more damaged stretches",
            path.display(),
            stretches - DAMAGE_WARNINGS
        );
    }
    if !clean_end && !truncated {
        crate::say!(
            "tracer: note: {} has no end marker: the recording did not stop cleanly",
            path.display()
        );
    }
    pipeline.finish(&counts)?;
    if stretches > 0 {
        return Err(DamagedInput {
            path: path.to_path_buf(),
            stretches,
        }
        .into());
    }
    Ok(())
}
