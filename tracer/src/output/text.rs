//! Human-readable lines: `TIME CPU EVENT PID TGID PPID COMM KIND FLAGS DETAILS`.
//!
//! Task data (comms, file names, argv) goes through [`super::escape`], so a
//! hostile name can neither add a line nor reach the terminal as a control
//! sequence.

use std::io::Write as _;

use super::{
    escape::{escape, escape_owned, push_argv},
    Formatter,
};
use crate::model::{
    classify::Kind,
    clock::WallClock,
    event::{Event, Record, Task},
    flags::PfNames,
    signals,
    tasks::Annotation,
};

pub struct Text {
    clock: WallClock,
    pf: PfNames,
}

impl Text {
    pub fn new(clock: WallClock, pf: PfNames) -> Self {
        Text { clock, pf }
    }
}

fn who(t: &Task, kind: Option<Kind>) -> String {
    match kind {
        Some(k) => format!("{} ({}) [{k}]", t.pid, escape(&t.comm)),
        None => format!("{} ({})", t.pid, escape(&t.comm)),
    }
}

fn details(rec: &Record, ann: &Annotation) -> String {
    let other = ann.other;
    if let Some(line) = super::diagnosis(rec, ann) {
        // Only names in it come from tasks (no argv): escape it whole.
        return escape_owned(line);
    }
    match &rec.event {
        Event::Fork {
            creator,
            clone_flags,
            ..
        } => format!("by {} clone_flags={clone_flags:#x}", who(creator, other)),
        Event::Exec {
            filename,
            argv,
            old_pid,
            task,
            cut,
        } => {
            let mut s = format!("{} [", escape(filename));
            push_argv(&mut s, argv);
            s.push(']');
            if *old_pid != task.pid {
                s.push_str(&format!(" old_pid={old_pid}"));
            }
            // A cut is said, with what the kernel had.
            if cut.is_some_and(|c| c.filename_truncated) {
                s.push_str(" filename_truncated");
            }
            if let Some(c) = cut.filter(|c| c.argv_truncated) {
                s.push_str(&format!(
                    " argv_truncated argc={} args_bytes={}",
                    c.argc, c.args_bytes
                ));
            }
            if let Some(h) = &ann.helper {
                s.push_str(&format!(" {} spawned by ", ann.subject));
                match &h.spawner {
                    Some((pid, comm)) => s.push_str(&format!("{pid} ({})", escape(comm))),
                    None => s.push_str("(before tracing)"),
                }
                s.push_str(&format!(" parent {}", task.ppid));
                if let Some(whom) = super::requested_for(h) {
                    s.push(' ');
                    s.push_str(&escape_owned(whom));
                }
            }
            s
        }
        Event::Exit {
            status, group_dead, ..
        } => {
            let group = match group_dead {
                Some(true) => " group_dead",
                Some(false) => " thread",
                None => "",
            };
            // The killer's comm is the only task data in it.
            format!("{}{group}", escape(&super::death(status, ann)))
        }
        Event::SignalGenerate {
            sender,
            sender_uid,
            sig,
            errno,
            code,
            group,
            result,
            ..
        } => format!(
            "{} from {} uid={sender_uid} result={result} code={code} errno={errno}{}",
            signals::name(*sig),
            who(sender, other),
            if *group { " group" } else { "" },
        ),
        Event::SignalDeliver {
            sig,
            code,
            errno,
            disposition,
            sa_flags,
            ..
        } => format!(
            "{} handler={} sa_flags={sa_flags:#x} code={code} errno={errno}",
            signals::name(*sig),
            disposition.label()
        ),
        Event::Rename { task, new_comm } => {
            format!("{} -> {}", escape(&task.comm), escape(new_comm))
        }
        Event::ExecFailed {
            errno,
            via,
            filename,
            filename_truncated,
            ..
        } => {
            let mut s = format!(
                "{} {} via {}",
                escape(filename),
                crate::model::errno::name(*errno),
                via.name()
            );
            if *filename_truncated {
                s.push_str(" filename_truncated");
            }
            if let Some(whom) = ann.helper.as_ref().and_then(super::requested_for) {
                s.push_str(&format!(" {} {}", ann.subject, escape_owned(whom)));
            }
            s
        }
        Event::HelperRequest { request, .. } => {
            let mut s = format!("helper {}", escape(&request.path));
            if request.path_truncated {
                s.push_str(" path_truncated");
            }
            let reason = ann.helper.as_ref().and_then(|h| h.reason.as_deref());
            match (&request.requester, reason) {
                (Some(r), Some(why)) => s.push_str(&format!(
                    " for {} ({}, {}) [{}]",
                    r.pid,
                    escape(&r.comm),
                    escape(why),
                    other.map_or("?".into(), |k| k.to_string())
                )),
                (Some(r), None) => s.push_str(&format!(" for {}", who(r, other))),
                (None, _) => s.push_str(" for (requester not seen: queued before tracing)"),
            }
            s.push_str(match super::waits(request) {
                "exit" => ", waiting for its exit",
                "exec" => ", waiting for its exec",
                _ => ", not waiting",
            });
            if let Some(q) = request.queued_ns.and_then(|q| rec.boot_ns.checked_sub(q)) {
                s.push_str(&format!(", queued {} earlier", super::duration(q)));
            }
            s
        }
    }
}

impl Formatter for Text {
    fn begin(&mut self, out: &mut Vec<u8>) {
        let _ = writeln!(
            out,
            "{:<15} {:>3} {:<15} {:>7} {:>7} {:>7} {:<16} {:<11} {:<24} DETAILS",
            "TIME", "CPU", "EVENT", "PID", "TGID", "PPID", "COMM", "KIND", "FLAGS"
        );
    }

    fn record(&mut self, out: &mut Vec<u8>, rec: &Record, ann: &Annotation) {
        let t = rec.event.subject();
        let _ = writeln!(
            out,
            "{:<15} {:>3} {:<15} {:>7} {:>7} {:>7} {:<16} {:<11} {:<24} {}",
            self.clock.local_hms(rec.boot_ns),
            rec.cpu,
            rec.event.kind().name(),
            t.pid,
            t.tgid,
            t.ppid,
            escape(&t.comm),
            ann.subject.name(),
            self.pf.join(t.flags),
            details(rec, ann)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        signals::ExitStatus,
        tasks::{HelperInfo, Killer},
    };

    const HOSTILE: &str = "\x1b]0;pwn\x07\x1b[2J\n";

    fn task(pid: u32, comm: &str) -> Task {
        Task {
            pid,
            tgid: pid,
            ppid: 1,
            flags: 0,
            has_mm: true,
            comm: comm.into(),
            start_ns: 5,
        }
    }

    fn line(rec: &Record, ann: &Annotation) -> String {
        let mut out = Vec::new();
        Text::new(
            WallClock { boot_epoch_ns: 0 },
            PfNames::for_version((6, 18)),
        )
        .record(&mut out, rec, ann);
        String::from_utf8(out).unwrap()
    }

    fn ann(subject: Kind) -> Annotation {
        Annotation {
            subject,
            other: Some(Kind::User),
            helper: None,
            killer: None,
            lifetime_ns: None,
        }
    }

    /// One line, ending in its only newline, with no other control character.
    fn assert_one_clean_line(line: &str) {
        let body = line.strip_suffix('\n').expect("ends with a newline");
        assert!(!body.chars().any(char::is_control), "{line:?}");
    }

    #[test]
    fn hostile_exec_is_one_escaped_line_with_quoted_argv() {
        let rec = Record {
            boot_ns: 1_000,
            cpu: 0,
            event: Event::Exec {
                task: task(42, HOSTILE),
                old_pid: 42,
                filename: "/tmp/a\nb".into(),
                argv: vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    "exit 0".into(),
                    "x\n13:37:00 forged\x1b[2J".into(),
                    "".into(),
                    "it's".into(),
                ],
                cut: None,
            },
        };
        let l = line(&rec, &ann(Kind::User));
        assert_one_clean_line(&l);
        assert!(l.contains(" \\e]0;pwn\\x07\\e[2J\\n "), "{l}");
        assert!(
            l.contains(
                "/tmp/a\\nb [/bin/sh -c 'exit 0' $'x\\n13:37:00 forged\\e[2J' '' 'it'\\''s']"
            ),
            "{l}"
        );
    }

    #[test]
    fn hostile_rename_fork_and_helper_death_are_escaped() {
        let rename = Record {
            boot_ns: 1_000,
            cpu: 0,
            event: Event::Rename {
                task: task(42, "old\u{9b}"),
                new_comm: HOSTILE.into(),
            },
        };
        let l = line(&rename, &ann(Kind::User));
        assert_one_clean_line(&l);
        assert!(
            l.ends_with("old\\xc2\\x9b -> \\e]0;pwn\\x07\\e[2J\\n\n"),
            "{l}"
        );

        let fork = Record {
            boot_ns: 1_000,
            cpu: 0,
            event: Event::Fork {
                child: task(43, "a\rb"),
                creator: task(42, "c\\d\x7f"),
                clone_flags: 0,
            },
        };
        let l = line(&fork, &ann(Kind::User));
        assert_one_clean_line(&l);
        assert!(l.contains("by 42 (c\\\\d\\x7f) [user]"), "{l}");

        let exit = Record {
            boot_ns: 1_000,
            cpu: 0,
            event: Event::Exit {
                task: task(44, "h\n"),
                status: ExitStatus::Signaled {
                    sig: 9,
                    core: false,
                },
                group_dead: Some(true),
            },
        };
        let mut a = ann(Kind::Helper);
        a.helper = Some(HelperInfo {
            spawner: Some((7, "kw\n".into())),
            exe: Some("/tmp/x\ny".into()),
            request: None,
            reason: None,
            requester_kind: None,
            exec_failed: false,
            exec_error: None,
        });
        a.killer = Some(Killer {
            sig: 9,
            pid: 9,
            tgid: 9,
            comm: "k\x1b[2J".into(),
            uid: 0,
            boot_ns: 900,
        });
        let l = line(&exit, &a);
        assert_one_clean_line(&l);
        assert!(
            l.contains("umh 44 /tmp/x\\ny killed by SIGKILL from 9 (k\\e[2J) uid=0"),
            "{l}"
        );
    }
}
