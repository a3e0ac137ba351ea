//! Rendering records: one module per output format.

pub mod diag;
pub mod escape;
mod formatter;
pub mod json;
pub mod perfetto;
pub mod sentences;
pub mod style;
mod text;

use clap::ValueEnum;

pub use self::{
    formatter::Formatter,
    sentences::{
        death, death_with, diagnosis, diagnosis_with, duration, no_task, raw, requested_for,
        requested_for_with, sender, sender_with, stuck, unstuck, waited, waits, Held, Names,
    },
};
use crate::model::{clock::WallClock, event::Record, flags::PfNames, tasks::Annotation};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: lines, a table or a summary (each command's --help says
    /// which).
    Text,
    /// For programs: JSON with stable field names (each command's --help
    /// says its shape; `jsonl` is accepted too).
    #[value(alias = "jsonl")]
    Json,
}

/// `pf` names the PF_* bits as the kernel that set them does (the running
/// kernel live, the recording kernel in a replay).
pub fn formatter(format: Format, clock: WallClock, pf: PfNames) -> Box<dyn Formatter> {
    match format {
        Format::Text => Box::new(text::Text::new(clock, pf)),
        Format::Json => Box::new(json::Json::new(clock, pf)),
    }
}

/// Writes nothing: for streams whose only consumers are taps (`export
/// --format otlp`).
pub fn silent() -> Box<dyn Formatter> {
    struct Silent;
    impl Formatter for Silent {
        fn begin(&mut self, _out: &mut Vec<u8>) {}
        fn record(&mut self, _out: &mut Vec<u8>, _rec: &Record, _ann: &Annotation) {}
    }
    Box::new(Silent)
}
