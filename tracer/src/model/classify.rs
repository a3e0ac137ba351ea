//! Every test people use for "is this a kernel thread?", each kept as its
//! own verdict, and one kind derived from them. Where the tests disagree
//! for a task, that is shown, never hidden.

use std::{fmt, str::FromStr};

use crate::model::flags::{PF_IO_WORKER, PF_KTHREAD, PF_USER_WORKER, PF_WQ_WORKER};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Idle,
    Init,
    Kthreadd,
    Kthread,
    Kworker,
    IoWorker,
    UserWorker,
    Helper,
    HelperChild,
    User,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Idle,
        Kind::Init,
        Kind::Kthreadd,
        Kind::Kthread,
        Kind::Kworker,
        Kind::IoWorker,
        Kind::UserWorker,
        Kind::Helper,
        Kind::HelperChild,
        Kind::User,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Idle => "idle",
            Kind::Init => "init",
            Kind::Kthreadd => "kthreadd",
            Kind::Kthread => "kthread",
            Kind::Kworker => "kworker",
            Kind::IoWorker => "io_worker",
            Kind::UserWorker => "user_worker",
            Kind::Helper => "umh",
            Kind::HelperChild => "umh_child",
            Kind::User => "user",
        }
    }

    /// Kinds started by or running for the kernel: the tasks whose
    /// signals `trace` shows by default.
    pub fn kernel_side(self) -> bool {
        !matches!(self, Kind::User | Kind::Init | Kind::Idle)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Kind, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown kind `{s}` (kinds: {})", names.join(", "))
            })
    }
}

/// Whether PID 2 (kthreadd) is in the task's ancestry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lineage {
    /// The task is kthreadd itself.
    Kthreadd,
    Yes,
    No,
    /// An ancestor is unknown (it exited before tracing began, say).
    Unknown,
}

impl Lineage {
    /// The lineage a child inherits from a parent whose pid and lineage are given.
    pub fn child_of(parent_pid: u32, parent: Lineage) -> Lineage {
        match parent {
            Lineage::Kthreadd | Lineage::Yes => Lineage::Yes,
            Lineage::No => Lineage::No,
            Lineage::Unknown if parent_pid == 2 => Lineage::Yes,
            Lineage::Unknown => Lineage::Unknown,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Lineage::Kthreadd => "self",
            Lineage::Yes => "yes",
            Lineage::No => "no",
            Lineage::Unknown => "unknown",
        }
    }

    fn vote(self) -> Option<bool> {
        match self {
            Lineage::Kthreadd | Lineage::Yes => Some(true),
            Lineage::No => Some(false),
            Lineage::Unknown => None,
        }
    }
}

/// User-mode helper standing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelperStanding {
    No,
    /// Not PF_KTHREAD, made by a kernel thread (a kworker, or kthreadd for
    /// CLONE_PARENT helpers): a user-mode helper, before or after its exec.
    Helper,
    /// A descendant of a helper.
    Child,
}

/// The inputs to classification for one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facts<'a> {
    pub pid: u32,
    pub flags: u32,
    pub has_mm: bool,
    pub comm: &'a str,
    pub lineage: Lineage,
    pub helper: HelperStanding,
    /// In the root cgroup (`0::/`); None when unknown.
    pub root_cgroup: Option<bool>,
    /// The `Kthread:` line of /proc/PID/status, where offered.
    pub kthread_line: Option<bool>,
}

/// Each test's own answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdicts {
    pub pf_kthread: bool,
    pub no_mm: bool,
    pub kthreadd_lineage: Lineage,
    pub root_cgroup: Option<bool>,
    /// False where PID 1 itself sits in the root cgroup, so membership
    /// says nothing about kernel threads.
    pub root_cgroup_reliable: bool,
    pub io_worker: bool,
    pub user_worker: bool,
    pub umh: bool,
    pub umh_child: bool,
    /// `Kthread:` disagrees with the PF_KTHREAD bit (never expected).
    pub kthread_line_mismatch: bool,
}

impl Verdicts {
    pub fn of(f: &Facts<'_>, root_cgroup_reliable: bool) -> Verdicts {
        let pf_kthread = f.flags & PF_KTHREAD != 0;
        Verdicts {
            pf_kthread,
            no_mm: !f.has_mm,
            kthreadd_lineage: f.lineage,
            root_cgroup: f.root_cgroup,
            root_cgroup_reliable,
            io_worker: f.flags & PF_IO_WORKER != 0,
            user_worker: f.flags & PF_USER_WORKER != 0,
            umh: f.helper == HelperStanding::Helper,
            umh_child: f.helper == HelperStanding::Child,
            kthread_line_mismatch: f.kthread_line.is_some_and(|k| k != pf_kthread),
        }
    }

    /// Whether the tests give different answers to "is this a kernel
    /// thread?". Unknown and unreliable tests abstain; the worker bits only
    /// ever vote yes (they mark kernel threads of userspace origin).
    pub fn disagree(&self) -> bool {
        let mut votes = vec![self.pf_kthread, self.no_mm];
        votes.extend(self.kthreadd_lineage.vote());
        if self.root_cgroup_reliable {
            votes.extend(self.root_cgroup);
        }
        if self.io_worker || self.user_worker {
            votes.push(true);
        }
        votes.iter().any(|&v| v != votes[0]) || self.kthread_line_mismatch
    }
}

/// The single kind, from the facts.
pub fn kind(f: &Facts<'_>) -> Kind {
    match f.pid {
        0 => return Kind::Idle,
        1 => return Kind::Init,
        2 => return Kind::Kthreadd,
        _ => {}
    }
    // Before 5.17 a helper keeps PF_KTHREAD (and its kworker's name) until
    // it execs: its standing, decided at birth, comes first.
    if f.helper == HelperStanding::Helper {
        return Kind::Helper;
    }
    if f.flags & PF_KTHREAD != 0 {
        if f.flags & PF_WQ_WORKER != 0 || f.comm.starts_with("kworker/") {
            Kind::Kworker
        } else {
            Kind::Kthread
        }
    } else if f.flags & PF_IO_WORKER != 0 {
        Kind::IoWorker
    } else if f.flags & PF_USER_WORKER != 0 {
        Kind::UserWorker
    } else {
        match f.helper {
            HelperStanding::Helper => Kind::Helper,
            HelperStanding::Child => Kind::HelperChild,
            HelperStanding::No => Kind::User,
        }
    }
}

/// Kind from one event's task snapshot alone, for tasks the table does not
/// know (their lineage, and so umh standing, is unknown).
pub fn kind_from_flags(pid: u32, flags: u32, comm: &str) -> Kind {
    kind(&Facts {
        pid,
        flags,
        has_mm: true,
        comm,
        lineage: Lineage::Unknown,
        helper: HelperStanding::No,
        root_cgroup: None,
        kthread_line: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(
        pid: u32,
        flags: u32,
        has_mm: bool,
        lineage: Lineage,
        helper: HelperStanding,
    ) -> Facts<'static> {
        Facts {
            pid,
            flags,
            has_mm,
            comm: "x",
            lineage,
            helper,
            root_cgroup: None,
            kthread_line: None,
        }
    }

    #[test]
    fn kinds_and_disagreements() {
        let kworker = facts(40, 0x4208060, false, Lineage::Yes, HelperStanding::No);
        assert_eq!(kind(&kworker), Kind::Kworker);
        assert!(!Verdicts::of(&kworker, true).disagree());

        let helper = facts(900, 0x400100, true, Lineage::Yes, HelperStanding::Helper);
        assert_eq!(kind(&helper), Kind::Helper);
        assert!(
            Verdicts::of(&helper, true).disagree(),
            "kernel ancestry, user mm"
        );

        let iou = facts(901, 0x404050, true, Lineage::No, HelperStanding::No);
        assert_eq!(kind(&iou), Kind::IoWorker);
        assert!(Verdicts::of(&iou, true).disagree());

        let user = facts(902, 0x400100, true, Lineage::No, HelperStanding::No);
        assert_eq!(kind(&user), Kind::User);
        assert!(!Verdicts::of(&user, true).disagree());

        let zombie = facts(903, 0x40010c, false, Lineage::No, HelperStanding::No);
        assert!(
            Verdicts::of(&zombie, true).disagree(),
            "no mm, yet a user task"
        );

        assert_eq!(
            kind(&facts(
                2,
                0x208040,
                false,
                Lineage::Kthreadd,
                HelperStanding::No
            )),
            Kind::Kthreadd
        );
        assert_eq!(
            kind(&facts(1, 0x400100, true, Lineage::No, HelperStanding::No)),
            Kind::Init
        );
        assert_eq!(
            kind(&facts(0, 0x200000, false, Lineage::No, HelperStanding::No)),
            Kind::Idle
        );
    }

    #[test]
    fn root_cgroup_votes_only_where_reliable() {
        let mut user = facts(902, 0x400100, true, Lineage::No, HelperStanding::No);
        user.root_cgroup = Some(true);
        assert!(!Verdicts::of(&user, false).disagree());
        assert!(Verdicts::of(&user, true).disagree());
    }

    #[test]
    fn parses_kind_names() {
        assert_eq!("umh_child".parse::<Kind>(), Ok(Kind::HelperChild));
        assert!("thread"
            .parse::<Kind>()
            .unwrap_err()
            .contains("kinds: idle"));
    }
}
