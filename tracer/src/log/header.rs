//! The log header: what makes a log self-describing.

use bytes::BufMut;
use tracer_common::{EventKind, KernelFilter};

use super::codec::{put_opt_str, put_str, Dec, Short};
use crate::model::{
    clock::WallClock,
    event::Missing,
    flags::PfNames,
    procfs::{ProcTask, MAX_SNAPSHOT_ARGS},
    task_id::BootKey,
    tasks::TaskTable,
};

/// Linux's PID_MAX_LIMIT: no snapshot holds more tasks.
const MAX_TASKS: usize = 4 << 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogHeader {
    /// `tracer_common::FORMAT_VERSION` of the event records.
    pub event_format: u16,
    pub tracer_version: String,
    pub kernel_release: String,
    pub hostname: String,
    pub boot_id: String,
    /// /etc/machine-id of the recording machine (log version 4; empty
    /// before, or where the machine has none): with `boot_id`, it makes
    /// task ids unique across hosts (`model::task_id`).
    pub machine_id: String,
    /// Wall-clock ns since the epoch at boot-clock zero.
    pub boot_epoch_ns: i64,
    /// Boot-clock ns when recording began.
    pub started_boot_ns: u64,
    /// USER_HZ of the recording machine (unit of the snapshot's start times).
    pub ticks_per_sec: u64,
    /// PID 1's cgroup v2 path there.
    pub init_cgroup: Option<String>,
    /// What the kernel was told to drop while recording.
    pub kernel_filter: KernelFilter,
    /// Every task that existed when recording began.
    pub tasks: Vec<ProcTask>,
    /// Events the kernel's refusals left out (log version 2; none before).
    pub missing: Vec<Missing>,
    /// Where this file stands in a recording (log version 3; zero before).
    pub part: Part,
}

/// A file's place in one recording session that rotates or reopens its
/// log: readers chain the files of a session and see a missing one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Part {
    /// Random, the same in every file of one `tracer record` run (0: a log
    /// from before log version 3).
    pub session: u64,
    /// 0 for the first file, then one more per rotation or reopen.
    pub sequence: u32,
}

impl LogHeader {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16_le(self.event_format);
        put_str(out, &self.tracer_version);
        put_str(out, &self.kernel_release);
        put_str(out, &self.hostname);
        put_str(out, &self.boot_id);
        out.put_i64_le(self.boot_epoch_ns);
        out.put_u64_le(self.started_boot_ns);
        out.put_u64_le(self.ticks_per_sec);
        put_opt_str(out, self.init_cgroup.as_deref());
        let f = &self.kernel_filter;
        out.put_u32_le(f.event_mask);
        out.put_u32_le(f.pid);
        out.put_u32_le(f.signals);
        out.put_u32_le(self.tasks.len() as u32);
        for t in &self.tasks {
            out.put_u32_le(t.pid);
            out.put_u32_le(t.tgid);
            out.put_u32_le(t.ppid);
            out.put_u32_le(t.flags);
            out.put_u64_le(t.start_ticks);
            out.put_u32_le(t.state as u32);
            out.put_u8(u8::from(t.has_mm));
            out.put_u8(match t.kthread_line {
                None => 0,
                Some(false) => 1,
                Some(true) => 2,
            });
            put_str(out, &t.comm);
            put_opt_str(out, t.cgroup.as_deref());
            out.put_u32_le(t.argv.len() as u32);
            for a in &t.argv {
                put_str(out, a);
            }
        }
        out.put_u32_le(self.missing.len() as u32);
        for m in &self.missing {
            out.put_u16_le(m.kind.tag());
            put_str(out, &m.reason);
        }
        out.put_u64_le(self.part.session);
        out.put_u32_le(self.part.sequence);
        put_str(out, &self.machine_id);
    }

    /// Decodes the header of a log of `log_version` (1 has no `missing`, 2
    /// no `part`, 3 no `machine_id`).
    pub fn decode(payload: &[u8], log_version: u16) -> Result<LogHeader, Short> {
        let mut d = Dec::new(payload);
        let event_format = d.u16("event format")?;
        let tracer_version = d.str("tracer version")?;
        let kernel_release = d.str("kernel release")?;
        let hostname = d.str("hostname")?;
        let boot_id = d.str("boot id")?;
        let boot_epoch_ns = d.i64("boot epoch")?;
        let started_boot_ns = d.u64("start time")?;
        let ticks_per_sec = d.u64("clock ticks")?;
        if !(1..=1_000_000_000).contains(&ticks_per_sec) {
            return Err(Short("clock ticks"));
        }
        let init_cgroup = d.opt_str("init cgroup")?;
        let kernel_filter = KernelFilter {
            event_mask: d.u32("filter")?,
            pid: d.u32("filter")?,
            signals: d.u32("filter")?,
            _pad: 0,
        };
        let count = d.u32("task count")? as usize;
        if count > MAX_TASKS {
            return Err(Short("task snapshot (more tasks than pids)"));
        }
        // Each task takes at least 38 bytes: a count beyond that is damage.
        if count > d.remaining() / 38 {
            return Err(Short("task snapshot"));
        }
        let mut tasks = Vec::with_capacity(count);
        for _ in 0..count {
            let pid = d.u32("task")?;
            let tgid = d.u32("task")?;
            let ppid = d.u32("task")?;
            let flags = d.u32("task")?;
            let start_ticks = d.u64("task")?;
            let state = char::from_u32(d.u32("task")?).unwrap_or('?');
            let has_mm = d.u8("task")? != 0;
            let kthread_line = match d.u8("task")? {
                0 => None,
                1 => Some(false),
                _ => Some(true),
            };
            let comm = d.str("task comm")?;
            let cgroup = d.opt_str("task cgroup")?;
            let argc = d.u32("task argv")? as usize;
            if argc > d.remaining() / 4 {
                return Err(Short("task argv"));
            }
            // Snapshots keep at most this many; more is a crafted header,
            // read past without keeping it (memory stays bounded).
            let mut argv = Vec::with_capacity(argc.min(MAX_SNAPSHOT_ARGS));
            for i in 0..argc {
                let arg = d.str("task argv")?;
                if i < MAX_SNAPSHOT_ARGS {
                    argv.push(arg);
                }
            }
            tasks.push(ProcTask {
                pid,
                tgid,
                ppid,
                flags,
                comm,
                start_ticks,
                state,
                has_mm,
                kthread_line,
                cgroup,
                argv,
            });
        }
        let mut missing = Vec::new();
        if log_version >= 2 {
            let count = d.u32("missing events")? as usize;
            // Each entry takes at least 6 bytes.
            if count > d.remaining() / 6 {
                return Err(Short("missing events"));
            }
            for _ in 0..count {
                let kind = EventKind::from_tag(d.u16("missing events")?)
                    .ok_or(Short("missing event kind"))?;
                missing.push(Missing {
                    kind,
                    reason: d.str("missing events")?,
                });
            }
        }
        let part = if log_version >= 3 {
            Part {
                session: d.u64("session")?,
                sequence: d.u32("sequence")?,
            }
        } else {
            Part::default()
        };
        let machine_id = if log_version >= 4 {
            d.str("machine id")?
        } else {
            String::new()
        };
        Ok(LogHeader {
            part,
            machine_id,
            event_format,
            tracer_version,
            kernel_release,
            hostname,
            boot_id,
            boot_epoch_ns,
            started_boot_ns,
            ticks_per_sec,
            init_cgroup,
            kernel_filter,
            tasks,
            missing,
        })
    }
}

/// What a reader rebuilds from the header to see records as the recording
/// session saw them.
impl LogHeader {
    /// The task table as it stood when recording began. The snapshot moves
    /// into it (a big header is not held twice), leaving `tasks` empty.
    pub fn take_task_table(&mut self) -> TaskTable {
        let mut table = TaskTable::from_snapshot(
            std::mem::take(&mut self.tasks),
            self.init_cgroup.as_deref(),
            self.ticks_per_sec,
        );
        table.identify(BootKey::new(&self.machine_id, &self.boot_id));
        // Kernel addresses in the log are its boot's (KASLR): name them only
        // on that boot.
        let here = std::fs::read_to_string("/proc/sys/kernel/random/boot_id");
        if here.is_ok_and(|id| id.trim() == self.boot_id) {
            table.name_functions_from(crate::model::kallsyms::Kallsyms::running());
        }
        if self.missing.iter().any(|m| m.kind == EventKind::Exec) {
            table.execs_unseen();
        }
        table
    }

    /// Boot-clock times to wall-clock times, as on the recording machine.
    pub fn wall_clock(&self) -> WallClock {
        WallClock {
            boot_epoch_ns: i128::from(self.boot_epoch_ns),
        }
    }

    /// PF_* names as the recording kernel had them.
    pub fn pf_names(&self) -> PfNames {
        PfNames::for_release(&self.kernel_release)
    }
}

/// Facts about this machine for a new header.
pub struct Machine {
    pub kernel_release: String,
    pub hostname: String,
    pub boot_id: String,
    pub machine_id: String,
}

/// This machine's facts. `TRACER_HOST_NAME` and `TRACER_MACHINE_ID`
/// override the host's identity, so that tests on one machine can record
/// the logs of several "hosts" (see `dev`).
pub fn machine() -> Machine {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    Machine {
        kernel_release: read("/proc/sys/kernel/osrelease"),
        hostname: env("TRACER_HOST_NAME").unwrap_or_else(|| read("/proc/sys/kernel/hostname")),
        boot_id: read("/proc/sys/kernel/random/boot_id"),
        machine_id: env("TRACER_MACHINE_ID").unwrap_or_else(crate::model::task_id::this_machine_id),
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn sample() -> LogHeader {
        LogHeader {
            event_format: tracer_common::FORMAT_VERSION,
            tracer_version: "0.1.0".into(),
            kernel_release: "6.18.0".into(),
            hostname: "box".into(),
            boot_id: "abc".into(),
            machine_id: "m1".into(),
            boot_epoch_ns: 1_795_000_000_000_000_000,
            started_boot_ns: 5_000_000_000,
            ticks_per_sec: 100,
            init_cgroup: Some("/init.scope".into()),
            kernel_filter: KernelFilter::ALL,
            tasks: vec![ProcTask {
                pid: 2,
                tgid: 2,
                ppid: 0,
                flags: 0x208040,
                comm: "kthreadd".into(),
                start_ticks: 1,
                state: 'S',
                has_mm: false,
                kthread_line: Some(true),
                cgroup: Some("/".into()),
                argv: vec![],
            }],
            missing: vec![Missing {
                kind: EventKind::SignalGenerate,
                reason: "R3 invalid mem access 'scalar'".into(),
            }],
            part: Part {
                session: 0x1234_5678_9abc,
                sequence: 7,
            },
        }
    }

    #[test]
    fn round_trips_and_rejects_every_truncation() {
        let h = sample();
        let mut buf = Vec::new();
        h.encode(&mut buf);
        assert_eq!(
            LogHeader::decode(&buf, super::super::frame::LOG_VERSION),
            Ok(h)
        );
        for cut in 0..buf.len() {
            assert!(
                LogHeader::decode(&buf[..cut], super::super::frame::LOG_VERSION).is_err(),
                "cut at {cut}"
            );
        }
    }
}
