//! Reading what `--metrics` serves: HTTP fetches, the text format parsed,
//! `promtool`, the events tallied to compare with, and markers.

use std::{
    collections::BTreeMap,
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    process::{Command, Stdio},
    time::Duration,
};

use serde_json::Value;

use crate::common::*;

/// Samples of one exposition: `name{labels}` as written, and the value.
pub(super) type Samples = BTreeMap<String, f64>;

/// Counts the machine's background hardly moves: after the workload they
/// must match the printed events exactly. Fork, exec, exit, rename and
/// kthreads created are bracketed only.
pub(super) const QUIET: [&str; 9] = [
    "tracer_events_total{event=\"signal_generate\"}",
    "tracer_events_total{event=\"signal_deliver\"}",
    "tracer_events_total{event=\"helper_request\"}",
    "tracer_events_total{event=\"exec_failed\"}",
    "tracer_lost_events_total",
    "tracer_helpers_started_total",
    "tracer_helpers_failed_total",
    "tracer_helpers_killed_total",
    "tracer_kernel_signals_total",
];

/// The counter families compared with the printed events.
pub(super) const COUNTED: [&str; 7] = [
    "tracer_events_total",
    "tracer_lost_events_total",
    "tracer_helpers_started_total",
    "tracer_helpers_failed_total",
    "tracer_helpers_killed_total",
    "tracer_kernel_signals_total",
    "tracer_kthreads_created_total",
];

pub(super) fn is_quiet(key: &str) -> bool {
    QUIET.iter().any(|q| key.starts_with(q))
}

/// One HTTP/1.1 request; (status, head, body).
pub(super) fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw)
        .unwrap_or_else(|e| panic!("reading the answer to {method} {path}: {e}"));
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers: {raw}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head}"));
    (status, head.to_string(), body.to_string())
}

pub(super) fn fetch(addr: SocketAddr) -> String {
    let (status, head, body) = http(addr, "GET", "/metrics");
    assert_eq!(status, 200, "{head}\n{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    body
}

pub(super) fn parse(body: &str) -> Samples {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (key, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad sample line: {l}"));
            let value = value
                .parse::<f64>()
                .unwrap_or_else(|e| panic!("bad value ({e}): {l}"));
            (key.to_string(), value)
        })
        .collect()
}

pub(super) fn scrape(addr: SocketAddr) -> Samples {
    parse(&fetch(addr))
}

/// The counted families of a scrape, as integers.
pub(super) fn counted(s: &Samples) -> BTreeMap<String, u64> {
    s.iter()
        .filter(|(k, _)| COUNTED.iter().any(|f| family_of(k) == *f))
        .map(|(k, v)| (k.clone(), *v as u64))
        .collect()
}

pub(super) fn family_of(key: &str) -> &str {
    key.split('{').next().unwrap_or(key)
}

pub(super) fn get(s: &Samples, key: &str) -> f64 {
    *s.get(key)
        .unwrap_or_else(|| panic!("no sample {key} in {s:#?}"))
}

/// `promtool check metrics` accepts it, and its lint has nothing to say.
pub(super) fn promtool_accepts(body: &str) {
    let mut child = Command::new("/usr/bin/promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running /usr/bin/promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {}: {said}\n{body}",
        out.status
    );
}

/// The address the tracer said it serves metrics at.
pub(super) fn metrics_addr(stderr: &[String]) -> SocketAddr {
    stderr
        .iter()
        .find_map(|l| {
            l.split("http://")
                .nth(1)?
                .strip_suffix("/metrics")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no metrics address on stderr: {stderr:?}"))
}

pub(super) fn boottime_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The counters the printed events imply, keyed as the exposition writes
/// them.
pub(super) fn tally(events: &[Value]) -> BTreeMap<String, u64> {
    let mut t = BTreeMap::new();
    let mut add = |k: String, n: u64| *t.entry(k).or_insert(0) += n;
    for v in events {
        let event = str_of(v, "event");
        if event == "lost" {
            add(
                format!(
                    "tracer_lost_events_total{{event=\"{}\"}}",
                    str_of(v, "lost_event")
                ),
                u64_of(v, "count"),
            );
            continue;
        }
        add(format!("tracer_events_total{{event=\"{event}\"}}"), 1);
        let kind = str_of(v, "kind");
        let leader = v["pid"] == v["tgid"];
        match event {
            "fork" if kind == "umh" && leader => add("tracer_helpers_started_total".into(), 1),
            "fork" if kind == "kthread" || kind == "kworker" => {
                add("tracer_kthreads_created_total".into(), 1)
            }
            "exit" if kind == "umh" && leader => {
                if v["helper"]["exec_failed"] == true {
                    add("tracer_helpers_failed_total".into(), 1);
                }
                if let Some(sig) = v["exit_signal"].as_str() {
                    add(
                        format!("tracer_helpers_killed_total{{signal=\"{sig}\"}}"),
                        1,
                    );
                }
            }
            "signal_generate" if !matches!(kind, "user" | "init" | "idle") => {
                let result = str_of(v, "result");
                let result = if result.starts_with("unknown") {
                    "unknown"
                } else {
                    result
                };
                add(
                    format!(
                        "tracer_kernel_signals_total{{result=\"{result}\",target_kind=\"{kind}\"}}"
                    ),
                    1,
                );
            }
            _ => {}
        }
    }
    t
}

/// Whether `a <= b` for every key of either (a missing key is 0).
pub(super) fn at_most(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> Vec<String> {
    a.keys()
        .chain(b.keys())
        .filter(|k| a.get(*k).copied().unwrap_or(0) > b.get(*k).copied().unwrap_or(0))
        .map(|k| format!("{k}: {:?} > {:?}", a.get(k), b.get(k)))
        .collect()
}

/// Keys where `a` and `b` differ (a missing key is 0), `keep` ones only.
pub(super) fn differ(
    a: &BTreeMap<String, u64>,
    b: &BTreeMap<String, u64>,
    keep: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut out: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| keep(k))
        .filter(|k| a.get(*k).copied().unwrap_or(0) != b.get(*k).copied().unwrap_or(0))
        .map(|k| format!("{k}: {:?} vs {:?}", a.get(k), b.get(k)))
        .collect();
    out.dedup();
    out
}

/// Sends SIGURG to kthreadd (one `signal_generate`, nothing else) and
/// waits until it is printed: every event counted before it was sent is
/// printed by then.
pub(super) fn marker(tracer: &mut Tracer) {
    let sent = boottime_ns();
    kill(2u32, libc::SIGURG);
    tracer.wait_for("the SIGURG marker to kthreadd", |v| {
        is(v, "signal_generate")
            && v["pid"] == 2
            && v["signo"] == 23
            && v["boot_ns"].as_u64().is_some_and(|t| t > sent)
    });
}

/// The helper a crash's core dump starts (`core_pattern` piped to it),
/// waited for until its exit is printed; that exit.
pub(super) fn core_dump_helper(tracer: &mut Tracer, helper: &str) -> Value {
    let _pattern = core_pattern_to(helper);
    let mut crasher = crash();
    let crasher_pid = crasher.id();
    crasher.wait().unwrap();
    let request = tracer.wait_for("the helper request", |v| {
        is(v, "helper_request")
            && v["request_path"] == helper
            && v["requested_by"]["pid"] == crasher_pid
    });
    let (kworker, asked) = (request["pid"].clone(), u64_of(&request, "boot_ns"));
    // The kworker's next helper (it may have made others before).
    let fork = tracer.wait_for("the helper's fork", |v| {
        is(v, "fork")
            && v["kind"] == "umh"
            && v["creator"]["pid"] == kworker
            && v["boot_ns"].as_u64().is_some_and(|t| t > asked)
    });
    let pid = fork["pid"].clone();
    tracer.wait_for("the helper's exit", |v| is(v, "exit") && v["pid"] == pid)
}
