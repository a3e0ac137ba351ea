//! Live tests of the OTLP logs exporter: real commands traced and recorded,
//! their records sent to a receiver (tests/py/otlp_receiver.py) that
//! decodes them with the OpenTelemetry project's own Python types, and a
//! collector that is down, failing, or slow.

use std::{
    collections::BTreeMap,
    io::{BufRead as _, BufReader},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::Value;

use crate::common::*;

/// The receiver, running until dropped.
struct Receiver {
    child: Child,
    port: u16,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Receiver {
    /// `extra`: `--status CODE`, `--times N`, `--sleep S`.
    fn start(extra: &[&str]) -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("received.jsonl");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/otlp_receiver.py");
        let mut child = Command::new(test_py_tool("python"))
            .arg(script)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the OTLP receiver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the receiver did not say its port: {line:?}"));
        Receiver {
            child,
            port,
            out,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn lines(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line ({e}): {l}")))
            .collect()
    }

    /// Every delivered record, with its resource and scope.
    fn records(&self) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter(|l| l.get("record").is_some())
            .collect()
    }

    /// One line per request: path, status, records, headers.
    fn requests(&self) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter(|l| l.get("request").is_some())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A URL where nothing listens: a port the kernel picked, then let go.
fn nothing_listening() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

fn attr<'a>(r: &'a Value, key: &str) -> &'a Value {
    r["record"]["attributes"]
        .get(key)
        .unwrap_or_else(|| panic!("no attribute {key}: {r}"))
}

fn event_of(r: &Value) -> &str {
    attr(r, "tracer.event").as_str().unwrap()
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// `/bin/true otlp <marker>` run to completion; its pid.
fn run_true(marker: &str) -> u32 {
    let mut child = Command::new("/bin/true")
        .args(["otlp", marker])
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(child.wait().unwrap().success());
    pid
}

fn argv_has(v: &Value, marker: &str) -> bool {
    v.as_array()
        .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(marker)))
}

/// The record of the exec of `/bin/true otlp <marker>`.
fn exec_record<'a>(records: &'a [Value], marker: &str) -> &'a Value {
    records
        .iter()
        .find(|r| {
            event_of(r) == "exec"
                && argv_has(&r["record"]["attributes"]["process.command_args"], marker)
        })
        .unwrap_or_else(|| panic!("no exec record of {marker} among {} records", records.len()))
}

/// The numbers in `tracer: otlp: sent N log records to URL, dropped M`.
fn summary(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("tracer: otlp: sent "))
        .unwrap_or_else(|| panic!("no otlp summary on stderr:\n{stderr}"));
    let number_after = |word: &str| -> u64 {
        let rest = &line[line.find(word).unwrap_or_else(|| panic!("{line}")) + word.len()..];
        rest.split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no number after {word:?}: {line}"))
    };
    (number_after("sent "), number_after("dropped "))
}

fn counts_by_event<'a>(events: impl Iterator<Item = &'a str>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for e in events {
        *counts.entry(e.to_string()).or_default() += 1;
    }
    counts
}

#[test]
fn trace_sends_each_event_as_a_log_record() {
    let _serial = serial();
    let receiver = Receiver::start(&[]);
    let url = receiver.url();
    let mut tracer = Tracer::start(&["--otlp", &url]);
    let marker = format!("live-{}", std::process::id());
    let before = now_ns();
    let pid = run_true(&marker);
    tracer.wait_for("exec of /bin/true", |v| {
        is(v, "exec") && argv_has(&v["argv"], &marker)
    });
    let (events, stderr) = tracer.stop();
    let after = now_ns();

    let records = receiver.records();
    let r = exec_record(&records, &marker);
    let a = &r["record"]["attributes"];
    assert_eq!(a["process.pid"], u64::from(pid), "{r}");
    assert_eq!(a["thread.id"], u64::from(pid), "{r}");
    assert_eq!(a["process.parent_pid"], me(), "{r}");
    assert_eq!(a["process.executable.path"], "/bin/true", "{r}");
    assert_eq!(a["process.executable.name"], "true", "{r}");
    assert_eq!(a["thread.name"], "true", "{r}");
    // The task context: the tests run as root, in some cgroup v2 group.
    assert_eq!(a["process.real_user.id"], 0, "{r}");
    assert_eq!(a["process.real_group.id"], 0, "{r}");
    assert!(
        a["process.linux.cgroup"]
            .as_str()
            .is_some_and(|c| c.starts_with('/')),
        "{r}"
    );
    assert_eq!(
        a["process.command_args"],
        serde_json::json!(["/bin/true", "otlp", marker]),
        "{r}"
    );
    assert_eq!(a["process.args_count"], 3, "{r}");
    assert_eq!(a["tracer.event"], "exec", "{r}");
    assert_eq!(a["tracer.kind"], "user", "{r}");
    assert!(a["tracer.flags"].is_array(), "{r}");
    let rec = &r["record"];
    assert_eq!(rec["event_name"], "tracer.exec");
    assert_eq!(rec["severity_text"], "INFO");
    assert_eq!(rec["severity_number"], 9);
    let body = rec["body"].as_str().unwrap();
    assert!(
        body.contains("exec") && body.contains("/bin/true") && body.contains(&marker),
        "{body}"
    );
    assert_eq!(body.trim(), body);
    // Stamped by the kernel while the command ran; observed after that.
    let (time, observed) = (
        rec["time_unix_nano"].as_u64().unwrap(),
        rec["observed_time_unix_nano"].as_u64().unwrap(),
    );
    let slack = 2_000_000_000;
    assert!(
        time + slack >= before && time <= after + slack,
        "time {time} not within [{before}, {after}]"
    );
    assert!(
        observed + slack >= time && observed <= after + slack,
        "observed {observed}, time {time}, after {after}"
    );

    let res = &r["resource"];
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(res["host.name"], hostname.trim(), "{res}");
    assert_eq!(res["os.type"], "linux");
    assert_eq!(res["os.version"], release.trim());
    assert_eq!(res["service.name"], "tracer");
    assert_eq!(res["service.version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(r["scope"]["name"], "tracer");

    // The wire: protobuf, gzipped, at /v1/logs, every request taken.
    let requests = receiver.requests();
    assert!(!requests.is_empty());
    for q in &requests {
        assert_eq!(q["path"], "/v1/logs", "{q}");
        assert_eq!(q["content_type"], "application/x-protobuf", "{q}");
        assert_eq!(q["content_encoding"], "gzip", "{q}");
        assert_eq!(q["status"], 200, "{q}");
        assert!(q["records"].as_u64().unwrap() <= 512, "{q}");
    }
    // One record per event printed (lost notices included), none dropped.
    let (sent, dropped) = summary(&stderr);
    assert_eq!(dropped, 0, "{stderr}");
    assert_eq!(sent as usize, records.len(), "{stderr}");
    assert_eq!(records.len(), events.len(), "{stderr}");
    assert_eq!(
        counts_by_event(records.iter().map(event_of)),
        counts_by_event(events.iter().map(|e| e["event"].as_str().unwrap())),
    );
}

/// `record --otlp` sends while it records; `export --format otlp` sends
/// the log; a collector that is down, failing for a while, or refusing.
#[test]
fn record_and_export_send_every_event() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.log");
    let log = log.to_str().unwrap();
    let live = Receiver::start(&[]);
    let marker = format!("rec-{}", std::process::id());
    let recording = start_recording(Path::new(log), &["--otlp", &live.url()]);
    let status = Command::new("/bin/sh")
        .args(["-c", "exit 3"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    run_true(&marker);
    std::thread::sleep(Duration::from_millis(200));
    stop_recording(recording);
    exec_record(&live.records(), &marker);

    let (code, jsonl, err) = run_tracer(&["export", log]);
    assert_eq!(code, 0, "{err}");
    let exported: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let want = counts_by_event(exported.iter().map(|e| e["event"].as_str().unwrap()));

    let receiver = Receiver::start(&[]);
    let (code, out, err) =
        run_tracer(&["export", log, "--format", "otlp", "--otlp", &receiver.url()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "{out}");
    let records = receiver.records();
    let got = counts_by_event(records.iter().map(event_of));
    for e in ["fork", "exec", "exit"] {
        assert!(want.get(e).is_some_and(|&n| n > 0), "no {e} in {want:?}");
    }
    assert_eq!(got, want);
    let (sent, dropped) = summary(&err);
    assert_eq!((sent as usize, dropped), (exported.len(), 0), "{err}");
    let r = exec_record(&records, &marker);
    // The recording machine's resource; event times from the log.
    assert_eq!(r["resource"]["service.name"], "tracer");
    let exit3 = records
        .iter()
        .find(|r| event_of(r) == "exit" && r["record"]["attributes"]["process.exit.code"] == 3)
        .expect("the exit 3 record");
    assert!(exit3["record"]["attributes"]["tracer.lifetime_ns"].is_u64());

    // Down: the export fails and says why; the log is untouched.
    let before = std::fs::read(log).unwrap();
    let down = nothing_listening();
    let (code, _, err) = run_tracer(&["export", log, "--format", "otlp", "--otlp", &down]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("tracer: error: exporting to the OTLP collector")
            && err.contains("did not take every record")
            && err.contains("connection refused"),
        "{err}"
    );
    assert_eq!(std::fs::read(log).unwrap(), before);

    // 503 twice, then 200: retried, everything delivered.
    let flaky = Receiver::start(&["--status", "503", "--times", "2"]);
    let (code, _, err) = run_tracer(&["export", log, "--format", "otlp", "--otlp", &flaky.url()]);
    assert_eq!(code, 0, "{err}");
    let statuses: Vec<u64> = flaky
        .requests()
        .iter()
        .map(|q| q["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses[..3], [503, 503, 200], "{statuses:?}");
    assert_eq!(counts_by_event(flaky.records().iter().map(event_of)), want);

    // 500: not retried (OTLP says so), the batch dropped, the export fails.
    let refusing = Receiver::start(&["--status", "500"]);
    let (code, _, err) =
        run_tracer(&["export", log, "--format", "otlp", "--otlp", &refusing.url()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("HTTP 500"), "{err}");
    // One try per batch: every record sent once.
    let requests = refusing.requests();
    let tried: u64 = requests
        .iter()
        .map(|q| q["records"].as_u64().unwrap())
        .sum();
    assert_eq!(tried as usize, exported.len(), "{requests:?}");
    assert!(refusing.records().is_empty());
}

#[test]
fn live_trace_goes_on_when_the_collector_is_down() {
    let _serial = serial();
    let mut tracer = Tracer::start(&["--otlp", &nothing_listening()]);
    let marker = format!("down-{}", std::process::id());
    run_true(&marker);
    tracer.wait_for("exec of /bin/true", |v| {
        is(v, "exec") && argv_has(&v["argv"], &marker)
    });
    // Past one batch's age and its tries.
    std::thread::sleep(Duration::from_millis(1500));
    let (events, stderr) = tracer.stop();
    let (sent, dropped) = summary(&stderr);
    assert_eq!(sent, 0, "{stderr}");
    assert!(dropped >= 1 && dropped as usize <= events.len(), "{stderr}");
    assert!(stderr.contains("connection refused"), "{stderr}");
    assert!(
        stderr.contains("tracer: warning: otlp: dropped"),
        "{stderr}"
    );
}

#[test]
fn live_trace_warns_when_the_collector_refuses() {
    let _serial = serial();
    let receiver = Receiver::start(&["--status", "500"]);
    let mut tracer = Tracer::start(&["--otlp", &receiver.url()]);
    let marker = format!("refused-{}", std::process::id());
    run_true(&marker);
    tracer.wait_for("exec of /bin/true", |v| {
        is(v, "exec") && argv_has(&v["argv"], &marker)
    });
    let (_, stderr) = tracer.stop();
    let (sent, dropped) = summary(&stderr);
    assert_eq!(sent, 0, "{stderr}");
    assert!(dropped >= 1, "{stderr}");
    assert!(
        stderr.contains("tracer: warning: otlp: dropped") && stderr.contains("HTTP 500"),
        "{stderr}"
    );
    assert!(stderr.contains("collector refused"), "{stderr}");
    // Each batch tried once.
    let requests = receiver.requests();
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|q| q["status"] == 500));
}

#[test]
fn live_trace_drains_past_a_slow_collector() {
    let _serial = serial();
    // Answers after 8 s: past the 5 s a request may take.
    let receiver = Receiver::start(&["--sleep", "8"]);
    let mut tracer = Tracer::start(&["--otlp", &receiver.url()]);
    let marker = format!("slow-{}", std::process::id());
    for _ in 0..20 {
        run_true(&marker);
        std::thread::sleep(Duration::from_millis(100));
    }
    tracer.wait_for("exec of /bin/true", |v| {
        is(v, "exec") && argv_has(&v["argv"], &marker)
    });
    let stopping = Instant::now();
    let (events, stderr) = tracer.stop();
    let took = stopping.elapsed();
    // The exit waits at most 5 s for the sender, then says what it dropped.
    assert!(took < Duration::from_secs(9), "stopping took {took:?}");
    let (sent, dropped) = summary(&stderr);
    assert_eq!(sent, 0, "{stderr}");
    assert!(
        dropped >= 20 && dropped as usize <= events.len(),
        "{dropped} of {}: {stderr}",
        events.len()
    );
    assert!(
        stderr.contains("at exit") || stderr.contains("timed out"),
        "{stderr}"
    );
    assert!(receiver.records().is_empty());
}
