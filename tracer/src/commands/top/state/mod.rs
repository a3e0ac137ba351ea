//! The screen's model: what the panes show, kept current by every event
//! (live from the pipeline's tap, or a recording up to the time cursor).
//! It owns its own task table, so a recording's cursor can rebuild it
//! from the log's snapshot; drawing only reads it.

pub mod churn;
pub mod health;
pub mod helpers;
pub mod tree;

use std::collections::VecDeque;

use tracer_common::EventKind;

pub use self::{
    churn::Churn,
    health::Health,
    helpers::{Helpers, StoryState},
};
use crate::{
    kernel::rings::RingFill,
    model::{
        classify::Kind,
        clock::WallClock,
        event::{Event, Record},
        flags::PfNames,
        signals::{self, GenerateResult},
        tasks::{Annotation, TaskTable},
    },
};

/// Events kept for the feed and the detail view.
const FEED: usize = 4096;
/// Signal rows kept.
const SIGNALS: usize = 512;

/// One event as the feed keeps it.
pub struct FeedItem {
    /// Its place in the stream (1 for the first event applied).
    pub seq: u64,
    pub rec: Record,
    pub ann: Annotation,
}

/// A signal generated for a kernel-side task.
pub struct SignalRow {
    pub seq: u64,
    pub boot_ns: u64,
    pub sig: String,
    pub target_pid: u32,
    pub target_comm: Box<str>,
    pub target_kind: Kind,
    pub sender_pid: u32,
    pub sender_comm: Box<str>,
    pub result: GenerateResult,
}

pub struct State {
    pub table: TaskTable,
    pub clock: WallClock,
    pub pf: PfNames,
    /// Boot-clock ns the screen stands at: the newest event, or the
    /// clock live.
    pub now_ns: u64,
    /// Events applied so far.
    pub seq: u64,
    pub helpers: Helpers,
    /// Newest last.
    pub signals: VecDeque<SignalRow>,
    pub churn: Churn,
    pub health: Health,
    /// Newest last.
    pub feed: VecDeque<FeedItem>,
}

impl State {
    pub fn new(table: TaskTable, clock: WallClock, pf: PfNames, now_ns: u64) -> State {
        State {
            table,
            clock,
            pf,
            now_ns,
            seq: 0,
            helpers: Helpers::default(),
            signals: VecDeque::new(),
            churn: Churn::default(),
            health: Health::default(),
            feed: VecDeque::new(),
        }
    }

    /// One event, in stream order.
    pub fn apply(&mut self, rec: Record) {
        self.seq += 1;
        self.now_ns = self.now_ns.max(rec.boot_ns);
        let ann = self.table.apply(&rec);
        let seq = self.seq;
        self.health.event(&rec);
        self.helpers.event(seq, &rec, &ann);
        match &rec.event {
            Event::SignalGenerate {
                sender,
                target,
                sig,
                result,
                ..
            } if ann.subject.kernel_side() => {
                self.signals.push_back(SignalRow {
                    seq,
                    boot_ns: rec.boot_ns,
                    sig: signals::name(*sig).into_owned(),
                    target_pid: target.pid,
                    target_comm: target.comm.as_str().into(),
                    target_kind: ann.subject,
                    sender_pid: sender.pid,
                    sender_comm: sender.comm.as_str().into(),
                    result: *result,
                });
                if self.signals.len() > SIGNALS {
                    self.signals.pop_front();
                }
            }
            Event::Fork { child, .. } if is_kthread(ann.subject) => {
                self.churn.created(&child.comm, rec.boot_ns);
            }
            Event::Exit { task, .. } if is_kthread(ann.subject) => {
                self.churn.exited(&task.comm, rec.boot_ns);
            }
            _ => {}
        }
        self.feed.push_back(FeedItem { seq, rec, ann });
        if self.feed.len() > FEED {
            self.feed.pop_front();
        }
    }

    /// `count` records of `kind` (`None`: unknown) were lost.
    pub fn lost(&mut self, kind: Option<EventKind>, count: u64) {
        self.table.note_lost(kind);
        self.health.lost(kind, count);
    }

    pub fn rings(&mut self, fill: Vec<RingFill>) {
        self.health.rings = fill;
    }

    /// `HH:MM:SS` of a boot-clock time, local.
    pub fn hms(&self, boot_ns: u64) -> String {
        let t = self.clock.local_hms(boot_ns);
        t.split('.').next().unwrap_or(&t).to_string()
    }
}

/// Kernel threads for the churn pane.
fn is_kthread(kind: Kind) -> bool {
    matches!(kind, Kind::Kthread | Kind::Kworker)
}
