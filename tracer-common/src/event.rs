//! Ring-buffer record layouts.

use core::mem::{offset_of, size_of};

use crate::{kthread::KthreadEvent, throttle::ThrottleEvent};

/// Bumped whenever any layout below changes. 2: exec records say what the
/// kernel had (argc, argument bytes) and whether the path was cut. 3: the
/// helper-request (kind 7) and failed-exec (kind 8) records; the other
/// layouts are format 2's. 4: every [`TaskInfo`] carries the task's
/// context ([`TaskInfo::uid`] to [`TaskInfo::context`]), 32 bytes appended
/// to format 3's 48; older records are widened on decode (see
/// [`EventKind::task_offsets`]), their context unknown. 5: the throttle
/// record (kind 9, [`crate::ThrottleEvent`]); the other layouts are
/// format 4's. 6: the kernel-thread record (kind 10, [`KthreadEvent`]):
/// who asked kthreadd for a new kernel thread, with the recording boot's
/// names of its functions; the other layouts are format 5's. 7: [`crate::KTHREAD_RUN_FORMAT`].
pub const FORMAT_VERSION: u16 = 7;
/// The first format with the throttle record.
pub const THROTTLE_FORMAT: u16 = 5;
/// The first format with the kernel-thread record.
pub const KTHREAD_FORMAT: u16 = 6;
/// The first format whose [`TaskInfo`] has the context fields.
pub const CONTEXT_FORMAT: u16 = 4;
/// Bytes of a [`TaskInfo`] before [`CONTEXT_FORMAT`].
pub const TASK_INFO_V3: usize = 48;
/// The oldest format userspace still decodes (logs of earlier releases).
pub const OLDEST_FORMAT: u16 = 1;

/// `TASK_COMM_LEN` in the kernel.
pub const COMM_LEN: usize = 16;
/// Bytes of the exec'd path kept (the kernel's `bprm->filename`).
pub const FILENAME_LEN: usize = 256;
/// Bytes of the NUL-separated argument block kept from the new image.
pub const ARGS_LEN: usize = 256;

/// Numbered kind tags. The numbers are part of the format: never reuse one.
///
/// The kernel side writes [`EventKind::tag`] (through [`Header::new`]);
/// userspace decodes with [`EventKind::from_tag`], so an unknown tag is an
/// error, never UB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum EventKind {
    /// A new task (process or thread, including io_uring workers).
    Fork = 1,
    Exec = 2,
    Exit = 3,
    SignalGenerate = 4,
    SignalDeliver = 5,
    Rename = 6,
    /// A kworker starts a user-mode helper request: who queued it, when,
    /// and what the kernel asked to run.
    HelperRequest = 7,
    /// A task's execve/execveat system call that failed, with the
    /// kernel's error (only with `--failed-execs`: its program runs at every
    /// system call's exit).
    ExecFailed = 8,
    /// A source went over its budget, or its episode ended (see
    /// [`crate::throttle`]). Emitted by every throttled program.
    Throttle = 9,
    /// Who asked kthreadd for a kernel thread ([`crate::kthread`]).
    Kthread = 10,
}

impl EventKind {
    /// Every kind, in tag order: the one list of kinds. [`EventKind::from_tag`]
    /// and [`EventKind::COUNTERS`] are derived from it.
    pub const ALL: [EventKind; 10] = [
        EventKind::Fork,
        EventKind::Exec,
        EventKind::Exit,
        EventKind::SignalGenerate,
        EventKind::SignalDeliver,
        EventKind::Rename,
        EventKind::HelperRequest,
        EventKind::ExecFailed,
        EventKind::Throttle,
        EventKind::Kthread,
    ];

    /// The kinds a program of their own emits, one per tracepoint (the
    /// loader's list): every kind but `Throttle` and `Kthread`.
    pub const TRACED: [EventKind; 8] = [
        EventKind::Fork,
        EventKind::Exec,
        EventKind::Exit,
        EventKind::SignalGenerate,
        EventKind::SignalDeliver,
        EventKind::Rename,
        EventKind::HelperRequest,
        EventKind::ExecFailed,
    ];

    /// Entries of the per-CPU loss counter: one per tag up to the largest,
    /// indexed by tag (slots of unused tags stay 0).
    pub const COUNTERS: u32 = EventKind::largest_tag() as u32 + 1;

    const fn largest_tag() -> u16 {
        let mut largest = 0;
        let mut i = 0;
        while i < EventKind::ALL.len() {
            if EventKind::ALL[i].tag() > largest {
                largest = EventKind::ALL[i].tag();
            }
            i += 1;
        }
        largest
    }

    /// The number a [`Header`] carries for this kind.
    pub const fn tag(self) -> u16 {
        self as u16
    }

    /// The kind numbered `tag`, if any (searches [`EventKind::ALL`]).
    pub const fn from_tag(tag: u16) -> Option<EventKind> {
        let mut i = 0;
        while i < EventKind::ALL.len() {
            if EventKind::ALL[i].tag() == tag {
                return Some(EventKind::ALL[i]);
            }
            i += 1;
        }
        None
    }

    /// This kind's bit in masks keyed by kind (filters, test hooks).
    pub const fn bit(self) -> u32 {
        1 << self.tag() as u32
    }

    pub const fn name(self) -> &'static str {
        match self {
            EventKind::Fork => "fork",
            EventKind::Exec => "exec",
            EventKind::Exit => "exit",
            EventKind::SignalGenerate => "signal_generate",
            EventKind::SignalDeliver => "signal_deliver",
            EventKind::Rename => "rename",
            EventKind::HelperRequest => "helper_request",
            EventKind::ExecFailed => "exec_failed",
            EventKind::Throttle => "throttled",
            EventKind::Kthread => "kthread",
        }
    }

    /// The programs run in place of [`EventKind::program`] when the kernel
    /// skipped it (and the rescues before them) for being mid-run on the
    /// same CPU (tracer-ebpf `nesting.rs`); attached to the same
    /// tracepoint, in this order, after it.
    pub const fn rescue_programs(self) -> [&'static str; RESCUES] {
        match self {
            EventKind::Fork => ["task_newtask_rescue1", "task_newtask_rescue2"],
            EventKind::Exec => ["sched_process_exec_rescue1", "sched_process_exec_rescue2"],
            EventKind::Exit => ["sched_process_exit_rescue1", "sched_process_exit_rescue2"],
            EventKind::SignalGenerate => ["signal_generate_rescue1", "signal_generate_rescue2"],
            EventKind::SignalDeliver => ["signal_deliver_rescue1", "signal_deliver_rescue2"],
            EventKind::Rename => ["task_rename_rescue1", "task_rename_rescue2"],
            EventKind::HelperRequest => [
                "workqueue_execute_start_rescue1",
                "workqueue_execute_start_rescue2",
            ],
            EventKind::ExecFailed => ["sys_exit_rescue1", "sys_exit_rescue2"],
            // No program of its own (not in [`EventKind::TRACED`]).
            EventKind::Throttle | EventKind::Kthread => ["", ""],
        }
    }

    /// Whether this kind's tracepoint can be preempted mid-program where
    /// the kernel runs tracepoints preemptible, so that another task's
    /// event on that CPU finds the program mid-run. Not the signal ones:
    /// the kernel fires them holding the signal lock with interrupts off
    /// (so no interrupt nests in them either), which disables preemption
    /// too, except under PREEMPT_RT, where every kind can be preempted.
    /// (A rename held `task_lock` until 6.13, but no longer does.)
    pub const fn preemptible_tracepoint(self) -> bool {
        !matches!(self, EventKind::SignalGenerate | EventKind::SignalDeliver)
    }

    /// The tracepoint, and name of the program, that emits this kind.
    pub const fn program(self) -> &'static str {
        match self {
            EventKind::Fork => "task_newtask",
            EventKind::Exec => "sched_process_exec",
            EventKind::Exit => "sched_process_exit",
            EventKind::SignalGenerate => "signal_generate",
            EventKind::SignalDeliver => "signal_deliver",
            EventKind::Rename => "task_rename",
            EventKind::HelperRequest => "workqueue_execute_start",
            EventKind::ExecFailed => "sys_exit",
            // Every throttled program emits it; none is its own.
            EventKind::Throttle => "",
            // A companion on `task_newtask` (see `names::KTHREAD_PROGRAM`).
            EventKind::Kthread => "kthread_create",
        }
    }
}

// Tags are distinct (each finds itself), each has a loss counter slot, and
// each has a bit in a `u32` mask.
const _: () = {
    let mut i = 0;
    while i < EventKind::ALL.len() {
        let kind = EventKind::ALL[i];
        match EventKind::from_tag(kind.tag()) {
            Some(found) => assert!(found.tag() == kind.tag()),
            None => panic!("a kind in ALL is not found by its tag"),
        }
        let mut j = i + 1;
        while j < EventKind::ALL.len() {
            assert!(EventKind::ALL[j].tag() != kind.tag());
            j += 1;
        }
        assert!((kind.tag() as u32) < EventKind::COUNTERS);
        i += 1;
    }
    assert!(EventKind::COUNTERS <= u32::BITS);
};

/// Rescue programs per tracepoint that can nest (see
/// [`EventKind::rescue_programs`]): each takes the runs skipped while
/// every program before it is mid-run on the CPU, so a loss needs that
/// many nested preemptions at once.
pub const RESCUES: usize = 2;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Header {
    pub version: u16,
    /// An [`EventKind`] tag.
    pub kind: u16,
    pub cpu: u32,
    /// `bpf_ktime_get_boot_ns()`: same clock as `task->start_boottime`.
    pub boot_ns: u64,
}

impl Header {
    /// A header in this [`FORMAT_VERSION`] for a `kind` record.
    pub const fn new(kind: EventKind, cpu: u32, boot_ns: u64) -> Header {
        Header {
            version: FORMAT_VERSION,
            kind: kind.tag(),
            cpu,
            boot_ns,
        }
    }

    /// The format version of the raw record `raw`, if it is long enough.
    pub const fn peek_version(raw: &[u8]) -> Option<u16> {
        peek_u16(raw, offset_of!(Header, version))
    }

    /// The kind tag of the raw record `raw`, known or not, if it is long
    /// enough.
    pub const fn peek_tag(raw: &[u8]) -> Option<u16> {
        peek_u16(raw, offset_of!(Header, kind))
    }

    /// The kind of the raw record `raw`: `None` if it is too short or its
    /// tag is unknown.
    pub const fn peek_kind(raw: &[u8]) -> Option<EventKind> {
        match Header::peek_tag(raw) {
            Some(tag) => EventKind::from_tag(tag),
            None => None,
        }
    }
}

impl Header {
    /// The boot-clock time of the raw record `raw`, if it is long enough.
    pub const fn peek_boot_ns(raw: &[u8]) -> Option<u64> {
        let at = offset_of!(Header, boot_ns);
        if raw.len() < at + 8 {
            return None;
        }
        Some(u64::from_le_bytes([
            raw[at],
            raw[at + 1],
            raw[at + 2],
            raw[at + 3],
            raw[at + 4],
            raw[at + 5],
            raw[at + 6],
            raw[at + 7],
        ]))
    }
}

// `peek_boot_ns` reads the field it names: it must stay `u64`.
const _: fn(&Header) -> u64 = |h| h.boot_ns;

/// The little-endian `u16` at `at` in `raw` (records are written by a
/// little-endian kernel, bpfel), or `None` past the end.
const fn peek_u16(raw: &[u8], at: usize) -> Option<u16> {
    if raw.len() < at + 2 {
        return None;
    }
    Some(u16::from_le_bytes([raw[at], raw[at + 1]]))
}

// `peek_u16` reads the fields it names: both must stay `u16`.
const _: fn(&Header) -> (u16, u16) = |h| (h.version, h.kind);

/// Identity and state of one task, read from its `task_struct`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TaskInfo {
    /// `start_boottime`: with `pid`, identifies a task across PID reuse.
    pub start_boottime: u64,
    pub pid: u32,
    pub tgid: u32,
    /// `real_parent->tgid` (for user-mode helpers: kthreadd or a kworker).
    pub ppid: u32,
    /// `task->flags` (PF_*).
    pub flags: u32,
    pub comm: [u8; COMM_LEN],
    /// 1 when `task->mm` is non-NULL (the task has a user address space).
    pub has_mm: u8,
    pub _pad: [u8; 7],
    // Format 4 on: the task's context, read at the event.
    /// `task->real_cred->uid` and `->gid` (the real ids, in the initial
    /// user namespace); meaningful when [`CTX_CREDS`] is set.
    pub uid: u32,
    pub gid: u32,
    /// `task->cgroups->dfl_cgrp->kn->id`: the cgroup v2 id (the inode
    /// number of its directory under the cgroup2 mount); 0 unknown.
    pub cgroup_id: u64,
    /// `task->thread_pid->numbers[level].ns->ns.inum`: the pid namespace's
    /// inode (as /proc/PID/ns/pid shows it); 0 unknown.
    pub pidns_inum: u32,
    /// `numbers[level].nr`: the pid as seen in that namespace; 0 unknown.
    pub ns_pid: u32,
    /// `task->nsproxy->mnt_ns->ns.inum`: the mount namespace's inode; 0
    /// unknown (an exiting task has no nsproxy).
    pub mntns_inum: u32,
    /// `CTX_*` bits: which context fields were read.
    pub context: u32,
}

/// [`TaskInfo::context`]: the uid and gid were read (0 is root, so it
/// needs a bit of its own). Records of formats before [`CONTEXT_FORMAT`]
/// have no bit set.
pub const CTX_CREDS: u32 = 1;

/// A new task. Emitted from `task_newtask`, which fires for every task
/// `copy_process()` makes (see the eBPF crate for why not `sched_process_fork`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ForkEvent {
    pub header: Header,
    /// The task that called into `copy_process()` (`current`).
    pub creator: TaskInfo,
    pub child: TaskInfo,
    pub clone_flags: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ExecEvent {
    pub header: Header,
    pub task: TaskInfo,
    /// The pid before exec (differs when a non-leader thread exec'd).
    pub old_pid: u32,
    /// Bytes of `filename` in use, NUL excluded.
    pub filename_len: u16,
    /// Bytes of `args` in use (NUL-separated argv, possibly truncated).
    pub args_len: u16,
    /// `bprm->argc`: the arguments the kernel had.
    pub argc: u32,
    /// Bytes of the whole argument block (`arg_end - arg_start`).
    pub args_total: u32,
    /// 1 when the path was longer than `filename` holds.
    pub filename_truncated: u8,
    pub _pad: [u8; 7],
    pub filename: [u8; FILENAME_LEN],
    pub args: [u8; ARGS_LEN],
}

/// Format 1's exec record, before the truncation facts: still decoded, for
/// logs recorded by earlier releases. Its `task` is the current
/// [`TaskInfo`]: on disk the record is [`TaskInfo::uid`]'s 32 bytes
/// shorter, and decoding widens it first (see [`EventKind::task_offsets`]).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ExecEventV1 {
    pub header: Header,
    pub task: TaskInfo,
    pub old_pid: u32,
    pub filename_len: u16,
    pub args_len: u16,
    pub filename: [u8; FILENAME_LEN],
    pub args: [u8; ARGS_LEN],
}

/// `group_dead` value when the running kernel's tracepoint lacks it (< 6.16).
pub const GROUP_DEAD_UNKNOWN: u8 = 2;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ExitEvent {
    pub header: Header,
    pub task: TaskInfo,
    /// `task->exit_code`: low 7 bits the killing signal, 0x80 core dumped,
    /// bits 8..16 the exit status.
    pub exit_code: u32,
    /// 0 or 1, or [`GROUP_DEAD_UNKNOWN`].
    pub group_dead: u8,
    pub _pad: [u8; 3],
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SignalGenerateEvent {
    pub header: Header,
    /// `current` at generation time.
    pub sender: TaskInfo,
    pub target: TaskInfo,
    pub sig: i32,
    pub errno: i32,
    pub code: i32,
    /// 1 for a process-directed signal.
    pub group: i32,
    /// `TRACE_SIGNAL_*`: 0 delivered, 1 ignored, 2 already pending,
    /// 3 overflow fail, 4 lose info.
    pub result: i32,
    /// Real uid of the sender (`current->real_cred->uid`, in the initial
    /// user namespace).
    pub sender_uid: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SignalDeliverEvent {
    pub header: Header,
    /// The task taking the signal (`current`).
    pub task: TaskInfo,
    pub sig: i32,
    pub errno: i32,
    pub code: i32,
    pub _pad: u32,
    /// `ka->sa.sa_handler`: 0 SIG_DFL, 1 SIG_IGN, else a handler address.
    pub sa_handler: u64,
    pub sa_flags: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RenameEvent {
    pub header: Header,
    /// The task before the rename (its `comm` is the old name).
    pub task: TaskInfo,
    pub new_comm: [u8; COMM_LEN],
}

/// `subprocess_info.wait` bits (include/linux/umh.h): whether the kernel
/// waits for the helper's exec or its exit.
pub const UMH_WAIT_EXEC: u32 = 0x01;
pub const UMH_WAIT_PROC: u32 = 0x02;

/// A user-mode helper request, as a kworker starts it
/// (`workqueue_execute_start` of `call_usermodehelper_exec_work`). The
/// helper is the next task this kworker makes; userspace joins them.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct HelperRequestEvent {
    pub header: Header,
    /// The task that queued the request (`current` at
    /// `workqueue_queue_work`); all zero when the queueing was not seen.
    pub requester: TaskInfo,
    /// The kworker running the request (`current`).
    pub kworker: TaskInfo,
    /// Boot-clock ns of the queueing, 0 when not seen.
    pub queued_ns: u64,
    /// When the requester is itself a workqueue worker: the function of the
    /// work item it was running (a kernel text address), else 0.
    pub requester_func: u64,
    /// `subprocess_info.wait`: the `UMH_WAIT_*` bits.
    pub wait: u32,
    /// Bytes of `path` in use, NUL excluded.
    pub path_len: u16,
    /// 1 when the path was longer than `path` holds.
    pub path_truncated: u8,
    pub _pad: u8,
    /// `subprocess_info.path`: the program the kernel asked to run.
    pub path: [u8; FILENAME_LEN],
}

/// Which system call failed ([`ExecFailedEvent::source`]).
pub const EXEC_FROM_EXECVE: u8 = 0;
pub const EXEC_FROM_EXECVEAT: u8 = 1;

/// An exec that failed, with the kernel's error.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ExecFailedEvent {
    pub header: Header,
    /// The task whose exec failed (`current`); it keeps its old image.
    pub task: TaskInfo,
    /// The positive errno (`ENOENT`, `EACCES`, ...).
    pub errno: i32,
    /// One of the `EXEC_FROM_*` values.
    pub source: u8,
    /// 1 when the path was longer than `filename` holds.
    pub filename_truncated: u8,
    /// Bytes of `filename` in use, NUL excluded.
    pub filename_len: u16,
    /// The path asked for (relative to a directory fd for execveat).
    pub filename: [u8; FILENAME_LEN],
}

// The layouts are the format: pin them so a change cannot go unnoticed.
const _: () = {
    assert!(size_of::<Header>() == 16);
    assert!(offset_of!(Header, version) == 0);
    assert!(offset_of!(Header, kind) == 2);
    assert!(size_of::<TaskInfo>() == 80);
    assert!(offset_of!(TaskInfo, comm) == 24);
    assert!(offset_of!(TaskInfo, has_mm) == 40);
    // Format 3's task ends where the context starts.
    assert!(offset_of!(TaskInfo, uid) == TASK_INFO_V3);
    assert!(offset_of!(TaskInfo, cgroup_id) == 56);
    assert!(offset_of!(TaskInfo, context) == 76);
    assert!(size_of::<ForkEvent>() == 184);
    assert!(offset_of!(ForkEvent, child) == 96);
    assert!(size_of::<ExecEvent>() == 632);
    assert!(offset_of!(ExecEvent, filename) == 120);
    assert!(offset_of!(ExecEvent, args) == 376);
    assert!(size_of::<ExecEventV1>() == 616);
    assert!(offset_of!(ExecEventV1, filename) == 104);
    assert!(offset_of!(ExecEventV1, args) == 360);
    assert!(size_of::<ExitEvent>() == 104);
    assert!(size_of::<SignalGenerateEvent>() == 200);
    assert!(offset_of!(SignalGenerateEvent, sig) == 176);
    assert!(size_of::<SignalDeliverEvent>() == 128);
    assert!(size_of::<RenameEvent>() == 112);
    assert!(size_of::<HelperRequestEvent>() == 456);
    assert!(offset_of!(HelperRequestEvent, path) == 200);
    assert!(size_of::<ExecFailedEvent>() == 360);
    assert!(offset_of!(ExecFailedEvent, filename) == 104);
    // The ring buffer aligns records to 8 bytes.
    assert!(size_of::<ExecEvent>().is_multiple_of(8));
};

/// Marker for record types that are plain old data: `#[repr(C)]`, only
/// integers and byte arrays, no padding the compiler invents.
///
/// # Safety
/// Every bit pattern of `size_of::<Self>()` bytes must be a valid `Self`.
pub unsafe trait Plain: Copy {}

// SAFETY: all of these are repr(C) structs of integers and byte arrays with
// explicit padding fields, so any bytes are a valid value.
unsafe impl Plain for Header {}
// SAFETY: as above.
unsafe impl Plain for TaskInfo {}
// SAFETY: as above.
unsafe impl Plain for ForkEvent {}
// SAFETY: as above.
unsafe impl Plain for ExecEvent {}
// SAFETY: as ExecEvent: integers and byte arrays only.
unsafe impl Plain for ExecEventV1 {}
// SAFETY: as above.
unsafe impl Plain for ExitEvent {}
// SAFETY: as above.
unsafe impl Plain for SignalGenerateEvent {}
// SAFETY: as above.
unsafe impl Plain for SignalDeliverEvent {}
// SAFETY: as above.
unsafe impl Plain for RenameEvent {}
// SAFETY: as above.
unsafe impl Plain for HelperRequestEvent {}
// SAFETY: as above.
unsafe impl Plain for ExecFailedEvent {}
// SAFETY: as above.
unsafe impl Plain for ThrottleEvent {}
// SAFETY: as above.
unsafe impl Plain for KthreadEvent {}

/// A ring-buffer record: a [`Header`] then a fixed body, one type per
/// [`EventKind`]. The kernel side reserves and heads a record by its type
/// alone; userspace decodes a kind's bytes only as that kind's type.
pub trait Record: Plain {
    /// The kind tag records of this type carry.
    const KIND: EventKind;

    fn header(&self) -> &Header;
    fn header_mut(&mut self) -> &mut Header;
}

/// Pairs each kind with its record type, once: the [`Record`] impls and
/// [`EventKind::record_size`] are made from this list.
macro_rules! records {
    ($($kind:ident => $ty:ident),* $(,)?) => {
        $(
            impl Record for $ty {
                const KIND: EventKind = EventKind::$kind;

                #[inline(always)]
                fn header(&self) -> &Header {
                    &self.header
                }

                #[inline(always)]
                fn header_mut(&mut self) -> &mut Header {
                    &mut self.header
                }
            }

            const _: () = assert!(offset_of!($ty, header) == 0);
        )*

        impl EventKind {
            /// Size of the whole record (header included) of this kind.
            pub const fn record_size(self) -> usize {
                match self {
                    $(EventKind::$kind => size_of::<$ty>(),)*
                }
            }
        }
    };
}

impl EventKind {
    /// Size of a record of this kind in record format `version`, or `None`
    /// for a format this build does not read.
    pub const fn record_size_in(self, version: u16) -> Option<usize> {
        let narrow = if version < CONTEXT_FORMAT {
            self.task_offsets().len() * TASK_CONTEXT_BYTES
        } else {
            0
        };
        match (version, self) {
            (1, EventKind::Exec) => Some(size_of::<ExecEventV1>() - narrow),
            (1 | 2, EventKind::HelperRequest | EventKind::ExecFailed) => None,
            (OLDEST_FORMAT..THROTTLE_FORMAT, EventKind::Throttle) => None,
            (OLDEST_FORMAT..KTHREAD_FORMAT, EventKind::Kthread) => None,
            (KTHREAD_FORMAT, EventKind::Kthread) => Some(crate::KTHREAD_V6_SIZE),
            (OLDEST_FORMAT..=FORMAT_VERSION, kind) => Some(kind.record_size() - narrow),
            _ => None,
        }
    }

    /// Where this kind's record holds its [`TaskInfo`]s, in the current
    /// layout, in order (format 1's exec record has its task where format
    /// 2's has it). A record of a format before [`CONTEXT_FORMAT`] is the
    /// current one with the last [`TASK_CONTEXT_BYTES`] of each task left
    /// out: widening it back inserts them, zero (no context known).
    pub const fn task_offsets(self) -> &'static [usize] {
        match self {
            EventKind::Fork => &[offset_of!(ForkEvent, creator), offset_of!(ForkEvent, child)],
            EventKind::Exec => &[offset_of!(ExecEvent, task)],
            EventKind::Exit => &[offset_of!(ExitEvent, task)],
            EventKind::SignalGenerate => &[
                offset_of!(SignalGenerateEvent, sender),
                offset_of!(SignalGenerateEvent, target),
            ],
            EventKind::SignalDeliver => &[offset_of!(SignalDeliverEvent, task)],
            EventKind::Rename => &[offset_of!(RenameEvent, task)],
            EventKind::HelperRequest => &[
                offset_of!(HelperRequestEvent, requester),
                offset_of!(HelperRequestEvent, kworker),
            ],
            EventKind::ExecFailed => &[offset_of!(ExecFailedEvent, task)],
            EventKind::Throttle => &[offset_of!(ThrottleEvent, task)],
            EventKind::Kthread => &[
                offset_of!(KthreadEvent, child),
                offset_of!(KthreadEvent, requester),
            ],
        }
    }
}

/// Bytes the context adds to each [`TaskInfo`] in [`CONTEXT_FORMAT`].
pub const TASK_CONTEXT_BYTES: usize = size_of::<TaskInfo>() - TASK_INFO_V3;
const _: () = assert!(offset_of!(ExecEventV1, task) == offset_of!(ExecEvent, task));

records! {
    Fork => ForkEvent,
    Exec => ExecEvent,
    Exit => ExitEvent,
    SignalGenerate => SignalGenerateEvent,
    SignalDeliver => SignalDeliverEvent,
    Rename => RenameEvent,
    HelperRequest => HelperRequestEvent,
    ExecFailed => ExecFailedEvent,
    Throttle => ThrottleEvent,
    Kthread => KthreadEvent,
}

/// Reads a `T` from the start of `bytes`, or `None` if `bytes` is too short.
pub fn read_plain<T: Plain>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < size_of::<T>() {
        return None;
    }
    // SAFETY: the length was checked above, `read_unaligned` has no alignment
    // requirement, and `T: Plain` makes any bit pattern a valid `T`.
    Some(unsafe { core::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_tag(kind.tag()), Some(kind));
            assert_eq!(kind.tag(), kind as u16);
        }
        assert_eq!(EventKind::from_tag(0), None);
        assert_eq!(EventKind::from_tag(10), Some(EventKind::Kthread));
        assert_eq!(EventKind::from_tag(11), None);
        assert_eq!(EventKind::from_tag(u16::MAX), None);
        // The loss counter map's size: tags 1..=10 and an unused slot 0.
        assert_eq!(EventKind::COUNTERS, 11);
    }

    #[test]
    fn records_pair_kind_and_size() {
        assert_eq!(ForkEvent::KIND, EventKind::Fork);
        assert_eq!(ExecEvent::KIND.record_size(), size_of::<ExecEvent>());
        assert_eq!(RenameEvent::KIND.record_size(), size_of::<RenameEvent>());
        assert_eq!(EventKind::Exit.record_size(), size_of::<ExitEvent>());
    }

    #[test]
    fn peeks_check_bounds() {
        let raw = [1, 0, 3, 0, 9, 9];
        assert_eq!(Header::peek_version(&raw), Some(1));
        assert_eq!(Header::peek_tag(&raw), Some(3));
        assert_eq!(Header::peek_kind(&raw), Some(EventKind::Exit));
        assert_eq!(Header::peek_tag(&raw[..3]), None);
        assert_eq!(Header::peek_version(&raw[..1]), None);
        assert_eq!(Header::peek_kind(&[]), None);
        assert_eq!(Header::peek_boot_ns(&raw), None);
        let mut full = [0u8; 16];
        full[8..].copy_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(Header::peek_boot_ns(&full), Some(0x0102_0304_0506_0708));
        assert_eq!(Header::peek_boot_ns(&full[..15]), None);
        assert_eq!(Header::peek_tag(&[1, 0, 99, 0]), Some(99));
        assert_eq!(Header::peek_kind(&[1, 0, 99, 0]), None);
        // Little-endian, as the bpfel kernel side writes it.
        assert_eq!(Header::peek_tag(&[0, 0, 0, 1]), Some(256));
    }

    #[test]
    fn new_header_is_current() {
        let h = Header::new(EventKind::Rename, 3, 7);
        assert_eq!(
            (h.version, h.kind, h.cpu, h.boot_ns),
            (FORMAT_VERSION, 6, 3, 7)
        );
    }

    #[test]
    fn older_formats_have_format_3_tasks() {
        // Format 3's sizes, as its asserts pinned them.
        let v3 = [
            (EventKind::Fork, 120),
            (EventKind::Exec, 600),
            (EventKind::Exit, 72),
            (EventKind::SignalGenerate, 136),
            (EventKind::SignalDeliver, 96),
            (EventKind::Rename, 80),
            (EventKind::HelperRequest, 392),
            (EventKind::ExecFailed, 328),
        ];
        assert_eq!(EventKind::Throttle.record_size_in(4), None);
        assert_eq!(EventKind::Throttle.record_size_in(5), Some(208));
        for (kind, size) in v3 {
            assert_eq!(kind.record_size_in(3), Some(size), "{}", kind.name());
            assert_eq!(kind.record_size_in(5), Some(kind.record_size()));
        }
        assert_eq!(EventKind::Exec.record_size_in(1), Some(584));
        assert_eq!(EventKind::HelperRequest.record_size_in(2), None);
        assert_eq!(EventKind::Exec.record_size_in(8), None);
        assert_eq!(EventKind::Kthread.record_size_in(5), None);
        // With the two 40-byte function names `record` fills.
        assert_eq!(EventKind::Kthread.record_size_in(6), Some(280));
        assert_eq!(EventKind::Kthread.record_size_in(7), Some(288));
        // Tasks are in order and do not overlap.
        for kind in EventKind::ALL {
            let at = kind.task_offsets();
            assert!(at.windows(2).all(|w| w[0] + size_of::<TaskInfo>() <= w[1]));
        }
    }
}
