//! Kernel structure offsets, resolved from the running kernel's BTF by the
//! loader and handed to the eBPF programs as one read-only global.
//!
//! Nothing here is hard-coded for one kernel build: `task_struct` layouts
//! differ between builds and configs.

use core::mem::size_of;

/// Byte offsets of the kernel fields the programs read. All are byte
/// offsets from the start of the named struct; nested members (e.g.
/// `k_sigaction.sa.sa_handler`) are already summed.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelOffsets {
    pub task_flags: u32,
    pub task_pid: u32,
    pub task_tgid: u32,
    pub task_real_parent: u32,
    pub task_mm: u32,
    pub task_comm: u32,
    pub task_start_boottime: u32,
    pub task_exit_code: u32,
    /// `kernel_siginfo.si_errno` / `si_code` (inside an anonymous struct).
    pub siginfo_errno: u32,
    pub siginfo_code: u32,
    /// `k_sigaction.sa.sa_handler` / `sa_flags`.
    pub ksigaction_handler: u32,
    pub ksigaction_flags: u32,
    /// `linux_binprm.filename` and `argc`.
    pub binprm_filename: u32,
    pub binprm_argc: u32,
    /// `mm_struct.arg_start` / `arg_end`.
    pub mm_arg_start: u32,
    pub mm_arg_end: u32,
    /// 1 when `sched_process_exit` passes `group_dead` (6.16+), else 0.
    pub exit_has_group_dead: u32,
    /// `task_struct.real_cred` and `cred.uid` (a `kuid_t`).
    pub task_real_cred: u32,
    pub cred_uid: u32,
    /// Bit offset of the `task_struct.in_execve` bitfield, or
    /// [`KernelOffsets::ABSENT`].
    pub task_in_execve_bit: u32,
    /// `work_struct.func`.
    pub work_func: u32,
    /// `subprocess_info.work`, `.path` and `.wait`: a helper request.
    pub umh_work: u32,
    pub umh_path: u32,
    pub umh_wait: u32,
    /// Where a kthread keeps its `struct kthread` (`task_struct.worker_private`
    /// since 5.17, `set_child_tid` before), then `kthread.data` and
    /// `worker.current_func`: what work a kworker runs. Each may be
    /// [`KernelOffsets::ABSENT`].
    pub task_kthread: u32,
    pub kthread_data: u32,
    pub worker_current_func: u32,
    /// `pt_regs.orig_ax`, `.di` and `.si` (x86-64), or `.syscallno`,
    /// `.orig_x0` and `.regs[1]` (arm64): the system call's number and
    /// first two arguments, for failed execs; may be
    /// [`KernelOffsets::ABSENT`].
    pub regs_syscall: u32,
    pub regs_arg0: u32,
    pub regs_arg1: u32,
    /// `task_struct.thread_info.status` (x86: `TS_COMPAT` marks a 32-bit
    /// system call, whose numbers and registers differ); may be
    /// [`KernelOffsets::ABSENT`].
    pub task_ti_status: u32,
    /// `task_struct.signal` and `signal_struct.live` (an `atomic_t`: live
    /// threads of the group, decremented before `sched_process_exit`
    /// fires): where the tracepoint has no `group_dead` (before 6.16), a
    /// followed group is over when it reads 0. Either may be
    /// [`KernelOffsets::ABSENT`].
    pub task_signal: u32,
    pub signal_live: u32,
    /// The task's context (format 4), each may be
    /// [`KernelOffsets::ABSENT`]: the field is then left unknown.
    /// `cred.gid` (the uid is `cred_uid`).
    pub cred_gid: u32,
    /// `task_struct.cgroups`, `css_set.dfl_cgrp`, `cgroup.kn`,
    /// `kernfs_node.id`: the cgroup v2 id.
    pub task_cgroups: u32,
    pub css_set_dfl_cgrp: u32,
    pub cgroup_kn: u32,
    pub kernfs_node_id: u32,
    /// `task_struct.thread_pid`, `pid.level`, `pid.numbers`, the size of a
    /// `struct upid`, `upid.nr`, `upid.ns`, `pid_namespace.ns.inum`.
    pub task_thread_pid: u32,
    pub pid_level: u32,
    pub pid_numbers: u32,
    pub upid_size: u32,
    pub upid_nr: u32,
    pub upid_ns: u32,
    pub pidns_inum: u32,
    /// `task_struct.nsproxy`, `nsproxy.mnt_ns`, `mnt_namespace.ns.inum`.
    pub task_nsproxy: u32,
    pub nsproxy_mnt_ns: u32,
    pub mntns_inum: u32,
    /// Where a new task's start function and argument are saved
    /// (`copy_thread()`): `fork_frame` is the task's pointer to its saved
    /// frame (x86-64: `thread.sp`, then `inactive_task_frame.bx` and `.r12`
    /// in it), or [`KernelOffsets::ABSENT`] when they are in the task itself
    /// (arm64: `thread.cpu_context.x19` and `.x20`).
    pub fork_frame: u32,
    pub fork_fn: u32,
    pub fork_arg: u32,
    /// `kthread_create_info.threadfn` and `.done` (a `completion *`).
    pub create_threadfn: u32,
    pub create_done: u32,
    /// `completion.wait.task_list`, `swait_queue.task` and `.task_list`:
    /// the tasks waiting on a completion.
    pub completion_waiters: u32,
    pub swait_task: u32,
    pub swait_list: u32,
    /// `task_struct.nvcsw` and `.nivcsw` (switches out, zeroed at fork):
    /// both 0 in a new kernel thread's first run.
    pub task_nvcsw: u32,
    pub task_nivcsw: u32,
}

impl KernelOffsets {
    /// Marks an optional field the running kernel does not have.
    pub const ABSENT: u32 = u32::MAX;

    /// The placeholder compiled into the object; the loader overrides it.
    pub const UNSET: KernelOffsets = KernelOffsets {
        task_flags: 0,
        task_pid: 0,
        task_tgid: 0,
        task_real_parent: 0,
        task_mm: 0,
        task_comm: 0,
        task_start_boottime: 0,
        task_exit_code: 0,
        siginfo_errno: 0,
        siginfo_code: 0,
        ksigaction_handler: 0,
        ksigaction_flags: 0,
        binprm_filename: 0,
        binprm_argc: 0,
        mm_arg_start: 0,
        mm_arg_end: 0,
        exit_has_group_dead: 0,
        task_real_cred: 0,
        cred_uid: 0,
        task_in_execve_bit: KernelOffsets::ABSENT,
        work_func: 0,
        umh_work: 0,
        umh_path: 0,
        umh_wait: 0,
        task_kthread: KernelOffsets::ABSENT,
        kthread_data: KernelOffsets::ABSENT,
        worker_current_func: KernelOffsets::ABSENT,
        regs_syscall: KernelOffsets::ABSENT,
        regs_arg0: KernelOffsets::ABSENT,
        regs_arg1: KernelOffsets::ABSENT,
        task_ti_status: KernelOffsets::ABSENT,
        task_signal: KernelOffsets::ABSENT,
        signal_live: KernelOffsets::ABSENT,
        cred_gid: KernelOffsets::ABSENT,
        task_cgroups: KernelOffsets::ABSENT,
        css_set_dfl_cgrp: KernelOffsets::ABSENT,
        cgroup_kn: KernelOffsets::ABSENT,
        kernfs_node_id: KernelOffsets::ABSENT,
        task_thread_pid: KernelOffsets::ABSENT,
        pid_level: KernelOffsets::ABSENT,
        pid_numbers: KernelOffsets::ABSENT,
        upid_size: KernelOffsets::ABSENT,
        upid_nr: KernelOffsets::ABSENT,
        upid_ns: KernelOffsets::ABSENT,
        pidns_inum: KernelOffsets::ABSENT,
        task_nsproxy: KernelOffsets::ABSENT,
        nsproxy_mnt_ns: KernelOffsets::ABSENT,
        mntns_inum: KernelOffsets::ABSENT,
        fork_frame: KernelOffsets::ABSENT,
        fork_fn: KernelOffsets::ABSENT,
        fork_arg: KernelOffsets::ABSENT,
        create_threadfn: KernelOffsets::ABSENT,
        create_done: KernelOffsets::ABSENT,
        completion_waiters: KernelOffsets::ABSENT,
        swait_task: KernelOffsets::ABSENT,
        swait_list: KernelOffsets::ABSENT,
        task_nvcsw: KernelOffsets::ABSENT,
        task_nivcsw: KernelOffsets::ABSENT,
    };
}

const _: () = assert!(size_of::<KernelOffsets>() == 58 * 4);

#[cfg(feature = "user")]
mod pod {
    // SAFETY: repr(C), only u32 fields, no padding.
    unsafe impl aya::Pod for super::KernelOffsets {}
}
