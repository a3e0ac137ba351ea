//! Human-readable lines: `TIME CPU EVENT PID TGID PPID COMM KIND FLAGS DETAILS`.

use std::io::Write as _;

use super::Formatter;
use crate::{
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
        Some(k) => format!("{} ({}) [{k}]", t.pid, t.comm),
        None => format!("{} ({})", t.pid, t.comm),
    }
}

fn details(rec: &Record, ann: &Annotation) -> String {
    let other = ann.other;
    if let Some(line) = super::diagnosis(rec, ann) {
        return line;
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
        } => {
            let mut s = format!("{filename} [{}]", argv.join(" "));
            if *old_pid != task.pid {
                s.push_str(&format!(" old_pid={old_pid}"));
            }
            if let Some(h) = &ann.helper {
                s.push_str(&format!(" {} spawned by ", ann.subject));
                match &h.spawner {
                    Some((pid, comm)) => s.push_str(&format!("{pid} ({comm})")),
                    None => s.push_str("(before tracing)"),
                }
                s.push_str(&format!(" parent {}", task.ppid));
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
            format!("{}{group}", super::death(status, ann))
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
        Event::Rename { task, new_comm } => format!("{} -> {new_comm}", task.comm),
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

    fn record(&mut self, out: &mut Vec<u8>, rec: &Record, kinds: &Annotation) {
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
            t.comm,
            kinds.subject.name(),
            self.pf.join(t.flags),
            details(rec, kinds)
        );
    }
}
