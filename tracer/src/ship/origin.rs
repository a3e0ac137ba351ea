//! The machine shipped events come from.

use crate::model::{clock::WallClock, flags::PfNames};

/// The machine the events come from (the OTLP resource): the traced one
/// live, the recording one in an export.
#[derive(Clone, Debug)]
pub struct Origin {
    pub hostname: String,
    pub kernel_release: String,
    pub clock: WallClock,
    pub pf: PfNames,
    /// A live session: an exporter that falls behind drops (and counts)
    /// rather than stall the ring-buffer consumer. From a log, it waits.
    pub live: bool,
}

impl Origin {
    /// This machine, for a live session started at `clock`.
    pub fn live(clock: WallClock) -> Origin {
        let crate::log::header::Machine {
            kernel_release,
            hostname,
            ..
        } = crate::log::header::machine();
        Origin {
            hostname,
            kernel_release,
            clock,
            pf: PfNames::running(),
            live: true,
        }
    }
}
