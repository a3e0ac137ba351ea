//! Which thread groups had more than one thread, so an exit says
//! `group_dead` only where it tells something: the last of several
//! threads went, and with it the process. A single-threaded process's
//! exit is always its group's death, and saying so on nearly every line
//! is noise.
//!
//! The kernel fires `sched_process_exit` for every thread, and only the
//! last one's has `group_dead` set (6.16+; older kernels pass none, and
//! then nothing is said either way), so a group had other threads exactly
//! when an exit with `group_dead` false came first. Those are remembered
//! until the group's death: at most one entry per live multi-threaded
//! process.

use std::collections::HashSet;

use crate::model::event::{Event, Record};

#[derive(Default)]
pub(super) struct Groups {
    /// Thread groups with a thread exit seen and no death yet.
    threaded: HashSet<u32>,
}

impl Groups {
    /// Learns from `rec`; for the exit that ends a thread group, whether
    /// the group had other threads (else false).
    pub(super) fn learn(&mut self, rec: &Record) -> bool {
        match &rec.event {
            Event::Exit {
                task,
                group_dead: Some(false),
                ..
            } => {
                self.threaded.insert(task.tgid);
                false
            }
            Event::Exit {
                task,
                group_dead: Some(true),
                ..
            } => self.threaded.remove(&task.tgid),
            _ => false,
        }
    }
}
