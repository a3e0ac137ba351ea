//! What every output format implements.

use tracer_common::EventKind;

use super::style::Style;
use crate::model::{event::Record, tasks::Annotation};

/// Writes records in one format into a caller-owned buffer, so the hot path
/// reuses one allocation and the caller decides when to flush.
pub trait Formatter {
    /// How text is laid out for its reader (layout, colour, date lines);
    /// set before [`Formatter::begin`]. Formats other than text ignore it.
    fn style(&mut self, _style: &Style) {}
    /// Anything printed once before the first record (e.g. column titles).
    fn begin(&mut self, out: &mut Vec<u8>);
    /// One event, with what the task table says about its tasks.
    fn record(&mut self, out: &mut Vec<u8>, rec: &Record, ann: &Annotation);
    /// An event the filter or the time window leaves out: a format that
    /// keeps state across events (text's thread groups) still learns from
    /// it. Not called for the events given to [`Formatter::record`].
    fn unshown(&mut self, _rec: &Record) {}
    /// Anything written once after the last record (e.g. closing what is
    /// still open in a timeline).
    fn end(&mut self, _out: &mut Vec<u8>) {}
    /// A line saying `count` records of `kind` were lost, in order with the
    /// records; false where the format has no such line (the caller warns on
    /// stderr instead).
    fn lost(
        &mut self,
        _out: &mut Vec<u8>,
        _kind: Option<EventKind>,
        _count: u64,
        _boot_ns: u64,
    ) -> bool {
        false
    }
}
