//! What every row of one log repeats, from its header.

use crate::{
    log::header::{LogHeader, Part},
    model::{clock::WallClock, flags::PfNames, task_id::BootKey},
};

/// What every row of one log repeats, from its header.
#[derive(Clone, Debug)]
pub struct Origin {
    pub host: String,
    /// None in logs before log version 4.
    pub machine_id: Option<String>,
    pub boot_id: String,
    /// The recording session, hex (see [`recording_id`]).
    pub recording_id: String,
    pub clock: WallClock,
    pub pf: PfNames,
    pub ticks_per_sec: u64,
    /// The file's place in its recording (named in dataset part files).
    pub part: Part,
}

impl Origin {
    /// From a log's header; takes nothing from it.
    pub fn of(header: &LogHeader) -> Origin {
        Origin {
            host: header.hostname.clone(),
            machine_id: Some(header.machine_id.clone()).filter(|m| !m.is_empty()),
            boot_id: header.boot_id.clone(),
            recording_id: recording_id(header),
            clock: header.wall_clock(),
            pf: header.pf_names(),
            ticks_per_sec: header.ticks_per_sec,
            part: header.part,
        }
    }

    pub(super) fn boot_key(&self) -> BootKey {
        BootKey::new(self.machine_id.as_deref().unwrap_or(""), &self.boot_id)
    }

    pub(super) fn ns_per_tick(&self) -> u64 {
        (1_000_000_000 / self.ticks_per_sec.max(1)).max(1)
    }
}

/// A recording's id: its session number (16 hex digits); for logs before
/// log version 3, which have none, a hash of the boot and start time, so
/// two such logs still differ.
pub fn recording_id(header: &LogHeader) -> String {
    let session = match header.part.session {
        0 => {
            let text = format!("{}\n{}", header.boot_id, header.started_boot_ns);
            // The boot part of a task id is such a hash: its 16 digits.
            let id = BootKey::new("", &text).task(0, 0).to_string();
            return id[..16].to_string();
        }
        s => s,
    };
    format!("{session:016x}")
}
