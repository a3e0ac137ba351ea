//! The report for a person: sections of aligned lines. The only module that
//! words report data.

use tracer_common::SIGNALS_ALL;

use super::collect::{Held, Helper, HelperEnd, Report, Requester, Wait};
use crate::{
    log::header::LogHeader,
    model::{
        classify::Kind,
        clock::{rfc3339_wall, WallClock},
        signals::ExitStatus,
    },
    output::{
        self,
        escape::{argv, escape, quote_name},
    },
};

/// `exited 0`, or `killed by SIGKILL from 999 (kill) uid=0` (the comm as
/// it is, for JSON).
pub(super) fn end(end: &HelperEnd) -> String {
    end_with(end, output::raw)
}

/// [`end`], with the killer's comm shown by `name`.
fn end_with(end: &HelperEnd, name: output::Names) -> String {
    match (&end.status, &end.killer) {
        (ExitStatus::Signaled { .. }, Some(k)) => {
            format!("{} {}", end.status, output::sender_with(k, name))
        }
        _ => end.status.to_string(),
    }
}

/// `no children`, `1 child`, `3 children`.
fn children(n: u64) -> String {
    match n {
        0 => "no children".into(),
        1 => "1 child".into(),
        n => format!("{n} children"),
    }
}

/// How a helper's life went: `lived 1.0s: killed by SIGKILL from ...`,
/// or that it was still running when the log ends.
fn life(h: &Helper) -> String {
    let failed = if h.exec_failed {
        "could not be run: exec failed; "
    } else {
        ""
    };
    match (&h.end, h.lifetime_ns()) {
        (Some(end), Some(ns)) => format!(
            "lived {}: {failed}{}",
            output::duration(ns),
            end_with(end, quote_name)
        ),
        _ => "still running at the end of the log".into(),
    }
}

/// One line of the waits section, after its duration: `21067 (python3)
/// waited for 21288 /sbin/request-key to exit`, `6332 (sh, dumping core)
/// is still dumping core into 6333 /tmp/h at the end of the log`.
fn wait_line(w: &Wait<'_>) -> String {
    let (who, helper) = (
        requester(w.helper),
        format!("{} {}", w.helper.pid, helper_path(w.helper)),
    );
    match (w.held, w.still) {
        (Held::HelperExit, false) => format!("{who} waited for {helper} to exit"),
        (Held::HelperExit, true) => {
            format!("{who} is still waiting for {helper} to exit at the end of the log")
        }
        (Held::Dumping, false) => format!("{who} dumped core into {helper}"),
        (Held::Dumping, true) => {
            format!("{who} is still dumping core into {helper} at the end of the log")
        }
    }
}

/// The program a helper exec'd, else the one it was asked to run
/// (quoted where it needs it).
fn helper_path(h: &Helper) -> std::borrow::Cow<'_, str> {
    match (&h.path, &h.request) {
        (Some(p), _) => quote_name(p),
        (None, Some(req)) => quote_name(&req.path),
        (None, None) => "(no exec seen)".into(),
    }
}

/// A kthread name pattern (`kworker/*`, `loop*`): the name's part quoted
/// where it needs it, the `*` tracer added left outside.
fn pattern(p: &str) -> String {
    let stem = p.strip_suffix('*').unwrap_or(p);
    format!("{}{}", quote_name(stem), &p[stem.len()..])
}

/// Whom a helper ran for: `5545 (sh, dumping core)`.
fn requester(h: &Helper) -> String {
    match &h.request {
        None => "?".into(),
        Some(Requester { who: None, .. }) => "(queued before recording)".into(),
        Some(Requester {
            who: Some((pid, comm)),
            reason,
            ..
        }) => match reason {
            Some(why) => format!("{pid} ({}, {})", quote_name(comm), escape(why)),
            None => format!("{pid} ({})", quote_name(comm)),
        },
    }
}

/// User processes that died of a signal, in order, with their killers.
fn deaths(r: &Report, clock: WallClock) -> String {
    let mut s = String::from("\nuser processes killed by a signal (core dumps included):\n");
    if r.deaths.is_empty() {
        s.push_str("  none\n");
    }
    for d in &r.deaths {
        let mut line = d.status.to_string();
        if let Some(k) = &d.killer {
            line.push(' ');
            line.push_str(&output::sender_with(k, quote_name));
        }
        if let Some(ns) = d.lifetime_ns {
            line.push_str(&format!(" after {}", output::duration(ns)));
        }
        s.push_str(&format!(
            "  {} {} ({}) [{}]: {}\n",
            clock.rfc3339(d.boot_ns),
            d.pid,
            quote_name(&d.comm),
            d.kind,
            line
        ));
    }
    if r.deaths_total > r.deaths.len() as u64 {
        s.push_str(&format!(
            "  ... and {} more\n",
            r.deaths_total - r.deaths.len() as u64
        ));
    }
    s
}

/// `window: 2026-11-27T21:36:30.000000Z .. end of log (--since 21:36:30): only events in it are counted`.
fn window_line(r: &Report, clock: WallClock) -> String {
    let end = |t: Option<i128>, open: &str| {
        t.map_or(open.to_string(), |t| rfc3339_wall(clock.boot_epoch_ns + t))
    };
    format!(
        "window: {} .. {} ({}): only events in it are counted\n",
        end(r.window.since, "start of log"),
        end(r.window.until, "end of log"),
        escape(&r.window_args)
    )
}

/// The waits section's heading: requesters held by their helper, those
/// still held at the end of the log first.
pub(super) const WAITS_HEADING: &str =
    "\nlongest waits on a helper (for its exit, or dumping core into it):\n";

pub(super) fn render(header: &LogHeader, r: &Report, clock: WallClock) -> String {
    let mut s = String::new();
    let span = |ns: Option<u64>| ns.map_or("-".to_string(), |n| clock.rfc3339(n));
    let signals = if header.kernel_filter.signals == SIGNALS_ALL {
        "all signals"
    } else {
        "signals to kernel-side tasks only"
    };
    s.push_str(&format!(
        "log: {} on {} (kernel {}, boot {})\nrecorded from {} with {signals}\nspan: {} .. {} ({})\nevents: {}{}\n",
        // From the log's header, which a hostile file can forge.
        quote_name(&header.tracer_version),
        quote_name(&header.hostname),
        quote_name(&header.kernel_release),
        quote_name(&header.boot_id),
        clock.rfc3339(header.started_boot_ns),
        span(r.first_ns),
        span(r.first_ns.map(|_| r.last_ns)),
        output::duration(r.last_ns.saturating_sub(r.first_ns.unwrap_or(r.last_ns))),
        r.events,
        if r.undecodable > 0 {
            format!(" ({} undecodable)", r.undecodable)
        } else {
            String::new()
        }
    ));
    if !r.window.is_all() {
        s.push_str(&window_line(r, clock));
    }
    if !header.missing.is_empty() {
        s.push_str("\nmissing events (the kernel refused their programs):\n");
        for m in &header.missing {
            s.push_str(&format!(
                "  {:<16} {}: {}\n",
                m.kind.name(),
                m.kind.program(),
                // The kernel's words, read back from a header a hostile
                // file can forge.
                escape(&m.reason)
            ));
        }
    }
    s.push_str(if r.window.is_all() {
        "\ntasks by kind (at start / new):\n"
    } else {
        "\ntasks by kind (at the start of recording / new in the window):\n"
    });
    for kind in Kind::ALL {
        let (a, b) = (
            r.snapshot.get(&kind).copied().unwrap_or(0),
            r.new_tasks.get(&kind).copied().unwrap_or(0),
        );
        if a + b > 0 {
            s.push_str(&format!("  {:<12} {a:>6} {b:>6}\n", kind.name()));
        }
    }
    s.push_str("\nkthreads created:\n");
    let groups = r.kthread_groups();
    if groups.is_empty() {
        s.push_str("  none\n");
    }
    for (name, n) in groups {
        s.push_str(&format!("  {:<32} {n}\n", pattern(&name)));
    }
    s.push_str(&r.kthreads_by_requester.text(pattern));
    s.push_str("\nkthreads exited:\n");
    if r.kthreads_exited.is_empty() {
        s.push_str("  none\n");
    }
    for (name, n) in &r.kthreads_exited {
        s.push_str(&format!("  {:<32} {n}\n", pattern(name)));
    }
    s.push_str(&deaths(r, clock));
    s.push_str("\nuser-mode helpers (failed first):\n");
    if r.helpers.is_empty() {
        s.push_str("  none\n");
    }
    for h in r.helpers_failed_first() {
        let spawner = h
            .spawner
            .as_ref()
            .map_or("?".to_string(), |(p, c)| format!("{p} ({})", quote_name(c)));
        s.push_str(&format!(
            "  {} {} [{}] for {}, spawned by {spawner}, {}, {}\n",
            h.pid,
            helper_path(h),
            argv(&h.argv),
            requester(h),
            children(h.children),
            life(h),
        ));
    }
    s.push_str(WAITS_HEADING);
    let waits = r.longest_waits(10);
    if waits.is_empty() {
        s.push_str("  none\n");
    }
    for w in waits {
        s.push_str(&format!(
            "  {:>8} {}\n",
            output::duration(w.ns),
            wait_line(&w)
        ));
    }
    if !r.failed_execs.is_empty() {
        s.push_str("\nfailed execs (count):\n");
        let mut by_count: Vec<_> = r.failed_execs.iter().collect();
        by_count.sort_by_key(|(_, n)| std::cmp::Reverse(**n));
        for ((path, error), n) in by_count.into_iter().take(20) {
            s.push_str(&format!("  {n:>6} {} {error}\n", quote_name(path)));
        }
    }
    if !r.helper_requests_by_uid.is_empty() {
        s.push_str("\nhelper requests by requester uid (count):\n");
        for (uid, n) in &r.helper_requests_by_uid {
            match uid {
                Some(uid) => s.push_str(&format!("  {n:>6} uid {uid}\n")),
                None => s.push_str(&format!("  {n:>6} requester not known\n")),
            }
        }
    }
    if !r.throttled.is_empty() {
        s.push_str("\nthrottled sources (events dropped):\n");
        for (uid, t) in &r.throttled {
            let kinds: Vec<String> = t.dropped.iter().map(|(k, n)| format!("{k} {n}")).collect();
            let span = t.last_ns.saturating_sub(t.first_ns.unwrap_or(t.last_ns));
            s.push_str(&format!(
                "  uid {uid} ({}): {} dropped in {} episode{} over {} ({})\n",
                escape(&t.comm),
                t.dropped_total(),
                t.episodes,
                if t.episodes == 1 { "" } else { "s" },
                output::duration(span),
                if kinds.is_empty() {
                    "counts not yet known".to_string()
                } else {
                    kinds.join(", ")
                },
            ));
        }
    }
    s.push_str("\nsignals to kernel-side tasks (count):\n");
    if r.signals.is_empty() {
        s.push_str("  none\n");
    }
    for (k, n) in &r.signals {
        s.push_str(&format!(
            "  {n:>6} {} from {} ({}) to {} ({}) [{}]: {}\n",
            k.signal,
            k.sender_pid,
            quote_name(&k.sender_comm),
            k.target_pid,
            quote_name(&k.target_comm),
            k.target_kind,
            k.result
        ));
    }
    s.push_str("\nlost events:");
    if r.lost.is_empty() {
        s.push_str(" 0\n");
    } else {
        s.push('\n');
        for (kind, n) in &r.lost {
            s.push_str(&format!("  {kind:<16} {n}\n"));
        }
    }
    for d in &r.damage {
        s.push_str(&format!("damage: {d}\n"));
    }
    if r.damage_total > r.damage.len() {
        s.push_str(&format!(
            "damage: {} more damaged stretches\n",
            r.damage_total - r.damage.len()
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::{
        super::collect::{Death, SignalKey},
        *,
    };
    use crate::{log::header::tests::sample, model::tasks::Killer};

    /// Names holding a sentence's punctuation are quoted wherever the
    /// report words them; JSON's `end` keeps the comm as it is.
    #[test]
    fn names_cannot_forge_words_of_the_report() {
        let forger = "k) uid=0 (init";
        let killer = Killer {
            task_id: crate::model::task_id::BootKey::new("", "").task(0, 0),
            sig: 9,
            pid: 7,
            tgid: 7,
            comm: forger.into(),
            uid: 65534,
            boot_ns: 1,
        };
        let mut r = Report::default();
        r.signals.insert(
            SignalKey {
                sender_pid: 25761,
                sender_comm: forger.into(),
                target_pid: 2,
                target_comm: "kthreadd".into(),
                target_kind: Kind::Kthreadd,
                signal: "SIGTERM".into(),
                result: "ignored".into(),
            },
            1,
        );
        r.deaths.push(Death {
            pid: 42,
            comm: "x [sudo -i]".into(),
            kind: Kind::User,
            boot_ns: 2,
            status: ExitStatus::Signaled {
                sig: 9,
                core: false,
            },
            killer: Some(killer.clone()),
            lifetime_ns: None,
        });
        r.deaths_total = 1;
        r.kthreads_exited.insert("a b*".into(), 1);
        r.failed_execs
            .insert(("/tmp/u/x [sudo -i]".into(), "ENOENT".into()), 1);
        let end = HelperEnd {
            boot_ns: 3,
            status: ExitStatus::Signaled {
                sig: 9,
                core: false,
            },
            killer: Some(killer),
        };
        r.helpers.push(Helper {
            pid: 43,
            path: Some("/tmp/u/h (x)".into()),
            argv: vec!["/tmp/u/h (x)".into()],
            spawner: Some((6, "kworker/u8:1".into())),
            start_ns: 1,
            end: Some(end),
            children: 0,
            request: Some(Requester {
                who: Some((5, forger.into())),
                reason: Some("dumping core".into()),
                path: "/tmp/u/h (x)".into(),
                held: None,
                start_ns: None,
                queued_ns: None,
                waited_ns: None,
            }),
            exec_failed: false,
        });
        // A header as a hostile log holds it: encoded, then read back.
        let mut header = sample();
        header.tracer_version = "0.1 (x) on fake".into();
        header.missing[0].reason = "no\n\x1b[2Jfake: line\u{85}".into();
        let mut buf = Vec::new();
        header.encode(&mut buf);
        let header = LogHeader::decode(&buf, crate::log::LOG_VERSION).unwrap();
        let text = render(&header, &r, WallClock { boot_epoch_ns: 0 });
        for want in [
            "log: '0.1 (x) on fake' on ",
            ": no\\n\\e[2Jfake: line\\xc2\\x85\n",
            "SIGTERM from 25761 ('k) uid=0 (init') to 2 (kthreadd) [kthreadd]: ignored",
            " 42 ('x [sudo -i]') [user]: killed by SIGKILL from 7 ('k) uid=0 (init') uid=65534",
            "  'a b'* ",
            " 1 '/tmp/u/x [sudo -i]' ENOENT",
            "  43 '/tmp/u/h (x)' ['/tmp/u/h (x)'] for 5 ('k) uid=0 (init', dumping core), \
             spawned by 6 (kworker/u8:1)",
            "from 7 ('k) uid=0 (init') uid=65534",
        ] {
            assert!(text.contains(want), "{want}\n{text}");
        }
        assert!(!text.contains("(k) uid=0 (init)"), "{text}");
        assert!(!text.contains('\x1b') && !text.contains('\u{85}'), "{text}");
        assert!(!text.lines().any(|l| l.starts_with("fake")), "{text}");
        let json_end = super::end(r.helpers[0].end.as_ref().unwrap());
        assert_eq!(
            json_end,
            "killed by SIGKILL from 7 (k) uid=0 (init) uid=65534"
        );
    }

    /// A helper's line and the waits read as sentences: a helper still
    /// running says so once, children are counted in words, and waits
    /// say what held the requester, also when the log ended first.
    #[test]
    fn helpers_and_waits_read_naturally() {
        let request = |pid: u32, held, waited_ns| Requester {
            who: Some((pid, "sh".into())),
            reason: (held == Some(Held::Dumping)).then(|| "dumping core".into()),
            path: "/tmp/h".into(),
            held,
            start_ns: Some(1),
            queued_ns: Some(1_000_000_000),
            waited_ns,
        };
        let helper = |pid, children, end: Option<HelperEnd>, req| Helper {
            pid,
            path: Some("/tmp/h".into()),
            argv: vec!["/tmp/h".into()],
            spawner: Some((6, "kworker/u8:1".into())),
            start_ns: 1_000_000_000,
            end,
            children,
            request: Some(req),
            exec_failed: false,
        };
        let exited = |at| HelperEnd {
            boot_ns: at,
            status: ExitStatus::Exited(0),
            killer: None,
        };
        let mut r = Report::default();
        r.last_ns = 13_000_000_000;
        r.helpers = vec![
            helper(50, 0, None, request(5, Some(Held::Dumping), None)),
            helper(
                51,
                1,
                Some(exited(1_400_000_000)),
                request(7, Some(Held::HelperExit), Some(400_000_000)),
            ),
            helper(
                52,
                3,
                Some(exited(2_000_000_000)),
                request(8, Some(Held::Dumping), Some(1_000_000_000)),
            ),
        ];
        let text = render(&sample(), &r, WallClock { boot_epoch_ns: 0 });
        for want in [
            "  50 /tmp/h [/tmp/h] for 5 (sh, dumping core), spawned by 6 (kworker/u8:1), \
             no children, still running at the end of the log\n",
            "  51 /tmp/h [/tmp/h] for 7 (sh), spawned by 6 (kworker/u8:1), 1 child, lived \
             400ms: exited 0\n",
            ", 3 children, lived 1.0s: exited 0\n",
            "(for its exit, or dumping core into it):\n     \
             12.0s 5 (sh, dumping core) is still dumping core into 50 /tmp/h at the end of \
             the log\n      1.0s 8 (sh, dumping core) dumped core into 52 /tmp/h\n     \
             400ms 7 (sh) waited for 51 /tmp/h to exit\n",
        ] {
            assert!(text.contains(want), "{want}\n{text}");
        }
        assert!(!text.contains("lived still"), "{text}");
    }
}
