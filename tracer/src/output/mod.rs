//! Rendering records: one module per output format.

pub mod json;
mod text;

use clap::ValueEnum;

use crate::{clock::WallClock, event::Record, tasks::Kinds};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One aligned line per event.
    Text,
    /// JSON Lines with stable field names.
    Json,
}

/// Writes records in one format into a caller-owned buffer, so the hot path
/// reuses one allocation and the caller decides when to flush.
pub trait Formatter {
    /// Anything printed once before the first record (e.g. column titles).
    fn begin(&mut self, out: &mut Vec<u8>);
    /// One event; `kinds` are the kinds of the tasks it concerns.
    fn record(&mut self, out: &mut Vec<u8>, rec: &Record, kinds: &Kinds);
}

pub fn formatter(format: Format, clock: WallClock) -> Box<dyn Formatter> {
    match format {
        Format::Text => Box::new(text::Text::new(clock)),
        Format::Json => Box::new(json::Json::new(clock)),
    }
}
