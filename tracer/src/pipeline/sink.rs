//! The contract between a stream of records and what consumes it: the
//! live session (see `live::session`) pumps ring-buffer records into a
//! [`Sink`], and a sink says whether to go on with a [`Flow`]. Replaying a
//! log uses the same `Flow`, so replay never depends on the live session.

use anyhow::Result;
use tracer_common::EventKind;

use crate::{kernel::rings::RingFill, model::counts::LossCause};

#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Stop the session (output closed, size limit reached).
    Stop,
}

pub trait Sink {
    /// One ring-buffer record, bytes as the kernel wrote them.
    fn record(&mut self, raw: &[u8]) -> Result<Flow>;
    /// `count` more records of `kind` were lost in the kernel.
    fn lost(&mut self, kind: EventKind, count: u64, boot_ns: u64, cause: LossCause) -> Result<()>;
    /// End of a batch: flush buffered output.
    fn flush(&mut self) -> Result<Flow>;
    /// Once a second.
    fn tick(&mut self) -> Result<()> {
        Ok(())
    }
    /// Once a second, before `tick`: how full each ring got meanwhile.
    fn rings(&mut self, _fill: &[RingFill]) {}
    /// SIGHUP, between two records. `Stop` ends the session as SIGTERM
    /// does (a closed terminal); a sink writing a log reopens it instead
    /// (log rotation) and goes on.
    fn hangup(&mut self) -> Result<Flow> {
        Ok(Flow::Stop)
    }
}
