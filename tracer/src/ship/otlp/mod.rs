//! OpenTelemetry logs over OTLP/HTTP: each shown event becomes one
//! `LogRecord`, sent in batches as a protobuf `ExportLogsServiceRequest`,
//! gzipped, POSTed to `URL/v1/logs` (plain HTTP only: this build has no TLS).
//!
//! # Records
//!
//! - `time_unix_nano`: the event's time (the kernel's boot clock mapped to
//!   wall-clock time, as the JSON `time`); `observed_time_unix_nano`: when
//!   tracer built the record (for `export`, the time of the export).
//! - `severity`: `INFO`, or `WARN` for a user-mode helper (or its child)
//!   killed by a signal, a helper whose exec failed, and a `lost` record
//!   (records the kernel dropped: one log record per loss notice).
//! - `body`: the text output's line, trimmed (local time, columns, details).
//! - `event_name`: `tracer.<event>` (`tracer.exec`, `tracer.lost`, ...).
//!
//! # Attributes
//!
//! The JSON output's fields ([`crate::output::json`]), so every field it
//! has is here with the same value; nulls are left out, nested objects
//! (`creator`, `sender`, `helper`, `killed_by`, `helper.requested_by`)
//! are flattened with dots. Where OpenTelemetry's semantic conventions
//! name the same thing, their name is used; everything else is
//! `tracer.<json field>`:
//!
//! | JSON field | attribute |
//! |---|---|
//! | `time` | (the record's `time_unix_nano`) |
//! | `cpu` | `cpu.logical_number` |
//! | `pid` (the kernel's pid: a thread id) | `thread.id` |
//! | `tgid` (the process id) | `process.pid` |
//! | `ppid` (tgid of the real parent) | `process.parent_pid` |
//! | `comm` | `thread.name`; also `process.executable.name` when the task is the main thread of a user process (`pid == tgid`, `has_mm`) |
//! | `filename` of an `exec` | `process.executable.path` (of `exec_failed`: `tracer.filename`) |
//! | `argv` | `process.command_args` (an array) |
//! | `argc` (what the kernel had, even when `argv` is cut) | `process.args_count` |
//! | `exit_status` | `process.exit.code` |
//! | `uid`, `gid` (real ids) | `process.real_user.id`, `process.real_group.id` |
//! | `cgroup` (v2 path) | `process.linux.cgroup` |
//! | `container_id`, `container_runtime` | `container.id`, `container.runtime` |
//! | `event` | `tracer.event` |
//! | `kind`, `flags` (array), `flags_raw`, `has_mm`, `start_ns`, `boot_ns`, ... | `tracer.kind`, `tracer.flags`, ... |
//! | `creator.pid`, `sender.comm`, `helper.requested_by.pid`, `killed_by.uid`, ... | `tracer.creator.pid`, `tracer.sender.comm`, `tracer.helper.requested_by.pid`, `tracer.killed_by.uid`, ... |
//! | `sender_uid` | `tracer.sender_uid` |
//! | `task_id`, `parent_task_id`, `creator.task_id`, ... (JSON version 8) | `tracer.task_id`, `tracer.parent_task_id`, `tracer.creator.task_id`, ... |
//! | `ancestors` (with `--ancestors N`; 4 by default for OTLP) | `tracer.ancestors`: an array of key-value lists (`task_id`, `pid`, `comm`, `kind`) |
//! | a lost notice's `lost_event`, `count` | `tracer.lost_event`, `tracer.count` |
//!
//! `process.user.id` (the effective uid) is not used: tracer reads the
//! real ids. The other context fields (`cgroup_id`, `pidns`, `ns_pid`,
//! `mntns`) and the nested tasks' are `tracer.*`. A field the
//! JSON output gains later appears as `tracer.<field>` with no change here.
//!
//! The resource: `host.name`, `os.type` (`linux`), `os.version` (the
//! kernel release), `service.name` (`tracer`), `service.version`; for an
//! export, the recording machine's. Scope: `tracer`.
//!
//! # Delivery
//!
//! Records are batched (up to [`BATCH_RECORDS`], or [`BATCH_AGE`] after a
//! batch's first record) and handed over a bounded channel to a sender
//! thread, which builds the LogRecords (the tap only clones the event;
//! the attributes are written straight from it, over the last batch's
//! records, by [`fields`]), encodes them ([`wire`]: each chain of
//! ancestors once, by [`ancestry`]) and does the HTTP (2 s to connect, 5 s
//! per request). A batch is
//! tried up to 3 times, 100 ms then 200 ms apart, on connection errors,
//! timeouts and 429, 502, 503, 504 (the OTLP/HTTP retryable statuses);
//! any other status drops the batch with a warning.
//!
//! Live (`trace`, `record`) the tap never waits: a batch that finds the
//! channel full is dropped and counted, with a warning (at most one per
//! 10 s), and the end of the session waits at most [`FINISH_WAIT`] for the
//! sender, then says what was sent and dropped (with `record`, the tap runs
//! on its decode thread, and events that thread dropped count too).
//! From a log (`export`) the reader waits for the sender instead, and a
//! batch that cannot be delivered makes the export fail (the log is only
//! read, so nothing is lost: export again).

mod ancestry;
mod attrs;
mod fields;
mod names;
mod sender;
mod wire;

use std::{
    sync::{
        atomic::Ordering,
        mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Result};
use opentelemetry_proto::tonic::{common::v1::InstrumentationScope, resource::v1::Resource};
use tracer_common::EventKind;

use self::{
    attrs::{now_unix_nano, Item},
    names::{kv, string},
    sender::{RateLimit, Sender, Shared, FINISHING},
};
use super::origin::Origin;
use crate::{
    model::{event::Record, tasks::Annotation},
    pipeline::{priority, tap::Tap},
};

/// Records per request.
pub const BATCH_RECORDS: usize = 512;
/// A batch is sent this long after its first record at the latest.
pub const BATCH_AGE: Duration = Duration::from_secs(1);
/// Batches waiting for the sender; beyond this, live, they are dropped.
const QUEUED_BATCHES: usize = 4;
/// How long the end of a live session waits for the sender.
pub const FINISH_WAIT: Duration = Duration::from_secs(5);

/// A checked collector address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// As given.
    pub url: String,
    /// Where the requests go: the URL with `/v1/logs` added.
    pub endpoint: String,
}

impl Target {
    /// `http://HOST[:PORT][/PATH]`; `/v1/logs` is added to the path unless
    /// it already ends so.
    pub fn parse(url: &str) -> Result<Target> {
        let example = "expected http://HOST[:PORT][/PATH], e.g. http://127.0.0.1:4318";
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("https://") {
            bail!(
                "--otlp {url}: https is not supported (this build has no TLS); use http://, \
                 e.g. a collector or agent on this machine at http://127.0.0.1:4318"
            );
        }
        let Some(rest) = lower
            .strip_prefix("http://")
            .map(|_| &url["http://".len()..])
        else {
            bail!("--otlp {url}: not an http:// URL; {example}");
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if path.contains('#') {
            bail!("--otlp {url}: a collector URL has no #fragment; {example}");
        }
        let uri: ureq::http::Uri = url
            .parse()
            .map_err(|e| anyhow::anyhow!("--otlp {url}: not a valid URL ({e}); {example}"))?;
        let host = uri.host().unwrap_or("");
        if host.is_empty() || authority.contains('@') {
            bail!("--otlp {url}: no host (or user info, which is not supported); {example}");
        }
        // After the host (an IPv6 one is bracketed): `:PORT`, digits.
        let after_host = authority
            .rsplit_once(']')
            .map_or(authority, |(_, rest)| rest);
        if let Some((_, port)) = after_host.rsplit_once(':') {
            if port.parse::<u16>().is_err() {
                bail!("--otlp {url}: not a valid port {port:?}; {example}");
            }
        }
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        let path = path.trim_end_matches('/');
        let mut endpoint = format!("http://{authority}{path}");
        if !path.ends_with("/v1/logs") {
            endpoint.push_str("/v1/logs");
        }
        if let Some(q) = query {
            endpoint.push('?');
            endpoint.push_str(q);
        }
        Ok(Target {
            url: url.to_string(),
            endpoint,
        })
    }
}

pub fn exporter(target: Target, origin: &Origin) -> Box<dyn Tap> {
    let shared = Arc::new(Shared::default());
    let (tx, rx) = mpsc::sync_channel(QUEUED_BATCHES);
    let (done_tx, done) = mpsc::channel();
    Sender {
        endpoint: target.endpoint.clone(),
        resource: resource(origin),
        scope: InstrumentationScope {
            name: "tracer".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            ..InstrumentationScope::default()
        },
        shared: Arc::clone(&shared),
        live: origin.live,
        clock: origin.clock,
        pf: origin.pf,
    }
    .spawn(rx, done_tx);
    Box::new(Exporter {
        endpoint: target.endpoint,
        live: origin.live,
        batch: Vec::with_capacity(BATCH_RECORDS),
        first_at: None,
        tx: Some(tx),
        done,
        shared,
        made: 0,
        behind: 0,
        undecoded: 0,
        warn_behind: RateLimit::default(),
    })
}

fn resource(origin: &Origin) -> Resource {
    Resource {
        attributes: vec![
            kv("host.name", string(origin.hostname.clone())),
            kv("os.type", string("linux")),
            kv("os.version", string(origin.kernel_release.clone())),
            kv("service.name", string("tracer")),
            kv("service.version", string(env!("CARGO_PKG_VERSION"))),
        ],
        ..Resource::default()
    }
}

struct Exporter {
    endpoint: String,
    live: bool,
    batch: Vec<Item>,
    /// When the batch's first record came.
    first_at: Option<Instant>,
    tx: Option<SyncSender<Vec<Item>>>,
    /// Disconnected when the sender thread has ended.
    done: Receiver<()>,
    shared: Arc<Shared>,
    /// Records built.
    made: u64,
    /// Records dropped because the sender was behind (live).
    behind: u64,
    /// Events `record`'s decode thread dropped before they reached this
    /// tap (live), counted in `made`.
    undecoded: u64,
    warn_behind: RateLimit,
}

impl Exporter {
    fn push(&mut self, rec: Item) {
        self.made += 1;
        self.batch.push(rec);
        let first = *self.first_at.get_or_insert_with(Instant::now);
        if self.batch.len() >= BATCH_RECORDS || first.elapsed() >= BATCH_AGE {
            self.send();
        }
    }

    /// Hands the batch to the sender: live, drops it when the sender is
    /// behind; from a log, waits.
    fn send(&mut self) {
        self.first_at = None;
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH_RECORDS));
        let n = batch.len() as u64;
        let Some(tx) = &self.tx else {
            self.behind += n;
            return;
        };
        let res = if self.live {
            tx.try_send(batch)
        } else {
            tx.send(batch).map_err(|e| TrySendError::Disconnected(e.0))
        };
        match res {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.behind += n;
                if let Some(held) = self.warn_behind.allow() {
                    crate::say!(
                        "tracer: warning: otlp: {} is not keeping up; dropped {n} log records \
                         ({} so far{})",
                        self.endpoint,
                        self.behind,
                        match held {
                            0 => String::new(),
                            h => format!(", {h} more drops since the last warning"),
                        }
                    );
                }
            }
            // The sender thread is gone (it could not start).
            Err(TrySendError::Disconnected(_)) => self.behind += n,
        }
    }

    /// From a log, once a batch could not be delivered: nothing more is
    /// built (the export fails anyway).
    fn given_up(&self) -> bool {
        !self.live && self.shared.failed.load(Ordering::Relaxed)
    }
}

impl Tap for Exporter {
    fn event(&mut self, rec: &Record, ann: &Annotation, shown: bool) {
        if !shown {
            return;
        }
        if self.given_up() {
            // Counted, so the error says how many were not delivered.
            self.made += 1;
            return;
        }
        self.push(Item::Event {
            rec: rec.clone(),
            ann: ann.clone(),
            observed_ns: now_unix_nano(),
        });
    }

    fn lost(&mut self, kind: Option<EventKind>, count: u64, boot_ns: u64) {
        if self.given_up() {
            self.made += 1;
            return;
        }
        self.push(Item::Lost {
            kind,
            count,
            boot_ns,
            observed_ns: now_unix_nano(),
        });
    }

    fn missed(&mut self, count: u64) {
        self.made += count;
        self.undecoded += count;
    }

    fn tick(&mut self, _table: &crate::model::tasks::TaskTable) {
        if self.first_at.is_some_and(|t| t.elapsed() >= BATCH_AGE) {
            self.send();
        }
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.send();
        // Closing the channel ends the sender once it has the rest.
        drop(self.tx.take());
        let mut waited_out = false;
        if self.live {
            // The rings are read no more: the sender runs at normal
            // priority for what is left.
            let tid = self.shared.tid.swap(FINISHING, Ordering::SeqCst);
            if tid > 0 {
                priority::raise(tid);
            }
            let deadline = Instant::now() + FINISH_WAIT;
            if let Ok(mut d) = self.shared.deadline.lock() {
                *d = Some(deadline);
            }
            // Ok(()) is never sent: the end is the sender dropping `done`.
            waited_out = matches!(
                self.done.recv_timeout(FINISH_WAIT),
                Err(RecvTimeoutError::Timeout)
            );
        } else {
            let _ = self.done.recv();
        }
        let s = &self.shared;
        let sent = s.sent.load(Ordering::Relaxed);
        let unreachable = s.unreachable.load(Ordering::Relaxed);
        let refused = s.refused.load(Ordering::Relaxed);
        // What the sender abandoned, and what it still had (in flight or
        // queued) when the wait ended.
        let unsent = self
            .made
            .saturating_sub(sent + unreachable + refused + self.behind + self.undecoded);
        let dropped = self.made - sent.min(self.made);
        let last = s.last_error.lock().ok().and_then(|e| e.clone());
        let mut why = Vec::new();
        if unreachable > 0 {
            why.push(format!("collector unreachable: {unreachable}"));
        }
        if refused > 0 {
            why.push(format!("collector refused: {refused}"));
        }
        if self.behind > 0 {
            why.push(format!("collector too slow: {}", self.behind));
        }
        if self.undecoded > 0 {
            why.push(format!("decoding behind: {}", self.undecoded));
        }
        if unsent > 0 {
            let when = match (self.live, waited_out) {
                (true, true) => "unsent when the 5 s wait at exit ended",
                (true, false) => "unsent at exit",
                (false, _) => "not tried after a batch failed",
            };
            why.push(format!("{when}: {unsent}"));
        }
        if let Some(e) = last.filter(|_| unreachable + refused > 0) {
            why.push(format!("last error: {e}"));
        }
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(" ({})", why.join("; "))
        };
        if !self.live && dropped > 0 {
            bail!(
                "the OTLP collector at {} did not take every record: sent {sent} log records, \
                 {dropped} not delivered{why}; the log is unchanged: export it again once \
                 the collector takes records",
                self.endpoint
            );
        }
        crate::say!(
            "tracer: otlp: sent {sent} log records to {}, dropped {dropped}{why}",
            self.endpoint
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_collector_urls() {
        let ep = |u: &str| Target::parse(u).map(|t| t.endpoint);
        assert_eq!(
            ep("http://127.0.0.1:4318").unwrap(),
            "http://127.0.0.1:4318/v1/logs"
        );
        assert_eq!(
            ep("http://collector:4318/").unwrap(),
            "http://collector:4318/v1/logs"
        );
        assert_eq!(
            ep("http://c/otlp/v1/logs").unwrap(),
            "http://c/otlp/v1/logs"
        );
        assert_eq!(ep("HTTP://c/otlp").unwrap(), "http://c/otlp/v1/logs");
        assert_eq!(
            ep("http://[::1]:4318?x=1").unwrap(),
            "http://[::1]:4318/v1/logs?x=1"
        );
        for bad in [
            "notaurl",
            "http://",
            "http:///v1/logs",
            "http://host:/",
            "http://host:port",
            "http://u:p@host",
            "ftp://host",
            "127.0.0.1:4318",
        ] {
            let e = Target::parse(bad).unwrap_err().to_string();
            assert!(e.contains("http://HOST"), "{bad}: {e}");
        }
        let e = Target::parse("https://c:4318").unwrap_err().to_string();
        assert!(e.contains("https is not supported"), "{e}");
    }
}
