//! Snapshot of one `task_struct` into a [`TaskInfo`].

use tracer_common::{KernelOffsets, TaskInfo, CTX_CREDS};

use crate::{globals::offset, kread::Kptr};

const ABSENT: u32 = KernelOffsets::ABSENT;

/// Deepest pid namespace nesting (`MAX_PID_NS_LEVEL` is 32): bounds the
/// `numbers[level]` index for the verifier.
const PID_LEVEL_MASK: u32 = 31;

/// Fills `dst` from the `task_struct` at `task`.
/// Writes every byte of `dst`: ring-buffer memory is not zeroed and must not
/// leak stale data.
#[inline(always)]
pub(crate) fn fill(dst: &mut TaskInfo, task: Kptr) {
    dst.start_boottime = task.read(offset!(task_start_boottime));
    dst.pid = task.read(offset!(task_pid));
    dst.tgid = task.read(offset!(task_tgid));
    let parent = task.ptr(offset!(task_real_parent));
    dst.ppid = if parent.is_null() {
        0
    } else {
        parent.read(offset!(task_tgid))
    };
    dst.flags = task.read(offset!(task_flags));
    let comm: [u64; 2] = task.read(offset!(task_comm));
    // SAFETY: [u64; 2] and [u8; 16] have the same size, any bits are valid.
    dst.comm = unsafe { core::mem::transmute::<[u64; 2], [u8; 16]>(comm) };
    dst.has_mm = u8::from(!task.ptr(offset!(task_mm)).is_null());
    dst._pad = [0; 7];
    context(dst, task);
}

/// The context fields: credentials, cgroup, namespaces. No branch on a
/// NULL along a chain of pointers: a read through NULL yields 0 (the probe
/// helper fails, a direct load's fault is fixed up), which is "unknown";
/// branches would multiply the verifier's states (5.10 refused the
/// two-task programs at a million instructions with them). A field whose
/// offsets this kernel's BTF lacks stays unknown: the loader's offsets are
/// constants to the verifier, so it never sees the reads of an absent
/// field.
#[inline(always)]
fn context(dst: &mut TaskInfo, task: Kptr) {
    // `real_cred` is never NULL for a task the kernel hands a tracepoint.
    let cred = task.ptr(offset!(task_real_cred));
    dst.uid = cred.read(offset!(cred_uid));
    let gid = offset!(cred_gid);
    (dst.gid, dst.context) = if gid != ABSENT {
        (cred.read(gid), CTX_CREDS)
    } else {
        (0, 0)
    };

    let (cgroups, dfl, kn, id) = (
        offset!(task_cgroups),
        offset!(css_set_dfl_cgrp),
        offset!(cgroup_kn),
        offset!(kernfs_node_id),
    );
    dst.cgroup_id = if cgroups != ABSENT && dfl != ABSENT && kn != ABSENT && id != ABSENT {
        task.ptr(cgroups).ptr(dfl).ptr(kn).read(id)
    } else {
        0
    };

    let (thread_pid, level, numbers, size, nr, ns, inum) = (
        offset!(task_thread_pid),
        offset!(pid_level),
        offset!(pid_numbers),
        offset!(upid_size),
        offset!(upid_nr),
        offset!(upid_ns),
        offset!(pidns_inum),
    );
    (dst.ns_pid, dst.pidns_inum) = if thread_pid != ABSENT
        && level != ABSENT
        && numbers != ABSENT
        && size != ABSENT
        && nr != ABSENT
        && ns != ABSENT
        && inum != ABSENT
    {
        let pid = task.ptr(thread_pid);
        let depth = pid.read::<u32>(level) & PID_LEVEL_MASK;
        // 5.10's verifier prunes too little for a second path here: it
        // reached its million instructions on the helper requester.
        if depth == 0 && crate::globals::features().current_task_btf != 0 {
            // The initial pid namespace (most tasks): `numbers[0]` is at a
            // constant offset, so a BTF-typed `pid` is read with direct
            // loads, three probe calls fewer per task.
            (pid.read(numbers + nr), pid.ptr(numbers + ns).read(inum))
        } else {
            // A variable index: the verifier checks direct loads at
            // constant offsets only, so `numbers[level]` goes through the
            // probe helper.
            let upid = Kptr::new(
                (pid.addr() + numbers as usize + (depth * size) as usize) as *const u8,
                false,
            );
            (upid.read(nr), upid.ptr(ns).read(inum))
        }
    } else {
        (0, 0)
    };

    let (nsproxy, mnt_ns, mnt_inum) = (
        offset!(task_nsproxy),
        offset!(nsproxy_mnt_ns),
        offset!(mntns_inum),
    );
    // `nsproxy` is NULL once an exiting task has left its namespaces.
    dst.mntns_inum = if nsproxy != ABSENT && mnt_ns != ABSENT && mnt_inum != ABSENT {
        task.ptr(nsproxy).ptr(mnt_ns).read(mnt_inum)
    } else {
        0
    };
}
