//! What the table adds to one event.

use super::{ancestry::Ids, entry::Killer};
use crate::model::{classify::Kind, event::HelperRequest, kthreads::KthreadInfo, task_id::TaskId};

/// What the table adds to one event: the kinds of the tasks it concerns,
/// and for helpers and deaths, the story around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    pub subject: Kind,
    /// The creator of a fork, the sender of a signal.
    pub other: Option<Kind>,
    /// Exec or exit of a user-mode helper or its descendant.
    pub helper: Option<HelperInfo>,
    /// Exit by a signal whose generation was seen: who sent it.
    pub killer: Option<Killer>,
    /// Exit: how long the task lived, when its start is known.
    pub lifetime_ns: Option<u64>,
    /// Task ids of its tasks, the subject's parent and ancestors.
    pub ids: Ids,
    /// Fork of a kernel thread kthreadd made: whom it was made for.
    pub kthread: Option<Box<KthreadInfo>>,
}

impl Annotation {
    pub(super) fn kinds(subject: Kind, other: Option<Kind>) -> Annotation {
        Annotation {
            subject,
            other,
            helper: None,
            killer: None,
            lifetime_ns: None,
            ids: Ids::default(),
            kthread: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelperInfo {
    /// The task that created it (for a helper, the kworker), when seen.
    pub spawner: Option<(u32, Box<str>)>,
    /// The spawner's task id, when seen.
    pub spawner_id: Option<TaskId>,
    /// The program it exec'd.
    pub exe: Option<Box<str>>,
    /// For a helper: the request it ran for, when its start was seen.
    pub request: Option<Box<HelperRequest>>,
    /// Why the requester asked ([`HelperRequest::reason`]).
    pub reason: Option<String>,
    /// The requester's kind, when seen.
    pub requester_kind: Option<Kind>,
    /// At its exit: a helper born while tracing that never exec'd, so the
    /// kernel could not run its program.
    pub exec_failed: bool,
    /// Why that exec failed, inferred from the path as it is now (live
    /// only): the kernel does not report a helper's exec error.
    pub exec_error: Option<&'static str>,
}
