//! A Perfetto trace (TrackEvent protobuf) for a timeline. Not built yet.

use super::Formatter;
use crate::model::{clock::WallClock, flags::PfNames};

pub fn formatter(_clock: WallClock, _pf: PfNames) -> Box<dyn Formatter> {
    unimplemented!("Perfetto export is being built")
}
