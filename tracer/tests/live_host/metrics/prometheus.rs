//! A real Prometheus server scraping the tracer, on loopback.

use std::{
    collections::BTreeMap,
    net::{SocketAddr, TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::Value;

use super::scrape::*;

/// A free port on 127.0.0.1 (nothing listens there once this returns).
pub(super) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Prometheus server for the test's lifetime; killed when dropped.
pub(super) struct Prometheus {
    pub child: Child,
    pub addr: SocketAddr,
    pub _dir: tempfile::TempDir,
}

impl Prometheus {
    pub(super) fn start(target: SocketAddr) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: tracer\n    static_configs:\n      \
                 - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("running /usr/bin/prometheus");
        let prom = Prometheus {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(addr).is_ok() && http(addr, "GET", "/-/ready").0 == 200 {
                return prom;
            }
            assert!(Instant::now() < deadline, "{}", prom.failed("not ready"));
            thread::sleep(Duration::from_millis(200));
        }
    }

    pub(super) fn failed(&self, what: &str) -> String {
        let log =
            std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        format!("prometheus {what}; its log ends:\n{}", tail.join("\n"))
    }

    /// `/api/v1/query` for `query`: its `data.result`.
    pub(super) fn query(&self, query: &str) -> Vec<Value> {
        let encoded: String = query
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (status, _, body) = http(self.addr, "GET", &format!("/api/v1/query?query={encoded}"));
        assert_eq!(status, 200, "{query}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], "success", "{body}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn wall_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The newest sample of each `tracer_events_total` series that Prometheus
/// scraped after `after` (Unix seconds), by exposition key; none until
/// every series has one.
pub(super) fn scraped_after(prom: &Prometheus, after: f64) -> Option<BTreeMap<String, u64>> {
    let series = prom.query("tracer_events_total[10s]");
    let mut out = BTreeMap::new();
    for s in &series {
        let event = s["metric"]["event"].as_str()?;
        let (ts, v) = s["values"]
            .as_array()?
            .iter()
            .rev()
            .find_map(|p| Some((p[0].as_f64()?, p[1].as_str()?.parse::<f64>().ok()?)))?;
        if ts <= after {
            return None;
        }
        out.insert(
            format!("tracer_events_total{{event=\"{event}\"}}"),
            v as u64,
        );
    }
    (!out.is_empty()).then_some(out)
}
