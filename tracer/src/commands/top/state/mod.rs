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
        let ann = self.table.apply(&rec);
        // Folded into the fork after it (`ann.kthread`): no event of its own.
        if rec.event.kind() == EventKind::Kthread {
            return;
        }
        self.seq += 1;
        self.now_ns = self.now_ns.max(rec.boot_ns);
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
                let requester = ann.kthread.as_deref().map(|k| k.requester_label());
                self.churn.created(&child.comm, rec.boot_ns, requester);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        event::{Event, Task},
        signals::ExitStatus,
    };

    fn task(pid: u32, ppid: u32, comm: &str, flags: u32, start_ns: u64) -> Task {
        Task {
            pid,
            tgid: pid,
            ppid,
            flags,
            has_mm: flags & 0x200000 == 0,
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

    /// A core-dump helper's life as the kernel reports it: forked by a
    /// kworker (CLONE_PARENT: its parent is kthreadd), exec'd, SIGKILLed
    /// by a shell; its story says killed, by whom; the signal to kthreadd
    /// is a row, ignored; the kworker's birth is churn.
    #[test]
    fn a_killed_helper_and_a_signal_to_kthreadd() {
        let s = 1_000_000_000;
        let kthreadd = task(2, 0, "kthreadd", 0x208040, 0);
        let mut state = State::new(
            TaskTable::new(100, false),
            WallClock { boot_epoch_ns: 0 },
            PfNames::running(),
            0,
        );
        let kworker = task(40, 2, "kworker/u8:3", 0x4208060, s);
        state.apply(rec(
            s,
            Event::Fork {
                creator: kthreadd.clone(),
                child: kworker.clone(),
                clone_flags: 0,
            },
        ));
        let helper = task(700, 2, "kworker/u8:3", 0x40, 2 * s);
        state.apply(rec(
            2 * s,
            Event::Fork {
                creator: kworker,
                child: helper.clone(),
                clone_flags: 0,
            },
        ));
        assert_eq!(state.helpers.stories[0].state, StoryState::Running);
        let shell = task(900, 1, "kill", 0x400100, s);
        for (target, result) in [
            (helper.clone(), GenerateResult::Delivered),
            (kthreadd, GenerateResult::Ignored),
        ] {
            state.apply(rec(
                3 * s,
                Event::SignalGenerate {
                    sender: shell.clone(),
                    sender_uid: 0,
                    target,
                    sig: if result == GenerateResult::Ignored {
                        15
                    } else {
                        9
                    },
                    errno: 0,
                    code: 0,
                    group: true,
                    result,
                },
            ));
        }
        state.apply(rec(
            3 * s + 5,
            Event::Exit {
                task: helper,
                status: ExitStatus::Signaled {
                    sig: 9,
                    core: false,
                },
                group_dead: Some(true),
            },
        ));
        let story = &state.helpers.stories[0];
        assert_eq!(story.state, StoryState::Killed);
        assert_eq!(story.killer_short.as_deref(), Some("900 (kill)"));
        assert_eq!(state.helpers.ended_badly, 1);
        let to_kthreadd = state.signals.iter().find(|r| r.target_pid == 2).unwrap();
        assert_eq!(
            (to_kthreadd.sig.as_str(), to_kthreadd.result),
            ("SIGTERM", GenerateResult::Ignored)
        );
        assert_eq!(state.churn.by_pattern["kworker/u*"].created, 1);
        assert_eq!(state.feed.len(), 5);
    }
}
