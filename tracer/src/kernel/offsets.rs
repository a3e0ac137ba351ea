//! Resolves the kernel field offsets the eBPF programs need from the running
//! kernel's BTF, so no offset is compiled in for one kernel build.

use anyhow::{Context as _, Result};
use tracer_common::KernelOffsets;

use crate::kernel::btf::Btf;

// The system call's number and first two arguments at its exit, by the
// architecture tracer (and so its eBPF) was built for.
#[cfg(not(target_arch = "aarch64"))]
const REGS_SYSCALL: &[&str] = &["orig_ax"];
#[cfg(not(target_arch = "aarch64"))]
const REGS_ARG0: &[&str] = &["di"];
// x0 holds the return value at exit; the kernel keeps the first argument.
#[cfg(target_arch = "aarch64")]
const REGS_SYSCALL: &[&str] = &["syscallno"];
#[cfg(target_arch = "aarch64")]
const REGS_ARG0: &[&str] = &["orig_x0"];

#[cfg(not(target_arch = "aarch64"))]
fn regs_arg1(btf: &Btf<'_>) -> u32 {
    btf.member_offset("pt_regs", &["si"])
        .unwrap_or(KernelOffsets::ABSENT)
}

/// `regs[1]`: the second of arm64's `u64 regs[31]`.
#[cfg(target_arch = "aarch64")]
fn regs_arg1(btf: &Btf<'_>) -> u32 {
    btf.member_offset("pt_regs", &["regs"])
        .map_or(KernelOffsets::ABSENT, |regs| regs + 8)
}

/// Where `copy_thread()` saves a new kernel task's start function and
/// argument: x86-64 in the frame `thread.sp` points to (`bx`, `r12`),
/// arm64 in the task (`thread.cpu_context.x19`, `x20`).
#[cfg(not(target_arch = "aarch64"))]
fn fork_start(btf: &Btf<'_>) -> (u32, u32, u32) {
    let opt = |ty: &str, path: &[&str]| btf.member_offset(ty, path).ok();
    match (
        opt("task_struct", &["thread", "sp"]),
        opt("inactive_task_frame", &["bx"]),
        opt("inactive_task_frame", &["r12"]),
    ) {
        (Some(sp), Some(f), Some(a)) => (sp, f, a),
        _ => (
            KernelOffsets::ABSENT,
            KernelOffsets::ABSENT,
            KernelOffsets::ABSENT,
        ),
    }
}

#[cfg(target_arch = "aarch64")]
fn fork_start(btf: &Btf<'_>) -> (u32, u32, u32) {
    let opt = |reg: &str| {
        btf.member_offset("task_struct", &["thread", "cpu_context", reg])
            .unwrap_or(KernelOffsets::ABSENT)
    };
    (KernelOffsets::ABSENT, opt("x19"), opt("x20"))
}

pub fn resolve(btf: &Btf<'_>) -> Result<KernelOffsets> {
    let off = |ty: &str, path: &[&str]| {
        btf.member_offset(ty, path)
            .with_context(|| format!("resolving {ty}.{} from kernel BTF", path.join(".")))
    };
    let exit_arity = btf
        .tracepoint_arity("sched_process_exit")
        .context("reading the sched_process_exit prototype from kernel BTF")?;
    // Optional: without them helper requests are not traced (see `probe`).
    let opt =
        |ty: &str, path: &[&str]| btf.member_offset(ty, path).unwrap_or(KernelOffsets::ABSENT);
    let (fork_frame, fork_fn, fork_arg) = fork_start(btf);
    Ok(KernelOffsets {
        task_flags: off("task_struct", &["flags"])?,
        task_pid: off("task_struct", &["pid"])?,
        task_tgid: off("task_struct", &["tgid"])?,
        task_real_parent: off("task_struct", &["real_parent"])?,
        task_mm: off("task_struct", &["mm"])?,
        task_comm: off("task_struct", &["comm"])?,
        task_start_boottime: off("task_struct", &["start_boottime"])?,
        task_exit_code: off("task_struct", &["exit_code"])?,
        siginfo_errno: off("kernel_siginfo", &["si_errno"])?,
        siginfo_code: off("kernel_siginfo", &["si_code"])?,
        ksigaction_handler: off("k_sigaction", &["sa", "sa_handler"])?,
        ksigaction_flags: off("k_sigaction", &["sa", "sa_flags"])?,
        binprm_filename: off("linux_binprm", &["filename"])?,
        binprm_argc: off("linux_binprm", &["argc"])?,
        mm_arg_start: off("mm_struct", &["arg_start"])?,
        mm_arg_end: off("mm_struct", &["arg_end"])?,
        // (p, group_dead) since 6.16; (p) before.
        exit_has_group_dead: u32::from(exit_arity >= 2),
        task_real_cred: off("task_struct", &["real_cred"])?,
        cred_uid: off("cred", &["uid"])?,
        // Optional: without it, exec's own rename is reported too.
        task_in_execve_bit: btf
            .member_bit_offset("task_struct", &["in_execve"])
            .unwrap_or(KernelOffsets::ABSENT),
        work_func: opt("work_struct", &["func"]),
        umh_work: opt("subprocess_info", &["work"]),
        umh_path: opt("subprocess_info", &["path"]),
        umh_wait: opt("subprocess_info", &["wait"]),
        // `worker_private` since 5.17; `set_child_tid` held it before.
        task_kthread: btf
            .member_offset("task_struct", &["worker_private"])
            .or_else(|_| btf.member_offset("task_struct", &["set_child_tid"]))
            .unwrap_or(KernelOffsets::ABSENT),
        kthread_data: opt("kthread", &["data"]),
        worker_current_func: opt("worker", &["current_func"]),
        regs_syscall: opt("pt_regs", REGS_SYSCALL),
        regs_arg0: opt("pt_regs", REGS_ARG0),
        regs_arg1: regs_arg1(btf),
        task_ti_status: opt("task_struct", &["thread_info", "status"]),
        // Optional: without them, a followed group ends at its leader's
        // exit before 6.16.
        task_signal: opt("task_struct", &["signal"]),
        signal_live: opt("signal_struct", &["live"]),
        // Optional, each: the task's context (format 4); what a kernel's
        // BTF lacks is left unknown in every record.
        cred_gid: opt("cred", &["gid"]),
        task_cgroups: opt("task_struct", &["cgroups"]),
        css_set_dfl_cgrp: opt("css_set", &["dfl_cgrp"]),
        cgroup_kn: opt("cgroup", &["kn"]),
        kernfs_node_id: opt("kernfs_node", &["id"]),
        task_thread_pid: opt("task_struct", &["thread_pid"]),
        pid_level: opt("pid", &["level"]),
        pid_numbers: opt("pid", &["numbers"]),
        upid_size: btf.struct_size("upid").unwrap_or(KernelOffsets::ABSENT),
        upid_nr: opt("upid", &["nr"]),
        upid_ns: opt("upid", &["ns"]),
        pidns_inum: opt("pid_namespace", &["ns", "inum"]),
        task_nsproxy: opt("task_struct", &["nsproxy"]),
        nsproxy_mnt_ns: opt("nsproxy", &["mnt_ns"]),
        mntns_inum: opt("mnt_namespace", &["ns", "inum"]),
        // Optional, together: who asked for each kernel thread (see
        // `kthreads`).
        fork_frame,
        fork_fn,
        fork_arg,
        create_threadfn: opt("kthread_create_info", &["threadfn"]),
        create_done: opt("kthread_create_info", &["done"]),
        completion_waiters: opt("completion", &["wait", "task_list"]),
        swait_task: opt("swait_queue", &["task"]),
        swait_list: opt("swait_queue", &["task_list"]),
        // Optional, together: a new kernel thread's first run (see `kthreads`).
        task_nvcsw: opt("task_struct", &["nvcsw"]),
        task_nivcsw: opt("task_struct", &["nivcsw"]),
    })
}
