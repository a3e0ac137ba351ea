//! Human-readable lines, in one of two layouts (chosen in `style.rs`).
//!
//! The full layout, for scripts, files and wide terminals, one line per
//! event:
//!
//! ```text
//! TIME            CPU EVENT               PID    TGID    PPID COMM             KIND        FLAGS                    DETAILS
//! 21:36:30.800773   1 fork              19471   19471       2 kworker/u8:2     umh         FORKNOEXEC|NOFREEZE      by 9658 (kworker/u8:2) [kworker] clone_flags=0x808100
//! ```
//!
//! The compact layout, for a terminal narrower than the full one (80
//! columns is enough): time to the millisecond, no CPU, TGID, PPID or
//! FLAGS column, short event and kind names, and shorter details (no
//! `clone_flags`, `sa_flags`, `group_dead`/`thread`, nor an `errno` of 0);
//! details longer than the line wrap at spaces onto lines indented past the
//! time column, so a line that starts with a time is always a new event:
//!
//! ```text
//! TIME         EVENT      PID COMM            KIND  DETAILS
//! 21:36:30.800 fork     19471 kworker/u8:2    umh   by 9658 (kworker/u8:2) [kworker]
//! ```
//!
//! | event | compact | | kind | compact |
//! |---|---|---|---|---|
//! | `signal_generate` | `siggen` | | `kthreadd` | `kthd` |
//! | `signal_deliver` | `sigdlv` | | `kthread` | `kthr` |
//! | `helper_request` | `umhreq` | | `kworker` | `kwork` |
//! | `exec_failed` | `exec!` | | `io_worker` | `iowrk` |
//! | others | the same | | `user_worker` | `uwork` |
//! | | | | `umh_child` | `umhch` |
//!
//! **Dates.** Times are local times of day; the date is on a line of its
//! own, `--- 2026-11-28 Saturday (UTC+01:00) ---`, printed before the first
//! event of each new local day (live and replayed) and, in a replay, also
//! before the first event, since a log may come from any day. A line that
//! starts with `---` is never an event.
//!
//! **Both layouts** write signal codes by name (`code=SI_USER`,
//! `code=CLD_EXITED`, `code=SEGV_MAPERR`; the number where the code has
//! none), and leave `POSTCOREDUMP` and `RANDOMIZE` out of FLAGS: the
//! kernel sets the first on every exiting task since 6.0 (it means "past
//! the core-dump check", not "dumped core"; a core dump is `(core dumped)`
//! in the exit's details) and the second on nearly every user task. JSON
//! keeps the raw flags and codes. A FLAGS cell longer than its column
//! keeps the names that fit and ends in `+N` for the N it left out, so
//! DETAILS stays in its column. An exit says `group_dead` only where the
//! group had other threads (see `groups.rs`). Full lines on stdout fold
//! their details at spaces past 160 columns (a wider terminal: its width)
//! onto lines blank up to the DETAILS column, never inside an argument.
//!
//! **Colour** (where `style.rs` turns it on): kinds by family (kernel
//! threads cyan, workers yellow, helpers magenta, idle and init blue) and
//! failures red (an exit other than `exited 0`, a failed exec, a helper that
//! could not be run).
//!
//! **Context.** After the details, what of the subject's context sets it
//! apart (which, is `context.rs`): in the full layout `user=NAME` (the
//! real uid, by name where /etc/passwd has one) for a user other than
//! root, `gid=N` where it is not the uid, `cgroup=PATH`
//! (`cgroup=id:N(gone)` for a cgroup removed since) for a cgroup other
//! than the root and tracer's own, `container=RUNTIME:ID12` where the path
//! names a container, and, where they differ from tracer's own,
//! `pidns=INODE` `nspid=N` (the pid inside, where it differs) and
//! `mntns=INODE`; then a nested task's items that differ from the
//! subject's, as `creator{...}`, `sender{...}` or `requester{...}`. The
//! compact layout keeps `user=` for a uid other than 0, `container=` and
//! `nspid=`. `--context` says user and cgroup on every line. Logs recorded
//! before record format 4 have no context.
//!
//! Task data (comms, file names, argv, user names, cgroup paths) goes
//! through [`super::escape`], so a hostile name can neither add a line nor
//! reach the terminal as a control sequence, and is quoted where it holds
//! what could read as the line's own punctuation (`quote_name`), so it
//! cannot add words to its sentence either: `from 25761 ('k) uid=0 (init')
//! uid=65534`, `'/tmp/u/x [sudo -i]' ['/tmp/u/x [sudo -i]' x]`. Colour is
//! added around the escaped text; a compact line never wraps inside a
//! quoted word. Where a compact line's details wrap is `wrap.rs`.

mod context;
mod groups;
mod wrap;

use std::{fmt::Write as _, io::Write as _};

use self::{
    context::{items as context_items, Said},
    groups::Groups,
    wrap::{wrap, wrap_words},
};
use super::{
    escape::{escape, push_argv, quote_name},
    formatter::Formatter,
    sentences,
    style::{sgr, Dates, Layout, Style},
};
use crate::model::{
    classify::Kind,
    clock::{LocalTimes, WallClock},
    event::{Event, Record, Task},
    flags::PfNames,
    signals::{self, ExitStatus, GenerateResult},
    tasks::Annotation,
};

/// Compact lines: where the details start, and where wrapped details do.
const NARROW_TIME: usize = 12;
const CONTINUATION: usize = NARROW_TIME + 1;

/// Full lines: the time column, and the fewest columns folded details
/// get (a comm escaped long may push DETAILS right).
const WIDE_TIME: usize = 15;
const MIN_FOLD: usize = 30;

/// The FLAGS column of the full layout.
const FLAGS_WIDTH: usize = 24;

/// PF_* bits text leaves out of FLAGS (JSON keeps them): the kernel sets
/// POSTCOREDUMP on every exiting task since 6.0 and RANDOMIZE on nearly
/// every user task (address-space randomization is on), so they tell
/// nothing and push the names that do out of the column.
const UNSAID_FLAGS: [&str; 2] = ["POSTCOREDUMP", "RANDOMIZE"];

/// What one line says besides its event.
#[derive(Clone, Copy)]
struct Show {
    narrow: bool,
    said: Said,
    /// An exit that ended a thread group of several threads.
    group_died: bool,
}

pub(super) struct Text {
    pf: PfNames,
    style: Style,
    /// The [`UNSAID_FLAGS`] bits where `pf`'s kernel names them.
    unsaid: u32,
    times: LocalTimes,
    /// The local day of the last event printed.
    day: Option<i64>,
    groups: Groups,
}

impl Text {
    /// Plain text: the full layout, no colour, no date lines.
    pub(super) fn new(clock: WallClock, pf: PfNames) -> Self {
        Text {
            pf,
            style: Style::default(),
            unsaid: pf.bits_named(&UNSAID_FLAGS),
            times: LocalTimes::new(clock),
            day: None,
            groups: Groups::default(),
        }
    }
}

/// The compact name of an event.
fn short_event(rec: &Record) -> &'static str {
    match rec.event {
        Event::SignalGenerate { .. } => "siggen",
        Event::SignalDeliver { .. } => "sigdlv",
        Event::HelperRequest { .. } => "umhreq",
        Event::ExecFailed { .. } => "exec!",
        Event::Throttle { .. } => "thrtl",
        _ => rec.event.kind().name(),
    }
}

/// The compact name of a kind.
fn short_kind(kind: Kind) -> &'static str {
    match kind {
        Kind::Kthreadd => "kthd",
        Kind::Kthread => "kthr",
        Kind::Kworker => "kwork",
        Kind::IoWorker => "iowrk",
        Kind::UserWorker => "uwork",
        Kind::HelperChild => "umhch",
        other => other.name(),
    }
}

fn kind_color(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Idle | Kind::Init => Some(sgr::BLUE),
        Kind::Kthreadd | Kind::Kthread | Kind::Kworker => Some(sgr::CYAN),
        Kind::IoWorker | Kind::UserWorker => Some(sgr::YELLOW),
        Kind::Helper | Kind::HelperChild => Some(sgr::MAGENTA),
        Kind::User => None,
    }
}

/// Whether the line tells of a failure: an exit other than `exited 0`, a
/// failed exec, a helper that could not be run, a signal the kernel could
/// not queue.
fn failure(rec: &Record, ann: &Annotation) -> bool {
    match &rec.event {
        Event::Exit { status, .. } => {
            *status != ExitStatus::Exited(0) || ann.helper.as_ref().is_some_and(|h| h.exec_failed)
        }
        Event::ExecFailed { .. } | Event::Throttle { .. } => true,
        Event::SignalGenerate { result, .. } => {
            matches!(
                result,
                GenerateResult::OverflowFail | GenerateResult::LoseInfo
            )
        }
        _ => false,
    }
}

/// `text` padded to `width` (left-aligned), in `color` when given.
fn cell(out: &mut String, text: &str, width: usize, color: Option<&str>) {
    match color {
        Some(c) => {
            let _ = write!(out, "{c}{text:<width$}{}", sgr::RESET);
        }
        None => {
            let _ = write!(out, "{text:<width$}");
        }
    }
}

fn who(t: &Task, kind: Option<Kind>) -> String {
    match kind {
        Some(k) => format!("{} ({}) [{k}]", t.pid, quote_name(&t.comm)),
        None => format!("{} ({})", t.pid, quote_name(&t.comm)),
    }
}

/// The DETAILS column: the event's details, then the subject's context
/// and, in the full layout, what of a nested task's context differs from
/// the subject's (`creator{user=alice}`).
fn details(rec: &Record, ann: &Annotation, show: Show) -> String {
    let mut s = event_details(rec, ann, show);
    let subject = rec.event.subject();
    let items = context_items(subject, None, show.said);
    if !items.is_empty() {
        s.push(' ');
        s.push_str(&items.join(" "));
    }
    if show.narrow {
        return s;
    }
    let label = match rec.event {
        Event::Fork { .. } => "creator",
        Event::SignalGenerate { .. } => "sender",
        _ => "requester",
    };
    if let Some(other) = rec.event.other() {
        let items = context_items(other, Some(subject), show.said);
        if !items.is_empty() {
            let _ = write!(s, " {label}{{{}}}", items.join(" "));
        }
    }
    s
}

/// The event's own part of the DETAILS column; `narrow` leaves out what
/// the compact layout drops.
fn event_details(rec: &Record, ann: &Annotation, show: Show) -> String {
    let narrow = show.narrow;
    let other = ann.other;
    if let Some(line) = sentences::diagnosis_with(rec, ann, quote_name) {
        return line;
    }
    match &rec.event {
        Event::Fork {
            creator,
            clone_flags,
            ..
        } => {
            let mut s = if narrow {
                format!("by {}", who(creator, other))
            } else {
                format!("by {} clone_flags={clone_flags:#x}", who(creator, other))
            };
            if let Some(k) = &ann.kthread {
                s.push(' ');
                s.push_str(&k.phrase(quote_name));
            }
            s
        }
        Event::Exec {
            filename,
            argv,
            old_pid,
            task,
            cut,
        } => {
            let mut s = format!("{} [", quote_name(filename));
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
                    Some((pid, comm)) => s.push_str(&format!("{pid} ({})", quote_name(comm))),
                    None => s.push_str("(before tracing)"),
                }
                s.push_str(&format!(" parent {}", task.ppid));
                if let Some(whom) = sentences::requested_for_with(h, quote_name) {
                    s.push(' ');
                    s.push_str(&whom);
                }
            }
            s
        }
        Event::Exit {
            status, group_dead, ..
        } => {
            // `group_dead` where there were other threads (see `groups`).
            let group = match group_dead {
                _ if narrow => "",
                Some(true) if show.group_died => " group_dead",
                Some(false) => " thread",
                _ => "",
            };
            format!("{}{group}", sentences::death_with(status, ann, quote_name))
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
        } => {
            let mut s = format!(
                "{} from {} uid={sender_uid} result={result} code={}",
                signals::name(*sig),
                who(sender, other),
                signals::code_label(*sig, *code),
            );
            if !narrow || *errno != 0 {
                let _ = write!(s, " errno={errno}");
            }
            if *group {
                s.push_str(" group");
            }
            s
        }
        Event::SignalDeliver {
            sig,
            code,
            errno,
            disposition,
            sa_flags,
            ..
        } => {
            let mut s = format!("{} handler={}", signals::name(*sig), disposition.label());
            if !narrow {
                let _ = write!(s, " sa_flags={sa_flags:#x}");
            }
            let _ = write!(s, " code={}", signals::code_label(*sig, *code));
            if !narrow || *errno != 0 {
                let _ = write!(s, " errno={errno}");
            }
            s
        }
        Event::Rename { task, new_comm } => {
            let mut s = format!("{} -> {}", quote_name(&task.comm), quote_name(new_comm));
            // A kernel thread named by its requester, which its fork missed.
            if let Some(k) = &ann.kthread {
                s.push(' ');
                s.push_str(&k.phrase(quote_name));
            }
            s
        }
        Event::Throttle { throttle, .. } => throttle.details(),
        // Folded into the fork's line; the pipeline does not show it.
        Event::Kthread { request, .. } => request.link.name().to_string(),
        Event::ExecFailed {
            errno,
            via,
            filename,
            filename_truncated,
            ..
        } => {
            let mut s = format!(
                "{} {} via {}",
                quote_name(filename),
                crate::model::errno::name(*errno),
                via.name()
            );
            if *filename_truncated {
                s.push_str(" filename_truncated");
            }
            if let Some(whom) = ann
                .helper
                .as_ref()
                .and_then(|h| sentences::requested_for_with(h, quote_name))
            {
                s.push_str(&format!(" {} {whom}", ann.subject));
            }
            s
        }
        Event::HelperRequest { request, .. } => {
            let mut s = format!("helper {}", quote_name(&request.path));
            if request.path_truncated {
                s.push_str(" path_truncated");
            }
            let reason = ann.helper.as_ref().and_then(|h| h.reason.as_deref());
            match (&request.requester, reason) {
                (Some(r), Some(why)) => s.push_str(&format!(
                    " for {} ({}, {}) [{}]",
                    r.pid,
                    quote_name(&r.comm),
                    escape(why),
                    other.map_or("?".into(), |k| k.to_string())
                )),
                (Some(r), None) => s.push_str(&format!(" for {}", who(r, other))),
                (None, _) => s.push_str(" for (requester not seen: queued before tracing)"),
            }
            s.push_str(match sentences::waits(request) {
                "exit" => ", waiting for its exit",
                "exec" => ", waiting for its exec",
                _ => ", not waiting",
            });
            if let Some(q) = request.queued_ns.and_then(|q| rec.boot_ns.checked_sub(q)) {
                s.push_str(&format!(", queued {} earlier", sentences::duration(q)));
            }
            s
        }
    }
}

impl Text {
    /// The date line before an event of a new local day, when the style
    /// asks for them.
    fn date_line(&mut self, out: &mut String, boot_ns: u64) {
        if self.style.dates == Dates::Off {
            return;
        }
        let (Some(local), _, _) = self.times.at(boot_ns) else {
            return;
        };
        let day = local.day_number();
        let show = match self.day {
            Some(d) => d != day,
            None => self.style.dates == Dates::First,
        };
        self.day = Some(day);
        if show {
            let _ = writeln!(
                out,
                "--- {} {} ({}) ---",
                local.date(),
                local.weekday_name(),
                local.zone()
            );
        }
    }

    /// `HH:MM:SS.uuuuuu`, or `HH:MM:SS.mmm` compact.
    fn time(&mut self, boot_ns: u64, millis: bool) -> String {
        let (local, secs, ns) = self.times.at(boot_ns);
        match (local, millis) {
            (Some(t), false) => format!(
                "{:02}:{:02}:{:02}.{:06}",
                t.hour,
                t.minute,
                t.second,
                ns / 1000
            ),
            (Some(t), true) => format!(
                "{:02}:{:02}:{:02}.{:03}",
                t.hour,
                t.minute,
                t.second,
                ns / 1_000_000
            ),
            (None, _) => format!("{secs}.{:06}", ns / 1000),
        }
    }

    fn wide(&mut self, out: &mut String, rec: &Record, ann: &Annotation, show: Show) {
        let t = rec.event.subject();
        let color = self.style.color;
        let failed = color && failure(rec, ann);
        let red = failed.then_some(sgr::RED);
        let time = self.time(rec.boot_ns, false);
        let _ = write!(out, "{time:<WIDE_TIME$} {:>3} ", rec.cpu);
        cell(out, rec.event.kind().name(), 15, red);
        let comm = quote_name(&t.comm);
        let _ = write!(out, " {:>7} {:>7} {:>7} {comm:<16} ", t.pid, t.tgid, t.ppid,);
        cell(
            out,
            ann.subject.name(),
            11,
            kind_color(ann.subject).filter(|_| color),
        );
        let flags = self.pf.join_within(t.flags & !self.unsaid, FLAGS_WIDTH);
        let _ = write!(out, " {flags:<FLAGS_WIDTH$} ");
        // Columns used so far: the fixed ones, or more for a long comm.
        let used = time.chars().count().max(WIDE_TIME)
            + 1
            + rec.cpu.to_string().len().max(3)
            + 1
            + 15
            + [t.pid, t.tgid, t.ppid]
                .iter()
                .map(|n| 1 + n.to_string().len().max(7))
                .sum::<usize>()
            + 1
            + comm.chars().count().max(16)
            + 1
            + 11
            + 1
            + FLAGS_WIDTH
            + 1;
        let details = details(rec, ann, show);
        // Folded details go on in the DETAILS column, so it stays a column.
        let width = match self.style.fold_at {
            Some(w) => w.saturating_sub(used).max(MIN_FOLD),
            None => usize::MAX,
        };
        for (i, line) in wrap_words(&details, width, width).enumerate() {
            if i > 0 {
                out.push('\n');
                out.push_str(&" ".repeat(used));
            }
            match red {
                Some(c) => {
                    let _ = write!(out, "{c}{line}{}", sgr::RESET);
                }
                None => out.push_str(line),
            }
        }
        out.push('\n');
    }

    fn narrow(
        &mut self,
        out: &mut String,
        rec: &Record,
        ann: &Annotation,
        width: usize,
        show: Show,
    ) {
        let t = rec.event.subject();
        let color = self.style.color;
        let red = (color && failure(rec, ann)).then_some(sgr::RED);
        let _ = write!(out, "{:<12} ", self.time(rec.boot_ns, true));
        cell(out, short_event(rec), 6, red);
        let comm = quote_name(&t.comm);
        let _ = write!(out, " {:>7} {comm:<15} ", t.pid);
        cell(
            out,
            short_kind(ann.subject),
            5,
            kind_color(ann.subject).filter(|_| color),
        );
        out.push(' ');
        // Columns used so far: the fixed ones, or more for a long comm.
        let used = NARROW_TIME + 1 + 6 + 1 + 7 + 1 + comm.chars().count().max(15) + 1 + 5 + 1;
        let details = details(rec, ann, show);
        let first = width.saturating_sub(used).max(20);
        let rest = width.saturating_sub(CONTINUATION).max(20);
        for (i, line) in wrap(&details, first, rest).enumerate() {
            if i > 0 {
                out.push('\n');
                out.push_str(&" ".repeat(CONTINUATION));
            }
            match red {
                Some(c) => {
                    let _ = write!(out, "{c}{line}{}", sgr::RESET);
                }
                None => out.push_str(line),
            }
        }
        out.push('\n');
    }
}

impl Formatter for Text {
    fn style(&mut self, style: &Style) {
        self.style = *style;
    }

    fn begin(&mut self, out: &mut Vec<u8>) {
        let titles = match self.style.layout {
            Layout::Wide => format!(
                "{:<15} {:>3} {:<15} {:>7} {:>7} {:>7} {:<16} {:<11} {:<24} DETAILS",
                "TIME", "CPU", "EVENT", "PID", "TGID", "PPID", "COMM", "KIND", "FLAGS"
            ),
            Layout::Narrow { .. } => format!(
                "{:<12} {:<6} {:>7} {:<15} {:<5} DETAILS",
                "TIME", "EVENT", "PID", "COMM", "KIND"
            ),
        };
        if self.style.color {
            let _ = writeln!(out, "{}{titles}{}", sgr::BOLD, sgr::RESET);
        } else {
            let _ = writeln!(out, "{titles}");
        }
    }

    fn record(&mut self, out: &mut Vec<u8>, rec: &Record, ann: &Annotation) {
        let group_died = self.groups.learn(rec);
        let narrow = matches!(self.style.layout, Layout::Narrow { .. });
        let show = Show {
            narrow,
            said: match (self.style.all_context, narrow) {
                (true, _) => Said::All,
                (false, true) => Said::Compact,
                (false, false) => Said::Distinct,
            },
            group_died,
        };
        let mut line = String::with_capacity(256);
        self.date_line(&mut line, rec.boot_ns);
        match self.style.layout {
            Layout::Wide => self.wide(&mut line, rec, ann, show),
            Layout::Narrow { width } => self.narrow(&mut line, rec, ann, width, show),
        }
        out.extend_from_slice(line.as_bytes());
    }

    fn unshown(&mut self, rec: &Record) {
        self.groups.learn(rec);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        context,
        event::TaskContext,
        signals::ExitStatus,
        tasks::{HelperInfo, Killer},
    };

    const FULL: Show = Show {
        narrow: false,
        said: Said::Distinct,
        group_died: false,
    };
    const COMPACT: Show = Show {
        narrow: true,
        said: Said::Compact,
        group_died: false,
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
            context: None,
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
            ids: Default::default(),
            kthread: None,
        }
    }

    /// One line, ending in its only newline, with no other control character.
    fn assert_one_clean_line(line: &str) {
        let body = line.strip_suffix('\n').expect("ends with a newline");
        assert!(!body.chars().any(char::is_control), "{line:?}");
    }

    /// Colour and the compact layout keep hostile task data escaped: the
    /// only escape sequences are tracer's SGR codes, and every physical
    /// line is an event or a continuation indented past the time.
    #[test]
    fn colour_and_wrapping_keep_hostile_names_escaped() {
        let rec = Record {
            boot_ns: 1_000,
            cpu: 0,
            event: Event::Exec {
                task: task(42, HOSTILE),
                old_pid: 42,
                filename: "/tmp/a\nb".into(),
                argv: vec![
                    "/bin/sh".into(),
                    "x\n13:37:00.000 forged\x1b[2J".into(),
                    "y".repeat(150),
                ],
                cut: None,
            },
        };
        for layout in [Layout::Wide, Layout::Narrow { width: 80 }] {
            let mut t = Text::new(
                WallClock { boot_epoch_ns: 0 },
                PfNames::for_version((6, 18)),
            );
            t.style(&Style {
                layout,
                color: true,
                dates: Dates::First,
                ..Style::default()
            });
            let mut out = Vec::new();
            t.record(&mut out, &rec, &ann(Kind::Helper));
            let text = String::from_utf8(out).unwrap();
            let mut plain = text.clone();
            for code in [sgr::RESET, sgr::MAGENTA, sgr::RED, sgr::CYAN] {
                plain = plain.replace(code, "");
            }
            assert!(!plain.contains('\x1b'), "{text:?}");
            let lines: Vec<&str> = plain.lines().collect();
            assert!(lines[0].starts_with("--- 1970-01-01 "), "{plain}");
            assert!(lines[1].as_bytes()[0].is_ascii_digit(), "{plain}");
            for l in &lines[2..] {
                assert!(l.starts_with(&" ".repeat(CONTINUATION)), "{l:?}");
            }
            for l in &lines {
                assert!(!l.chars().any(char::is_control), "{l:?}");
            }
            assert!(text.contains("\x1b[35mumh"), "{text:?}");
            if layout != Layout::Wide {
                assert!(lines.len() > 3, "{plain}");
                assert!(lines.iter().all(|l| l.chars().count() <= 80), "{plain}");
            }
        }
    }

    fn full_text(recs: &[(Record, Annotation)]) -> String {
        let mut t = Text::new(
            WallClock { boot_epoch_ns: 0 },
            PfNames::for_version((6, 18)),
        );
        t.style(&Style {
            fold_at: Some(160),
            ..Style::default()
        });
        let mut out = Vec::new();
        for (rec, ann) in recs {
            t.record(&mut out, rec, ann);
        }
        String::from_utf8(out).unwrap()
    }

    /// Where DETAILS starts on a line of the full layout: past the
    /// FLAGS column, the ninth.
    fn details_column(line: &str) -> usize {
        let mut words = 0;
        let mut in_word = false;
        for (i, c) in line.char_indices() {
            if c != ' ' && !in_word {
                words += 1;
                if words == 10 {
                    return i;
                }
            }
            in_word = c != ' ';
        }
        panic!("no DETAILS in {line:?}")
    }

    #[test]
    fn flags_keep_their_column_without_randomize() {
        let flagged = |pid, flags| Record {
            boot_ns: 1_000,
            cpu: 1,
            event: Event::Exit {
                task: Task {
                    flags,
                    ..task(pid, "x")
                },
                status: ExitStatus::Exited(0),
                group_dead: None,
            },
        };
        // A kworker, a kthread, a user process (RANDOMIZE, POSTCOREDUMP).
        let text = full_text(&[
            (flagged(10, 0x4208060), ann(Kind::Kworker)),
            (flagged(11, 0x208040), ann(Kind::Kthread)),
            (flagged(12, 0x40010c), ann(Kind::User)),
            (flagged(13, 0), ann(Kind::User)),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains(" KTHREAD|WQ_WORKER|+3 "), "{text}");
        assert!(lines[1].contains(" KTHREAD|FORKNOEXEC|+1 "), "{text}");
        assert!(lines[2].contains(" EXITING|SUPERPRIV "), "{text}");
        assert!(!text.contains("RANDOMIZE") && !text.contains("POSTCOREDUMP"));
        let at: Vec<usize> = lines.iter().map(|l| details_column(l)).collect();
        assert!(at.iter().all(|&c| c == 114), "{at:?}\n{text}");
    }

    #[test]
    fn group_dead_only_where_the_group_had_threads() {
        let exit = |pid, tgid, group_dead| Record {
            boot_ns: 1_000,
            cpu: 0,
            event: Event::Exit {
                task: Task {
                    tgid,
                    ..task(pid, "x")
                },
                status: ExitStatus::Exited(0),
                group_dead: Some(group_dead),
            },
        };
        let a = ann(Kind::User);
        let mut t = Text::new(
            WallClock { boot_epoch_ns: 0 },
            PfNames::for_version((6, 18)),
        );
        let mut out = Vec::new();
        // A single-threaded process; then one whose thread exits first,
        // unshown (filtered out), then one whose thread is shown.
        t.record(&mut out, &exit(20, 20, true), &a);
        t.unshown(&exit(22, 21, false));
        t.record(&mut out, &exit(21, 21, true), &a);
        t.record(&mut out, &exit(24, 23, false), &a);
        t.record(&mut out, &exit(23, 23, true), &a);
        // The group is forgotten at its death: a new one of that pid is
        // single-threaded.
        t.record(&mut out, &exit(21, 21, true), &a);
        let text = String::from_utf8(out).unwrap();
        let ends: Vec<&str> = text
            .lines()
            .map(|l| l.rsplit("exited 0").next().unwrap())
            .collect();
        assert_eq!(
            ends,
            ["", " group_dead", " thread", " group_dead", ""],
            "{text}"
        );
    }

    #[test]
    fn long_full_lines_fold_at_spaces_and_keep_arguments_whole() {
        let long_arg = format!("--path=/{}", "d/".repeat(100));
        let mut argv: Vec<String> = vec!["/usr/bin/cc".into()];
        argv.extend((0..40).map(|i| format!("-Iinclude/dir{i}")));
        argv.push(long_arg.clone());
        argv.push("-o".into());
        let rec = Record {
            boot_ns: 1_000,
            cpu: 0,
            event: Event::Exec {
                task: task(42, "cc"),
                old_pid: 42,
                filename: "/usr/bin/cc".into(),
                argv,
                cut: None,
            },
        };
        let text = full_text(&[(rec.clone(), ann(Kind::User))]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 3, "{text}");
        assert!(lines[0].starts_with("00:00:00.000001 "), "{text}");
        for l in &lines {
            if l.chars().count() > 160 {
                assert_eq!(l.trim_start(), long_arg, "only the long argument runs over");
            }
        }
        // Folded details go on in the DETAILS column.
        for l in &lines[1..] {
            assert!(l.starts_with(&" ".repeat(114)), "{l:?}");
            assert!(!l[114..].starts_with(' '), "{l:?}");
        }
        // Unfolded (an OTLP body): one line.
        let one = line(&rec, &ann(Kind::User));
        assert_eq!(one.lines().count(), 1);
        // The words are the same.
        let words = |t: &str| t.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(words(&text), words(&one));
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
        assert!(l.contains(" $'\\e]0;pwn\\x07\\e[2J\\n' "), "{l}");
        assert!(
            l.contains(
                "$'/tmp/a\\nb' [/bin/sh -c 'exit 0' $'x\\n13:37:00 forged\\e[2J' '' 'it'\\''s']"
            ),
            "{l}"
        );
    }

    #[test]
    fn context_follows_the_details_and_nested_tasks_say_what_differs() {
        let ctx = |uid, pidns, ns_pid| TaskContext {
            uid: Some(uid),
            gid: Some(uid),
            cgroup_id: None,
            pidns: Some(pidns),
            ns_pid: Some(ns_pid),
            mntns: context::own_namespaces().1,
        };
        let own_pidns = context::own_namespaces().0.unwrap();
        let fork = Record {
            boot_ns: 1_000,
            cpu: 0,
            event: Event::Fork {
                child: Task {
                    context: Some(ctx(0, own_pidns + 1, 1)),
                    ..task(43, "sh")
                },
                creator: Task {
                    context: Some(ctx(1, own_pidns, 42)),
                    ..task(42, "unshare")
                },
                clone_flags: 0,
            },
        };
        let ann = ann(Kind::User);
        let daemon = context::user_name(1).unwrap_or_else(|| "1".into());
        // Root is not said unless asked (--context); the foreign pid
        // namespace and the creator's other user are.
        let wide = details(&fork, &ann, FULL);
        assert!(
            wide.ends_with(&format!(
                " clone_flags=0x0 pidns={} nspid=1 creator{{user={daemon}}}",
                own_pidns + 1,
            )),
            "{wide}"
        );
        let all = Show {
            said: Said::All,
            ..FULL
        };
        let wide = details(&fork, &ann, all);
        assert!(
            wide.ends_with(&format!(
                " user=root pidns={} nspid=1 creator{{user={daemon}}}",
                own_pidns + 1,
            )),
            "{wide}"
        );
        // Compact: root is not said, the pid inside is.
        assert!(details(&fork, &ann, COMPACT).ends_with("by 42 (unshare) [user] nspid=1"));
        // No context (a format 3 log): nothing added.
        let Event::Fork { child, .. } = &fork.event else {
            unreachable!()
        };
        let old = Record {
            event: Event::Rename {
                task: Task {
                    context: None,
                    ..child.clone()
                },
                new_comm: "x".into(),
            },
            ..fork.clone()
        };
        assert_eq!(details(&old, &ann, FULL), "sh -> x");
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
            l.ends_with("$'old\\xc2\\x9b' -> $'\\e]0;pwn\\x07\\e[2J\\n'\n"),
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
        assert!(l.contains("by 42 ($'c\\\\d\\x7f') [user]"), "{l}");

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
            spawner_id: None,
            exe: Some("/tmp/x\ny".into()),
            request: None,
            reason: None,
            requester_kind: None,
            exec_failed: false,
            exec_error: None,
        });
        a.killer = Some(Killer {
            task_id: crate::model::task_id::BootKey::new("", "").task(0, 0),
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
            l.contains("umh 44 $'/tmp/x\\ny' killed by SIGKILL from 9 ($'k\\e[2J') uid=0"),
            "{l}"
        );
    }

    /// Names holding the sentence's punctuation are quoted, so they cannot
    /// forge a sender, a uid or an argv, in either layout.
    #[test]
    fn names_cannot_forge_words_of_the_sentence() {
        let forger = "k) uid=0 (init";
        let signal = Record {
            boot_ns: 1_000,
            cpu: 0,
            event: Event::SignalGenerate {
                target: task(1, "systemd"),
                sender: task(25761, forger),
                sender_uid: 65534,
                sig: 15,
                errno: 0,
                code: 0,
                group: false,
                result: GenerateResult::Delivered,
            },
        };
        let file = "/tmp/u/x [sudo -i]";
        let exec = Record {
            boot_ns: 1_000,
            cpu: 0,
            event: Event::Exec {
                task: task(42, "x [sudo -i]"),
                old_pid: 42,
                filename: file.into(),
                argv: vec![file.into(), "x".into()],
                cut: None,
            },
        };
        for layout in [Layout::Wide, Layout::Narrow { width: 80 }] {
            let mut t = Text::new(
                WallClock { boot_epoch_ns: 0 },
                PfNames::for_version((6, 18)),
            );
            t.style(&Style {
                layout,
                color: false,
                dates: Dates::Off,
                ..Style::default()
            });
            let mut out = Vec::new();
            t.record(&mut out, &signal, &ann(Kind::Init));
            t.record(&mut out, &exec, &ann(Kind::User));
            // Wrapped compact lines joined back (a wrap drops one space).
            let text = String::from_utf8(out)
                .unwrap()
                .replace(&format!("\n{}", " ".repeat(CONTINUATION)), " ");
            assert!(
                text.contains("SIGTERM from 25761 ('k) uid=0 (init') [user] uid=65534 "),
                "{layout:?}: {text}"
            );
            assert!(
                text.contains(" '/tmp/u/x [sudo -i]' ['/tmp/u/x [sudo -i]' x]"),
                "{layout:?}: {text}"
            );
            assert!(text.contains(" 'x [sudo -i]' "), "{layout:?}: {text}");
            assert!(!text.contains("(init)"), "{layout:?}: {text}");
        }
    }
}
