//! Names of `task->flags` (PF_*) bits.

pub use tracer_common::pf::{PF_EXITING, PF_IO_WORKER, PF_KTHREAD, PF_USER_WORKER, PF_WQ_WORKER};

/// Bits worth naming, in display order: the ones that tell what a task is
/// first, then the state bits.
const NAMES: &[(u32, &str)] = &[
    (PF_KTHREAD, "KTHREAD"),
    (PF_IO_WORKER, "IO_WORKER"),
    (PF_USER_WORKER, "USER_WORKER"),
    (PF_WQ_WORKER, "WQ_WORKER"),
    (0x20000, "KSWAPD"),
    (PF_EXITING, "EXITING"),
    (0x8, "POSTCOREDUMP"),
    (0x40, "FORKNOEXEC"),
    (0x100, "SUPERPRIV"),
    (0x200, "DUMPCORE"),
    (0x400, "SIGNALED"),
    (0x800, "MEMALLOC"),
    (0x8000, "NOFREEZE"),
    (0x0040_0000, "RANDOMIZE"),
    (0x0400_0000, "NO_SETAFFINITY"),
];

/// Names of the set bits this tracer knows, in display order.
pub fn names(flags: u32) -> impl Iterator<Item = &'static str> {
    NAMES
        .iter()
        .filter(move |(bit, _)| flags & bit != 0)
        .map(|(_, name)| *name)
}

/// `KTHREAD|WQ_WORKER`, or `-` when no named bit is set.
pub fn join(flags: u32) -> String {
    let joined = names(flags).collect::<Vec<_>>().join("|");
    if joined.is_empty() {
        "-".to_string()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_real_tasks() {
        // Values seen in /proc/PID/stat field 9 on this kernel.
        assert_eq!(join(0x208040), "KTHREAD|FORKNOEXEC|NOFREEZE");
        assert_eq!(
            join(0x4208060),
            "KTHREAD|WQ_WORKER|FORKNOEXEC|NOFREEZE|NO_SETAFFINITY"
        );
        assert_eq!(join(0x404050), "IO_WORKER|USER_WORKER|FORKNOEXEC|RANDOMIZE");
        assert_eq!(join(0x400100), "SUPERPRIV|RANDOMIZE");
        assert_eq!(join(0), "-");
    }
}
