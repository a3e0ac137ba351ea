//! Typed events, as the rest of userspace sees them.

use tracer_common::{
    EventKind, KthreadEvent, TaskInfo, KTHREAD_EXACT, KTHREAD_KILLED, KTHREAD_NAMED,
    KTHREAD_NOT_KTHREAD, KTHREAD_NO_WAITER, KTHREAD_STARTED,
};

use crate::model::signals::{Disposition, ExitStatus, GenerateResult};

/// Events a session could not see: the kernel refused the program that
/// emits them. Live sessions say so at start; logs keep it in the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    pub kind: EventKind,
    /// The verifier's final verdict, or the load error.
    pub reason: String,
}

impl Missing {
    /// `exec events are missing: the kernel refused program sched_process_exec (...)`.
    pub fn sentence(&self) -> String {
        format!(
            "{} events are missing: the kernel refused program {} ({})",
            self.kind.name(),
            self.kind.program(),
            self.reason
        )
    }
}

/// One task's identity and state at the time of an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    pub pid: u32,
    pub tgid: u32,
    /// Tgid of the real parent.
    pub ppid: u32,
    pub flags: u32,
    pub has_mm: bool,
    pub comm: String,
    /// Boot-clock ns at which the task started; with `pid`, its identity.
    pub start_ns: u64,
    /// Credentials, cgroup and namespaces at the event; `None` in records
    /// of formats before 4 (and tasks not seen by the kernel side).
    pub context: Option<TaskContext>,
}

/// Who a task runs as and where, read in kernel at the event (see
/// `tracer_common::TaskInfo`). Each field is `None` where the kernel did
/// not say (its BTF lacks the field, or the task had left its namespaces).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskContext {
    /// Real uid and gid (`real_cred`), in the initial user namespace.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// The cgroup v2 id: the inode number of its directory.
    pub cgroup_id: Option<u64>,
    /// The pid namespace's inode, and the pid as seen in it.
    pub pidns: Option<u32>,
    pub ns_pid: Option<u32>,
    /// The mount namespace's inode.
    pub mntns: Option<u32>,
}

impl TaskContext {
    fn from_info(t: &TaskInfo) -> TaskContext {
        let creds = t.context & tracer_common::CTX_CREDS != 0;
        let known = |v: u32| (v != 0).then_some(v);
        TaskContext {
            uid: creds.then_some(t.uid),
            gid: creds.then_some(t.gid),
            cgroup_id: (t.cgroup_id != 0).then_some(t.cgroup_id),
            pidns: known(t.pidns_inum),
            ns_pid: known(t.ns_pid),
            mntns: known(t.mntns_inum),
        }
    }
}

impl Task {
    /// A task as decoded from a record of format `version`.
    pub fn from_record(t: &TaskInfo, version: u16) -> Task {
        let mut task = Task::from(t);
        if version < tracer_common::CONTEXT_FORMAT {
            task.context = None;
        }
        task
    }
}

impl From<&TaskInfo> for Task {
    fn from(t: &TaskInfo) -> Self {
        Task {
            pid: t.pid,
            tgid: t.tgid,
            ppid: t.ppid,
            flags: t.flags,
            has_mm: t.has_mm != 0,
            comm: c_string(&t.comm),
            start_ns: t.start_boottime,
            context: Some(TaskContext::from_info(t)),
        }
    }
}

/// Text up to the first NUL, every byte kept (see `model::text`).
pub fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    super::text::decode(&bytes[..end])
}

/// How much of an exec's path and arguments the record held, against what
/// the kernel had: a cut is always marked, never silent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecCut {
    /// `argc` the kernel had.
    pub argc: u32,
    /// Bytes of the whole argument block the kernel had.
    pub args_bytes: u32,
    /// Some arguments, or the end of one, are missing from `argv`.
    pub argv_truncated: bool,
    /// `filename` is the start of a longer path.
    pub filename_truncated: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Fork {
        creator: Task,
        child: Task,
        clone_flags: u64,
    },
    Exec {
        task: Task,
        old_pid: u32,
        filename: String,
        argv: Vec<String>,
        /// What the kernel had; `None` in logs of record format 1.
        cut: Option<ExecCut>,
    },
    Exit {
        task: Task,
        status: ExitStatus,
        /// None where the kernel's tracepoint does not say (< 6.16).
        group_dead: Option<bool>,
    },
    SignalGenerate {
        sender: Task,
        sender_uid: u32,
        target: Task,
        sig: i32,
        errno: i32,
        code: i32,
        group: bool,
        result: GenerateResult,
    },
    SignalDeliver {
        task: Task,
        sig: i32,
        errno: i32,
        code: i32,
        disposition: Disposition,
        sa_flags: u64,
    },
    Rename {
        task: Task,
        new_comm: String,
    },
    /// A kworker starts a user-mode helper request; the helper is the next
    /// task it makes.
    HelperRequest {
        kworker: Task,
        request: HelperRequest,
    },
    /// An execve/execveat call that failed, with the kernel's error.
    ExecFailed {
        task: Task,
        /// Positive errno.
        errno: i32,
        via: ExecVia,
        filename: String,
        filename_truncated: bool,
    },
    /// A source went over its budget on a CPU, or that episode ended
    /// (with what it lost). `task` is the first task whose event was
    /// dropped (pid, comm and uid only).
    Throttle {
        task: Task,
        throttle: Throttle,
    },
    /// kthreadd makes kernel thread `child` for a request; its fork
    /// record follows, and carries the request (see `model::kthreads`).
    Kthread {
        child: Task,
        request: KthreadRequest,
    },
}

/// Which end of a throttle episode a record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThrottlePhase {
    Begin,
    End,
}

impl ThrottlePhase {
    pub fn name(self) -> &'static str {
        match self {
            ThrottlePhase::Begin => "begin",
            ThrottlePhase::End => "end",
        }
    }
}

/// A throttle episode of one source (a real uid) on one CPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Throttle {
    pub phase: ThrottlePhase,
    /// The uid that went over.
    pub uid: u32,
    /// The CPU whose budget it spent (budgets are per CPU).
    pub cpu: u32,
    /// Begin: the kind of the first event dropped.
    pub kind: Option<EventKind>,
    /// Which budgets were spent: the source's own, all sources' together.
    pub by_source: bool,
    pub by_total: bool,
    /// Budgets per second per CPU; `None`: no total budget.
    pub per_source: u32,
    pub total: Option<u32>,
    /// Begin: events the source recorded in its window before the drop.
    pub recorded: u32,
    /// End: drops by other uids that share the source's bucket.
    pub other_uids: u32,
    /// Boot-clock ns of the first and last drop (begin: both the first).
    pub first_ns: u64,
    pub last_ns: u64,
    /// End: events dropped, by kind, in tag order.
    pub dropped: Vec<(EventKind, u64)>,
}

impl Throttle {
    /// Every event the episode dropped.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(|(_, n)| n).sum()
    }

    /// `rename` (begin) or `rename 12000, fork 3` (end).
    pub fn kinds_text(&self) -> String {
        match self.phase {
            ThrottlePhase::Begin => self.kind.map_or("?", |k| k.name()).to_string(),
            ThrottlePhase::End => self
                .dropped
                .iter()
                .map(|(k, n)| format!("{} {n}", k.name()))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// The text layouts' details: `uid=65534 over 1000/s (source) on cpu 1:
    /// dropping rename, after 1000 recorded` or `uid=65534 on cpu 1 dropped
    /// 998000 in 2.310s (rename 998000)`.
    pub fn details(&self) -> String {
        let mut s = format!("uid={} ", self.uid);
        match self.phase {
            ThrottlePhase::Begin => {
                let budget = if self.by_source {
                    format!("{}/s", self.per_source)
                } else {
                    format!("{}/s all sources", self.total.unwrap_or(u32::MAX))
                };
                s.push_str(&format!(
                    "over {budget} ({}) on cpu {}: dropping {}, after {} recorded",
                    self.reasons_text(),
                    self.cpu,
                    self.kinds_text(),
                    self.recorded
                ));
            }
            ThrottlePhase::End => {
                let span = self.last_ns.saturating_sub(self.first_ns);
                s.push_str(&format!(
                    "on cpu {} dropped {} in {}.{:03}s ({}; {})",
                    self.cpu,
                    self.dropped_total(),
                    span / 1_000_000_000,
                    span / 1_000_000 % 1000,
                    self.kinds_text(),
                    self.reasons_text()
                ));
                if self.other_uids > 0 {
                    s.push_str(&format!(
                        ", {} of them by other uids sharing its budget",
                        self.other_uids
                    ));
                }
            }
        }
        s
    }

    /// `source` / `total` / `source+total`.
    pub fn reasons_text(&self) -> &'static str {
        match (self.by_source, self.by_total) {
            (true, true) => "source+total",
            (false, true) => "total",
            _ => "source",
        }
    }
}

/// Which system call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecVia {
    Execve,
    Execveat,
}

impl ExecVia {
    /// From a record's `source`; `None` for a value this build does not know.
    pub fn from_raw(source: u8) -> Option<ExecVia> {
        match source {
            tracer_common::EXEC_FROM_EXECVE => Some(ExecVia::Execve),
            tracer_common::EXEC_FROM_EXECVEAT => Some(ExecVia::Execveat),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ExecVia::Execve => "execve",
            ExecVia::Execveat => "execveat",
        }
    }
}

/// A user-mode helper request: who asked the kernel for it, and what the
/// kernel was asked to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelperRequest {
    /// The task that queued the request; `None` when its queueing was not
    /// seen (it came before tracing started).
    pub requester: Option<Task>,
    /// Boot-clock ns of the queueing.
    pub queued_ns: Option<u64>,
    /// When the requester is a workqueue worker: the function of the work
    /// item it was running (a kernel text address).
    pub requester_func: Option<u64>,
    /// `UMH_WAIT_*` bits: whether the kernel waits for the helper.
    pub wait: u32,
    /// The program the kernel was asked to run.
    pub path: String,
    pub path_truncated: bool,
}

impl HelperRequest {
    /// Whether the requester blocks until the helper exits (UMH_WAIT_PROC:
    /// request-key, bridge-stp, a waiting modprobe).
    pub fn waits_for_exit(&self) -> bool {
        self.wait & tracer_common::UMH_WAIT_PROC != 0
    }

    /// Whether the requester asked while dumping core (PF_DUMPCORE): it
    /// writes its core into the helper's pipe, held until its own exit.
    pub fn dumping_core(&self) -> bool {
        self.requester
            .as_ref()
            .is_some_and(|r| r.flags & tracer_common::pf::PF_DUMPCORE != 0)
    }

    /// Why the requester asked, where its state says: `dumping core`
    /// (PF_DUMPCORE), or the work function a kworker requester ran.
    pub fn reason(&self, symbol: impl Fn(u64) -> Option<String>) -> Option<String> {
        let requester = self.requester.as_ref()?;
        if requester.flags & tracer_common::pf::PF_DUMPCORE != 0 {
            return Some("dumping core".into());
        }
        let func = self.requester_func?;
        Some(match symbol(func) {
            Some(name) => format!("running work {name}"),
            None => format!("running work at {func:#x}"),
        })
    }
}

// A kernel thread's request (see `model::kthreads`, which joins it to
// kthreadd's fork).
/// How the requester was found, or why it was not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KthreadLink {
    /// The task waiting on the request's completion at the fork.
    Exact,
    /// The task that named the thread once it ran: its requester, on
    /// kernels where the requester names a new thread (sent at the rename;
    /// the fork had found no waiter, or no record).
    Named,
    /// Nobody waited on the completion at the fork (not yet, or no more).
    NoWaiter,
    /// The requester was killed while waiting (the request's `done` gone).
    Killed,
    /// The thread does not start in `kthread()`: no request to read.
    NotKthread,
    /// Not a link: the thread's first run (its first wakeup, of the task
    /// it names as requester), sent after its fork (format 7).
    Started,
    /// The session saw no kernel-thread record for this fork (lost, or the
    /// program did not run for it).
    Unrecorded,
    /// A value this build does not know (a newer recording).
    Other(u32),
}

impl KthreadLink {
    fn from_raw(raw: u32) -> KthreadLink {
        match raw {
            KTHREAD_EXACT => KthreadLink::Exact,
            KTHREAD_NAMED => KthreadLink::Named,
            KTHREAD_NO_WAITER => KthreadLink::NoWaiter,
            KTHREAD_KILLED => KthreadLink::Killed,
            KTHREAD_NOT_KTHREAD => KthreadLink::NotKthread,
            KTHREAD_STARTED => KthreadLink::Started,
            other => KthreadLink::Other(other),
        }
    }

    /// `exact` or `unknown` (the fork-time read never infers).
    pub fn name(self) -> &'static str {
        match self {
            KthreadLink::Exact | KthreadLink::Named => "exact",
            _ => "unknown",
        }
    }

    /// Why the link is what it is, in a few words.
    pub fn reason(self) -> &'static str {
        match self {
            KthreadLink::Exact => "the task waiting on the request when kthreadd forked the thread",
            KthreadLink::Named => {
                "the task that named the thread once it ran: its requester (kthreadd forked \
                 it before the requester waited)"
            }
            KthreadLink::NoWaiter => {
                "no task was waiting on the request when kthreadd forked the thread"
            }
            KthreadLink::Killed => "the requester was killed while it waited",
            KthreadLink::NotKthread => "the thread does not start in kthread(): no request to read",
            KthreadLink::Started => "the thread's first run",
            KthreadLink::Unrecorded => "no kernel-thread record came with this fork (lost)",
            KthreadLink::Other(_) => "a link this tracer does not know",
        }
    }
}

/// A request for a kernel thread, as the kernel side read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KthreadRequest {
    /// The requester, where [`KthreadLink::Exact`].
    pub requester: Option<Task>,
    /// When the requester is a workqueue worker: the function of the work
    /// item it ran (a kernel text address).
    pub requester_func: Option<u64>,
    /// `kthread_create_info.threadfn` (a kernel text address).
    pub threadfn: Option<u64>,
    pub link: KthreadLink,
    /// The functions' names, where the recording named them (format 6
    /// `record`): they hold on every boot, unlike the addresses.
    pub named: FnNames,
    /// When the requester woke kthreadd for this request (boot clock, ns;
    /// format 7), where that wakeup was its.
    pub requested_ns: Option<u64>,
}

/// A kernel-thread record's function names, as `record` wrote them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FnNames {
    pub threadfn: Option<String>,
    pub requester_func: Option<String>,
}

impl KthreadRequest {
    pub fn from_record(e: &KthreadEvent, version: u16) -> KthreadRequest {
        let link = KthreadLink::from_raw(e.link);
        let nonzero = |v: u64| (v != 0).then_some(v);
        KthreadRequest {
            requester: (matches!(
                link,
                KthreadLink::Exact | KthreadLink::Named | KthreadLink::Started
            ) && e.requester.pid != 0)
                .then(|| Task::from_record(&e.requester, version)),
            requester_func: nonzero(e.requester_func),
            threadfn: nonzero(e.threadfn),
            link,
            named: FnNames {
                threadfn: Some(c_string(&e.threadfn_name)).filter(|n| !n.is_empty()),
                requester_func: Some(c_string(&e.requester_func_name)).filter(|n| !n.is_empty()),
            },
            requested_ns: nonzero(e.requested_ns),
        }
    }

    /// A fork of kthreadd's whose record was not seen.
    pub fn unrecorded() -> KthreadRequest {
        KthreadRequest {
            requester: None,
            requester_func: None,
            threadfn: None,
            link: KthreadLink::Unrecorded,
            named: FnNames::default(),
            requested_ns: None,
        }
    }
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Fork { .. } => EventKind::Fork,
            Event::Exec { .. } => EventKind::Exec,
            Event::Exit { .. } => EventKind::Exit,
            Event::SignalGenerate { .. } => EventKind::SignalGenerate,
            Event::SignalDeliver { .. } => EventKind::SignalDeliver,
            Event::Rename { .. } => EventKind::Rename,
            Event::HelperRequest { .. } => EventKind::HelperRequest,
            Event::ExecFailed { .. } => EventKind::ExecFailed,
            Event::Throttle { .. } => EventKind::Throttle,
            Event::Kthread { .. } => EventKind::Kthread,
        }
    }

    /// The task the event is about: the child of a fork, the target of a
    /// signal, otherwise the task itself.
    pub fn subject(&self) -> &Task {
        match self {
            Event::Fork { child, .. } | Event::Kthread { child, .. } => child,
            Event::SignalGenerate { target, .. } => target,
            Event::Exec { task, .. }
            | Event::Exit { task, .. }
            | Event::SignalDeliver { task, .. }
            | Event::Rename { task, .. }
            | Event::ExecFailed { task, .. }
            | Event::Throttle { task, .. } => task,
            Event::HelperRequest { kworker, .. } => kworker,
        }
    }
}

impl Event {
    /// The other task an event names: a fork's creator, a signal's sender.
    pub fn other(&self) -> Option<&Task> {
        match self {
            Event::Fork { creator, .. } => Some(creator),
            Event::SignalGenerate { sender, .. } => Some(sender),
            Event::HelperRequest { request, .. } => request.requester.as_ref(),
            Event::Kthread { request, .. } => request.requester.as_ref(),
            _ => None,
        }
    }
}

/// A decoded ring-buffer record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Boot-clock ns.
    pub boot_ns: u64,
    pub cpu: u32,
    pub event: Event,
}
