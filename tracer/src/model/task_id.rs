//! Task ids that name one task on every output, across rotated files,
//! boots and hosts.
//!
//! A pid names a task only on one boot and only while it lives; a pid plus
//! a start time only on one boot. A `task_id` adds the boot and the
//! machine:
//!
//! ```text
//! task_id = BOOT "-" START "-" PID
//! BOOT    = 16 lower-case hex digits: FNV-1a 64 of machine_id "\n" boot_id
//! START   = the task's start time in clock ticks since boot (decimal),
//!           as /proc/PID/stat field 22 gives it
//! PID     = the task's pid (thread id), decimal
//! ```
//!
//! The start time is in clock ticks (USER_HZ), not nanoseconds, because a
//! task first seen in a /proc snapshot has only that precision: the same
//! task seen by an event (nanoseconds, truncated to the tick) and by the
//! snapshot gets the same id. Two tasks share an id only if the kernel
//! reused a pid within one clock tick. `machine_id` is /etc/machine-id;
//! where a log predates it (or the file is missing) it is the empty
//! string, and the random boot id still keeps ids apart across machines.
//! FNV-1a is chosen for being documented and easy to recompute in any
//! query engine, not for strength: ids are names, not secrets.

use std::fmt;

use super::event::Task;

/// The boot part of a task id: one per (machine, boot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BootKey(u64);

impl BootKey {
    /// The key of boot `boot_id` of machine `machine_id` (empty if unknown).
    pub fn new(machine_id: &str, boot_id: &str) -> Self {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0100_0000_01b3;
        let bytes = machine_id.bytes().chain([b'\n']).chain(boot_id.bytes());
        Self(bytes.fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME)))
    }

    /// The id of the task `pid` that started `start_ticks` clock ticks
    /// after this boot.
    pub fn task(self, start_ticks: u64, pid: u32) -> TaskId {
        TaskId {
            boot: self,
            start_ticks,
            pid,
        }
    }
}

/// One task's id (see the module doc); `Display` gives its text form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskId {
    pub boot: BootKey,
    pub start_ticks: u64,
    pub pid: u32,
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}-{}-{}", self.boot.0, self.start_ticks, self.pid)
    }
}

/// Names the tasks of one boot: its key, and its clock tick to bring an
/// event's nanosecond start time down to the snapshot's precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskIds {
    pub boot: BootKey,
    pub ns_per_tick: u64,
}

impl TaskIds {
    /// Task ids of boot `boot`, whose clock ticks `ticks_per_sec` times a
    /// second (USER_HZ, a log header's `ticks_per_sec`).
    pub fn new(boot: BootKey, ticks_per_sec: u64) -> Self {
        Self {
            boot,
            // At least 1: a damaged log's clock rate must not divide by zero.
            ns_per_tick: (1_000_000_000 / ticks_per_sec.max(1)).max(1),
        }
    }

    /// The id of task `pid` that started `start_ns` after boot (the boot
    /// clock, as events and the task table hold it).
    pub fn of_start(&self, pid: u32, start_ns: u64) -> TaskId {
        self.boot.task(start_ns / self.ns_per_tick, pid)
    }

    /// The id of a task as an event saw it.
    pub fn of(&self, t: &Task) -> TaskId {
        self.of_start(t.pid, t.start_ns)
    }
}

impl Default for TaskIds {
    /// An unknown machine and boot at 100 ticks a second: a placeholder
    /// until the table is told whose tasks it holds.
    fn default() -> Self {
        Self::new(BootKey::new("", ""), 100)
    }
}

/// The boot key of the running boot: the machine id as a new log's header
/// records it (`TRACER_MACHINE_ID` overrides it, see `dev`) and the boot
/// id under procfs root `proc_root`, so live ids match a recording's.
pub fn this_boot(proc_root: &std::path::Path) -> BootKey {
    let machine = std::env::var("TRACER_MACHINE_ID")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(this_machine_id);
    let boot = std::fs::read_to_string(proc_root.join("sys/kernel/random/boot_id"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    BootKey::new(&machine, &boot)
}

/// This machine's id (/etc/machine-id, else the D-Bus copy), or "" if
/// neither is readable.
pub fn this_machine_id() -> String {
    ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .find_map(|p| {
            let id = std::fs::read_to_string(p).ok()?;
            let id = id.trim();
            (!id.is_empty()).then(|| id.to_string())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_is_the_documented_construction() {
        // FNV-1a 64 of "\n" alone: offset ^ 0x0a, times the prime.
        let expect = (0xcbf2_9ce4_8422_2325_u64 ^ 0x0a).wrapping_mul(0x0100_0000_01b3);
        let id = BootKey::new("", "").task(1234, 42);
        assert_eq!(id.to_string(), format!("{expect:016x}-1234-42"));
    }

    #[test]
    fn ids_differ_by_machine_boot_start_and_pid() {
        let a = BootKey::new("m1", "b1");
        assert_ne!(a, BootKey::new("m2", "b1"));
        assert_ne!(a, BootKey::new("m1", "b2"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(BootKey::new("ab", "c"), BootKey::new("a", "bc"));
        assert_ne!(a.task(1, 7), a.task(2, 7));
        assert_ne!(a.task(1, 7), a.task(1, 8));
        assert_eq!(a.task(1, 7), BootKey::new("m1", "b1").task(1, 7));
    }

    #[test]
    fn an_exact_start_and_its_tick_name_one_task() {
        let ids = TaskIds::new(BootKey::new("m", "b"), 100);
        // A snapshot's tick 1234 and an event's 12_345_678_901 ns agree.
        assert_eq!(ids.of_start(9, 12_345_678_901), ids.boot.task(1234, 9));
        assert_eq!(ids.of_start(9, 1234 * 10_000_000), ids.boot.task(1234, 9));
        assert_ne!(ids.of_start(9, 1235 * 10_000_000), ids.boot.task(1234, 9));
        // A damaged clock rate neither divides by zero nor panics.
        assert_eq!(TaskIds::new(ids.boot, 0).ns_per_tick, 1_000_000_000);
        assert_eq!(TaskIds::new(ids.boot, u64::MAX).ns_per_tick, 1);
    }
}
