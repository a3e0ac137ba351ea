//! The sender thread: each batch encoded as one `ExportLogsServiceRequest`,
//! gzipped and POSTed, with bounded retries; what it sent and dropped, in
//! counters the tap reads at the end.

use std::{
    io::Write as _,
    sync::{
        atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering},
        mpsc::Receiver,
        Arc, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

use flate2::{write::GzEncoder, Compression};
use opentelemetry_proto::tonic::{
    collector::logs::v1::ExportLogsServiceResponse, common::v1::InstrumentationScope,
    resource::v1::Resource,
};
use prost::Message as _;

use super::{
    attrs::{Item, Mapper},
    wire::{self, Built},
};
use crate::{
    model::{clock::WallClock, flags::PfNames},
    pipeline::priority::{self, Priority},
};

/// Tries per batch, and the pause before the second (doubled each time, at
/// most [`BACKOFF_MAX`]).
pub(super) const TRIES: u32 = 3;
const BACKOFF: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// A collector that does not accept the connection this fast is down.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// One request, connection to response.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// At most one warning of each kind this often.
const WARN_EVERY: Duration = Duration::from_secs(10);
/// [`Shared::tid`] once the end of the session began.
pub(super) const FINISHING: i32 = -1;

/// What the sender thread and the tap share.
#[derive(Default)]
pub(super) struct Shared {
    /// Records the collector took.
    pub sent: AtomicU64,
    /// Records dropped after every try failed (no connection, timeouts,
    /// 429/502/503/504).
    pub unreachable: AtomicU64,
    /// Records the collector refused for good (other statuses).
    pub refused: AtomicU64,
    /// Records left unsent because the session was ending (live) or an
    /// earlier batch could not be delivered (from a log).
    pub abandoned: AtomicU64,
    /// From a log: a batch could not be delivered, so the export fails;
    /// later batches are not tried.
    pub failed: AtomicBool,
    /// Live: the session is ending; after this, no retries, and batches
    /// still queued are abandoned.
    pub deadline: Mutex<Option<Instant>>,
    /// The last failure, for the summary.
    pub last_error: Mutex<Option<String>>,
    /// Live: the sender thread's id once lowered to SCHED_IDLE (0 until
    /// then), raised for the end of the session; [`FINISHING`] once the
    /// end began, after which the sender does not lower itself.
    pub tid: AtomicI32,
}

impl Shared {
    fn past_deadline(&self) -> bool {
        self.deadline
            .lock()
            .map(|d| d.is_some_and(|d| Instant::now() >= d))
            .unwrap_or(false)
    }

    fn note_error(&self, e: &str) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(e.to_string());
        }
    }
}

/// Warnings at most once per [`WARN_EVERY`], with how many were held back.
#[derive(Default)]
pub(super) struct RateLimit {
    last: Option<Instant>,
    held: u64,
}

impl RateLimit {
    /// Whether to warn now; `Some(n)`: `n` warnings were held back since
    /// the last one.
    pub(super) fn allow(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < WARN_EVERY)
        {
            self.held += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held))
    }
}

/// Where and what to send.
pub(super) struct Sender {
    pub endpoint: String,
    pub resource: Resource,
    pub scope: InstrumentationScope,
    pub shared: Arc<Shared>,
    /// Live: drop on failure and go on; from a log: stop at the first
    /// batch that cannot be delivered.
    pub live: bool,
    /// For the records' times and flag names.
    pub clock: WallClock,
    pub pf: PfNames,
}

enum Outcome {
    Sent,
    /// Worth another try: no connection, a timeout, 429/502/503/504.
    Retry(String),
    /// Refused for good.
    Refused(String),
}

impl Sender {
    /// Runs the thread until the channel closes. `done` is dropped when it
    /// ends, which is how the tap knows.
    pub(super) fn spawn(self, batches: Receiver<Vec<Item>>, done: std::sync::mpsc::Sender<()>) {
        let spawned = thread::Builder::new()
            .name("tracer-otlp".into())
            .spawn(move || {
                let _done = done;
                self.run(batches);
            });
        if let Err(e) = spawned {
            crate::say!("tracer: warning: otlp: could not start the sender thread: {e}");
        }
    }

    fn run(self, batches: Receiver<Vec<Item>>) {
        if self.live {
            // Live, building records can take a whole CPU in a storm:
            // SCHED_IDLE keeps it off the ring reader's CPU, so the exporter
            // drops what it cannot build instead of the rings losing
            // events. The end of the session raises it again.
            // Lowered first, then published: an end that began meanwhile
            // (it found no id to raise) is seen here, and undone.
            let tid = priority::this_thread();
            if priority::lower(tid, Priority::Idle)
                && self
                    .shared
                    .tid
                    .compare_exchange(0, tid, Ordering::SeqCst, Ordering::SeqCst)
                    .is_err()
            {
                priority::raise(tid);
            }
        }
        let mut mapper = Mapper::new(self.clock, self.pf);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(format!("tracer/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let mut warn_unreachable = RateLimit::default();
        let mut warn_refused = RateLimit::default();
        // The last batch's records, written over by the next: their
        // strings and vectors are reused.
        let mut records: Vec<Built> = Vec::new();
        let (mut head, mut protobuf, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
        for batch in batches {
            let n = batch.len() as u64;
            if self.shared.failed.load(Ordering::Relaxed) || self.shared.past_deadline() {
                self.shared.abandoned.fetch_add(n, Ordering::Relaxed);
                continue;
            }
            if records.len() < batch.len() {
                records.resize_with(batch.len(), Built::default);
            }
            for (item, rec) in batch.iter().zip(records.iter_mut()) {
                mapper.item_into(item, rec);
            }
            let body = match self.encode(
                &records[..batch.len()],
                &mut head,
                &mut protobuf,
                &mut scratch,
            ) {
                Ok(body) => body,
                Err(e) => {
                    self.shared.note_error(&e);
                    self.shared.refused.fetch_add(n, Ordering::Relaxed);
                    continue;
                }
            };
            match self.deliver(&agent, &body) {
                Outcome::Sent => {
                    self.shared.sent.fetch_add(n, Ordering::Relaxed);
                }
                Outcome::Retry(e) => {
                    self.shared.note_error(&e);
                    if self.shared.past_deadline() {
                        self.shared.abandoned.fetch_add(n, Ordering::Relaxed);
                    } else {
                        self.shared.unreachable.fetch_add(n, Ordering::Relaxed);
                    }
                    if !self.live {
                        self.shared.failed.store(true, Ordering::Relaxed);
                    } else if let Some(held) = warn_unreachable.allow() {
                        crate::say!(
                            "tracer: warning: otlp: dropped {n} log records: {}: {e}{}",
                            self.endpoint,
                            held_back(held)
                        );
                    }
                }
                Outcome::Refused(e) => {
                    self.shared.note_error(&e);
                    self.shared.refused.fetch_add(n, Ordering::Relaxed);
                    if let Some(held) = warn_refused.allow() {
                        crate::say!(
                            "tracer: warning: otlp: dropped {n} log records: {}: {e}{}",
                            self.endpoint,
                            held_back(held)
                        );
                    }
                }
            }
        }
    }

    /// The request body for `records`: protobuf, gzipped. `head`, `body`
    /// and `scratch` are the protobuf's buffers, reused.
    fn encode(
        &self,
        records: &[Built],
        head: &mut Vec<u8>,
        body: &mut Vec<u8>,
        scratch: &mut Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        wire::request_parts(&self.resource, &self.scope, records, head, body, scratch);
        let mut gz = GzEncoder::new(
            Vec::with_capacity((head.len() + body.len()) / 4),
            Compression::fast(),
        );
        gz.write_all(head)
            .and_then(|()| gz.write_all(body))
            .and_then(|()| gz.finish())
            .map_err(|e| format!("compressing a batch: {e}"))
    }

    /// Up to [`TRIES`] tries with backoff; none after the deadline.
    fn deliver(&self, agent: &ureq::Agent, body: &[u8]) -> Outcome {
        let mut pause = BACKOFF;
        let mut tries = 0;
        loop {
            tries += 1;
            match self.post(agent, body) {
                Outcome::Retry(e) if tries >= TRIES || self.shared.past_deadline() => {
                    return Outcome::Retry(format!("{e}, after {tries} tries"));
                }
                Outcome::Retry(_) => {
                    thread::sleep(pause);
                    pause = (pause * 2).min(BACKOFF_MAX);
                }
                done => return done,
            }
        }
    }

    fn post(&self, agent: &ureq::Agent, body: &[u8]) -> Outcome {
        let res = agent
            .post(&self.endpoint)
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "gzip")
            .send(body);
        let mut resp = match res {
            Ok(resp) => resp,
            Err(e) => return Outcome::Retry(transport(&e)),
        };
        let status = resp.status().as_u16();
        let protobuf = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("protobuf"));
        let answer = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_vec()
            .unwrap_or_default();
        match status {
            200..=299 => {
                if protobuf {
                    self.partial_success(&answer);
                }
                Outcome::Sent
            }
            // OTLP/HTTP: only these are worth another try.
            429 | 502 | 503 | 504 => Outcome::Retry(format!("answered HTTP {status}")),
            _ => {
                let why = if protobuf {
                    // A google.rpc.Status: its message is field 2; show
                    // nothing rather than binary.
                    String::new()
                } else {
                    let text = String::from_utf8_lossy(&answer);
                    let text: String = text.trim().chars().take(200).collect();
                    if text.is_empty() {
                        String::new()
                    } else {
                        format!(": {text}")
                    }
                };
                Outcome::Refused(format!("answered HTTP {status}{why}"))
            }
        }
    }

    /// A 2xx that says some records were rejected: a warning, as the OTLP
    /// specification asks (they are not retried).
    fn partial_success(&self, answer: &[u8]) {
        let Ok(resp) = ExportLogsServiceResponse::decode(answer) else {
            return;
        };
        if let Some(p) = resp.partial_success {
            if p.rejected_log_records > 0 || !p.error_message.is_empty() {
                crate::say!(
                    "tracer: warning: otlp: {} rejected {} log records: {}",
                    self.endpoint,
                    p.rejected_log_records,
                    p.error_message
                );
            }
        }
    }
}

/// A transport error, said plainly.
fn transport(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::ConnectionFailed => "could not connect".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused".into()
        }
        other => other.to_string(),
    }
}

fn held_back(n: u64) -> String {
    match n {
        0 => String::new(),
        n => format!(" ({n} more such warnings held back)"),
    }
}
