//! Helper stories: each user-mode helper from its spawn to its end, with
//! whom it ran for and who killed it, newest first.

use std::collections::VecDeque;

use crate::{
    model::{
        classify::Kind,
        event::{Event, Record},
        signals::{self, ExitStatus},
        tasks::{Annotation, HelperInfo},
    },
    output::sentences,
};

/// Stories kept.
const STORIES: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoryState {
    Running,
    Finished,
    Failed,
    Killed,
}

impl StoryState {
    pub fn name(self) -> &'static str {
        match self {
            StoryState::Running => "running",
            StoryState::Finished => "finished",
            StoryState::Failed => "failed",
            StoryState::Killed => "killed",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Story {
    /// The event that began it, and the one that last changed it.
    pub seq: u64,
    pub changed_seq: u64,
    pub pid: u32,
    pub start_ns: u64,
    pub state: StoryState,
    /// What it runs: the kworker's name until its exec, then the program.
    pub program: String,
    /// `for 5545 (sh, dumping core)`, once known.
    pub requester: Option<String>,
    pub requester_pid: Option<u32>,
    /// `5545 (sh)`: the requester for a narrow screen.
    pub requester_short: Option<String>,
    /// The fatal signal's sender: `from 999 (kill) uid=0`.
    pub killer: Option<String>,
    pub killer_pid: Option<u32>,
    /// `999 (kill)`.
    pub killer_short: Option<String>,
    /// A signal sent to it while it ran (`SIGKILL from 999 (kill)`).
    pub signalled: Option<String>,
    /// How it ended: `killed by SIGKILL from ... after 1.2s`.
    pub end: Option<String>,
    pub end_ns: Option<u64>,
}

/// Newest first.
#[derive(Default)]
pub struct Helpers {
    pub stories: VecDeque<Story>,
    /// Helpers that failed or were killed, so far.
    pub ended_badly: u64,
}

impl Helpers {
    pub fn event(&mut self, seq: u64, rec: &Record, ann: &Annotation) {
        match &rec.event {
            Event::Fork { child, .. } if ann.subject == Kind::Helper && child.pid == child.tgid => {
                self.stories.push_front(Story {
                    seq,
                    changed_seq: seq,
                    pid: child.pid,
                    start_ns: child.start_ns,
                    state: StoryState::Running,
                    program: child.comm.clone(),
                    requester: None,
                    requester_pid: None,
                    requester_short: None,
                    killer: None,
                    killer_pid: None,
                    killer_short: None,
                    signalled: None,
                    end: None,
                    end_ns: None,
                });
                self.stories.truncate(STORIES);
            }
            Event::Exec { task, filename, .. } if ann.subject == Kind::Helper => {
                if let Some(s) = self.running(task.pid, task.start_ns) {
                    s.program = filename.clone();
                    s.changed_seq = seq;
                    learn(s, ann.helper.as_ref());
                }
            }
            Event::SignalGenerate {
                sender,
                target,
                sig,
                ..
            } if ann.subject == Kind::Helper => {
                if let Some(s) = self.running(target.pid, target.start_ns) {
                    s.signalled = Some(format!(
                        "{} from {} ({})",
                        signals::name(*sig),
                        sender.pid,
                        sender.comm
                    ));
                    s.changed_seq = seq;
                }
            }
            Event::Exit { task, status, .. } if ann.subject == Kind::Helper => {
                let Some(s) = self.running(task.pid, task.start_ns) else {
                    return;
                };
                learn(s, ann.helper.as_ref());
                let exec_failed = ann.helper.as_ref().is_some_and(|h| h.exec_failed);
                s.state = match status {
                    ExitStatus::Signaled { .. } => StoryState::Killed,
                    ExitStatus::Exited(0) if !exec_failed => StoryState::Finished,
                    ExitStatus::Exited(_) => StoryState::Failed,
                };
                if let Some(k) = &ann.killer {
                    s.killer = Some(sentences::sender(k));
                    s.killer_pid = Some(k.pid);
                    s.killer_short = Some(format!("{} ({})", k.pid, k.comm));
                }
                s.end = Some(match sentences::diagnosis(rec, ann) {
                    Some(d) => d,
                    None => sentences::death(status, ann),
                });
                s.end_ns = Some(rec.boot_ns);
                s.changed_seq = seq;
                if s.state != StoryState::Finished {
                    self.ended_badly += 1;
                }
            }
            _ => {}
        }
    }

    fn running(&mut self, pid: u32, start_ns: u64) -> Option<&mut Story> {
        self.stories
            .iter_mut()
            .find(|s| s.pid == pid && s.start_ns == start_ns && s.state == StoryState::Running)
    }
}

/// What the table knows of the helper's request.
fn learn(s: &mut Story, h: Option<&HelperInfo>) {
    let Some(h) = h else { return };
    if let Some(whom) = sentences::requested_for(h) {
        s.requester = Some(whom);
    }
    if let Some(r) = h.request.as_ref().and_then(|r| r.requester.as_ref()) {
        s.requester_pid = Some(r.pid);
        s.requester_short = Some(format!("{} ({})", r.pid, r.comm));
    }
    if let Some(exe) = &h.exe {
        s.program = exe.to_string();
    }
}
