//! Snapshot of one `task_struct` into a [`TaskInfo`].

use tracer_common::{KernelOffsets, TaskInfo, CTX_CREDS};

use crate::kread::{offset, Kptr};

const ABSENT: u32 = KernelOffsets::ABSENT;

/// Deepest pid namespace nesting (`MAX_PID_NS_LEVEL` is 32): bounds the
/// `numbers[level]` index for the verifier.
const PID_LEVEL_MASK: u32 = 31;

/// Fills `dst` from the `task_struct` at `task`.
/// Writes every byte of `dst`: ring-buffer memory is not zeroed and must not
/// leak stale data.
#[inline(always)]
pub fn fill(dst: &mut TaskInfo, task: Kptr) {
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

/// The context fields: credentials, cgroup, namespaces. Each chain of
/// pointers stops at a NULL, and a field whose offsets this kernel's BTF
/// lacks stays unknown (the loader's offsets are constants to the verifier,
/// so it never sees the reads of an absent field).
#[inline(always)]
fn context(dst: &mut TaskInfo, task: Kptr) {
    dst.uid = 0;
    dst.gid = 0;
    dst.context = 0;
    let cred = task.ptr(offset!(task_real_cred));
    if !cred.is_null() {
        dst.uid = cred.read(offset!(cred_uid));
        let gid = offset!(cred_gid);
        if gid != ABSENT {
            dst.gid = cred.read(gid);
            dst.context = CTX_CREDS;
        }
    }

    dst.cgroup_id = 0;
    let (cgroups, dfl, kn, id) = (
        offset!(task_cgroups),
        offset!(css_set_dfl_cgrp),
        offset!(cgroup_kn),
        offset!(kernfs_node_id),
    );
    if cgroups != ABSENT && dfl != ABSENT && kn != ABSENT && id != ABSENT {
        let node = task.ptr(cgroups).ptr(dfl).ptr(kn);
        if !node.is_null() {
            dst.cgroup_id = node.read(id);
        }
    }

    dst.pidns_inum = 0;
    dst.ns_pid = 0;
    let (thread_pid, level, numbers, size, nr, ns, inum) = (
        offset!(task_thread_pid),
        offset!(pid_level),
        offset!(pid_numbers),
        offset!(upid_size),
        offset!(upid_nr),
        offset!(upid_ns),
        offset!(pidns_inum),
    );
    if thread_pid != ABSENT
        && level != ABSENT
        && numbers != ABSENT
        && size != ABSENT
        && nr != ABSENT
        && ns != ABSENT
        && inum != ABSENT
    {
        let pid = task.ptr(thread_pid);
        if !pid.is_null() {
            let depth = pid.read::<u32>(level) & PID_LEVEL_MASK;
            // A variable index: the verifier checks direct loads at
            // constant offsets only, so `numbers[level]` goes through the
            // probe helper.
            let upid = Kptr::new(
                (pid.addr() + numbers as usize + (depth * size) as usize) as *const u8,
                false,
            );
            dst.ns_pid = upid.read(nr);
            let pidns = upid.ptr(ns);
            if !pidns.is_null() {
                dst.pidns_inum = pidns.read(inum);
            }
        }
    }

    dst.mntns_inum = 0;
    let (nsproxy, mnt_ns, mnt_inum) = (
        offset!(task_nsproxy),
        offset!(nsproxy_mnt_ns),
        offset!(mntns_inum),
    );
    if nsproxy != ABSENT && mnt_ns != ABSENT && mnt_inum != ABSENT {
        // NULL once an exiting task has left its namespaces.
        let proxy = task.ptr(nsproxy);
        if !proxy.is_null() {
            let mnt = proxy.ptr(mnt_ns);
            if !mnt.is_null() {
                dst.mntns_inum = mnt.read(mnt_inum);
            }
        }
    }
}
