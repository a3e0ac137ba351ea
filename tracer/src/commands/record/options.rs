//! What `record` is asked to do: where the log goes (`-o FILE` or
//! `--dir DIR` with rotation and retention), its limits, the session.

use std::{path::PathBuf, time::Duration};

use crate::{live::session::SessionOptions, log::rotate::Retention, ship::ShipOptions};

/// How often a recording is synced to disk (fdatasync): a power loss costs
/// at most this much of it (docs/reference.md, "Security and robustness").
pub const SYNC_EVERY: Duration = Duration::from_secs(5);

/// A file rotates at this size when `--dir` names no `--rotate-size`.
pub const DEFAULT_ROTATE_SIZE: u64 = 256 << 20;

pub struct RecordOptions {
    pub session: SessionOptions,
    pub to: Target,
    /// `-o FILE` only: stop once the file reaches this size.
    pub max_size: Option<u64>,
    pub ship: ShipOptions,
}

pub enum Target {
    /// `-o FILE`; SIGHUP finishes it and creates FILE afresh.
    File(PathBuf),
    /// `--dir DIR`: rotated logs.
    Dir(Rotation),
}

pub struct Rotation {
    pub dir: PathBuf,
    /// Start a new file once the current one reaches this many bytes.
    pub size: u64,
    /// ... or is this old.
    pub every: Option<Duration>,
    pub retention: Retention,
    /// zstd-compress each finished file.
    pub compress: bool,
    /// Record into a directory other users can write to (or whose parents
    /// they can change).
    pub allow_unsafe: bool,
}
