//! Live tests of `--metrics`: the real tracer on the real kernel serves
//! `/metrics`; the real `promtool` checks what it serves and a real
//! Prometheus server scrapes it. The counters are compared with the events
//! the tracer printed.
//!
//! The machine is not quiet (other work forks and execs all the time), so
//! each comparison brackets a scrape between two points of the event
//! stream, never guesses: a counter read before a marker event counts at
//! most the events printed before the marker, and one read after it at
//! least those. Counts the rest of the machine does not move (signals to
//! kernel-side tasks, helpers, losses, `helper_request`...) must then be
//! exactly equal.

use std::{
    collections::BTreeMap,
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::common::*;

mod scrape;
use scrape::*;

mod prometheus;
use prometheus::*;

#[test]
fn trace_metrics_count_every_printed_event() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut tracer = Tracer::start(&["--metrics", "127.0.0.1:0"]);
    let addr = metrics_addr(&tracer.startup);

    // The workload: execs, a signal to kthreadd, and three core-dump
    // helpers: one that runs, one killed, one that cannot be run.
    let mut trues = Vec::new();
    for _ in 0..5 {
        let mut c = Command::new("/bin/true").spawn().unwrap();
        trues.push(u64::from(c.id()));
        c.wait().unwrap();
    }
    kill(2u32, libc::SIGTERM);
    let fine = script(dir.path(), "fine-helper", "cat >/dev/null\n");
    let exit = core_dump_helper(&mut tracer, &fine);
    assert_eq!(exit["exit_signal"], Value::Null, "{exit}");
    let killed = script(dir.path(), "killed-helper", "kill -KILL $$\n");
    let exit = core_dump_helper(&mut tracer, &killed);
    assert_eq!(exit["exit_signal"], "SIGKILL", "{exit}");
    let missing = dir.path().join("no-such-helper");
    let exit = core_dump_helper(&mut tracer, missing.to_str().unwrap());
    assert_eq!(exit["helper"]["exec_failed"], true, "{exit}");
    for pid in &trues {
        tracer.wait_for("exec of /bin/true", |v| is(v, "exec") && v["pid"] == *pid);
    }
    tracer.wait_for("SIGTERM to kthreadd", |v| {
        is(v, "signal_generate") && v["pid"] == 2 && v["signo"] == 15
    });

    let body = fetch(addr);
    promtool_accepts(&body);
    let s = parse(&body);
    assert!(get(&s, "tracer_events_total{event=\"exec\"}") >= 5.0 + 2.0);
    assert!(get(&s, "tracer_helpers_started_total") >= 3.0);
    assert!(get(&s, "tracer_helpers_failed_total") >= 1.0);
    assert!(get(&s, "tracer_helpers_killed_total{signal=\"SIGKILL\"}") >= 1.0);
    assert!(
        get(
            &s,
            "tracer_kernel_signals_total{result=\"ignored\",target_kind=\"kthreadd\"}"
        ) >= 1.0
    );
    assert!(get(&s, "tracer_tasks{kind=\"kthreadd\"}") == 1.0);
    assert!(get(&s, "tracer_tasks{kind=\"user\"}") >= 1.0);
    assert!(get(&s, "tracer_tasks{kind=\"kworker\"}") >= 1.0);
    assert!(get(&s, "tracer_resident_memory_bytes") > 1e6);
    assert!(get(&s, "process_resident_memory_bytes") > 1e6);
    assert!(get(&s, "process_cpu_seconds_total") > 0.0);
    let size = get(&s, "tracer_ring_buffer_size_bytes{ring=\"0\"}");
    assert!(size >= 4096.0, "{size}");
    for (k, v) in &s {
        if k.starts_with("tracer_ring_buffer_fill_ratio") {
            assert!((0.0..=1.0).contains(v), "{k} {v}");
        }
        assert!(
            !k.contains("pid") && !k.contains("comm"),
            "unbounded label: {k}"
        );
    }

    // Exact: bracket each scrape between two marks of the printed stream.
    let mut exact = None;
    for attempt in 0..20 {
        let before = counted(&scrape(addr));
        marker(&mut tracer);
        let printed = tally(&tracer.seen);
        let after = counted(&scrape(addr));
        let over = at_most(&before, &printed);
        assert!(
            over.is_empty(),
            "counted before the marker but not printed: {over:?}"
        );
        let under = at_most(&printed, &after);
        assert!(
            under.is_empty(),
            "printed before a scrape but not counted: {under:?}"
        );
        let quiet = differ(&printed, &after, is_quiet);
        let all = differ(&printed, &after, |_| true);
        eprintln!("attempt {attempt}: quiet counts off {quiet:?}, all off {all:?}");
        if quiet.is_empty() {
            exact = Some(all.is_empty());
            break;
        }
        thread::sleep(Duration::from_millis(300));
    }
    let exact = exact.expect("the quiet counters never matched the printed events");
    eprintln!("every counter matched exactly: {exact}");

    // Other paths and methods.
    let (status, _, body) = http(addr, "GET", "/");
    assert_eq!(status, 404, "{body}");
    let (status, _, _) = http(addr, "GET", "/metricsx");
    assert_eq!(status, 404);
    let (status, head, body) = http(addr, "HEAD", "/metrics");
    assert_eq!(status, 200, "{head}");
    assert!(body.is_empty(), "HEAD has no body: {body}");
    let (status, head, _) = http(addr, "POST", "/metrics");
    assert_eq!(status, 405, "{head}");
    assert!(head.contains("Allow: GET, HEAD"), "{head}");

    // An idle client holding a connection does not keep the tracer alive.
    let _idle = TcpStream::connect(addr).unwrap();
    let stopping = Instant::now();
    tracer.stop();
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "stopping took {:?}",
        stopping.elapsed()
    );
    assert!(
        TcpStream::connect(addr).is_err(),
        "the port is closed once the tracer has exited"
    );
}

#[test]
fn prometheus_scrapes_what_the_tracer_counts() {
    let _serial = serial();
    let mut tracer = Tracer::start(&["--metrics", "127.0.0.1:0"]);
    let addr = metrics_addr(&tracer.startup);
    let prom = Prometheus::start(addr);

    let mut trues = Vec::new();
    for _ in 0..5 {
        let mut c = Command::new("/bin/true").spawn().unwrap();
        trues.push(u64::from(c.id()));
        c.wait().unwrap();
    }
    kill(2u32, libc::SIGTERM);
    for pid in &trues {
        tracer.wait_for("exec of /bin/true", |v| is(v, "exec") && v["pid"] == *pid);
    }

    // The target is up: Prometheus parsed what it scraped.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let up = prom.query("up{job=\"tracer\"}");
        if up.first().and_then(|u| u["value"][1].as_str()) == Some("1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}",
            prom.failed(&format!("never scraped the tracer successfully: {up:?}"))
        );
        thread::sleep(Duration::from_millis(250));
    }

    // Each Prometheus sample lies between the tracer's counts just before
    // and just after it; signal counts (kernel-side only, so quiet) match
    // exactly, and so does everything when the machine was quiet.
    let mut matched = None;
    for attempt in 0..15 {
        let before = counted(&scrape(addr));
        let since = wall_now();
        let deadline = Instant::now() + Duration::from_secs(10);
        let seen = loop {
            if let Some(s) = scraped_after(&prom, since) {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "{}",
                prom.failed("scraped nothing new in 10 s")
            );
            thread::sleep(Duration::from_millis(100));
        };
        let after = counted(&scrape(addr));
        let events = |m: &BTreeMap<String, u64>| -> BTreeMap<String, u64> {
            m.iter()
                .filter(|(k, _)| family_of(k) == "tracer_events_total")
                .map(|(k, v)| (k.clone(), *v))
                .collect()
        };
        let (before, after) = (events(&before), events(&after));
        assert_eq!(seen.len(), before.len(), "{seen:?} vs {before:?}");
        let low = at_most(&before, &seen);
        assert!(low.is_empty(), "Prometheus has less than counted: {low:?}");
        let high = at_most(&seen, &after);
        assert!(
            high.is_empty(),
            "Prometheus has more than counted: {high:?}"
        );
        let quiet = differ(&seen, &after, is_quiet);
        let all = differ(&seen, &after, |_| true);
        eprintln!("attempt {attempt}: quiet counts off {quiet:?}, all off {all:?}");
        if quiet.is_empty() {
            matched = Some(all.is_empty());
            break;
        }
    }
    let exact = matched.expect("Prometheus's quiet counters never matched the tracer's");
    eprintln!("every counter matched exactly: {exact}");
    let exec = prom.query("tracer_events_total{event=\"exec\"}");
    let exec: f64 = exec[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(exec >= 5.0, "{exec}");
    // Gauges and the process metrics made it too.
    for name in [
        "tracer_tasks",
        "tracer_ring_buffer_fill_ratio",
        "tracer_resident_memory_bytes",
        "process_cpu_seconds_total",
        "tracer_kernel_signals_total",
    ] {
        assert!(!prom.query(name).is_empty(), "no {name} in Prometheus");
    }
    drop(prom);
    tracer.stop();
}

/// `tracer record --metrics ADDR` until dropped (SIGINT, then waited for);
/// its stderr lines up to `attached`.
struct Recorder {
    child: Child,
    startup: Vec<String>,
}

impl Recorder {
    fn start(log: &std::path::Path, metrics: &str) -> Recorder {
        let mut child = Command::new(tracer_exe())
            .arg("record")
            .arg("-o")
            .arg(log)
            .args(["--metrics", metrics])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning tracer record");
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut startup = Vec::new();
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("record attached");
            let done = line.contains("attached");
            startup.push(line);
            if done {
                break;
            }
        }
        thread::spawn(move || while rx.recv().is_ok() {});
        Recorder { child, startup }
    }

    fn stop(mut self) {
        // SAFETY: kill() with a pid we own.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait().unwrap();
        assert!(status.success(), "record exited with {status}");
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // SAFETY: kill() with a pid we own.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
            let _ = self.child.wait();
        }
    }
}

#[test]
fn record_serves_metrics_and_ring_fill() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("metrics.log");
    let rec = Recorder::start(&log, "127.0.0.1:0");
    let addr = metrics_addr(&rec.startup);
    let before = get(&scrape(addr), "tracer_events_total{event=\"exec\"}");

    // A burst of execs while scraping: the ring is caught holding records.
    let burst = thread::spawn(|| {
        for _ in 0..300 {
            Command::new("/bin/true").status().unwrap();
        }
    });
    let mut peak = 0.0f64;
    let mut last = Samples::new();
    while !burst.is_finished() {
        last = scrape(addr);
        for (k, v) in &last {
            if k.starts_with("tracer_ring_buffer_used_bytes") {
                peak = peak.max(*v);
            }
        }
        thread::sleep(Duration::from_millis(100));
    }
    burst.join().unwrap();
    thread::sleep(Duration::from_millis(1500));
    let body = fetch(addr);
    promtool_accepts(&body);
    let s = parse(&body);
    for (k, v) in &s {
        if k.starts_with("tracer_ring_buffer_used_bytes") {
            peak = peak.max(*v);
        }
    }
    assert!(
        peak > 0.0,
        "the ring never held anything at a read: {last:#?}"
    );
    let execs = get(&s, "tracer_events_total{event=\"exec\"}") - before;
    assert!(execs >= 300.0, "{execs} execs counted");
    assert!(get(&s, "tracer_tasks{kind=\"user\"}") >= 1.0);
    rec.stop();
    assert!(TcpStream::connect(addr).is_err(), "the port is closed");
}

/// `export --format prometheus`: a recorded log's counts, exactly those
/// of its events (a log is fixed, so nothing needs bracketing), in an
/// exposition promtool accepts and without the exporting process's own
/// gauges.
#[test]
fn a_recorded_log_exports_its_counts() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("night.log");
    let recording = start_recording(&log, &[]);
    for _ in 0..3 {
        assert!(Command::new("/bin/true").status().unwrap().success());
    }
    kill(2u32, libc::SIGTERM);
    thread::sleep(Duration::from_millis(200));
    stop_recording(recording);

    let log = log.to_str().unwrap();
    let (code, jsonl, err) = run_tracer(&["export", log]);
    assert_eq!(code, 0, "{err}");
    let events: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (code, body, err) = run_tracer(&["export", log, "--format", "prometheus"]);
    assert_eq!(code, 0, "{err}");
    promtool_accepts(&body);
    let samples = parse(&body);
    let diff = differ(&counted(&samples), &tally(&events), |_| true);
    assert!(diff.is_empty(), "{}", diff.join("\n"));
    assert!(
        get(
            &samples,
            "tracer_kernel_signals_total{result=\"ignored\",target_kind=\"kthreadd\"}"
        ) >= 1.0
    );
    assert!(get(&samples, "tracer_events_total{event=\"exec\"}") >= 3.0);
    // Tasks alive at the log's end; nothing about the exporting process.
    assert!(get(&samples, "tracer_tasks{kind=\"kthreadd\"}") == 1.0);
    assert!(
        !body.contains("process_") && !body.contains("tracer_ring_buffer"),
        "{body}"
    );

    // To a file: created, never overwritten.
    let out = dir.path().join("night.prom");
    let out = out.to_str().unwrap();
    let (code, _, err) = run_tracer(&["export", log, "--format", "prometheus", "-o", out]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(out).unwrap(), body);
    let (code, _, err) = run_tracer(&["export", log, "--format", "prometheus", "-o", out]);
    assert_eq!(code, 1);
    assert!(err.contains("exists"), "{err}");
}

/// A `tracer record` stopped with SIGINT when dropped (a failed test
/// leaves no tracer attached), and every line of its stderr so far.
struct Limited {
    child: Child,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Limited {
    fn said(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// SIGINT, and its exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        // SAFETY: kill() with a pid we own.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        self.child.wait().unwrap()
    }
}

impl Drop for Limited {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.stop();
        }
    }
}

/// `tracer record -o LOG --metrics 127.0.0.1:0` with `RLIMIT_NOFILE` at
/// `nofile` (systemd's default soft limit is 1024).
fn record_with_nofile(log: &std::path::Path, nofile: u64) -> Limited {
    use std::os::unix::process::CommandExt as _;
    let mut cmd = Command::new(tracer_exe());
    cmd.arg("record")
        .arg("-o")
        .arg(log)
        .args(["--metrics", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: nofile,
                rlim_max: nofile,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    let mut child = cmd.spawn().expect("spawning tracer record");
    let stderr = child.stderr.take().unwrap();
    let rec = Limited {
        child,
        stderr: Default::default(),
    };
    let lines = rec.stderr.clone();
    let (tx, rx) = mpsc::channel();
    {
        let lines = lines.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let attached = line.contains("attached");
                lines.lock().unwrap().push(line);
                if attached {
                    let _ = tx.send(());
                }
            }
        });
    }
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("record never attached: {}", rec.said()));
    rec
}

/// Sends a request whose head is `line` then `header_bytes` of one header
/// (in 64 KiB writes, until done or the server closes), then reads the
/// answer: its status, if any came.
fn oversized(addr: SocketAddr, line: &str, header_bytes: usize) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = write!(s, "{line}\r\nHost: {addr}\r\nX-Big: ");
    let chunk = vec![b'a'; 64 << 10];
    let mut sent = 0;
    while sent < header_bytes {
        if s.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    let _ = s.write_all(b"\r\n\r\n");
    // What came before a reset is still read (Linux keeps it queued).
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 || raw.len() > 1 << 20 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let raw = String::from_utf8_lossy(&raw);
    raw.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// Whether the server closed (or refused with a 503) a connection this
/// side never wrote to.
fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 503"),
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// Reproduction 3 of issue 22: a local client floods `--metrics` with
/// oversized heads and idle connections while the recorder runs with
/// NOFILE 1024. Heads past the cap are refused, connections past the cap
/// are closed, a scrape still works during and after, nothing panics and
/// the recording loses nothing.
#[test]
fn a_hostile_client_neither_grows_nor_stops_the_endpoint() {
    const IDLE: usize = 1000;
    /// The most idle connections that may stay open (the server's cap is
    /// 16; this leaves room for its eviction to lag).
    const STILL_OPEN: usize = 64;
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hostile.log");
    let mut rec = record_with_nofile(&log, 1024);
    let addr = metrics_addr(&rec.stderr.lock().unwrap());

    // Oversized heads: a 10 MB header, a 64 KiB request line, and four
    // 10 MB headers at once.
    let status = oversized(addr, "GET /metrics HTTP/1.1", 10 << 20);
    assert!(
        matches!(status, Some(431 | 400)),
        "a 10 MB header got {status:?}"
    );
    let long_line = format!("GET /metrics?{} HTTP/1.1", "a".repeat(64 << 10));
    let status = oversized(addr, &long_line, 0);
    assert!(
        matches!(status, Some(431 | 400)),
        "a 64 KiB request line got {status:?}"
    );
    let four: Vec<_> = (0..4)
        .map(|_| thread::spawn(move || oversized(addr, "GET /metrics HTTP/1.1", 10 << 20)))
        .collect();
    for t in four {
        let status = t.join().unwrap();
        assert!(
            matches!(status, Some(431 | 400)),
            "one of four 10 MB headers got {status:?}"
        );
    }
    promtool_accepts(&fetch(addr));

    // Idle connections, far past the cap and near the tracer's NOFILE.
    let mut idle = Vec::new();
    let mut refused = 0;
    for _ in 0..IDLE {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(s) => idle.push(s),
            Err(_) => refused += 1,
        }
    }
    for s in &idle {
        s.set_nonblocking(true).unwrap();
    }
    // A scrape is served while they are held.
    promtool_accepts(&fetch(addr));
    let deadline = Instant::now() + Duration::from_secs(3);
    let open = loop {
        idle.retain_mut(|s| !closed_by_server(s));
        if idle.len() <= STILL_OPEN || Instant::now() > deadline {
            break idle.len();
        }
        thread::sleep(Duration::from_millis(100));
    };
    eprintln!("{IDLE} idle connections: {refused} not accepted, {open} still open");
    assert!(
        open <= STILL_OPEN,
        "{open} of {IDLE} idle connections still open past the cap; stderr:\n{}",
        rec.said()
    );
    drop(idle);

    // Alive afterwards, and the recording lost nothing.
    let marker = format!("metrics-hostile-marker-{}", std::process::id());
    assert!(Command::new("/bin/true")
        .arg(&marker)
        .status()
        .unwrap()
        .success());
    thread::sleep(Duration::from_millis(500));
    let body = fetch(addr);
    promtool_accepts(&body);
    let s = parse(&body);
    let lost: f64 = s
        .iter()
        .filter(|(k, _)| k.starts_with("tracer_lost_events_total"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(lost, 0.0, "events lost: {body}");
    assert!(
        get(&s, "process_max_fds") == 1024.0,
        "the tracer's NOFILE: {body}"
    );
    eprintln!(
        "the recorder holds {} descriptors",
        get(&s, "process_open_fds")
    );

    let status = rec.stop();
    let stderr = rec.said();
    assert!(status.success(), "record exited with {status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let (code, out, err) = run_tracer(&["replay", log.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        events.iter().any(|v| is(v, "exec")
            && v["argv"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == marker.as_str()))),
        "the marker exec is not in the replay"
    );
    assert!(
        !events.iter().any(|v| is(v, "lost")),
        "the replay has lost records"
    );
}
