//! The report for programs: one JSON object (serde_json; a cold path).
//! Field names are stable, versioned by [`JSON_VERSION`].

use serde_json::{json, Map, Value};
use tracer_common::SIGNALS_ALL;

use super::{
    collect::{Helper, HelperEnd, Report},
    text,
};
use crate::{
    log::header::LogHeader,
    model::{
        classify::Kind,
        clock::{rfc3339_wall, WallClock},
        signals::{self, ExitStatus},
        task_id::{BootKey, TaskIds},
    },
    output::json::{recover_text, JSON_VERSION},
};

fn by_kind(m: &std::collections::BTreeMap<Kind, u64>) -> Value {
    m.iter()
        .map(|(k, n)| (k.name().to_string(), json!(n)))
        .collect::<Map<_, _>>()
        .into()
}

/// How a helper ended, as data (`end` keeps the sentence).
fn exit(end: &HelperEnd) -> Value {
    let killer = end
        .killer
        .as_ref()
        .map(|k| json!({"task_id": k.task_id.to_string(), "pid": k.pid, "tgid": k.tgid, "comm": &*k.comm, "uid": k.uid}));
    match end.status {
        ExitStatus::Exited(code) => {
            json!({"exited": code, "signal": null, "core_dumped": false, "killer": null})
        }
        ExitStatus::Signaled { sig, core } => json!({
            "exited": null,
            "signal": signals::name(sig),
            "core_dumped": core,
            "killer": killer,
        }),
    }
}

fn helper(h: &Helper, ids: TaskIds) -> Value {
    let (spawner_pid, spawner_comm) = match &h.spawner {
        Some((p, c)) => (json!(p), json!(c)),
        None => (Value::Null, Value::Null),
    };
    json!({
        "task_id": ids.of_start(h.pid, h.start_ns).to_string(),
        "pid": h.pid,
        "path": h.path,
        "argv": h.argv,
        "spawner_pid": spawner_pid,
        "spawner_comm": spawner_comm,
        "children": h.children,
        "lifetime_ns": h.lifetime_ns(),
        "end": h.end.as_ref().map(text::end),
        "exit": h.end.as_ref().map(exit),
        "exec_failed": h.exec_failed,
        // Null when not seen, as in live JSON.
        "requested_by": h.request.as_ref().and_then(|r| {
            let (pid, comm) = r.who.as_ref()?;
            Some(json!({"pid": pid, "comm": comm, "reason": r.reason}))
        }),
        "request_path": h.request.as_ref().map(|r| &r.path),
        "waited_ns": h.request.as_ref().and_then(|r| r.waited_ns),
        // Held by the helper (its exit awaited, or a core dump into it)
        // when the log ends.
        "still_waiting": h.request.as_ref().is_some_and(|r| r.held.is_some() && r.waited_ns.is_none()),
    })
}

pub(super) fn render(header: &LogHeader, r: &Report, clock: WallClock) -> Vec<u8> {
    let ids = TaskIds::new(
        BootKey::new(&header.machine_id, &header.boot_id),
        header.ticks_per_sec,
    );
    let (start, end, span_ns) = match r.first_ns {
        Some(first) => (
            json!(clock.rfc3339(first)),
            json!(clock.rfc3339(r.last_ns)),
            r.last_ns - first,
        ),
        None => (Value::Null, Value::Null, 0),
    };
    let missing: Vec<Value> = header
        .missing
        .iter()
        .map(|m| json!({"event": m.kind.name(), "program": m.kind.program(), "reason": m.reason}))
        .collect();
    let signals: Vec<Value> = r
        .signals
        .iter()
        .map(|(k, n)| {
            json!({
                "count": n,
                "signal": k.signal,
                "sender_pid": k.sender_pid,
                "sender_comm": k.sender_comm,
                "target_pid": k.target_pid,
                "target_comm": k.target_comm,
                "target_kind": k.target_kind.name(),
                "result": k.result,
            })
        })
        .collect();
    let bound = |t: Option<i128>| {
        t.map_or(json!({"time": null, "boot_ns": null}), |t| {
            let boot_ns = i64::try_from(t).unwrap_or(if t < 0 { i64::MIN } else { i64::MAX });
            json!({"time": rfc3339_wall(clock.boot_epoch_ns + t), "boot_ns": boot_ns})
        })
    };
    let window = if r.window.is_all() {
        Value::Null
    } else {
        json!({
            "since": bound(r.window.since),
            "until": bound(r.window.until),
            "args": r.window_args,
        })
    };
    let report = json!({
        "json_version": JSON_VERSION,
        "window": window,
        "hostname": header.hostname,
        "kernel_release": header.kernel_release,
        "boot_id": header.boot_id,
        "machine_id": (!header.machine_id.is_empty()).then_some(&header.machine_id),
        "recorded_from": clock.rfc3339(header.started_boot_ns),
        "all_signals": header.kernel_filter.signals == SIGNALS_ALL,
        "start": start,
        "end": end,
        "span_ns": span_ns,
        "events": r.events,
        "undecodable": r.undecodable,
        "missing_events": missing,
        "tasks_at_start": by_kind(&r.snapshot),
        "tasks_new": by_kind(&r.new_tasks),
        "kthreads_created": r.kthread_groups(),
        "kthreads_exited": r.kthreads_exited,
        "kthreads_by_requester": r.kthreads_by_requester.json(),
        "deaths": r.deaths.iter().map(|d| json!({
            // The start is the exit time less the lifetime.
            "task_id": d.lifetime_ns.map(|l| ids.of_start(d.pid, d.boot_ns.saturating_sub(l)).to_string()),
            "pid": d.pid,
            "comm": d.comm,
            "kind": d.kind.name(),
            "time": clock.rfc3339(d.boot_ns),
            "boot_ns": d.boot_ns,
            "exit": exit(&HelperEnd { boot_ns: d.boot_ns, status: d.status, killer: d.killer.clone() }),
            "lifetime_ns": d.lifetime_ns,
        })).collect::<Vec<_>>(),
        "deaths_total": r.deaths_total,
        "helpers": r.helpers_failed_first().map(|h| helper(h, ids)).collect::<Vec<_>>(),
        "signals_to_kernel_side": signals,
        "failed_execs": r
            .failed_execs
            .iter()
            .map(|((path, error), n)| json!({"path": path, "error": error, "count": n}))
            .collect::<Vec<_>>(),
        "helper_requests_by_uid": r
            .helper_requests_by_uid
            .iter()
            .map(|(uid, n)| json!({"uid": uid, "count": n}))
            .collect::<Vec<_>>(),
        "throttled": r
            .throttled
            .iter()
            .map(|(uid, t)| json!({
                "uid": uid,
                "comm": t.comm,
                "episodes": t.episodes,
                "dropped": t.dropped,
                "dropped_total": t.dropped_total(),
                "first_ns": t.first_ns,
                "last_ns": t.last_ns,
            }))
            .collect::<Vec<_>>(),
        "lost": r.lost,
        "damage": r.damage.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "damage_stretches": r.damage_total,
    });
    let mut report = report;
    recover_text(&mut report);
    let mut out = serde_json::to_vec(&report).expect("a Value always serializes");
    out.push(b'\n');
    out
}
