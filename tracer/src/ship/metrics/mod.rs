//! Prometheus metrics at `http://ADDR/metrics`, in the Prometheus text
//! format (0.0.4, as `prometheus-client` encodes it).
//!
//! Two sides share one [`Counts`] of atomics ([`counts`]) and nothing
//! else:
//!
//! - the tap ([`tap`]), on the event stream, which alone writes the
//!   counts: per event, a few plain increments of counters found by index
//!   (a load and a store each, never a locked read-modify-write, a hash or
//!   a lock);
//! - the server thread ([`server`], bounded against hostile clients),
//!   which reads them at each scrape and encodes them ([`exposition`]). It
//!   only ever reads, so it can never hold the event stream up, and a
//!   scrape sees every event counted up to that moment.
//!
//! Labels are bounded: kinds, results, signal names and ring numbers,
//! never a pid or a comm. A live session's `process_*` gauges come from
//! [`process`].

mod counts;
mod exposition;
mod family;
mod process;
pub mod server;
mod tap;

use std::{net::SocketAddr, sync::Arc};

use anyhow::{anyhow, Result};
use prometheus_client::{encoding::prometheus_text, registry::Registry};

use self::{counts::Counts, exposition::Exposition, tap::MetricsTap};
use crate::pipeline::tap::Tap;

/// The address, bound before any BPF is loaded.
pub struct Server {
    listener: server::Listener,
}

impl Server {
    /// Listens at `addr` (port 0: any free port, said on stderr), so a port
    /// in use fails at once.
    pub fn bind(addr: SocketAddr) -> Result<Server> {
        Ok(Server {
            listener: server::Listener::bind(addr)?,
        })
    }

    /// The tap that counts, with the thread that serves what it counts.
    pub fn tap(self) -> Box<dyn Tap> {
        let counts = Arc::new(Counts::new());
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Exposition {
            counts: counts.clone(),
            live: true,
        }));
        let serving = self.listener.serve(server::Page {
            content_type: prometheus_text::CONTENT_TYPE,
            render: Box::new(move || {
                let mut body = String::with_capacity(8 << 10);
                prometheus_text::encode(&mut body, &registry).ok()?;
                Some(body)
            }),
        });
        Box::new(MetricsTap {
            counts,
            serving: Some(serving),
        })
    }
}

/// A log's counts, for `export --format prometheus`: one exposition of the
/// whole log (for node_exporter's textfile collector or a Pushgateway).
pub struct LogMetrics(Arc<Counts>);

/// The tap to run over the log, and what encodes its counts at the end.
pub fn log_tap() -> (Box<dyn Tap>, LogMetrics) {
    let counts = Arc::new(Counts::new());
    let tap = Box::new(MetricsTap {
        counts: counts.clone(),
        serving: None,
    });
    (tap, LogMetrics(counts))
}

impl LogMetrics {
    /// The counters, and the tasks alive at the log's end by kind; not the
    /// exporting process's own gauges (rings, memory), which say nothing
    /// about the log.
    pub fn exposition(&self) -> Result<String> {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Exposition {
            counts: self.0.clone(),
            live: false,
        }));
        let mut body = String::with_capacity(8 << 10);
        prometheus_text::encode(&mut body, &registry)
            .map_err(|_| anyhow!("encoding the metrics failed"))?;
        Ok(body)
    }
}
