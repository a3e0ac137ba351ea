//! Shipping events to the systems people already run: an OpenTelemetry
//! collector (OTLP/HTTP logs), Prometheus (a `/metrics` endpoint) and
//! Parquet files for query engines (`export --format parquet`).
//! Each is a [`Tap`](crate::pipeline::tap::Tap) on the event stream.

pub mod metrics;
mod origin;
pub mod otlp;
pub mod parquet;

use std::net::SocketAddr;

use anyhow::Result;

pub use self::origin::Origin;
use crate::pipeline::tap::{Tap, Taps};

/// What the command line asked for.
#[derive(Debug, Default)]
pub struct ShipOptions {
    pub otlp: Option<String>,
    pub metrics: Option<SocketAddr>,
}

/// Exporters checked and bound before any BPF is loaded, so a bad URL or a
/// port in use fails at once.
pub struct Shipping {
    otlp: Option<otlp::Target>,
    metrics: Option<metrics::Server>,
}

impl Shipping {
    pub fn prepare(opts: ShipOptions) -> Result<Shipping> {
        Ok(Shipping {
            otlp: opts.otlp.as_deref().map(otlp::Target::parse).transpose()?,
            metrics: opts.metrics.map(metrics::Server::bind).transpose()?,
        })
    }

    /// The taps, once events are about to flow.
    pub fn taps(self, origin: &Origin) -> Taps {
        let mut taps: Vec<Box<dyn Tap>> = Vec::new();
        if let Some(server) = self.metrics {
            taps.push(server.tap());
        }
        if let Some(target) = self.otlp {
            taps.push(otlp::exporter(target, origin));
        }
        Taps::new(taps)
    }

    pub fn is_empty(&self) -> bool {
        self.otlp.is_none() && self.metrics.is_none()
    }
}
