//! `task->flags` bits (include/linux/sched.h), the user-mode helper rule
//! both sides apply, and [`NAMES`], the names of the bits per kernel version.
//!
//! The consts below are the bits the eBPF side tests; their values hold on
//! every kernel the tracer supports, except [`PF_USER_WORKER`], which means
//! a user worker only from 6.4 (the bit is a hole, never set, before).

pub const PF_EXITING: u32 = 0x4;
pub const PF_IO_WORKER: u32 = 0x10;
pub const PF_WQ_WORKER: u32 = 0x20;
/// Set on a task while it dumps core (and on the helper request it queues
/// for a `core_pattern` pipe).
pub const PF_DUMPCORE: u32 = 0x200;
pub const PF_USER_WORKER: u32 = 0x4000;
pub const PF_KTHREAD: u32 = 0x0020_0000;

/// Flags that make a task kernel-side by themselves.
pub const KERNEL_SIDE_FLAGS: u32 = PF_KTHREAD | PF_IO_WORKER | PF_USER_WORKER;

/// Helper standing of a new task (a [`crate::HELPER_MARK`] /
/// [`crate::HELPER_CHILD_MARK`], or 0), from its creator (or, in a
/// /proc snapshot, its real parent): a task made by a kernel thread that is
/// not itself a kernel thread or worker is a user-mode helper (a kworker
/// running call_usermodehelper, or kthreadd for CLONE_PARENT helpers); one
/// made by a helper or its descendant is a descendant.
///
/// Before 5.17 helpers came from `kernel_thread()` and kept PF_KTHREAD until
/// their exec. Every other kernel thread is forked by kthreadd (pid 2), or
/// by the idle task at boot, so a kernel thread forked by another kernel
/// thread is a helper too. `creator_is_helper`: the creator's group is
/// marked (a helper or a descendant of one).
pub const fn helper_mark(
    child_flags: u32,
    creator_flags: u32,
    creator_pid: u32,
    creator_is_helper: bool,
) -> u32 {
    let creator_is_kthread = creator_flags & PF_KTHREAD != 0;
    if child_flags & (PF_IO_WORKER | PF_USER_WORKER) != 0 {
        0
    } else if child_flags & PF_KTHREAD != 0 {
        if creator_is_kthread && creator_pid > 2 {
            crate::HELPER_MARK
        } else {
            0
        }
    } else if creator_is_kthread {
        crate::HELPER_MARK
    } else if creator_is_helper {
        crate::HELPER_CHILD_MARK
    } else {
        0
    }
}

/// A kernel version, `(major, minor)`: `(6, 12)` for 6.12.117.
pub type KernelVersion = (u16, u16);

/// The oldest kernel whose `sched.h` was checked (Debian 5.10.0-32 and
/// -46). Bits are named from here on only; older kernels get hex.
pub const OLDEST_CHECKED: KernelVersion = (5, 10);

/// The newest kernel whose `sched.h` was checked (Debian 7.3.4). Ranges
/// that are still open (`until: None`) go on past it.
pub const NEWEST_CHECKED: KernelVersion = (7, 3);

/// One name of one bit over a range of kernel versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PfName {
    pub bit: u32,
    /// The macro's name without `PF_`.
    pub name: &'static str,
    /// First kernel with this meaning, inclusive.
    pub since: KernelVersion,
    /// First kernel without it (exclusive), or `None` if still current.
    pub until: Option<KernelVersion>,
}

impl PfName {
    /// Whether this name holds on `v`.
    pub const fn holds_on(&self, v: KernelVersion) -> bool {
        version_le(self.since, v)
            && match self.until {
                Some(until) => !version_le(until, v),
                None => true,
            }
    }
}

/// `a <= b`.
pub const fn version_le(a: KernelVersion, b: KernelVersion) -> bool {
    a.0 < b.0 || (a.0 == b.0 && a.1 <= b.1)
}

const fn n(bit: u32, name: &'static str, since: KernelVersion) -> PfName {
    PfName {
        bit,
        name,
        since,
        until: None,
    }
}

const fn gone(bit: u32, name: &'static str, since: KernelVersion, until: KernelVersion) -> PfName {
    PfName {
        bit,
        name,
        since,
        until: Some(until),
    }
}

const O: KernelVersion = OLDEST_CHECKED;

/// Every name of every `PF_*` bit, in display order: what a task is first
/// (as the tracer always showed them), then its state, then the rest in bit
/// order. `PF__HOLE__*` entries (unused bits) are never named.
///
/// Checked against the `#define PF_*` lines of Debian's
/// `linux-headers-<ver>-common` for 5.10.0-32/-46, 6.1.0-47/-50,
/// 6.12.95/.107/.117, 7.2.6/.12 and 7.3.4 (fixtures in
/// `xtask/tests/fixtures/sched_h/`); boundaries between those come from the
/// upstream commits named below. A bit is named in a version only where the
/// kernel itself defines it; elsewhere it is shown as hex. Where a stable
/// backport brought a bit into a series part way (x.y.z), the range starts
/// at the x.y whose headers all define it, or at the next mainline release.
pub const NAMES: &[PfName] = &[
    // What the task is.
    n(PF_KTHREAD, "KTHREAD", O),
    // 5.5 (io-wq); since 5.12 a thread of the user process.
    n(PF_IO_WORKER, "IO_WORKER", O),
    // 6.4 (vhost_task / create_io_thread rework); a hole in 6.1 to 6.3.
    n(PF_USER_WORKER, "USER_WORKER", (6, 4)),
    n(PF_WQ_WORKER, "WQ_WORKER", O),
    n(0x0002_0000, "KSWAPD", O),
    // Mainline 6.14 ("NFS: fix nfs_release_folio() to not deadlock via
    // kcompactd writeback"), backported to 6.12.y (in 6.12.95 onward); the
    // bit was a hole (never set) from 6.1 until then.
    n(0x0001_0000, "KCOMPACTD", (6, 12)),
    n(0x2, "IDLE", O),
    n(0x1, "VCPU", O),
    // The task's state, in the order the tracer always showed them.
    n(PF_EXITING, "EXITING", O),
    // 5.16 ("coredump: Don't perform any cleanups before dumping core");
    // unused in 5.10 (PF_EXITPIDONE left in 5.5).
    n(0x8, "POSTCOREDUMP", (5, 16)),
    n(0x40, "FORKNOEXEC", O),
    n(0x100, "SUPERPRIV", O),
    n(0x200, "DUMPCORE", O),
    n(0x400, "SIGNALED", O),
    n(0x800, "MEMALLOC", O),
    n(0x8000, "NOFREEZE", O),
    n(0x0040_0000, "RANDOMIZE", O),
    n(0x0400_0000, "NO_SETAFFINITY", O),
    // The rest, in bit order.
    n(0x80, "MCE_PROCESS", O),
    n(0x1000, "NPROC_EXCEEDED", O),
    n(0x2000, "USED_MATH", O),
    // Both gone in 6.1 ("freezer,sched: Rewrite core freezer logic").
    gone(0x0001_0000, "FROZEN", O, (6, 1)),
    n(0x0004_0000, "MEMALLOC_NOFS", O),
    n(0x0008_0000, "MEMALLOC_NOIO", O),
    n(0x0010_0000, "LOCAL_THROTTLE", O),
    // Gone in 5.19 ("mm/fs: delete PF_SWAPWRITE"); a hole after.
    gone(0x0080_0000, "SWAPWRITE", O, (5, 19)),
    // New in 7.3 (7.3.4 has it, 7.2.6 and 7.2.12 do not), backported to
    // 6.12.y between 6.12.107 and 6.12.117: on 6.12 it stays hex, since
    // earlier 6.12.y kernels do not define it.
    n(0x0080_0000, "NO_NOTIFY_SIGNAL", (7, 3)),
    n(0x0800_0000, "MCE_EARLY", O),
    // Renamed in 5.12 ("mm cma: rename PF_MEMALLOC_NOCMA to PF_MEMALLOC_PIN").
    gone(0x1000_0000, "MEMALLOC_NOCMA", O, (5, 12)),
    n(0x1000_0000, "MEMALLOC_PIN", (5, 12)),
    // 6.9 ("block: cache current nsec time in struct blk_plug"); a hole
    // before (6.1).
    n(0x2000_0000, "BLOCK_TS", (6, 9)),
    gone(0x4000_0000, "FREEZER_SKIP", O, (6, 1)),
    n(0x8000_0000, "SUSPEND_TASK", O),
];

/// The name of `bit` (one bit) on kernel `v`, if the table knows one.
pub const fn name_of(bit: u32, v: KernelVersion) -> Option<&'static str> {
    let mut i = 0;
    while i < NAMES.len() {
        if NAMES[i].bit == bit && NAMES[i].holds_on(v) {
            return Some(NAMES[i].name);
        }
        i += 1;
    }
    None
}

/// The bit that marks a user worker on kernel `v`: [`PF_USER_WORKER`] from
/// 6.4, none (0) before, where 0x4000 is an unused hole.
pub const fn user_worker_bit(v: KernelVersion) -> u32 {
    if version_le((6, 4), v) {
        PF_USER_WORKER
    } else {
        0
    }
}

/// `(major, minor)` from a release string such as `5.10.0-32-cloud-amd64`,
/// `6.12.117+deb13-amd64` or `6.18.44-fc-v595`; `None` if it does not start
/// with `<digits>.<digits>`.
pub fn parse_release(release: &str) -> Option<KernelVersion> {
    let mut parts = release.trim().splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?;
    let end = minor
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(minor.len());
    let minor = minor[..end].parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_with_and_without_pf_kthread() {
        use crate::{HELPER_CHILD_MARK, HELPER_MARK};
        const KWORKER: u32 = PF_KTHREAD | PF_WQ_WORKER;
        // 5.17+: user_mode_thread() clears PF_KTHREAD.
        assert_eq!(helper_mark(0x40, KWORKER, 12, false), HELPER_MARK);
        // Before: kernel_thread() from a kworker keeps it until exec.
        assert_eq!(
            helper_mark(PF_KTHREAD | 0x40, KWORKER, 12, false),
            HELPER_MARK
        );
        // kthreadd's kthreads and the idle task's are not helpers.
        assert_eq!(helper_mark(PF_KTHREAD | 0x40, PF_KTHREAD, 2, false), 0);
        assert_eq!(helper_mark(PF_KTHREAD, PF_KTHREAD | 0x2, 0, false), 0);
        // Workers never are; a helper's children are descendants.
        assert_eq!(helper_mark(PF_IO_WORKER | PF_USER_WORKER, 0, 100, true), 0);
        assert_eq!(helper_mark(0x40, 0, 100, true), HELPER_CHILD_MARK);
        assert_eq!(helper_mark(0x40, 0, 100, false), 0);
    }

    #[test]
    fn one_name_per_bit_and_version() {
        for a in NAMES {
            assert_eq!(a.bit.count_ones(), 1, "{}", a.name);
            for b in NAMES {
                if core::ptr::eq(a, b) || a.bit != b.bit {
                    continue;
                }
                let overlap = match (a.until, b.until) {
                    (Some(au), Some(bu)) => !version_le(au, b.since) && !version_le(bu, a.since),
                    (Some(au), None) => !version_le(au, b.since),
                    (None, Some(bu)) => !version_le(bu, a.since),
                    (None, None) => true,
                };
                assert!(!overlap, "{} and {} overlap", a.name, b.name);
            }
        }
    }

    #[test]
    fn boundaries() {
        assert_eq!(name_of(0x4000, (6, 1)), None);
        assert_eq!(name_of(0x4000, (6, 3)), None);
        assert_eq!(name_of(0x4000, (6, 4)), Some("USER_WORKER"));
        assert_eq!(name_of(0x10000, (5, 10)), Some("FROZEN"));
        assert_eq!(name_of(0x10000, (6, 1)), None);
        assert_eq!(name_of(0x10000, (6, 12)), Some("KCOMPACTD"));
        assert_eq!(name_of(0x800000, (5, 10)), Some("SWAPWRITE"));
        assert_eq!(name_of(0x800000, (6, 12)), None);
        assert_eq!(name_of(0x800000, (7, 3)), Some("NO_NOTIFY_SIGNAL"));
        assert_eq!(name_of(0x8, (5, 10)), None);
        assert_eq!(name_of(0x8, (6, 1)), Some("POSTCOREDUMP"));
        assert_eq!(name_of(PF_KTHREAD, (5, 4)), None);
        assert_eq!(user_worker_bit((6, 1)), 0);
        assert_eq!(user_worker_bit((6, 18)), PF_USER_WORKER);
    }

    #[test]
    fn parses_releases() {
        assert_eq!(parse_release("5.10.0-32-cloud-amd64"), Some((5, 10)));
        assert_eq!(parse_release("6.18.44-fc-v595"), Some((6, 18)));
        assert_eq!(parse_release("6.12.117+deb13-amd64"), Some((6, 12)));
        assert_eq!(parse_release("7.3-rc1"), Some((7, 3)));
        assert_eq!(parse_release("6.1\n"), Some((6, 1)));
        assert_eq!(parse_release("linux"), None);
        assert_eq!(parse_release("6"), None);
        assert_eq!(parse_release(""), None);
    }
}
