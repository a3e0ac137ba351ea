//! Trace filters: which events a session shows. The parts the kernel can
//! decide go into a [`KernelFilter`] so a filtered session costs less; the
//! rest (kinds, which need lineage, comm globs, threads and renames to
//! the same name) are decided here.

use std::str::FromStr;

use tracer_common::{EventKind, KernelFilter, SIGNALS_ALL, SIGNALS_KERNEL_SIDE};

use crate::{
    model::{
        classify::Kind,
        event::{Event, Record, Task},
        tasks::Annotation,
    },
    output::Format,
};

/// An `--event` name: one kind, or `signal` for both signal events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventSel(u32);

/// The `--event` name that selects both signal events.
const SIGNAL_ALIAS: &str = "signal";
const SIGNAL_KINDS: [EventKind; 2] = [EventKind::SignalGenerate, EventKind::SignalDeliver];

/// Every `--event` name, in tag order, the alias before the kinds it stands for.
fn event_names() -> String {
    let mut names = Vec::with_capacity(EventKind::ALL.len() + 1);
    for kind in EventKind::ALL
        .into_iter()
        .filter(|&k| k != EventKind::Kthread)
    {
        if kind == SIGNAL_KINDS[0] {
            names.push(SIGNAL_ALIAS);
        }
        names.push(kind.name());
    }
    names.join(", ")
}

impl FromStr for EventSel {
    type Err = String;

    fn from_str(s: &str) -> Result<EventSel, String> {
        let mask = match s {
            SIGNAL_ALIAS => SIGNAL_KINDS.iter().fold(0, |m, k| m | k.bit()),
            // Kernel-thread records are told with their forks: not an event.
            _ => match EventKind::ALL
                .iter()
                .find(|k| k.name() == s && **k != EventKind::Kthread)
            {
                Some(&k) => k.bit(),
                None => return Err(format!("unknown event `{s}` (events: {})", event_names())),
            },
        };
        Ok(EventSel(mask))
    }
}

/// A shell-style glob (`*`, `?`) over comm names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob(String);

impl EventSel {
    /// The selected kinds' [`EventKind::bit`]s.
    pub fn mask(&self) -> u32 {
        self.0
    }
}

impl FromStr for Glob {
    type Err = String;

    fn from_str(s: &str) -> Result<Glob, String> {
        Ok(Glob(s.to_string()))
    }
}

impl Glob {
    pub fn matches(&self, text: &str) -> bool {
        glob_match(self.0.as_bytes(), text.as_bytes())
    }
}

fn glob_match(pat: &[u8], text: &[u8]) -> bool {
    // Iterative matcher with single-star backtracking: linear in practice.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pat.len() && (pat[p] == b'?' || pat[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pat.len() && pat[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

#[derive(Clone, Debug, Default)]
pub struct TraceFilter {
    pub kinds: Vec<Kind>,
    pub pids: Vec<u32>,
    pub comms: Vec<Glob>,
    pub events: Vec<EventSel>,
    /// Show signals between ordinary user processes too (by default only
    /// signals to kernel-side tasks are shown, and the rest dropped in kernel).
    pub all_signals: bool,
    /// Processes only (`--no-threads`): leave out the forks, exits,
    /// renames and signal deliveries of threads other than their
    /// process's leader, as execsnoop-like tools do. Kernel-made worker
    /// threads (io_uring, vhost) stay: they are what tracer is for.
    pub no_threads: bool,
    /// Leave out renames to the same name (`rename rustc -> rustc`: a
    /// program naming its threads what they are already called), counted
    /// in [`TraceFilter::hidden`]. Text's default view sets it (see
    /// [`TraceFilter::for_format`]); JSON and export keep every record.
    pub hide_same_name_renames: bool,
    /// Renames to the same name left out so far (a count the filter
    /// keeps, not a setting; a `Cell`, so that asking whether a record is
    /// shown stays a question, `&self`, for `top`'s views too).
    pub same_name_renames: std::cell::Cell<u64>,
}

impl TraceFilter {
    fn event_mask(&self) -> u32 {
        if self.events.is_empty() {
            u32::MAX
        } else {
            self.events.iter().fold(0, |m, e| m | e.0)
        }
    }

    /// What the kernel can drop for this filter. Fork, exec and exit always
    /// flow: the task table needs them for lineage, and helper requests to
    /// say whom each helper ran for.
    pub fn kernel(&self) -> KernelFilter {
        let always = [
            EventKind::Fork,
            EventKind::Exec,
            EventKind::Exit,
            EventKind::HelperRequest,
            EventKind::ExecFailed,
        ]
        .iter()
        .fold(0, |m, k| m | k.bit());
        KernelFilter {
            event_mask: self.event_mask() | always,
            pid: match self.pids.as_slice() {
                [one] => *one,
                _ => 0,
            },
            signals: if self.all_signals {
                SIGNALS_ALL
            } else {
                SIGNALS_KERNEL_SIDE
            },
            _pad: 0,
        }
    }

    /// The filter for output in `format`: text leaves out renames to the
    /// same name unless `--event rename` asks for renames by name.
    pub fn for_format(mut self, format: Format) -> TraceFilter {
        let renames_asked = self.events.iter().any(|e| e.0 == EventKind::Rename.bit());
        self.hide_same_name_renames = format == Format::Text && !renames_asked;
        self
    }

    /// What the filter left out that the summary says (the other filters
    /// are asked for by name): `tracer: not shown: 24 renames to the same
    /// name`, or `None`.
    pub fn hidden(&self) -> Option<String> {
        match self.same_name_renames.get() {
            0 => None,
            1 => Some("tracer: not shown: 1 rename to the same name".into()),
            n => Some(format!("tracer: not shown: {n} renames to the same name")),
        }
    }

    /// Whether `--no-threads` leaves `rec` out (see [`TraceFilter::no_threads`]).
    fn a_threads_own(rec: &Record, ann: &Annotation) -> bool {
        let leader = |t: &Task| t.pid == t.tgid;
        let worker = matches!(ann.subject, Kind::IoWorker | Kind::UserWorker);
        match &rec.event {
            Event::Fork { child: t, .. }
            | Event::Exit { task: t, .. }
            | Event::Rename { task: t, .. }
            | Event::SignalDeliver { task: t, .. } => !leader(t) && !worker,
            _ => false,
        }
    }

    /// Whether to show `rec`, annotated with its tasks' kinds.
    pub fn matches(&self, rec: &Record, ann: &Annotation) -> bool {
        // What a throttled source lost is always said, as losses are.
        if rec.event.kind() == EventKind::Throttle {
            return true;
        }
        if self.event_mask() & rec.event.kind().bit() == 0 {
            return false;
        }
        if self.no_threads && Self::a_threads_own(rec, ann) {
            return false;
        }
        let subject = rec.event.subject();
        let other = rec.event.other();
        let is_signal = matches!(
            rec.event.kind(),
            EventKind::SignalGenerate | EventKind::SignalDeliver
        );
        // The kernel already applied this; replayed logs need it here.
        if is_signal && !self.all_signals && !ann.subject.kernel_side() {
            return false;
        }
        // A helper request is the first line of a helper's story.
        let helper_story =
            rec.event.kind() == EventKind::HelperRequest && self.kinds.contains(&Kind::Helper);
        if !self.kinds.is_empty()
            && !helper_story
            && !self.kinds.contains(&ann.subject)
            && !ann.other.is_some_and(|k| self.kinds.contains(&k))
        {
            return false;
        }
        let has_pid = |t: &Task| self.pids.contains(&t.pid) || self.pids.contains(&t.tgid);
        if !self.pids.is_empty() && !has_pid(subject) && !other.is_some_and(has_pid) {
            return false;
        }
        let comm_ok = |c: &str| self.comms.iter().any(|g| g.matches(c));
        if !self.comms.is_empty()
            && !comm_ok(&subject.comm)
            && !other.is_some_and(|t| comm_ok(&t.comm))
        {
            return false;
        }
        if self.hide_same_name_renames {
            if let Event::Rename { task, new_comm } = &rec.event {
                if task.comm == *new_comm {
                    self.same_name_renames.set(self.same_name_renames.get() + 1);
                    return false;
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::signals::ExitStatus;

    fn task(pid: u32, tgid: u32, comm: &str) -> Task {
        Task {
            pid,
            tgid,
            ppid: 1,
            flags: 0,
            has_mm: true,
            comm: comm.into(),
            start_ns: 5,
            context: None,
        }
    }

    fn rec(event: Event) -> Record {
        Record {
            boot_ns: 1_000,
            cpu: 0,
            event,
        }
    }

    fn user() -> Annotation {
        Annotation {
            subject: Kind::User,
            other: Some(Kind::User),
            helper: None,
            killer: None,
            lifetime_ns: None,
            ids: Default::default(),
            kthread: None,
        }
    }

    #[test]
    fn no_threads_leaves_out_threads_own_events_but_not_workers() {
        let thread_fork = rec(Event::Fork {
            child: task(101, 100, "worker"),
            creator: task(100, 100, "app"),
            clone_flags: 0x3d0f00,
        });
        let process_fork = rec(Event::Fork {
            child: task(102, 102, "app"),
            creator: task(100, 100, "app"),
            clone_flags: 0x1200011,
        });
        let thread_exit = rec(Event::Exit {
            task: task(101, 100, "worker"),
            status: ExitStatus::Exited(0),
            group_dead: Some(false),
        });
        let thread_rename = rec(Event::Rename {
            task: task(101, 100, "app"),
            new_comm: "worker".into(),
        });
        let all = TraceFilter::default();
        let procs = TraceFilter {
            no_threads: true,
            ..TraceFilter::default()
        };
        for r in [&thread_fork, &thread_exit, &thread_rename] {
            assert!(all.matches(r, &user()), "{r:?}");
            assert!(!procs.matches(r, &user()), "{r:?}");
        }
        assert!(procs.matches(&process_fork, &user()));
        // An io_uring worker is a thread, and stays.
        let io = Annotation {
            subject: Kind::IoWorker,
            ..user()
        };
        assert!(procs.matches(&thread_fork, &io));
    }

    #[test]
    fn text_leaves_out_and_counts_renames_to_the_same_name() {
        let same = rec(Event::Rename {
            task: task(7, 7, "rustc"),
            new_comm: "rustc".into(),
        });
        let other = rec(Event::Rename {
            task: task(7, 7, "rustc"),
            new_comm: "cc1".into(),
        });
        let text = TraceFilter::default().for_format(Format::Text);
        assert!(!text.matches(&same, &user()));
        assert!(!text.matches(&same, &user()));
        assert!(text.matches(&other, &user()));
        assert_eq!(
            text.hidden().as_deref(),
            Some("tracer: not shown: 2 renames to the same name")
        );
        // JSON, export (the default filter) and --event rename keep them.
        let mut json = TraceFilter::default().for_format(Format::Json);
        let mut asked = TraceFilter {
            events: vec!["rename".parse().unwrap()],
            ..TraceFilter::default()
        }
        .for_format(Format::Text);
        for f in [&mut json, &mut asked, &mut TraceFilter::default()] {
            assert!(f.matches(&same, &user()));
            assert_eq!(f.hidden(), None);
        }
    }

    #[test]
    fn globs() {
        let g = |p: &str, t: &str| Glob(p.into()).matches(t);
        assert!(g("kworker/*", "kworker/u8:3"));
        assert!(g("jbd2/*-8", "jbd2/loop0-8"));
        assert!(g("iou-???-*", "iou-sqp-42"));
        assert!(!g("kworker/*", "kthreadd"));
        assert!(g("*", ""));
        assert!(!g("a*b", "acd"));
    }

    #[test]
    fn kernel_filter_keeps_lineage_events() {
        let f = TraceFilter {
            events: vec!["signal".parse().unwrap()],
            pids: vec![42],
            ..Default::default()
        };
        let k = f.kernel();
        assert!(k.wants(EventKind::Fork) && k.wants(EventKind::Exit));
        assert!(k.wants(EventKind::SignalGenerate) && k.wants(EventKind::SignalDeliver));
        assert!(!k.wants(EventKind::Rename));
        assert_eq!(k.pid, 42);
        assert!("forks".parse::<EventSel>().is_err());
    }

    #[test]
    fn event_names_parse_and_are_listed() {
        assert_eq!(
            "forks".parse::<EventSel>(),
            Err("unknown event `forks` (events: fork, exec, exit, signal, \
                 signal_generate, signal_deliver, rename, helper_request, exec_failed, \
                 throttled)"
                .to_string())
        );
        for name in event_names().split(", ") {
            let sel: EventSel = name.parse().expect(name);
            assert_ne!(sel.mask(), 0, "{name}");
        }
        let signal: EventSel = SIGNAL_ALIAS.parse().unwrap();
        assert_eq!(
            signal.mask(),
            EventKind::SignalGenerate.bit() | EventKind::SignalDeliver.bit()
        );
        let exec: EventSel = "exec".parse().unwrap();
        assert_eq!(exec.mask(), EventKind::Exec.bit());
    }
}
