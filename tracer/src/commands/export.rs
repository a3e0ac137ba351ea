//! `tracer export`: every event of a recorded log (or of a time window of
//! it, `--since`/`--until`), as JSON Lines, to an OpenTelemetry collector,
//! as a Perfetto timeline, or counted as Prometheus metrics.

use std::{
    io::{BufWriter, IsTerminal as _, Write},
    path::PathBuf,
};

use anyhow::{bail, Context as _, Result};

use crate::{
    log::{header::LogHeader, reader::DamagedInput, writer},
    model::window::{Window, WindowSpec},
    output::{self, Format},
    pipeline::{filter::TraceFilter, from_log, tap::Taps, LostNotices, Pipeline},
    ship::{metrics, Origin, ShipOptions, Shipping},
};

pub enum To {
    Jsonl,
    /// The collector's URL.
    Otlp(String),
    Perfetto,
    Prometheus,
}

pub struct ExportOptions {
    /// Logs, or directories of rotated logs, read as one stream.
    pub files: Vec<PathBuf>,
    pub format: To,
    /// `-o FILE`; stdout when absent.
    pub output: Option<PathBuf>,
    /// `--since`/`--until`.
    pub window: WindowSpec,
    /// `--ancestors`: generations named with each event.
    pub ancestors: usize,
}

fn window(spec: &WindowSpec, header: &LogHeader) -> Result<Window> {
    spec.resolve(header.wall_clock(), header.started_boot_ns)
        .map_err(anyhow::Error::msg)
}

/// Every event, signals between user processes included.
fn everything() -> TraceFilter {
    TraceFilter {
        all_signals: true,
        ..TraceFilter::default()
    }
}

pub fn run(opts: ExportOptions) -> Result<()> {
    if let (To::Otlp(_), Some(_)) = (&opts.format, &opts.output) {
        bail!("--format otlp sends to the collector; it writes no file (drop -o)");
    }
    let out: Box<dyn Write> = match &opts.output {
        Some(path) => Box::new(writer::create(path)?),
        None => {
            let stdout = std::io::stdout();
            if matches!(opts.format, To::Perfetto) && stdout.is_terminal() {
                bail!("a Perfetto trace is binary: write it with -o FILE (or into a pipe)");
            }
            Box::new(BufWriter::new(stdout.lock()))
        }
    };
    match opts.format {
        To::Jsonl => from_log::run(&opts.files, |header| {
            let window = window(&opts.window, header)?;
            Ok(Pipeline::new(
                out,
                output::formatter(Format::Json, header.wall_clock(), header.pf_names()),
                header.take_task_table(),
                everything(),
                LostNotices::Inline,
            )
            .with_window(window)
            .with_ancestors(opts.ancestors))
        }),
        To::Perfetto => from_log::run(&opts.files, |header| {
            let window = window(&opts.window, header)?;
            Ok(Pipeline::new(
                out,
                output::perfetto::formatter(header.wall_clock(), header.pf_names()),
                header.take_task_table(),
                everything(),
                LostNotices::Stderr,
            )
            .with_window(window)
            .with_ancestors(opts.ancestors))
        }),
        To::Otlp(url) => {
            let shipping = Shipping::prepare(ShipOptions {
                otlp: Some(url),
                metrics: None,
            })?;
            from_log::run(&opts.files, |header| {
                let window = window(&opts.window, header)?;
                let origin = Origin {
                    hostname: header.hostname.clone(),
                    kernel_release: header.kernel_release.clone(),
                    clock: header.wall_clock(),
                    pf: header.pf_names(),
                    live: false,
                };
                Ok(Pipeline::new(
                    out,
                    output::silent(),
                    header.take_task_table(),
                    everything(),
                    LostNotices::Stderr,
                )
                .with_window(window)
                .with_taps(shipping.taps(&origin))
                .with_ancestors(opts.ancestors))
            })
            .context("exporting to the OTLP collector")
        }
        To::Prometheus => {
            let (tap, metrics) = metrics::log_tap();
            let mut out = out;
            let read = from_log::run(&opts.files, |header| {
                let window = window(&opts.window, header)?;
                Ok(Pipeline::new(
                    std::io::sink(),
                    output::silent(),
                    header.take_task_table(),
                    everything(),
                    LostNotices::Stderr,
                )
                .with_window(window)
                .with_taps(Taps::new(vec![tap])))
            });
            // A damaged log's counts are still written, as jsonl writes
            // its readable records; the damage is then the exit status.
            if read.is_ok() || read.as_ref().is_err_and(|e| e.is::<DamagedInput>()) {
                out.write_all(metrics.exposition()?.as_bytes())
                    .and_then(|()| out.flush())
                    .context("writing the metrics")?;
            }
            read
        }
    }
}
