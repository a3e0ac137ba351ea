//! The `--metrics` endpoint under a hostile local client, part of `cargo
//! xtask bench --hostile-only` (needs root: it runs `tracer record`). The
//! recorder runs with NOFILE 1024 (systemd's default soft limit) while one
//! client sends 200 MB of headers on each of four connections at once
//! (connecting again whenever the server closes one), then holds 1,000
//! idle connections; a scraper asks for `/metrics` every 100 ms
//! throughout.
//! Bounds: the tracer's RSS grows by less than 16 MB over its level before
//! each attack, and every scrape is answered 200 within 1 s.

use std::{
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    os::unix::process::CommandExt as _,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering::Relaxed},
        mpsc, Arc, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

use super::scenario::{Ctx, Scenario};

const NOFILE: u64 = 1024;
const HEADER_MB: usize = 200;
const IDLE: usize = 1000;
/// Idle connections are held past the server's 5 s head timeout.
const HOLD: Duration = Duration::from_secs(7);
const MAX_GROWTH_MB: f64 = 16.0;
const MAX_SCRAPE_SECS: f64 = 1.0;
const SCRAPE_EVERY: Duration = Duration::from_millis(100);

#[derive(Serialize)]
pub(crate) struct MetricsHostile {
    pub(crate) attack: String,
    pub(crate) rss_before_mb: f64,
    pub(crate) rss_peak_mb: f64,
    pub(crate) scrapes: usize,
    /// Scrapes not answered 200 within the bound (or at all).
    pub(crate) failed_scrapes: usize,
    pub(crate) slowest_scrape_secs: f64,
    /// What the attack itself saw (answers, connections kept open).
    pub(crate) note: String,
}

impl MetricsHostile {
    fn growth_mb(&self) -> f64 {
        self.rss_peak_mb - self.rss_before_mb
    }
}

/// Both attacks on one recorder; none without root (said on stderr).
pub(crate) fn measure(tracer: &Path, tmp: &Path) -> Result<Option<Vec<MetricsHostile>>> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("xtask: the --metrics bounds need root (tracer record): not measured");
        return Ok(None);
    }
    raise_own_nofile(IDLE as u64 + 256)?;
    let log = tmp.join("bench-metrics.log");
    let mut rec = Recorder::start(tracer, &log)?;
    let addr = rec.addr;
    let out = [Attack::Headers, Attack::Idle]
        .into_iter()
        .map(|a| under_attack(rec.pid(), addr, a))
        .collect::<Result<Vec<_>>>();
    let stopped = rec.stop();
    let _ = std::fs::remove_file(&log);
    let out = out?;
    stopped?;
    Ok(Some(out))
}

#[derive(Clone, Copy)]
enum Attack {
    Headers,
    Idle,
}

/// Runs `attack` while sampling the tracer's RSS and scraping.
fn under_attack(pid: u32, addr: SocketAddr, attack: Attack) -> Result<MetricsHostile> {
    // Settled: a scrape or two made, their buffers allocated.
    for _ in 0..3 {
        scrape(addr).context("a scrape before the attack")?;
    }
    thread::sleep(Duration::from_millis(300));
    let before = rss_mb(pid)?;
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(Mutex::new(before));
    let sampler = {
        let (done, peak) = (done.clone(), peak.clone());
        thread::spawn(move || {
            while !done.load(Relaxed) {
                if let Ok(mb) = rss_mb(pid) {
                    let mut p = peak.lock().unwrap();
                    *p = p.max(mb);
                }
                thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let scraper = {
        let done = done.clone();
        thread::spawn(move || {
            let mut times = Vec::new();
            while !done.load(Relaxed) {
                let began = Instant::now();
                let result = scrape(addr);
                times.push((result, began.elapsed().as_secs_f64()));
                thread::sleep(SCRAPE_EVERY);
            }
            times
        })
    };
    let note = match attack {
        Attack::Headers => big_headers(addr),
        Attack::Idle => idle_connections(addr),
    };
    // A last look after the attack.
    thread::sleep(Duration::from_millis(500));
    done.store(true, Relaxed);
    let _ = sampler.join();
    let times = scraper.join().unwrap_or_default();
    let rss_peak_mb = *peak.lock().unwrap();
    let failed: Vec<String> = times
        .iter()
        .filter(|(r, secs)| r.is_err() || *secs > MAX_SCRAPE_SECS)
        .map(|(r, secs)| match r {
            Ok(()) => format!("a scrape took {secs:.3} s"),
            Err(e) => format!("a scrape failed after {secs:.3} s: {e:#}"),
        })
        .collect();
    let note = match failed.first() {
        Some(first) => format!("{note}; {first}"),
        None => note,
    };
    Ok(MetricsHostile {
        attack: match attack {
            Attack::Headers => format!("4 x {HEADER_MB} MB headers"),
            Attack::Idle => format!("{IDLE} idle connections"),
        },
        rss_before_mb: before,
        rss_peak_mb,
        scrapes: times.len(),
        failed_scrapes: failed.len(),
        slowest_scrape_secs: times.iter().map(|t| t.1).fold(0.0, f64::max),
        note,
    })
}

/// Four senders at once, each sending 200 MB of one header, connecting
/// again whenever the server closes the connection (at most 60 s); the
/// answers they got.
fn big_headers(addr: SocketAddr) -> String {
    let senders: Vec<_> = (0..4)
        .map(|_| {
            thread::spawn(move || {
                let until = Instant::now() + Duration::from_secs(60);
                let (mut sent, mut connections) = (0, 0);
                let mut answers = std::collections::BTreeMap::<String, usize>::new();
                while sent < HEADER_MB && Instant::now() < until {
                    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                    else {
                        *answers.entry("no connection".into()).or_default() += 1;
                        continue;
                    };
                    connections += 1;
                    let _ = s.set_write_timeout(Some(Duration::from_secs(30)));
                    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                    let _ = write!(s, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nX-Big: ");
                    let chunk = vec![b'a'; 1 << 20];
                    while sent < HEADER_MB && s.write_all(&chunk).is_ok() {
                        sent += 1;
                    }
                    let _ = s.write_all(b"\r\n\r\n");
                    let mut answer = [0u8; 12];
                    let got = s.read(&mut answer).unwrap_or(0);
                    let status = String::from_utf8_lossy(&answer[..got]);
                    let status = status.strip_prefix("HTTP/1.1 ").unwrap_or("no answer");
                    *answers.entry(status.trim().to_string()).or_default() += 1;
                }
                (sent, connections, answers)
            })
        })
        .collect();
    let mut sent = 0;
    let mut connections = 0;
    let mut answers = std::collections::BTreeMap::<String, usize>::new();
    for t in senders {
        let Ok((s, c, a)) = t.join() else {
            *answers.entry("sender panicked".into()).or_default() += 1;
            continue;
        };
        sent += s;
        connections += c;
        for (k, n) in a {
            *answers.entry(k).or_default() += n;
        }
    }
    format!("{sent} MB sent over {connections} connections, answered {answers:?}")
}

/// 1,000 connections opened and held, never written to; how many the
/// server closed.
fn idle_connections(addr: SocketAddr) -> String {
    let mut held = Vec::new();
    let mut failed = 0;
    for _ in 0..IDLE {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(s) => held.push(s),
            Err(_) => failed += 1,
        }
    }
    for s in &held {
        let _ = s.set_nonblocking(true);
    }
    thread::sleep(Duration::from_secs(1));
    let soon = still_open(&mut held);
    thread::sleep(HOLD);
    let late = still_open(&mut held);
    format!(
        "{} connected ({failed} not), {soon} still open after 1 s, {late} after {} s",
        held.len(),
        HOLD.as_secs() + 1
    )
}

/// Connections the server has neither closed nor answered.
fn still_open(held: &mut [TcpStream]) -> usize {
    let mut open = 0;
    for s in held {
        let mut b = [0u8; 64];
        if matches!(s.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock) {
            open += 1;
        }
    }
    open
}

/// One `GET /metrics`: an error unless answered 200 with a body.
fn scrape(addr: SocketAddr) -> Result<()> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let raw = String::from_utf8_lossy(&raw);
    if !raw.starts_with("HTTP/1.1 200") || !raw.contains("tracer_events_total") {
        bail!("answered {:?}", raw.lines().next().unwrap_or(""));
    }
    Ok(())
}

fn rss_mb(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")?;
    Ok(kb / 1024.0)
}

/// This process holds the idle connections: its soft NOFILE must allow
/// them.
fn raise_own_nofile(want: u64) -> Result<()> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the rlimit we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        bail!("getrlimit: {}", std::io::Error::last_os_error());
    }
    if lim.rlim_cur >= want {
        return Ok(());
    }
    lim.rlim_cur = want.min(lim.rlim_max);
    // SAFETY: setrlimit reads the rlimit we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 || lim.rlim_cur < want {
        bail!("cannot raise this process's NOFILE to {want}");
    }
    Ok(())
}

/// `tracer record --metrics 127.0.0.1:0` with NOFILE 1024; its stderr is
/// kept to show on failure.
struct Recorder {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn start(tracer: &Path, log: &Path) -> Result<Recorder> {
        let mut cmd = Command::new(tracer);
        cmd.arg("record")
            .arg("-o")
            .arg(log)
            .args(["--metrics", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // SAFETY: setrlimit is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit {
                    rlim_cur: NOFILE,
                    rlim_max: NOFILE,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            })
        };
        let mut child = cmd.spawn().context("running tracer record --metrics")?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let pipe = child.stderr.take().context("tracer's stderr")?;
        {
            let stderr = stderr.clone();
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let attached = line.contains("attached");
                    stderr.lock().unwrap().push(line);
                    if attached {
                        let _ = tx.send(());
                    }
                }
            });
        }
        let mut rec = Recorder {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr,
        };
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            bail!("tracer record never attached: {}", rec.said());
        }
        let addr = rec
            .stderr
            .lock()
            .unwrap()
            .iter()
            .find_map(|l| {
                l.split("http://")
                    .nth(1)?
                    .strip_suffix("/metrics")?
                    .parse()
                    .ok()
            })
            .context("no metrics address on tracer's stderr")?;
        rec.addr = addr;
        Ok(rec)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn said(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// SIGINT; it must exit 0 without a panic.
    fn stop(&mut self) -> Result<()> {
        // SAFETY: kill() with a pid we own.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait()?;
        let said = self.said();
        if !status.success() || said.contains("panicked") {
            bail!("tracer record --metrics ended with {status}: {said}");
        }
        Ok(())
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

/// One line per attack; none measured without root.
pub(crate) fn format(results: &Option<Vec<MetricsHostile>>) -> String {
    let Some(results) = results else {
        return "\n--metrics under attack: not measured (needs root)\n".into();
    };
    let mut s = format!("\n--metrics under attack (tracer record, NOFILE {NOFILE}):\n");
    for m in results {
        s.push_str(&format!(
            "  {:<24} RSS {:>6.1} -> {:>6.1} MB (+{:.1}); {} scrapes, {} failed or over \
             {MAX_SCRAPE_SECS} s, slowest {:.3} s; {}\n",
            m.attack,
            m.rss_before_mb,
            m.rss_peak_mb,
            m.growth_mb(),
            m.scrapes,
            m.failed_scrapes,
            m.slowest_scrape_secs,
            m.note
        ));
    }
    s
}

/// The bounds, as (what, met); named `hostile ...` so a miss fails the
/// bench.
pub(crate) fn targets(results: &Option<Vec<MetricsHostile>>) -> Vec<(String, bool)> {
    let Some(results) = results else {
        return Vec::new();
    };
    results
        .iter()
        .map(|m| {
            (
                format!(
                    "hostile metrics, {}: RSS grows < {MAX_GROWTH_MB} MB (+{:.1} MB), every \
                     scrape 200 within {MAX_SCRAPE_SECS} s ({} of {} not, slowest {:.3} s)",
                    m.attack,
                    m.growth_mb(),
                    m.failed_scrapes,
                    m.scrapes,
                    m.slowest_scrape_secs
                ),
                m.growth_mb() < MAX_GROWTH_MB && m.failed_scrapes == 0 && m.scrapes > 0,
            )
        })
        .collect()
}

/// `--only metrics`: the flooded `--metrics` endpoint alone.
pub(crate) struct MetricsOnly;

impl Scenario for MetricsOnly {
    type Measured = Option<Vec<MetricsHostile>>;

    fn measure(&self, ctx: &Ctx<'_>) -> Result<Self::Measured> {
        measure(&ctx.tracers.new, &ctx.tmp)
    }

    fn format(&self, m: &Self::Measured) -> String {
        format(m)
    }

    fn targets(&self, m: &Self::Measured) -> Option<Vec<(String, bool)>> {
        Some(targets(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_or_a_slow_scrape_misses_its_target() {
        let m = |peak, failed, slowest| MetricsHostile {
            attack: "idle".into(),
            rss_before_mb: 40.0,
            rss_peak_mb: peak,
            scrapes: 50,
            failed_scrapes: failed,
            slowest_scrape_secs: slowest,
            note: String::new(),
        };
        let met = |r: MetricsHostile| targets(&Some(vec![r]))[0].1;
        assert!(met(m(45.0, 0, 0.01)));
        assert!(!met(m(57.0, 0, 0.01)));
        assert!(!met(m(45.0, 1, 1.2)));
        assert!(targets(&None).is_empty());
    }
}
