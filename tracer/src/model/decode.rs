//! Ring-buffer bytes to typed events. Every record is checked (length,
//! version, kind tag) before any field is trusted, so a bad record is an
//! error, never undefined behaviour.

use std::fmt;

use tracer_common::{
    read_plain,
    throttle::{THROTTLE_BEGIN, THROTTLE_BY_SOURCE, THROTTLE_BY_TOTAL, THROTTLE_END},
    EventKind, ExecEvent, ExecEventV1, ExecFailedEvent, ExitEvent, ForkEvent, Header,
    HelperRequestEvent, KthreadEvent, Plain, RenameEvent, SignalDeliverEvent, SignalGenerateEvent,
    ThrottleEvent, CONTEXT_FORMAT, FORMAT_VERSION, GROUP_DEAD_UNKNOWN, KTHREAD_RUN_FORMAT,
    OLDEST_FORMAT, TASK_CONTEXT_BYTES, TASK_INFO_V3,
};

use crate::model::{
    event::{
        c_string, Event, ExecCut, ExecVia, HelperRequest, KthreadRequest, Record, Task,
        TaskContext, Throttle, ThrottlePhase,
    },
    signals::{Disposition, ExitStatus, GenerateResult},
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    TooShort { len: usize },
    Version { found: u16 },
    UnknownKind { tag: u16 },
    Size { kind: EventKind, len: usize },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooShort { len } => write!(f, "record of {len} bytes has no header"),
            DecodeError::Version { found } => write!(
                f,
                "record format version {found}, this tracer reads versions \
                 {OLDEST_FORMAT} to {FORMAT_VERSION}"
            ),
            DecodeError::UnknownKind { tag } => write!(f, "unknown event kind tag {tag}"),
            DecodeError::Size { kind, len } => write!(
                f,
                "{} record of {len} bytes, expected {}",
                kind.name(),
                kind.record_size()
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The record `bytes` as its kind's type `T`, which must be exactly its size.
fn body<T: tracer_common::Record>(bytes: &[u8]) -> Result<T, DecodeError> {
    debug_assert_eq!(
        Header::peek_kind(bytes),
        Some(T::KIND),
        "decoded as another kind's type"
    );
    sized(bytes, T::KIND)
}

/// The record `bytes` of `kind` as `T` (a current or an older layout), which
/// must be exactly its size.
fn sized<T: Plain>(bytes: &[u8], kind: EventKind) -> Result<T, DecodeError> {
    let wrong_size = DecodeError::Size {
        kind,
        len: bytes.len(),
    };
    if bytes.len() != size_of::<T>() {
        return Err(wrong_size);
    }
    read_plain(bytes).ok_or(wrong_size)
}

/// Splits a NUL-separated argument block (an exec record's, or
/// /proc/PID/cmdline) into arguments.
pub fn split_args(block: &[u8]) -> Vec<String> {
    let block = block.strip_suffix(&[0]).unwrap_or(block);
    if block.is_empty() {
        return Vec::new();
    }
    block
        .split(|&b| b == 0)
        .map(crate::model::text::decode)
        .collect()
}

/// A record of a format before [`CONTEXT_FORMAT`] (format 3's 48-byte
/// tasks) in the current layout: each task's context bytes inserted after
/// it, zero (unknown; [`Task::from_record`] says so).
fn widen(old: &[u8], kind: EventKind) -> Vec<u8> {
    let mut wide = Vec::with_capacity(old.len() + kind.task_offsets().len() * TASK_CONTEXT_BYTES);
    let mut from = 0;
    for (i, &at) in kind.task_offsets().iter().enumerate() {
        // Where the task's old part ends in the narrow record.
        let end = at - i * TASK_CONTEXT_BYTES + TASK_INFO_V3;
        wide.extend_from_slice(&old[from..end]);
        wide.resize(wide.len() + TASK_CONTEXT_BYTES, 0);
        from = end;
    }
    wide.extend_from_slice(&old[from..]);
    wide
}

pub fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
    let header: Header = read_plain(bytes).ok_or(DecodeError::TooShort { len: bytes.len() })?;
    if !(OLDEST_FORMAT..=FORMAT_VERSION).contains(&header.version) {
        return Err(DecodeError::Version {
            found: header.version,
        });
    }
    let kind =
        EventKind::from_tag(header.kind).ok_or(DecodeError::UnknownKind { tag: header.kind })?;
    let Some(size) = kind.record_size_in(header.version) else {
        // A kind newer than its record's format: not a record this build wrote.
        return Err(DecodeError::UnknownKind { tag: header.kind });
    };
    let v = header.version;
    let widened;
    let bytes = if v < CONTEXT_FORMAT {
        if bytes.len() != size {
            return Err(DecodeError::Size {
                kind,
                len: bytes.len(),
            });
        }
        widened = widen(bytes, kind);
        &widened[..]
    } else if kind == EventKind::Kthread && v < KTHREAD_RUN_FORMAT {
        // Format 6 ends before the request's time: unknown (zero).
        if bytes.len() != size {
            return Err(DecodeError::Size {
                kind,
                len: bytes.len(),
            });
        }
        widened = [bytes, &[0; 8]].concat();
        &widened[..]
    } else {
        bytes
    };
    let event = match kind {
        EventKind::Fork => {
            let e: ForkEvent = body(bytes)?;
            Event::Fork {
                creator: Task::from_record(&e.creator, v),
                child: Task::from_record(&e.child, v),
                clone_flags: e.clone_flags,
            }
        }
        EventKind::Exec if header.version == 1 => {
            let e: ExecEventV1 = sized(bytes, kind)?;
            let filename_len = usize::from(e.filename_len).min(e.filename.len());
            let args_len = usize::from(e.args_len).min(e.args.len());
            Event::Exec {
                task: Task::from_record(&e.task, v),
                old_pid: e.old_pid,
                filename: c_string(&e.filename[..filename_len]),
                argv: split_args(&e.args[..args_len]),
                cut: None,
            }
        }
        EventKind::Exec => {
            let e: ExecEvent = body(bytes)?;
            let filename_len = usize::from(e.filename_len).min(e.filename.len());
            let args_len = usize::from(e.args_len).min(e.args.len());
            let argv = split_args(&e.args[..args_len]);
            let cut = ExecCut {
                argc: e.argc,
                args_bytes: e.args_total,
                argv_truncated: e.args_total as usize > args_len || e.argc as usize > argv.len(),
                filename_truncated: e.filename_truncated != 0,
            };
            Event::Exec {
                task: Task::from_record(&e.task, v),
                old_pid: e.old_pid,
                filename: c_string(&e.filename[..filename_len]),
                argv,
                cut: Some(cut),
            }
        }
        EventKind::Exit => {
            let e: ExitEvent = body(bytes)?;
            Event::Exit {
                task: Task::from_record(&e.task, v),
                status: ExitStatus::from_raw(e.exit_code),
                group_dead: match e.group_dead {
                    GROUP_DEAD_UNKNOWN => None,
                    v => Some(v != 0),
                },
            }
        }
        EventKind::SignalGenerate => {
            let e: SignalGenerateEvent = body(bytes)?;
            Event::SignalGenerate {
                sender: Task::from_record(&e.sender, v),
                sender_uid: e.sender_uid,
                target: Task::from_record(&e.target, v),
                sig: e.sig,
                errno: e.errno,
                code: e.code,
                group: e.group != 0,
                result: GenerateResult::from_raw(e.result),
            }
        }
        EventKind::SignalDeliver => {
            let e: SignalDeliverEvent = body(bytes)?;
            Event::SignalDeliver {
                task: Task::from_record(&e.task, v),
                sig: e.sig,
                errno: e.errno,
                code: e.code,
                disposition: Disposition::from_raw(e.sa_handler),
                sa_flags: e.sa_flags,
            }
        }
        EventKind::Rename => {
            let e: RenameEvent = body(bytes)?;
            Event::Rename {
                task: Task::from_record(&e.task, v),
                new_comm: c_string(&e.new_comm),
            }
        }
        EventKind::HelperRequest => {
            let e: HelperRequestEvent = body(bytes)?;
            let path_len = usize::from(e.path_len).min(e.path.len());
            let seen = e.requester.pid != 0;
            Event::HelperRequest {
                kworker: Task::from_record(&e.kworker, v),
                request: HelperRequest {
                    requester: seen.then(|| Task::from_record(&e.requester, v)),
                    queued_ns: seen.then_some(e.queued_ns),
                    requester_func: (e.requester_func != 0).then_some(e.requester_func),
                    wait: e.wait,
                    path: c_string(&e.path[..path_len]),
                    path_truncated: e.path_truncated != 0,
                },
            }
        }
        EventKind::ExecFailed => {
            let e: ExecFailedEvent = body(bytes)?;
            let len = usize::from(e.filename_len).min(e.filename.len());
            Event::ExecFailed {
                task: Task::from_record(&e.task, v),
                errno: e.errno,
                via: ExecVia::from_raw(e.source)
                    .ok_or(DecodeError::UnknownKind { tag: header.kind })?,
                filename: c_string(&e.filename[..len]),
                filename_truncated: e.filename_truncated != 0,
            }
        }
        EventKind::Throttle => throttle(&body::<ThrottleEvent>(bytes)?, header.cpu, v)?,
        EventKind::Kthread => {
            let e: KthreadEvent = body(bytes)?;
            let request = KthreadRequest::from_record(&e, v);
            Event::Kthread {
                child: Task::from_record(&e.child, v),
                request,
            }
        }
    };
    Ok(Record {
        boot_ns: header.boot_ns,
        cpu: header.cpu,
        event,
    })
}

/// A throttle record: the task is what the kernel kept of it (pid, tgid,
/// start, comm and uid).
fn throttle(e: &ThrottleEvent, cpu: u32, v: u16) -> Result<Event, DecodeError> {
    let bad = DecodeError::UnknownKind {
        tag: EventKind::Throttle.tag(),
    };
    let phase = match e.phase {
        THROTTLE_BEGIN => ThrottlePhase::Begin,
        THROTTLE_END => ThrottlePhase::End,
        _ => return Err(bad),
    };
    let mut task = Task::from_record(&e.task, v);
    task.context = Some(TaskContext {
        uid: Some(e.task.uid),
        ..TaskContext::default()
    });
    let dropped = EventKind::ALL
        .iter()
        .filter_map(|&k| {
            let n = *e.dropped.get(usize::from(k.tag()))?;
            (n > 0).then_some((k, u64::from(n)))
        })
        .collect();
    Ok(Event::Throttle {
        task,
        throttle: Throttle {
            phase,
            uid: e.uid,
            cpu,
            kind: EventKind::from_tag(u16::from(e.kind)),
            by_source: e.reasons & THROTTLE_BY_SOURCE != 0,
            by_total: e.reasons & THROTTLE_BY_TOTAL != 0,
            per_source: e.per_source,
            total: (e.total != u32::MAX).then_some(e.total),
            recorded: e.recorded,
            other_uids: e.other_uids,
            first_ns: e.first_ns,
            last_ns: e.last_ns,
            dropped,
        },
    })
}

#[cfg(test)]
mod tests {
    use tracer_common::{Plain, TaskInfo, COMM_LEN};

    use super::*;

    fn as_bytes<T: Plain>(v: &T) -> Vec<u8> {
        // SAFETY: T is Plain (repr(C), no implicit padding), so all
        // size_of::<T>() bytes are initialized.
        unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
    }

    fn task(pid: u32, comm: &str, flags: u32) -> TaskInfo {
        let mut c = [0u8; COMM_LEN];
        c[..comm.len()].copy_from_slice(comm.as_bytes());
        TaskInfo {
            start_boottime: 1000 + u64::from(pid),
            pid,
            tgid: pid,
            ppid: 1,
            flags,
            comm: c,
            has_mm: 1,
            _pad: [0; 7],
            uid: 1000,
            gid: 100,
            cgroup_id: 77,
            pidns_inum: 4026531836,
            ns_pid: pid,
            mntns_inum: 4026531841,
            context: tracer_common::CTX_CREDS,
        }
    }

    /// `bytes` (a current record) as a format before 4 stores it: each
    /// task's context cut out.
    fn narrow(bytes: &[u8], kind: EventKind) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for &at in kind.task_offsets().iter().rev() {
            out.drain(at + TASK_INFO_V3..at + TASK_INFO_V3 + TASK_CONTEXT_BYTES);
        }
        out
    }

    fn header(kind: EventKind) -> Header {
        Header::new(kind, 1, 42)
    }

    fn generate(result: i32) -> SignalGenerateEvent {
        SignalGenerateEvent {
            header: header(EventKind::SignalGenerate),
            sender: task(100, "bash", 0x400100),
            target: task(2, "kthreadd", 0x208040),
            sig: 15,
            errno: 0,
            code: 0,
            group: 1,
            result,
            sender_uid: 0,
        }
    }

    #[test]
    fn decodes_a_signal_to_kthreadd() {
        let rec = decode(&as_bytes(&generate(1))).expect("decodes");
        assert_eq!(rec.boot_ns, 42);
        let Event::SignalGenerate {
            sender,
            target,
            sig,
            result,
            group,
            ..
        } = rec.event
        else {
            panic!("wrong kind: {:?}", rec.event)
        };
        assert_eq!((sender.pid, sender.comm.as_str()), (100, "bash"));
        assert_eq!((target.pid, target.comm.as_str()), (2, "kthreadd"));
        assert_eq!((sig, result, group), (15, GenerateResult::Ignored, true));
    }

    #[test]
    fn decodes_exec_argv() {
        let mut e = exec();
        e.filename[..10].copy_from_slice(b"/bin/sleep");
        e.args[..8].copy_from_slice(b"sleep\x001\x00");
        let rec = decode(&as_bytes(&e)).expect("decodes");
        let Event::Exec {
            filename,
            argv,
            cut,
            ..
        } = rec.event
        else {
            panic!("wrong kind")
        };
        assert_eq!(filename, "/bin/sleep");
        assert_eq!(argv, ["sleep", "1"]);
        assert_eq!(
            cut,
            Some(ExecCut {
                argc: 2,
                args_bytes: 8,
                argv_truncated: false,
                filename_truncated: false
            })
        );
    }

    fn exec() -> ExecEvent {
        ExecEvent {
            header: header(EventKind::Exec),
            task: task(7, "sleep", 0),
            old_pid: 7,
            filename_len: 10,
            args_len: 8,
            argc: 2,
            args_total: 8,
            filename_truncated: 0,
            _pad: [0; 7],
            filename: [0; 256],
            args: [0; 256],
        }
    }

    #[test]
    fn an_exec_says_when_its_arguments_or_path_were_cut() {
        let mut e = exec();
        e.args.fill(b'x');
        e.args_len = 256;
        e.argc = 1000;
        e.args_total = 100_000;
        e.filename_truncated = 1;
        let Event::Exec { argv, cut, .. } = decode(&as_bytes(&e)).unwrap().event else {
            panic!("wrong kind")
        };
        assert_eq!(argv.len(), 1);
        let cut = cut.expect("format 2 says");
        assert!(cut.argv_truncated && cut.filename_truncated);
        assert_eq!((cut.argc, cut.args_bytes), (1000, 100_000));
        // All the bytes, but fewer arguments than the kernel counted.
        let mut e = exec();
        e.args[..8].copy_from_slice(b"sleep\x001\x00");
        e.argc = 3;
        let Event::Exec { cut, .. } = decode(&as_bytes(&e)).unwrap().event else {
            panic!("wrong kind")
        };
        assert!(cut.unwrap().argv_truncated);
    }

    #[test]
    fn a_format_1_exec_still_decodes_without_cut_facts() {
        let mut e = ExecEventV1 {
            header: Header {
                version: 1,
                ..header(EventKind::Exec)
            },
            task: task(7, "true", 0),
            old_pid: 7,
            filename_len: 9,
            args_len: 10,
            filename: [0; 256],
            args: [0; 256],
        };
        e.filename[..9].copy_from_slice(b"/bin/true");
        e.args[..10].copy_from_slice(b"/bin/true\x00");
        let mut bytes = narrow(&as_bytes(&e), EventKind::Exec);
        assert_eq!(bytes.len(), 584);
        let Event::Exec {
            filename,
            cut,
            task,
            ..
        } = decode(&bytes).unwrap().event
        else {
            panic!("wrong kind")
        };
        assert_eq!((filename.as_str(), cut), ("/bin/true", None));
        assert_eq!(
            (task.pid, task.comm.as_str(), task.context),
            (7, "true", None)
        );
        // Format 1's exec size under format 2 is wrong, and the other way.
        bytes[..2].copy_from_slice(&2u16.to_le_bytes());
        assert!(matches!(decode(&bytes), Err(DecodeError::Size { .. })));
    }

    #[test]
    fn format_3_records_widen_with_no_context() {
        let mut e = generate(0);
        e.header.version = 3;
        let bytes = narrow(&as_bytes(&e), EventKind::SignalGenerate);
        assert_eq!(bytes.len(), 136);
        let Event::SignalGenerate {
            sender,
            target,
            sig,
            result,
            ..
        } = decode(&bytes).unwrap().event
        else {
            panic!("wrong kind")
        };
        assert_eq!((sender.pid, sender.comm.as_str()), (100, "bash"));
        assert_eq!((target.pid, target.comm.as_str()), (2, "kthreadd"));
        assert_eq!((sig, result), (15, GenerateResult::Delivered));
        assert_eq!((sender.context, target.context), (None, None));
        // A format 3 record of format 4's size, and the other way.
        assert!(matches!(
            decode(&as_bytes(&e)),
            Err(DecodeError::Size { .. })
        ));
        let mut current = bytes.clone();
        current[..2].copy_from_slice(&4u16.to_le_bytes());
        assert!(matches!(decode(&current), Err(DecodeError::Size { .. })));
        for kind in EventKind::TRACED {
            let mut raw = vec![0u8; kind.record_size_in(3).unwrap()];
            raw[..size_of::<Header>()].copy_from_slice(&as_bytes(&header(kind)));
            raw[..2].copy_from_slice(&3u16.to_le_bytes());
            let rec = decode(&raw).unwrap_or_else(|e| panic!("{}: {e}", kind.name()));
            assert_eq!(rec.event.subject().context, None);
        }
    }

    #[test]
    fn format_4_tasks_carry_their_context() {
        let Event::SignalGenerate { sender, .. } = decode(&as_bytes(&generate(0))).unwrap().event
        else {
            panic!("wrong kind")
        };
        let ctx = sender.context.expect("format 4");
        assert_eq!(
            (ctx.uid, ctx.gid, ctx.cgroup_id),
            (Some(1000), Some(100), Some(77))
        );
        assert_eq!(
            (ctx.pidns, ctx.ns_pid, ctx.mntns),
            (Some(4026531836), Some(100), Some(4026531841))
        );
        // Unread fields are unknown, not root.
        let mut e = generate(0);
        e.sender.context = 0;
        e.sender.cgroup_id = 0;
        e.sender.mntns_inum = 0;
        let Event::SignalGenerate { sender, .. } = decode(&as_bytes(&e)).unwrap().event else {
            panic!("wrong kind")
        };
        let ctx = sender.context.expect("format 4");
        assert_eq!((ctx.uid, ctx.cgroup_id, ctx.mntns), (None, None, None));
    }

    #[test]
    fn each_kind_decodes_as_its_own_type() {
        for kind in EventKind::ALL {
            let mut bytes = vec![0u8; kind.record_size()];
            bytes[..size_of::<Header>()].copy_from_slice(&as_bytes(&header(kind)));
            if kind == EventKind::Throttle {
                bytes[core::mem::offset_of!(ThrottleEvent, phase)] = THROTTLE_BEGIN;
            }
            let rec = decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", kind.name()));
            assert_eq!(rec.event.kind(), kind);
            bytes.push(0);
            assert_eq!(
                decode(&bytes),
                Err(DecodeError::Size {
                    kind,
                    len: kind.record_size() + 1
                })
            );
        }
    }

    #[test]
    fn throttle_records_say_who_and_what() {
        // SAFETY: ThrottleEvent is integers and byte arrays; zero is valid.
        let mut e: ThrottleEvent = unsafe { std::mem::zeroed() };
        e.header = header(EventKind::Throttle);
        e.task = task(4242, "storm", 0x400100);
        e.uid = 65534;
        e.phase = THROTTLE_END;
        e.reasons = THROTTLE_BY_SOURCE | THROTTLE_BY_TOTAL;
        e.per_source = 1000;
        e.total = u32::MAX;
        e.first_ns = 1_000_000_000;
        e.last_ns = 3_500_000_000;
        e.dropped[usize::from(EventKind::Rename.tag())] = 998_000;
        e.dropped[usize::from(EventKind::Fork.tag())] = 3;
        let Event::Throttle { task, throttle: t } = decode(&as_bytes(&e)).unwrap().event else {
            panic!("wrong kind")
        };
        assert_eq!((task.pid, task.comm.as_str()), (4242, "storm"));
        let ctx = task.context.unwrap();
        assert_eq!((ctx.uid, ctx.gid), (Some(1000), None));
        assert_eq!((t.uid, t.phase, t.cpu), (65534, ThrottlePhase::End, 1));
        assert_eq!((t.by_source, t.by_total, t.total), (true, true, None));
        assert_eq!(
            t.dropped,
            vec![(EventKind::Fork, 3), (EventKind::Rename, 998_000)]
        );
        assert_eq!(t.dropped_total(), 998_003);
        assert_eq!(
            t.details(),
            "uid=65534 on cpu 1 dropped 998003 in 2.500s (fork 3, rename 998000; source+total)"
        );
        // A phase this build does not know is refused.
        e.phase = 7;
        assert!(decode(&as_bytes(&e)).is_err());
        // Not a record of format 4.
        e.phase = THROTTLE_BEGIN;
        e.header.version = 4;
        assert!(decode(&as_bytes(&e)).is_err());
    }

    #[test]
    fn rejects_bad_records() {
        let good = as_bytes(&generate(0));
        assert_eq!(decode(&good[..3]), Err(DecodeError::TooShort { len: 3 }));
        assert!(matches!(
            decode(&good[..good.len() - 1]),
            Err(DecodeError::Size { .. })
        ));
        let mut bad = good.clone();
        bad[2] = 99;
        assert_eq!(decode(&bad), Err(DecodeError::UnknownKind { tag: 99 }));
        let mut newer = good.clone();
        newer[0] = 200;
        assert_eq!(decode(&newer), Err(DecodeError::Version { found: 200 }));
        // No panic on any prefix.
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err());
        }
    }
}
