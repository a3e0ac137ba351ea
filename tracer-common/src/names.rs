//! Names by which the loader finds the eBPF object's maps and read-only
//! globals. aya finds both by symbol, so each eBPF static is named exactly
//! as here (the loader's tests check the built object has every one).
//! Programs are named by [`crate::EventKind::program`] and
//! [`crate::EventKind::rescue_programs`].

use crate::MAX_RINGS;

/// The ring buffers records go through, ring `i` named `RINGS[i]`
/// (tracer-ebpf `emit.rs`; see [`crate::rings`]).
pub const RINGS: [&str; MAX_RINGS] = [
    "EVENTS0", "EVENTS1", "EVENTS2", "EVENTS3", "EVENTS4", "EVENTS5", "EVENTS6", "EVENTS7",
    "EVENTS8", "EVENTS9", "EVENTS10", "EVENTS11", "EVENTS12", "EVENTS13", "EVENTS14", "EVENTS15",
];
/// Records lost to a full ring buffer, per CPU, indexed by kind tag
/// (`emit.rs`).
pub const LOST: &str = "LOST";
/// Per CPU, at `level * EventKind::COUNTERS + tag`: 1 while that kind's
/// program at that rescue level (0 for the first) is mid-run on the CPU
/// (`nesting.rs`).
pub const BUSY: &str = "BUSY";
/// Runs a rescue program made for its kind's skipped program, per CPU,
/// indexed by kind tag (`nesting.rs`).
pub const RESCUED: &str = "RESCUED";
/// Thread groups that are user-mode helpers or their descendants
/// (`umh.rs`).
pub const HELPER_TGIDS: &str = "HELPER_TGIDS";
/// Helper requests queued and not yet started, by work item address
/// (`requests.rs`).
pub const HELPER_QUEUE: &str = "HELPER_QUEUE";
/// Where the queueing program builds an entry of [`HELPER_QUEUE`]: map
/// memory, which old verifiers check far faster than the stack
/// (`requests.rs`).
pub const QUEUE_SCRATCH: &str = "QUEUE_SCRATCH";
/// Thread groups a `--follow` / `-- CMD` session follows (`follow.rs`).
pub const FOLLOWED: &str = "FOLLOWED";
/// The program on `workqueue_queue_work` that notes who queued each helper
/// request; [`crate::EventKind::HelperRequest`]'s record is emitted when
/// a kworker starts it (`programs/helper_request.rs`).
pub const HELPER_QUEUE_PROGRAM: &str = "workqueue_queue_work";
/// The companion on `task_newtask` that emits [`crate::EventKind::Kthread`]
/// records, attached before the fork program so each comes first
/// (`programs/kthread.rs`).
pub const KTHREAD_PROGRAM: &str = "kthread_create";
/// Its tracepoint.
pub const KTHREAD_TRACEPOINT: &str = "task_newtask";
/// The companion on `sched_waking` that times each request for a kernel
/// thread and sends a record at each new thread's first run
/// (`programs/kthread.rs`).
pub const KTHREAD_WAKE_PROGRAM: &str = "kthread_wake";
/// Its tracepoint.
pub const KTHREAD_WAKE_TRACEPOINT: &str = "sched_waking";
/// The last wakeup of kthreadd, a request's time (`programs/kthread.rs`).
pub const KTHREADD_WOKEN: &str = "KTHREADD_WOKEN";

/// The running kernel's [`crate::KernelOffsets`] (`globals.rs`).
pub const OFFSETS: &str = "OFFSETS";
/// The [`crate::KernelFilter`] (`globals.rs`).
pub const FILTER: &str = "FILTER";
/// The [`crate::KernelFeatures`] (`globals.rs`).
pub const FEATURES: &str = "FEATURES";
/// Unconsumed bytes of a ring past which a submit wakes the reader
/// (`globals.rs`, read by `emit.rs`).
pub const WAKEUP_BYTES: &str = "WAKEUP_BYTES";
/// CPUs per ring: a program on CPU `c` reserves in ring
/// `c / CPUS_PER_RING` (`emit.rs`).
pub const CPUS_PER_RING: &str = "CPUS_PER_RING";
/// Address of `call_usermodehelper_exec_work`, from /proc/kallsyms: the
/// work function of every helper request (`requests.rs`).
pub const UMH_WORK_FN: &str = "UMH_WORK_FN";
/// Address of `kthread()`, from /proc/kallsyms: the start function of
/// every task kthreadd makes for a request (`programs/kthread.rs`).
pub const KTHREAD_FN: &str = "KTHREAD_FN";
/// 1 when the session follows a command or a subtree: every program then
/// drops events of tasks outside [`FOLLOWED`] (`follow.rs`).
pub const FOLLOW: &str = "FOLLOW";
/// Kinds whose programs can nest on this kernel, one bit per kind tag: only
/// their first programs mark themselves mid-run in [`BUSY`] for the rescues
/// (`nesting.rs`).
pub const RESCUED_KINDS: &str = "RESCUED_KINDS";

/// Per CPU: the throttle's source buckets, then the total
/// (`throttle.rs`; see [`crate::throttle`]).
pub const THROTTLE: &str = "THROTTLE";
/// The [`crate::ThrottleConfig`] (`throttle.rs`).
pub const THROTTLE_CONFIG: &str = "THROTTLE_CONFIG";

/// Every map the loader uses besides the rings.
pub const MAPS: [&str; 9] = [
    LOST,
    BUSY,
    RESCUED,
    HELPER_TGIDS,
    HELPER_QUEUE,
    QUEUE_SCRATCH,
    FOLLOWED,
    THROTTLE,
    KTHREADD_WOKEN,
];
/// Every global the loader sets (all in `.rodata`, so constants to the
/// verifier).
pub const GLOBALS: [&str; 10] = [
    OFFSETS,
    FILTER,
    FEATURES,
    WAKEUP_BYTES,
    CPUS_PER_RING,
    UMH_WORK_FN,
    FOLLOW,
    THROTTLE_CONFIG,
    RESCUED_KINDS,
    KTHREAD_FN,
];

// Ring names are distinct and numbered in order.
const _: () = {
    let mut i = 0;
    while i < MAX_RINGS {
        let name = RINGS[i].as_bytes();
        assert!(name.len() == 7 || name.len() == 8);
        let n = if name.len() == 7 {
            (name[6] - b'0') as usize
        } else {
            ((name[6] - b'0') * 10 + (name[7] - b'0')) as usize
        };
        assert!(n == i);
        i += 1;
    }
};
