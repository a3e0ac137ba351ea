//! `tracer report`: a summary of a recorded log for later analysis.

use std::{
    collections::{BTreeMap, HashMap},
    io::Write as _,
    path::Path,
};

use anyhow::{Context as _, Result};
use tracer_common::EventKind;

use crate::{
    log::reader::Item,
    model::classify::Kind,
    model::decode::decode,
    model::event::Event,
    model::signals::{self, ExitStatus},
    output::{
        self,
        escape::{argv, escape},
        json::{opt_string, string},
        Format,
    },
};

/// Groups kthread names: `kworker/u8:3` → `kworker/*`, `scsi_eh_1` → `scsi_eh_*`.
pub fn name_pattern(comm: &str) -> String {
    if let Some((prefix, _)) = comm.split_once('/') {
        return format!("{prefix}/*");
    }
    let trimmed = comm.trim_end_matches(|c: char| c.is_ascii_digit());
    if trimmed.len() < comm.len() {
        format!("{trimmed}*")
    } else {
        comm.to_string()
    }
}

#[derive(Default)]
struct Helper {
    pid: u32,
    path: Option<String>,
    argv: Vec<String>,
    spawner: Option<(u32, String)>,
    start_ns: u64,
    end_ns: Option<u64>,
    end: Option<String>,
    children: u64,
}

/// (sender pid, sender comm, target pid, target comm, target kind, signal, result).
type SignalKey = (u32, String, u32, String, Kind, String, String);

#[derive(Default)]
struct Report {
    first_ns: Option<u64>,
    last_ns: u64,
    snapshot: BTreeMap<Kind, u64>,
    new_tasks: BTreeMap<Kind, u64>,
    /// Kthread (pid, start) → current name, for grouping by final name.
    kthreads: HashMap<(u32, u64), String>,
    helpers: Vec<Helper>,
    helper_index: HashMap<(u32, u64), usize>,
    signals: BTreeMap<SignalKey, u64>,
    lost: BTreeMap<&'static str, u64>,
    damage: Vec<String>,
    events: u64,
    undecodable: u64,
}

fn collect(path: &Path) -> Result<(crate::log::header::LogHeader, Report)> {
    let (header, mut reader) = crate::log::open(path)?;
    let mut table = header.task_table();
    let mut r = Report::default();
    for e in table.iter() {
        *r.snapshot.entry(e.kind()).or_default() += 1;
    }
    while let Some(item) = reader.next() {
        let raw = match item {
            Ok(Item::Event(raw)) => raw,
            Ok(Item::Lost { tag, count, .. }) => {
                let name = EventKind::from_tag(tag).map_or("unknown", |k| k.name());
                let n = r.lost.entry(name).or_default();
                *n = n.saturating_add(count);
                continue;
            }
            Ok(Item::End { .. }) => continue,
            Err(damage) => {
                r.damage.push(damage.to_string());
                continue;
            }
        };
        let Ok(rec) = decode(raw) else {
            r.undecodable += 1;
            continue;
        };
        r.events += 1;
        r.first_ns.get_or_insert(rec.boot_ns);
        r.last_ns = r.last_ns.max(rec.boot_ns);
        let ann = table.apply(&rec);
        match &rec.event {
            Event::Fork { child, creator, .. } => {
                *r.new_tasks.entry(ann.subject).or_default() += 1;
                if matches!(ann.subject, Kind::Kthread | Kind::Kworker) {
                    r.kthreads
                        .insert((child.pid, child.start_ns), child.comm.clone());
                }
                if ann.subject == Kind::Umh && child.pid == child.tgid {
                    r.helper_index
                        .insert((child.pid, child.start_ns), r.helpers.len());
                    r.helpers.push(Helper {
                        pid: child.pid,
                        spawner: Some((creator.pid, creator.comm.clone())),
                        start_ns: child.start_ns,
                        ..Default::default()
                    });
                }
                if ann.subject == Kind::UmhChild {
                    // Credit the helper that made it (grandchildren count
                    // for the child that made them, not the helper).
                    if let Some(h) = r.helpers.iter_mut().rev().find(|h| h.pid == creator.tgid) {
                        h.children += 1;
                    }
                }
            }
            Event::Rename { task, new_comm } => {
                if let Some(name) = r.kthreads.get_mut(&(task.pid, task.start_ns)) {
                    *name = new_comm.clone();
                }
            }
            Event::Exec {
                task,
                filename,
                argv,
                ..
            } if ann.subject == Kind::Umh => {
                let key = (task.pid, task.start_ns);
                let idx = *r.helper_index.entry(key).or_insert_with(|| {
                    r.helpers.push(Helper {
                        pid: task.pid,
                        start_ns: task.start_ns,
                        spawner: ann
                            .helper
                            .as_ref()
                            .and_then(|h| h.spawner.as_ref().map(|(p, c)| (*p, c.to_string()))),
                        ..Default::default()
                    });
                    r.helpers.len() - 1
                });
                r.helpers[idx].path = Some(filename.clone());
                r.helpers[idx].argv = argv.clone();
            }
            Event::Exit { task, status, .. } if task.pid == task.tgid => {
                if let Some(&idx) = r.helper_index.get(&(task.pid, task.start_ns)) {
                    let h = &mut r.helpers[idx];
                    h.end_ns = Some(rec.boot_ns);
                    h.end = Some(match (status, &ann.killer) {
                        (ExitStatus::Signaled { .. }, Some(k)) => format!("{status} {}", k.from()),
                        _ => status.to_string(),
                    });
                }
            }
            Event::SignalGenerate {
                sender,
                target,
                sig,
                result,
                ..
            } if ann.subject.kernel_side() => {
                let key = (
                    sender.pid,
                    sender.comm.clone(),
                    target.pid,
                    target.comm.clone(),
                    ann.subject,
                    signals::name(*sig).into_owned(),
                    result.name().into_owned(),
                );
                *r.signals.entry(key).or_default() += 1;
            }
            _ => {}
        }
    }
    Ok((header, r))
}

impl Report {
    fn kthread_groups(&self) -> BTreeMap<String, u64> {
        let mut groups = BTreeMap::new();
        for name in self.kthreads.values() {
            *groups.entry(name_pattern(name)).or_default() += 1;
        }
        groups
    }
}

fn lifetime(h: &Helper) -> String {
    h.end_ns
        .map(|end| output::duration(end.saturating_sub(h.start_ns)))
        .unwrap_or_else(|| "still running".into())
}

fn text(
    header: &crate::log::header::LogHeader,
    r: &Report,
    clock: crate::model::clock::WallClock,
) -> String {
    let mut s = String::new();
    let span = |ns: Option<u64>| ns.map_or("-".to_string(), |n| clock.rfc3339(n));
    let signals = if header.kernel_filter.signals == tracer_common::SIGNALS_ALL {
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
    s.push_str("\ntasks by kind (at start / new):\n");
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
    for (pattern, n) in r.kthread_groups() {
        s.push_str(&format!("  {:<32} {n}\n", escape(&pattern)));
    }
    s.push_str("\nuser-mode helpers:\n");
    for h in &r.helpers {
        let spawner = h
            .spawner
            .as_ref()
            .map_or("?".to_string(), |(p, c)| format!("{p} ({})", escape(c)));
        s.push_str(&format!(
            "  {} {} [{}] spawned by {spawner}, {} children, lived {}: {}\n",
            h.pid,
            escape(h.path.as_deref().unwrap_or("(no exec seen)")),
            argv(&h.argv),
            h.children,
            lifetime(h),
            // The killer's comm is the only task data in it.
            escape(h.end.as_deref().unwrap_or("no exit seen"))
        ));
    }
    s.push_str("\nsignals to kernel-side tasks (count):\n");
    for ((spid, scomm, tpid, tcomm, kind, sig, result), n) in &r.signals {
        s.push_str(&format!(
            "  {n:>6} {sig} from {spid} ({}) to {tpid} ({}) [{kind}]: {result}\n",
            escape(scomm),
            escape(tcomm)
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
    s
}

fn json(
    header: &crate::log::header::LogHeader,
    r: &Report,
    clock: crate::model::clock::WallClock,
) -> Vec<u8> {
    let mut o = Vec::new();
    let s = |o: &mut Vec<u8>, v: &str| string(o, v);
    let _ = write!(
        o,
        "{{\"json_version\":{},\"hostname\":",
        crate::output::json::JSON_VERSION
    );
    s(&mut o, &header.hostname);
    o.extend_from_slice(b",\"kernel_release\":");
    s(&mut o, &header.kernel_release);
    o.extend_from_slice(b",\"boot_id\":");
    s(&mut o, &header.boot_id);
    o.extend_from_slice(b",\"recorded_from\":");
    s(&mut o, &clock.rfc3339(header.started_boot_ns));
    let _ = write!(
        o,
        ",\"all_signals\":{}",
        header.kernel_filter.signals == tracer_common::SIGNALS_ALL
    );
    match r.first_ns {
        Some(first) => {
            o.extend_from_slice(b",\"start\":");
            s(&mut o, &clock.rfc3339(first));
            o.extend_from_slice(b",\"end\":");
            s(&mut o, &clock.rfc3339(r.last_ns));
            let _ = write!(o, ",\"span_ns\":{}", r.last_ns - first);
        }
        None => o.extend_from_slice(b",\"start\":null,\"end\":null,\"span_ns\":0"),
    }
    let _ = write!(
        o,
        ",\"events\":{},\"undecodable\":{}",
        r.events, r.undecodable
    );
    o.extend_from_slice(b",\"missing_events\":[");
    for (i, m) in header.missing.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        let _ = write!(
            o,
            "{{\"event\":\"{}\",\"program\":\"{}\",\"reason\":",
            m.kind.name(),
            m.kind.program()
        );
        s(&mut o, &m.reason);
        o.push(b'}');
    }
    o.push(b']');
    let map = |o: &mut Vec<u8>, name: &str, m: &BTreeMap<Kind, u64>| {
        let _ = write!(o, ",\"{name}\":{{");
        for (i, (k, n)) in m.iter().enumerate() {
            let _ = write!(o, "{}\"{}\":{n}", if i > 0 { "," } else { "" }, k.name());
        }
        o.push(b'}');
    };
    map(&mut o, "tasks_at_start", &r.snapshot);
    map(&mut o, "tasks_new", &r.new_tasks);
    o.extend_from_slice(b",\"kthreads_created\":{");
    for (i, (p, n)) in r.kthread_groups().iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        s(&mut o, p);
        let _ = write!(o, ":{n}");
    }
    o.extend_from_slice(b"},\"helpers\":[");
    for (i, h) in r.helpers.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        let _ = write!(o, "{{\"pid\":{},\"path\":", h.pid);
        opt_string(&mut o, h.path.as_deref());
        o.extend_from_slice(b",\"argv\":[");
        for (j, a) in h.argv.iter().enumerate() {
            if j > 0 {
                o.push(b',');
            }
            s(&mut o, a);
        }
        o.extend_from_slice(b"],\"spawner_pid\":");
        match &h.spawner {
            Some((p, c)) => {
                let _ = write!(o, "{p},\"spawner_comm\":");
                s(&mut o, c);
            }
            None => o.extend_from_slice(b"null,\"spawner_comm\":null"),
        }
        let _ = write!(o, ",\"children\":{},\"lifetime_ns\":", h.children);
        match h.end_ns {
            Some(end) => {
                let _ = write!(o, "{}", end.saturating_sub(h.start_ns));
            }
            None => o.extend_from_slice(b"null"),
        }
        o.extend_from_slice(b",\"end\":");
        opt_string(&mut o, h.end.as_deref());
        o.push(b'}');
    }
    o.extend_from_slice(b"],\"signals_to_kernel_side\":[");
    for (i, ((spid, scomm, tpid, tcomm, kind, sig, result), n)) in r.signals.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        let _ = write!(
            o,
            "{{\"count\":{n},\"signal\":\"{sig}\",\"sender_pid\":{spid},\"sender_comm\":"
        );
        s(&mut o, scomm);
        let _ = write!(o, ",\"target_pid\":{tpid},\"target_comm\":");
        s(&mut o, tcomm);
        let _ = write!(
            o,
            ",\"target_kind\":\"{}\",\"result\":\"{result}\"}}",
            kind.name()
        );
    }
    o.extend_from_slice(b"],\"lost\":{");
    for (i, (k, n)) in r.lost.iter().enumerate() {
        let _ = write!(o, "{}\"{k}\":{n}", if i > 0 { "," } else { "" });
    }
    o.extend_from_slice(b"},\"damage\":[");
    for (i, d) in r.damage.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        s(&mut o, d);
    }
    o.extend_from_slice(b"]}\n");
    o
}

pub fn run(path: &Path, format: Format) -> Result<()> {
    let (header, report) = collect(path)?;
    let clock = header.wall_clock();
    let out = match format {
        Format::Text => text(&header, &report, clock).into_bytes(),
        Format::Json => json(&header, &report, clock),
    };
    std::io::stdout()
        .lock()
        .write_all(&out)
        .context("writing to stdout")?;
    if !report.damage.is_empty() {
        return Err(crate::log::reader::DamagedInput {
            path: path.to_path_buf(),
            stretches: report.damage.len(),
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::name_pattern;

    #[test]
    fn groups_kthread_names() {
        assert_eq!(name_pattern("kworker/u8:3"), "kworker/*");
        assert_eq!(name_pattern("jbd2/loop0-8"), "jbd2/*");
        assert_eq!(name_pattern("scsi_eh_1"), "scsi_eh_*");
        assert_eq!(name_pattern("ext4lazyinit"), "ext4lazyinit");
    }
}
