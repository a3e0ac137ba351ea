//! The sentences the formats share: durations, deaths, whom a helper ran
//! for, and the one-line story of a helper's end.

use std::borrow::Cow;

use crate::model::{
    classify::Kind,
    event::{Event, HelperRequest, Record},
    signals::{self, ExitStatus},
    tasks::{Annotation, HelperInfo, Killer},
};

/// `12us`, `250ms`, `1.3s`, and from a minute on `2m05s`, `3h07m`,
/// `1d00h`.
pub fn duration(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    match ns {
        0..=999_999 => format!("{}us", ns / 1000),
        1_000_000..=999_999_999 => format!("{}ms", ns / 1_000_000),
        1_000_000_000..=59_999_999_999 => format!("{:.1}s", ns as f64 / 1e9),
        _ if secs < 3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ if secs < 86_400 => format!("{}h{:02}m", secs / 3600, secs / 60 % 60),
        _ => format!("{}d{:02}h", secs / 86_400, secs / 3600 % 24),
    }
}

/// A pid that names no task, said the same by `ps --pid`, `tree PID` and
/// `--follow PID` (all exit 1: the pid is gone, the command line is fine).
pub fn no_task(pid: u32) -> String {
    format!("no task with pid {pid}")
}

/// How the sentences below show task data (comms, file names): as it is
/// ([`raw`], for formats that quote whole strings: JSON, Perfetto), or
/// [`quote_name`](super::escape::quote_name) for text.
pub type Names = for<'a> fn(&'a str) -> Cow<'a, str>;

/// Task data as it is.
pub fn raw(s: &str) -> Cow<'_, str> {
    Cow::Borrowed(s)
}

/// Who sent a fatal signal: `from 999 (kill) uid=0`.
pub fn sender(k: &Killer) -> String {
    sender_with(k, raw)
}

/// [`sender`], with the comm shown by `name`.
pub fn sender_with(k: &Killer, name: Names) -> String {
    format!("from {} ({}) uid={}", k.pid, name(&k.comm), k.uid)
}

/// How a task ended, with who killed it when known:
/// `killed by SIGKILL from 999 (kill) uid=0 after 1.3s`.
pub fn death(status: &ExitStatus, ann: &Annotation) -> String {
    death_with(status, ann, raw)
}

/// [`death`], with the killer's comm shown by `name`.
pub fn death_with(status: &ExitStatus, ann: &Annotation, name: Names) -> String {
    let mut s = status.to_string();
    if let (ExitStatus::Signaled { .. }, Some(k)) = (status, &ann.killer) {
        s.push(' ');
        s.push_str(&sender_with(k, name));
    }
    if let Some(ns) = ann.lifetime_ns {
        s.push_str(&format!(" after {}", duration(ns)));
    }
    s
}

/// `UMH_WAIT_*` as a word: what the requester waits for.
pub fn waits(req: &HelperRequest) -> &'static str {
    if req.waits_for_exit() {
        "exit"
    } else if req.wait & tracer_common::UMH_WAIT_EXEC != 0 {
        "exec"
    } else {
        "none"
    }
}

/// Whom a helper ran for: `for 5545 (sh, dumping core)`, or `None` when
/// its request was not seen.
pub fn requested_for(h: &HelperInfo) -> Option<String> {
    requested_for_with(h, raw)
}

/// [`requested_for`], with the requester's comm shown by `name`.
pub fn requested_for_with(h: &HelperInfo, name: Names) -> Option<String> {
    let req = h.request.as_ref()?;
    Some(match (&req.requester, &h.reason) {
        (Some(r), Some(why)) => format!("for {} ({}, {why})", r.pid, name(&r.comm)),
        (Some(r), None) => format!("for {} ({})", r.pid, name(&r.comm)),
        (None, _) => "for (requester not seen: queued before tracing)".into(),
    })
}

/// How long a requester that waits for its helper's exit was blocked, at
/// that exit: `5545 waited 570ms`.
pub fn waited(h: &HelperInfo, exit_ns: u64) -> Option<String> {
    let req = h.request.as_ref().filter(|r| r.waits_for_exit())?;
    let (who, queued) = (req.requester.as_ref()?, req.queued_ns?);
    let ns = exit_ns.checked_sub(queued)?;
    Some(format!("{} waited {}", who.pid, duration(ns)))
}

/// A requester held by its helper, as the live lines about it name the
/// two: `5545 (sh, dumping core)` and `5547 /tmp/core-helper` (the program
/// asked for, `not started yet` while there is no helper).
pub struct Held<'a> {
    pub pid: u32,
    pub comm: &'a str,
    pub reason: Option<&'a str>,
    /// Writing its core dump into the helper's pipe, rather than waiting
    /// for the helper's exit.
    pub dumping: bool,
    pub helper: Option<u32>,
    pub path: &'a str,
}

impl Held<'_> {
    fn who(&self, name: Names) -> String {
        match self.reason {
            Some(why) => format!("{} ({}, {why})", self.pid, name(self.comm)),
            None => format!("{} ({})", self.pid, name(self.comm)),
        }
    }

    fn helper(&self, name: Names) -> String {
        match self.helper {
            Some(pid) => format!("helper {pid} {}", name(self.path)),
            None => format!("helper {} (not started yet)", name(self.path)),
        }
    }
}

/// A requester held by its helper for `ns` so far (past `--stuck-after`):
/// `5545 (sh, dumping core) has been dumping core into helper 5547
/// /tmp/core-helper for 10.0s`, `21067 (python3) has waited 10.0s for
/// helper 21288 /sbin/request-key to exit`.
pub fn stuck(h: &Held<'_>, ns: u64, name: Names) -> String {
    if h.dumping {
        format!(
            "{} has been dumping core into {} for {}",
            h.who(name),
            h.helper(name),
            duration(ns)
        )
    } else {
        format!(
            "{} has waited {} for {} to exit",
            h.who(name),
            duration(ns),
            h.helper(name)
        )
    }
}

/// The end of a wait [`stuck`] told of, after `ns` in all.
pub fn unstuck(h: &Held<'_>, ns: u64, name: Names) -> String {
    if h.dumping {
        format!(
            "{} is done dumping core into {}, after {}",
            h.who(name),
            h.helper(name),
            duration(ns)
        )
    } else {
        format!(
            "{} is done waiting for {}, after {}",
            h.who(name),
            h.helper(name),
            duration(ns)
        )
    }
}

/// The one-line story of a helper's (or its descendant's) end:
/// `umh 5547 /tmp/core-helper for 5545 (sh, dumping core) killed by
/// SIGKILL from 5538 (bash) uid=0 after 562ms`.
pub fn diagnosis(rec: &Record, ann: &Annotation) -> Option<String> {
    diagnosis_with(rec, ann, raw)
}

/// [`diagnosis`], with comms and file names shown by `name`.
pub fn diagnosis_with(rec: &Record, ann: &Annotation, name: Names) -> Option<String> {
    let Event::Exit { task, status, .. } = &rec.event else {
        return None;
    };
    if !matches!(ann.subject, Kind::Helper | Kind::HelperChild) {
        return None;
    }
    let helper = ann.helper.as_ref();
    let exe = helper
        .and_then(|h| h.exe.as_deref())
        .or_else(|| helper.and_then(|h| Some(h.request.as_ref()?.path.as_str())))
        .unwrap_or(&task.comm);
    let mut line = format!("{} {} {}", ann.subject, task.pid, name(exe));
    if let Some(whom) = helper.and_then(|h| requested_for_with(h, name)) {
        line.push(' ');
        line.push_str(&whom);
    }
    if let Some(h) = helper.filter(|h| h.exec_failed) {
        line.push_str(" could not be run: exec failed");
        if let Some(errno) = h.exec_error {
            line.push_str(&format!(" ({errno}, inferred from the path now)"));
        }
        line.push(';');
    }
    line.push(' ');
    line.push_str(&death_with(status, ann, name));
    if let (ExitStatus::Signaled { sig, .. }, None) = (status, &ann.killer) {
        line.push_str(&format!(" ({} sender not seen)", signals::name(*sig)));
    }
    if let Some(w) = helper.and_then(|h| waited(h, rec.boot_ns)) {
        line.push_str("; ");
        line.push_str(&w);
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{event::Task, tasks::Killer};

    #[test]
    fn tells_a_killed_helper_in_one_line() {
        let rec = Record {
            boot_ns: 2_300_000_000,
            cpu: 0,
            event: Event::Exit {
                task: Task {
                    pid: 4242,
                    tgid: 4242,
                    ppid: 2,
                    flags: 0,
                    has_mm: true,
                    comm: "helper".into(),
                    start_ns: 1_000_000_000,
                    context: None,
                },
                status: ExitStatus::Signaled {
                    sig: 9,
                    core: false,
                },
                group_dead: Some(true),
            },
        };
        let ann = Annotation {
            subject: Kind::Helper,
            other: None,
            helper: Some(HelperInfo {
                spawner: Some((77, "kworker/u8:1".into())),
                spawner_id: None,
                exe: Some("/usr/lib/helper".into()),
                request: None,
                reason: None,
                requester_kind: None,
                exec_failed: false,
                exec_error: None,
            }),
            killer: Some(Killer {
                task_id: crate::model::task_id::BootKey::new("", "").task(0, 0),
                sig: 9,
                pid: 999,
                tgid: 999,
                comm: "kill".into(),
                uid: 0,
                boot_ns: 2_200_000_000,
            }),
            lifetime_ns: Some(1_300_000_000),
            ids: Default::default(),
            kthread: None,
        };
        assert_eq!(
            diagnosis(&rec, &ann).as_deref(),
            Some("umh 4242 /usr/lib/helper killed by SIGKILL from 999 (kill) uid=0 after 1.3s")
        );
        assert_eq!(duration(250_000_000), "250ms");
        assert_eq!(duration(12_000), "12us");
        assert_eq!(duration(500_000), "500us");
        assert_eq!(duration(1_300_000_000), "1.3s");
        assert_eq!(duration(59_900_000_000), "59.9s");
        assert_eq!(duration(125_000_000_000), "2m05s");
        assert_eq!(duration(11_220_000_000_000), "3h07m");
        assert_eq!(duration(86_401_000_000_000), "1d00h");
    }
}
