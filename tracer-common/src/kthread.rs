//! Who asked kthreadd for a new kernel thread: the record the companion
//! on `task_newtask` sends just before kthreadd's fork (see tracer-ebpf
//! `programs/kthread.rs`), format 6 on; format 7 adds when the request
//! was made and a record of the new thread's first run.

use core::mem::{offset_of, size_of};

use crate::{Header, TaskInfo};

/// How a [`KthreadEvent`] found the requester ([`KthreadEvent::link`]).
/// Found: the task waiting on the request's completion.
pub const KTHREAD_EXACT: u32 = 1;
/// The completion had no waiter yet (or no longer): requester unknown.
pub const KTHREAD_NO_WAITER: u32 = 2;
/// The request's `done` was gone: the requester was killed while waiting.
pub const KTHREAD_KILLED: u32 = 3;
/// The new task does not start in `kthread()` (its saved start function
/// differs): no request to read.
pub const KTHREAD_NOT_KTHREAD: u32 = 4;

/// Sent from `task_rename`, not the fork: a task other than the thread
/// renamed a kernel thread kthreadd made. Kernels that name a new thread
/// from `__kthread_create_on_node()` (5.10, 6.1) have its requester do it
/// once the thread ran, so it names the requester that kthreadd's fork may
/// have found not yet waiting. Only `child`'s pid, tgid and start are
/// filled; userspace takes it only for a thread still named `kthreadd`.
pub const KTHREAD_NAMED: u32 = 5;

/// Sent from `sched_waking` at the new thread's first run (format 7 on):
/// its first act, in `kthread()`, is to complete the request, which wakes
/// the requester. `child` is the new thread (filled), `requester` the task
/// it woke (filled), the header's time the first run; `requested_ns` is 0.
/// Userspace times request to first run from the fork's record.
pub const KTHREAD_STARTED: u32 = 6;

/// A kernel thread kthreadd makes, and whom for: read at `task_newtask`
/// in kthreadd's context from the `kthread_create_info` the new task will
/// receive (its start argument, saved by `copy_thread()`), whose
/// completion the requester waits on.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KthreadEvent {
    pub header: Header,
    /// The new kernel thread.
    pub child: TaskInfo,
    /// The task waiting on the request's completion; all zero unless
    /// `link` is [`KTHREAD_EXACT`].
    pub requester: TaskInfo,
    /// `kthread_create_info.threadfn` (a kernel text address), 0 unknown.
    pub threadfn: u64,
    /// When the requester is a workqueue worker: the function of the work
    /// item it runs, else 0.
    pub requester_func: u64,
    /// One of the `KTHREAD_*` values.
    pub link: u32,
    pub _pad: u32,
    /// `threadfn` and `requester_func` by name, NUL-padded (cut at
    /// [`KSYM_NAME_LEN`] bytes): the kernel side writes zeros, and `record`
    /// names them from the recording boot's /proc/kallsyms before the
    /// record reaches the log, so a replay on another boot names them too.
    /// Empty: not named.
    pub threadfn_name: [u8; KSYM_NAME_LEN],
    pub requester_func_name: [u8; KSYM_NAME_LEN],
    /// Format 7 on: when the requester woke kthreadd for this request
    /// (boot clock, ns), read at the fork where the request was the one
    /// that woke kthreadd; 0 unknown (kthreadd was already awake, so the
    /// request made no wakeup to time). Format 6 records end before it.
    pub requested_ns: u64,
}

/// Format 7: the kernel-thread record adds when the request was made
/// ([`KthreadEvent::requested_ns`], 8 bytes appended) and is also sent at
/// the new thread's first run ([`KTHREAD_STARTED`]); format 6's are
/// widened on decode, their request time unknown. The other layouts are
/// format 6's.
pub const KTHREAD_RUN_FORMAT: u16 = 7;

/// Bytes of a [`KthreadEvent`] in format 6, before `requested_ns`.
pub const KTHREAD_V6_SIZE: usize = 280;

/// Room for a function's name in a [`KthreadEvent`].
pub const KSYM_NAME_LEN: usize = 40;

const _: () = {
    assert!(size_of::<KthreadEvent>() == 288);
    assert!(offset_of!(KthreadEvent, requested_ns) == KTHREAD_V6_SIZE);
    assert!(offset_of!(KthreadEvent, threadfn) == 176);
    assert!(offset_of!(KthreadEvent, threadfn_name) == 200);
};
