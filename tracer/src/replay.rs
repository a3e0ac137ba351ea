//! `tracer replay` and `tracer export`: a recorded log rendered exactly as
//! live `trace` would have shown the same events (same kinds, lineage and
//! diagnoses), since the same table and printer run over the same records.

use std::{io::Write as _, path::Path};

use anyhow::{anyhow, bail, Result};
use tracer_common::{EventKind, FORMAT_VERSION};

use crate::{
    clock::WallClock,
    filter::TraceFilter,
    log::{
        header::LogHeader,
        reader::{Damage, Item, LogReader},
    },
    output::{self, json::string, Format},
    session::{Counts, Flow},
    tasks::TaskTable,
    trace::Printer,
};

/// Opens a log with a clear error for anything that is not a readable one.
pub fn open(path: &Path) -> Result<(LogHeader, LogReader)> {
    let (header, reader) = LogReader::open(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if header.event_format != FORMAT_VERSION {
        let advice = if header.event_format > FORMAT_VERSION {
            "use a newer tracer"
        } else {
            "use the tracer version that recorded it"
        };
        bail!(
            "{}: its events are in format version {}; this tracer reads version \
             {FORMAT_VERSION}: {advice}",
            path.display(),
            header.event_format
        );
    }
    Ok((header, reader))
}

/// The task table as it stood when recording began.
pub fn table(header: &LogHeader) -> TaskTable {
    TaskTable::from_snapshot(
        header.tasks.clone(),
        header.init_cgroup.as_deref(),
        header.ticks_per_sec,
    )
}

/// PF_* names as the recording kernel had them.
pub fn pf_names(header: &LogHeader) -> crate::flags::PfNames {
    crate::flags::PfNames::for_release(&header.kernel_release)
}

pub fn clock(header: &LogHeader) -> WallClock {
    WallClock {
        boot_epoch_ns: i128::from(header.boot_epoch_ns),
    }
}

fn warn_damage(path: &Path, damage: &Damage) {
    eprintln!("tracer: warning: {}: {damage}", path.display());
}

/// Replays `path` to stdout. With `lost_lines`, lost-record notices are
/// JSON lines on stdout too (export); otherwise they go to stderr as live.
pub fn run(path: &Path, format: Format, filter: TraceFilter, lost_lines: bool) -> Result<()> {
    let (header, mut reader) = open(path)?;
    let clock = clock(&header);
    let mut printer = Printer::new(
        std::io::stdout().lock(),
        output::formatter(format, clock, pf_names(&header)),
        table(&header),
        filter,
    );
    let mut counts = Counts::default();
    let mut full = crate::log::expand_buffer();
    let mut clean_end = false;
    let mut truncated = false;
    let mut stretches = 0;
    while let Some(item) = reader.next() {
        match item {
            Ok(Item::Event(stored)) => {
                let raw = crate::log::expand(stored, &mut full);
                counts.count_raw(raw);
                printer.record(raw);
                if printer.flush_if_full() == Flow::Stop {
                    break;
                }
            }
            Ok(Item::Lost {
                tag,
                count,
                boot_ns,
            }) => {
                let name = EventKind::from_tag(tag).map_or("unknown", |k| k.name());
                if let Some(n) = counts.lost.get_mut(usize::from(tag)) {
                    *n = n.saturating_add(count);
                }
                if lost_lines {
                    let mut line = Vec::new();
                    line.extend_from_slice(b"{\"time\":");
                    string(&mut line, &clock.rfc3339(boot_ns));
                    let _ = writeln!(
                        line,
                        ",\"boot_ns\":{boot_ns},\"event\":\"lost\",\"lost_event\":\"{name}\",\"count\":{count}}}"
                    );
                    printer.line(&line);
                } else {
                    eprintln!("tracer: warning: {count} {name} events lost (ring buffer full)");
                }
            }
            Ok(Item::End { .. }) => clean_end = true,
            Err(damage) => {
                truncated |= matches!(damage, Damage::Truncated { .. });
                stretches += 1;
                warn_damage(path, &damage);
            }
        }
    }
    if !clean_end && !truncated {
        eprintln!(
            "tracer: note: {} has no end marker: the recording did not stop cleanly",
            path.display()
        );
    }
    printer.finish(&counts)?;
    if stretches > 0 {
        return Err(crate::log::reader::DamagedInput {
            path: path.to_path_buf(),
            stretches,
        }
        .into());
    }
    Ok(())
}
