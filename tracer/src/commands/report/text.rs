//! The report for a person: sections of aligned lines. The only module that
//! words report data.

use tracer_common::SIGNALS_ALL;

use super::collect::{Helper, HelperEnd, Report, Requester};
use crate::{
    log::header::LogHeader,
    model::{
        classify::Kind,
        clock::{rfc3339_wall, WallClock},
        signals::ExitStatus,
    },
    output::{
        self,
        escape::{argv, escape},
    },
};

/// `exited 0`, or `killed by SIGKILL from 999 (kill) uid=0`.
pub fn end(end: &HelperEnd) -> String {
    match (&end.status, &end.killer) {
        (ExitStatus::Signaled { .. }, Some(k)) => format!("{} {}", end.status, output::sender(k)),
        _ => end.status.to_string(),
    }
}

fn lifetime(h: &Helper) -> String {
    h.lifetime_ns()
        .map(output::duration)
        .unwrap_or_else(|| "still running".into())
}

/// The program a helper exec'd, else the one it was asked to run.
fn helper_path(h: &Helper) -> &str {
    match (&h.path, &h.request) {
        (Some(p), _) => p,
        (None, Some(req)) => &req.path,
        (None, None) => "(no exec seen)",
    }
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
            Some(why) => format!("{pid} ({comm}, {why})"),
            None => format!("{pid} ({comm})"),
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
            line.push_str(&output::sender(k));
        }
        if let Some(ns) = d.lifetime_ns {
            line.push_str(&format!(" after {}", output::duration(ns)));
        }
        s.push_str(&format!(
            "  {} {} ({}) [{}]: {}\n",
            clock.rfc3339(d.boot_ns),
            d.pid,
            escape(&d.comm),
            d.kind,
            escape(&line)
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

pub fn render(header: &LogHeader, r: &Report, clock: WallClock) -> String {
    let mut s = String::new();
    let span = |ns: Option<u64>| ns.map_or("-".to_string(), |n| clock.rfc3339(n));
    let signals = if header.kernel_filter.signals == SIGNALS_ALL {
        "all signals"
    } else {
        "signals to kernel-side tasks only"
    };
    s.push_str(&format!(
        "log: {} on {} (kernel {}, boot {})\nrecorded from {} with {signals}\nspan: {} .. {} ({})\nevents: {}{}\n",
        escape(&header.tracer_version),
        escape(&header.hostname),
        escape(&header.kernel_release),
        escape(&header.boot_id),
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
                m.reason
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
    for (pattern, n) in groups {
        s.push_str(&format!("  {:<32} {n}\n", escape(&pattern)));
    }
    s.push_str("\nkthreads exited:\n");
    if r.kthreads_exited.is_empty() {
        s.push_str("  none\n");
    }
    for (pattern, n) in &r.kthreads_exited {
        s.push_str(&format!("  {:<32} {n}\n", escape(pattern)));
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
            .map_or("?".to_string(), |(p, c)| format!("{p} ({})", escape(c)));
        let path = escape(helper_path(h));
        let failed = if h.exec_failed {
            "could not be run: exec failed; "
        } else {
            ""
        };
        s.push_str(&format!(
            "  {} {path} [{}] for {}, spawned by {spawner}, {} children, lived {}: {failed}{}\n",
            h.pid,
            argv(&h.argv),
            escape(&requester(h)),
            h.children,
            lifetime(h),
            // The killer's comm is the only task data in it.
            escape(&h.end.as_ref().map_or("no exit seen".into(), end))
        ));
    }
    s.push_str("\nlongest waits on a helper (requester blocked until it exited):\n");
    let waits = r.longest_waits(10);
    if waits.is_empty() {
        s.push_str("  none\n");
    }
    for (h, ns) in waits {
        s.push_str(&format!(
            "  {:>8} {} on {} {}\n",
            crate::output::duration(ns),
            escape(&requester(h)),
            h.pid,
            escape(helper_path(h)),
        ));
    }
    if !r.failed_execs.is_empty() {
        s.push_str("\nfailed execs (count):\n");
        let mut by_count: Vec<_> = r.failed_execs.iter().collect();
        by_count.sort_by_key(|(_, n)| std::cmp::Reverse(**n));
        for ((path, error), n) in by_count.into_iter().take(20) {
            s.push_str(&format!("  {n:>6} {} {error}\n", escape(path)));
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
                crate::output::duration(span),
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
            escape(&k.sender_comm),
            k.target_pid,
            escape(&k.target_comm),
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
