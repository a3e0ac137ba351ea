//! Feeding a pipeline from a recorded log, or the files of a rotated one
//! as one stream (see `log::set`): what `replay` and `export` share.
//! Damage is warned about and counted, never fatal before the end.
//!
//! With a time window, every record still goes through the pipeline (its
//! task table needs them all); the summary on stderr counts the events and
//! losses in the window, and says so when the window holds none.

use std::{io::Write, path::PathBuf};

use anyhow::Result;

use super::{sink::Flow, Pipeline};
use crate::{
    log::{
        header::LogHeader,
        reader::{Damage, DamagedInput, Item},
        set::{LogSet, Step},
    },
    model::counts::{Counts, LossCause},
};

/// Damaged stretches warned about one by one; a hostile file can hold
/// millions.
const DAMAGE_WARNINGS: usize = 10;

/// The boot-clock time of a raw record, if it is long enough to hold one.
fn boot_ns_of(raw: &[u8]) -> Option<u64> {
    let at = std::mem::offset_of!(tracer_common::Header, boot_ns);
    let bytes = raw.get(at..at + 8)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// Runs every record of the logs `inputs` names (files, directories of
/// rotated logs) through the pipeline `make` builds from the first log's
/// header. Fails with [`DamagedInput`] after the whole stream if any of it
/// was damaged.
pub fn run<W: Write>(
    inputs: &[PathBuf],
    make: impl FnOnce(&mut LogHeader) -> Result<Pipeline<W>>,
) -> Result<()> {
    let (mut header, mut reader) = LogSet::open(inputs)?;
    let mut pipeline = make(&mut header)?;
    pipeline.replaying();
    let window = pipeline.window();
    // The log's span, for a window that holds none of it.
    let (mut first, mut last, mut in_window) = (None, 0, 0u64);
    let mut counts = Counts::default();
    let mut clean_end = false;
    let mut truncated = false;
    let mut stretches = 0;
    // The input as named, for what concerns the whole stream.
    let shown = inputs
        .first()
        .map_or(std::path::Path::new("-"), PathBuf::as_path);
    while let Some(item) = reader.next() {
        match item {
            Ok(Step::Boundary { tasks }) => {
                pipeline.next_file(tasks, reader.part());
                // Only the last file's end says how the recording stopped.
                clean_end = false;
            }
            Ok(Step::Item(Item::Event(raw))) => {
                let at = boot_ns_of(raw);
                if let Some(t) = at {
                    first.get_or_insert(t);
                    last = last.max(t);
                }
                if at.is_none_or(|t| window.contains(t)) {
                    counts.count_raw(raw);
                    in_window += 1;
                }
                pipeline.record(raw);
                if pipeline.flush_if_full() == Flow::Stop {
                    break;
                }
            }
            Ok(Step::Item(Item::Lost {
                tag,
                count,
                boot_ns,
            })) => {
                if window.contains(boot_ns) {
                    counts.count_lost(tag, count);
                }
                pipeline.lost(tag, count, boot_ns, LossCause::Unknown);
            }
            Ok(Step::Item(Item::End { .. })) => clean_end = true,
            Err(damage) => {
                // Whatever the damage held is unknown, execs included.
                pipeline.damaged(&damage.to_string(), last.max(header.started_boot_ns));
                truncated |= matches!(
                    damage,
                    Damage::Truncated { .. } | Damage::Abandoned { .. } | Damage::Amplified { .. }
                );
                stretches += 1;
                if stretches <= DAMAGE_WARNINGS {
                    match damage {
                        // They name their file themselves.
                        Damage::Unreadable(_) | Damage::Missing { .. } => {
                            crate::say!("tracer: warning: {damage}");
                        }
                        _ => crate::say!("tracer: warning: {}: {damage}", reader.path().display()),
                    }
                }
            }
        }
    }
    if stretches > DAMAGE_WARNINGS {
        crate::say!(
            "tracer: warning: {}: {} more damaged stretches",
            shown.display(),
            stretches - DAMAGE_WARNINGS
        );
    }
    if !clean_end && !truncated {
        crate::say!(
            "tracer: note: {} has no end marker: the recording did not stop cleanly",
            reader.path().display()
        );
    }
    if let (false, 0, Some(first)) = (window.is_all(), in_window, first) {
        let clock = header.wall_clock();
        crate::say!(
            "tracer: note: no event of {} is in the window (the log's events span {} .. {})",
            shown.display(),
            clock.rfc3339(first),
            clock.rfc3339(last)
        );
    }
    pipeline.finish(&counts)?;
    if stretches > 0 {
        return Err(DamagedInput::of(inputs, stretches).into());
    }
    Ok(())
}
