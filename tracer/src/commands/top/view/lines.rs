//! Text for one event, a task's name, an age: what the feed, the detail
//! view and the panes write. Task data is escaped, so a name never reaches
//! the terminal as a control sequence.

use std::borrow::Cow;

use crate::{
    model::{
        event::{Event, Record},
        signals,
        tasks::Annotation,
    },
    output::{escape::escape, sentences},
};

/// A task's name, escaped.
pub fn name(s: &str) -> Cow<'_, str> {
    escape(s)
}

/// `3.2s`, `5m02s`: how long ago, or how old.
pub fn age(ns: u64) -> String {
    sentences::duration(ns)
}

/// `fork`, `exec`, ...: the event's kind as `trace` names it.
pub fn event_name(rec: &Record) -> &'static str {
    rec.event.kind().name()
}

/// What happened, after the subject's pid and name.
pub fn details(rec: &Record, ann: &Annotation) -> String {
    match &rec.event {
        Event::Fork { creator, .. } => {
            format!("by {} ({})", creator.pid, name(&creator.comm))
        }
        Event::Exec { filename, argv, .. } => {
            let mut s = name(filename).into_owned();
            for a in argv.iter().skip(1) {
                s.push(' ');
                s.push_str(&escape(a));
            }
            s
        }
        Event::Exit { status, .. } => match sentences::diagnosis(rec, ann) {
            Some(d) => escape(&d).into_owned(),
            None => escape(&sentences::death(status, ann)).into_owned(),
        },
        Event::SignalGenerate {
            sender,
            sig,
            result,
            ..
        } => format!(
            "{} from {} ({}): {}",
            signals::name(*sig),
            sender.pid,
            name(&sender.comm),
            result.name()
        ),
        Event::SignalDeliver {
            sig, disposition, ..
        } => format!(
            "{} delivered ({})",
            signals::name(*sig),
            disposition.label()
        ),
        Event::Rename { new_comm, .. } => format!("renamed to {}", name(new_comm)),
        Event::HelperRequest { request, .. } => {
            let mut s = format!("helper request {}", name(&request.path));
            if let Some(r) = &request.requester {
                s.push_str(&format!(" for {} ({})", r.pid, name(&r.comm)));
            }
            s
        }
        Event::ExecFailed {
            errno,
            via,
            filename,
            ..
        } => format!("{} {} failed: errno {errno}", via.name(), name(filename)),
        Event::Throttle { throttle, .. } => throttle.details(),
        // Folded into the fork's annotation; the pipeline never shows it.
        Event::Kthread { .. } => String::new(),
    }
}

/// The whole line of the feed: `12:00:01 exit umh 4242 core-helper: ...`.
pub fn event_line(hms: &str, rec: &Record, ann: &Annotation) -> String {
    let t = rec.event.subject();
    format!(
        "{hms} {:<15} {:<9} {:>7} {:<15} {}",
        event_name(rec),
        ann.subject.name(),
        t.pid,
        name(&t.comm),
        details(rec, ann)
    )
}
