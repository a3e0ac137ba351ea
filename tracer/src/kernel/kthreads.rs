//! Whether this kernel lets tracer name who asked for each kernel thread
//! (see tracer-ebpf `programs/kthread.rs`): it needs `kthread()`'s address,
//! which only /proc/kallsyms gives, and from BTF where `copy_thread()`
//! saves a new task's start (this architecture's layout), the
//! `kthread_create_info` and the waiters of a completion.

use aya::programs::ProgramError;
use tracer_common::{names, KernelOffsets};

use crate::{
    kernel::ksym,
    model::kallsyms::{Kallsyms, Unresolved},
};

/// Every kernel thread kthreadd makes for a request starts here.
pub const START_FN: &str = "kthread";

/// [`START_FN`]'s address, as [`super::requests::find_work_fn`] finds its own.
pub fn find_start_fn() -> anyhow::Result<Result<u64, Unresolved>> {
    match ksym::lookup(START_FN) {
        Some(addr) => Ok(Ok(addr)),
        None => Kallsyms::running().address_of(START_FN),
    }
}

/// `kthread()`'s address, or why requesters cannot be linked (one line).
pub fn start_fn(
    offsets: &KernelOffsets,
    found: anyhow::Result<Result<u64, Unresolved>>,
) -> Result<u64, String> {
    let layout = [
        offsets.fork_fn,
        offsets.fork_arg,
        offsets.create_threadfn,
        offsets.create_done,
        offsets.completion_waiters,
        offsets.swait_task,
        offsets.swait_list,
    ];
    if layout.contains(&KernelOffsets::ABSENT) {
        return Err("kernel BTF lacks where a new task's start is saved, \
                    kthread_create_info or swait_queue"
            .into());
    }
    match found {
        Ok(Ok(addr)) => Ok(addr),
        Ok(Err(Unresolved::Hidden)) => {
            Err("/proc/kallsyms hides kernel addresses from this process".into())
        }
        Ok(Err(Unresolved::Absent)) => Err(format!("/proc/kallsyms has no {START_FN}")),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// The `--verbose` line: which mechanism links kernel threads to their
/// requesters on this kernel.
pub fn note(start: &Result<u64, String>, timed: bool) -> String {
    match start {
        Ok(_) => format!(
            "kernel threads: requesters exact (the waiter on each kthread_create_info's \
             completion, read at kthreadd's fork; tracepoints only), or where the fork finds \
             none, the task that names the new thread (kernels before about 6.4); {}",
            if timed {
                "timed from the requester's wakeup of kthreadd to the thread's first wakeup \
                 (sched_waking)"
            } else {
                "not timed (--kthread-times)"
            }
        ),
        Err(why) => format!(
            "kernel threads: requesters not read at the fork: {why}; linked only where the \
             requester names its new thread (kernels before about 6.4)"
        ),
    }
}

/// Whether this kernel's BTF shows what the first-run test reads
/// (`task_struct.nvcsw` and `.nivcsw`).
pub fn can_time(offsets: &KernelOffsets) -> bool {
    offsets.task_nvcsw != KernelOffsets::ABSENT && offsets.task_nivcsw != KernelOffsets::ABSENT
}

/// Takes the kernel-thread programs' results out of `results`: attached
/// first when they loaded; a refusal only leaves requesters unknown (or
/// untimed).
#[allow(clippy::type_complexity)]
pub(super) fn take_programs(
    mut results: Vec<(&'static str, Result<(), ProgramError>)>,
    wanted: bool,
) -> (
    Vec<(&'static str, Result<(), ProgramError>)>,
    Vec<&'static str>,
) {
    let mut first = Vec::new();
    for (name, without) in [
        (
            names::KTHREAD_PROGRAM,
            "kernel threads are traced without their requesters",
        ),
        (
            names::KTHREAD_WAKE_PROGRAM,
            "kernel threads are traced without the time from request to first run",
        ),
    ] {
        let Some(at) = results
            .iter()
            .position(|(n, _)| *n == name)
            .filter(|_| wanted)
        else {
            continue;
        };
        match results.swap_remove(at).1 {
            Ok(()) => first.push(name),
            Err(e) => crate::say!("tracer: warning: cannot load {name} ({e}): {without}"),
        }
    }
    (results, first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_the_layout_and_the_address() {
        let mut o = KernelOffsets::UNSET;
        assert!(start_fn(&o, Ok(Ok(1))).unwrap_err().contains("BTF lacks"));
        o.fork_fn = 0;
        o.fork_arg = 8;
        o.create_threadfn = 0;
        o.create_done = 16;
        o.completion_waiters = 8;
        o.swait_task = 0;
        o.swait_list = 8;
        assert_eq!(start_fn(&o, Ok(Ok(0x1234))), Ok(0x1234));
        assert!(start_fn(&o, Ok(Err(Unresolved::Hidden)))
            .unwrap_err()
            .contains("hides"));
        assert!(note(&Ok(1), false).contains("exact"));
        assert!(note(&Ok(1), false).contains("not timed (--kthread-times)"));
        assert!(note(&Ok(1), true).contains("first wakeup (sched_waking)"));
        assert!(note(&Err("x".into()), true).contains("not read at the fork: x; linked only"));
    }
}
