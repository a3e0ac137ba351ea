//! The columns of a Parquet export, in file order (schema version
//! [`SCHEMA_VERSION`]); docs/reference.md lists
//! them for readers. Every column is nullable: a row sets the ones its
//! event has. Names follow the JSON fields; a task named beside the
//! subject has its fields prefixed with its role (`creator_`, `sender_`,
//! `requester_`, `killer_`) instead of a nested object, so every engine
//! reads them as plain columns.

use super::column::{
    columns, Ancestors, Bool, Bytes, BytesList, Column, Dict, Str, StrList, Time, I32, I64,
};

/// Version of the Parquet schema (the columns below, their types
/// and meaning), in every file's key-value metadata as
/// `parquet_schema_version`. 1: the first.
pub const SCHEMA_VERSION: u32 = 1;

columns! {
    /// Wall-clock time of the event on the recording machine (UTC, ns).
    time: Time,
    /// Boot-clock ns (CLOCK_BOOTTIME) of the event.
    boot_ns: I64,
    /// The recording machine's host name, machine id (null in logs before
    /// log version 4) and boot id, from the log header.
    host: Dict,
    machine_id: Dict,
    boot_id: Dict,
    /// The recording session (`record` run) the log belongs to, hex.
    recording_id: Dict,
    cpu: I32,
    /// The event's name as in JSON, or `lost`, `damaged` (a damaged
    /// stretch of the log: what it held is unknown).
    event: Dict,
    /// The subject task (a fork's child, a signal's target).
    task_id: Str,
    /// The task id of the subject's parent process, where the log knows
    /// its start.
    parent_task_id: Str,
    /// The subject's parent, grandparent, ... (task_id, pid, comm, kind),
    /// parent first: `--ancestors N` generations (4 unless asked).
    ancestors: Ancestors,
    pid: I32,
    tgid: I32,
    ppid: I32,
    comm: Str,
    /// Exact bytes of `comm` where they are not UTF-8 (else null).
    comm_bytes: Bytes,
    kind: Dict,
    flags: StrList,
    flags_raw: I64,
    has_mm: Bool,
    start_ns: I64,
    uid: I64,
    gid: I64,
    cgroup_id: I64,
    cgroup: Dict,
    container_id: Dict,
    container_runtime: Dict,
    pidns: I64,
    ns_pid: I64,
    mntns: I64,
    /// Fork: the creating task.
    creator_task_id: Str,
    creator_pid: I32,
    creator_tgid: I32,
    creator_comm: Str,
    creator_kind: Dict,
    clone_flags: I64,
    /// Fork of a kernel thread by kthreadd: who asked for it (JSON's
    /// `kthread` object; the requester null where unknown, and why).
    kthread_requester_task_id: Str,
    kthread_requester_pid: I32,
    kthread_requester_comm: Str,
    kthread_requester_kind: Dict,
    kthread_work: Str,
    kthread_link: Dict,
    kthread_reason: Str,
    kthread_threadfn: Str,
    kthread_threadfn_addr: I64,
    /// Exec and exec_failed.
    filename: Str,
    filename_bytes: Bytes,
    filename_truncated: Bool,
    argv: StrList,
    /// Every argument's exact bytes, where any is not UTF-8.
    argv_bytes: BytesList,
    argv_truncated: Bool,
    argc: I64,
    args_bytes: I64,
    old_pid: I32,
    /// Exit.
    exit_status: I32,
    exit_signal: Dict,
    core_dumped: Bool,
    group_dead: Bool,
    lifetime_ns: I64,
    /// Exit by a signal whose sending was seen: who sent it.
    killer_signal: Dict,
    killer_pid: I32,
    killer_tgid: I32,
    killer_uid: I64,
    killer_comm: Str,
    killer_boot_ns: I64,
    diagnosis: Str,
    /// Signals (signal_generate, signal_deliver) and exec_failed's errno.
    signal: Dict,
    signo: I32,
    errno: I32,
    error: Dict,
    code: I32,
    code_name: Dict,
    result: Dict,
    group: Bool,
    sender_uid: I64,
    sender_task_id: Str,
    sender_pid: I32,
    sender_tgid: I32,
    sender_comm: Str,
    sender_kind: Dict,
    handler: Dict,
    handler_addr: I64,
    sa_flags: I64,
    /// Rename.
    new_comm: Str,
    new_comm_bytes: Bytes,
    /// exec_failed: the system call.
    via: Dict,
    /// The helper story: true on exec, exit and exec_failed of a
    /// user-mode helper's lineage (JSON's `helper` object), and on
    /// helper_request rows.
    helper: Bool,
    helper_spawner_pid: I32,
    helper_spawner_comm: Str,
    helper_exe: Str,
    helper_exec_failed: Bool,
    helper_exec_error_inferred: Dict,
    helper_waited_ns: I64,
    /// The request the helper ran for (and helper_request rows).
    request_path: Str,
    request_path_truncated: Bool,
    queued_ns: I64,
    waits: Dict,
    reason: Str,
    requester_task_id: Str,
    requester_pid: I32,
    requester_tgid: I32,
    requester_comm: Str,
    requester_kind: Dict,
    requester_uid: I64,
    /// Throttled rows.
    phase: Dict,
    throttle_cpu: I32,
    reasons: Dict,
    per_source: I64,
    total: I64,
    first_ns: I64,
    last_ns: I64,
    dropped_kind: Dict,
    recorded: I64,
    dropped_total: I64,
    other_uids: I64,
    /// Lost rows: the kind of the records lost (`unknown` if not known)
    /// and how many.
    lost_event: Dict,
    count: I64,
    /// Damaged rows: what the reader found.
    damage: Str,
}
