//! Whether this kernel lets tracer link helpers to their requesters (see
//! tracer-ebpf `requests.rs`): it needs the address of the helper work
//! function, which only /proc/kallsyms gives, the workqueue tracepoints,
//! and the `subprocess_info` layout from BTF.

use tracer_common::KernelOffsets;

use crate::{
    kernel::{btf::Btf, ksym},
    model::kallsyms::{Kallsyms, Unresolved},
};

/// Every helper request runs this work function.
pub const WORK_FN: &str = "call_usermodehelper_exec_work";

/// [`WORK_FN`]'s address: asked of the kernel through BPF where it can
/// answer (see [`ksym`]), else from /proc/kallsyms, which says why not.
pub fn find_work_fn() -> anyhow::Result<Result<u64, Unresolved>> {
    match ksym::lookup(WORK_FN) {
        Some(addr) => Ok(Ok(addr)),
        None => Kallsyms::running().address_of(WORK_FN),
    }
}

/// Whether the kernel has the workqueue tracepoints the requester side
/// needs; `Err` names the one it lacks.
pub fn tracepoints(btf: &Btf<'_>) -> Result<(), String> {
    for tp in ["workqueue_queue_work", "workqueue_execute_start"] {
        if btf.tracepoint_type_id(tp).is_err() {
            return Err(format!("this kernel has no {tp} tracepoint"));
        }
    }
    Ok(())
}

/// The work function's address (`found` by [`find_work_fn`]), or why helper
/// requesters cannot be traced (one line, for the user). `tracepoints` is
/// [`tracepoints`]'s answer.
pub fn work_fn(
    tracepoints: Result<(), String>,
    offsets: &KernelOffsets,
    found: anyhow::Result<Result<u64, Unresolved>>,
) -> Result<u64, String> {
    tracepoints?;
    let layout = [
        offsets.work_func,
        offsets.umh_work,
        offsets.umh_path,
        offsets.umh_wait,
    ];
    if layout.contains(&KernelOffsets::ABSENT) {
        return Err("kernel BTF lacks work_struct.func or subprocess_info".into());
    }
    match found {
        Ok(Ok(addr)) => Ok(addr),
        Ok(Err(Unresolved::Hidden)) => Err(format!(
            "/proc/kallsyms hides kernel addresses from this process (kernel.kptr_restrict={}; \
             reading them needs CAP_SYSLOG)",
            std::fs::read_to_string("/proc/sys/kernel/kptr_restrict")
                .map_or_else(|_| "?".into(), |s| s.trim().to_string())
        )),
        Ok(Err(Unresolved::Absent)) => Err(format!("/proc/kallsyms has no {WORK_FN}")),
        Err(e) => Err(format!("{e:#}")),
    }
}
