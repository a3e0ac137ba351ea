//! Taps: consumers that see every event beside the main output (stdout or
//! the log), such as Prometheus metrics and an OTLP exporter.
//!
//! A tap sees each event after the task table has annotated it, so it can
//! tell a helper from a kthread exactly as the text and JSON outputs do.
//! Taps never block the stream: one that falls behind drops and counts.

use anyhow::Result;
use tracer_common::EventKind;

use crate::{
    kernel::rings::RingFill,
    log::header::Part,
    model::{
        decode::decode,
        event::Record,
        procfs::ProcTask,
        tasks::{Annotation, TaskTable},
    },
};

/// `Send`: `record` runs its taps on the decode thread
/// ([`super::offload`]).
pub trait Tap: Send {
    /// One event. `shown`: it passed the user's filter (and so is on the
    /// main output of `trace`); every decoded event reaches every tap.
    fn event(&mut self, rec: &Record, ann: &Annotation, shown: bool);
    /// A record the task table folds into the event after it (a kernel
    /// thread's requester, told with kthreadd's fork): only a tap that
    /// keeps a task table of its own needs it.
    fn folded(&mut self, _rec: &Record) {}
    /// `count` records of `kind` (`None`: unknown) were lost.
    fn lost(&mut self, kind: Option<EventKind>, count: u64, boot_ns: u64);
    /// `count` events never reached the taps: `record`'s decode thread
    /// was behind and dropped them (counted; the log has them).
    fn missed(&mut self, _count: u64) {}
    /// A damaged stretch of a log (`what` the reader found), read after
    /// the event at `boot_ns`.
    fn damaged(&mut self, _what: &str, _boot_ns: u64) {}
    /// A log's stream goes on in its next file (`part`), which starts
    /// with the start-up `snapshot`.
    fn next_file(&mut self, _part: Part, _snapshot: &[ProcTask]) {}
    /// About once a second, live only: gauges from the table.
    fn tick(&mut self, _table: &TaskTable) {}
    /// About once a second, live only, before `tick`: how full each ring
    /// buffer got since the last call.
    fn rings(&mut self, _fill: &[RingFill]) {}
    /// The stream has ended: send what is buffered, say what was dropped.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// The taps of one stream.
#[derive(Default)]
pub struct Taps(Vec<Box<dyn Tap>>);

impl Taps {
    pub fn new(taps: Vec<Box<dyn Tap>>) -> Taps {
        Taps(taps)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// These taps and `tap`.
    pub fn with(mut self, tap: Box<dyn Tap>) -> Taps {
        self.0.push(tap);
        self
    }

    pub fn event(&mut self, rec: &Record, ann: &Annotation, shown: bool) {
        for tap in &mut self.0 {
            tap.event(rec, ann, shown);
        }
    }

    pub fn folded(&mut self, rec: &Record) {
        for tap in &mut self.0 {
            tap.folded(rec);
        }
    }

    pub fn lost(&mut self, kind: Option<EventKind>, count: u64, boot_ns: u64) {
        for tap in &mut self.0 {
            tap.lost(kind, count, boot_ns);
        }
    }

    pub fn missed(&mut self, count: u64) {
        for tap in &mut self.0 {
            tap.missed(count);
        }
    }

    pub fn damaged(&mut self, what: &str, boot_ns: u64) {
        for tap in &mut self.0 {
            tap.damaged(what, boot_ns);
        }
    }

    pub fn next_file(&mut self, part: Part, snapshot: &[ProcTask]) {
        for tap in &mut self.0 {
            tap.next_file(part, snapshot);
        }
    }

    pub fn tick(&mut self, table: &TaskTable) {
        for tap in &mut self.0 {
            tap.tick(table);
        }
    }

    pub fn rings(&mut self, fill: &[RingFill]) {
        for tap in &mut self.0 {
            tap.rings(fill);
        }
    }

    /// Finishes every tap; the first error, after all have finished.
    pub fn finish(self) -> Result<()> {
        let mut first = Ok(());
        for tap in self.0 {
            let res = tap.finish();
            if first.is_ok() {
                first = res;
            }
        }
        first
    }
}

/// Taps on a stream that has no formatter of its own (`record`, on its
/// decode thread: [`super::offload`]): decodes each raw record and keeps
/// the task table the taps need (and `record` needs for the header of
/// each new file it starts).
pub struct Observer {
    table: TaskTable,
    taps: Taps,
}

impl Observer {
    pub fn new(table: TaskTable, taps: Taps) -> Observer {
        Observer { table, taps }
    }

    pub fn has_taps(&self) -> bool {
        !self.taps.is_empty()
    }

    pub fn record(&mut self, raw: &[u8]) {
        // An undecodable record is the log's business (it is kept there
        // as the kernel wrote it); taps see only what decodes.
        if let Ok(rec) = decode(raw) {
            self.event(&rec);
        }
    }

    /// For the task table only: the taps never see it (count it with
    /// [`Observer::taps_missed`]).
    pub fn table_record(&mut self, raw: &[u8]) {
        if let Ok(rec) = decode(raw) {
            self.table.apply(&rec);
        }
    }

    fn event(&mut self, rec: &Record) {
        let ann = self.table.apply(rec);
        // Told with the fork it precedes (see `Pipeline::record`).
        if rec.event.kind() == EventKind::Kthread {
            self.taps.folded(rec);
            return;
        }
        self.taps.event(rec, &ann, true);
    }

    pub fn lost(&mut self, kind: EventKind, count: u64, boot_ns: u64) {
        self.table.note_lost(Some(kind));
        self.taps.lost(Some(kind), count, boot_ns);
    }

    /// `count` events were dropped before decoding: for the table, a loss
    /// of unknown kind (an exec among them makes a helper's later exit 0
    /// no proof that its exec failed).
    pub fn missed(&mut self, count: u64) {
        self.table.note_lost(None);
        self.taps.missed(count);
    }

    /// `count` events reached the table but not the taps.
    pub fn taps_missed(&mut self, count: u64) {
        self.taps.missed(count);
    }

    pub fn tick(&mut self) {
        self.taps.tick(&self.table);
    }

    /// The task table as the events so far leave it.
    pub fn table(&self) -> &TaskTable {
        &self.table
    }

    pub fn rings(&mut self, fill: &[RingFill]) {
        self.taps.rings(fill);
    }

    pub fn finish(self) -> Result<()> {
        self.taps.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        event::{Event, Task},
        signals::ExitStatus,
    };

    fn task(pid: u32, comm: &str, flags: u32, start_ns: u64) -> Task {
        Task {
            pid,
            tgid: pid,
            ppid: 2,
            flags,
            has_mm: false,
            comm: comm.into(),
            start_ns,
            context: None,
        }
    }

    fn rec(boot_ns: u64, event: Event) -> Record {
        Record {
            boot_ns,
            cpu: 0,
            event,
        }
    }

    /// A helper (forked by a kworker) that exits 0: whether it was
    /// reported as a failed exec, with `missed` events dropped between.
    fn helper_exec_failed(missed: u64) -> bool {
        let mut obs = Observer::new(TaskTable::new(100, false), Taps::default());
        let kworker = task(40, "kworker/u8:3", 0x4208060, 1_000);
        let helper = task(700, "kworker/u8:3", 0x40, 7_000);
        obs.event(&rec(
            7_000,
            Event::Fork {
                creator: kworker,
                child: helper.clone(),
                clone_flags: 0,
            },
        ));
        if missed > 0 {
            obs.missed(missed);
        }
        let exit = rec(
            7_010,
            Event::Exit {
                task: helper,
                status: ExitStatus::Exited(0),
                group_dead: Some(true),
            },
        );
        let ann = obs.table.apply(&exit);
        ann.helper.expect("a helper's story").exec_failed
    }

    /// Dropped events may have held the helper's exec: its exit 0 is no
    /// failed exec then.
    #[test]
    fn a_dropped_exec_is_no_exec_failure() {
        assert!(helper_exec_failed(0), "the claim is made when all is seen");
        assert!(!helper_exec_failed(3), "dropped events may hold its exec");
    }
}
