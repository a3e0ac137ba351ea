//! Feeding a pipeline from a recorded log: what `replay` and `export`
//! share. Damage is warned about and counted, never fatal before the end.

use std::{io::Write, path::Path};

use anyhow::Result;

use super::Pipeline;
use crate::{
    kernel::session::Flow,
    log::{
        self,
        header::LogHeader,
        reader::{Damage, DamagedInput, Item},
    },
    model::counts::{Counts, LossCause},
};

/// Damaged stretches warned about one by one; a hostile file can hold
/// millions.
const DAMAGE_WARNINGS: usize = 10;

/// Runs every record of `path` through the pipeline `make` builds from the
/// log's header. Fails with [`DamagedInput`] after the whole log if any of
/// it was damaged.
pub fn run<W: Write>(
    path: &Path,
    make: impl FnOnce(&mut LogHeader) -> Result<Pipeline<W>>,
) -> Result<()> {
    let (mut header, mut reader) = log::open(path)?;
    let mut pipeline = make(&mut header)?;
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
