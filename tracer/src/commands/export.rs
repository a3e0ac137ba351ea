//! `tracer export`: every event of a recorded log (or of a time window of
//! it, `--since`/`--until`), as JSON Lines, to an OpenTelemetry collector,
//! as a Perfetto timeline, counted as Prometheus metrics, or as Parquet
//! rows (one file, or added to a dataset of many hosts: `--dataset`).

use std::{
    io::{BufWriter, IsTerminal as _, Write},
    path::{Path, PathBuf},
};

use anyhow::{bail, Context as _, Result};

use crate::{
    log::{header::LogHeader, reader::DamagedInput, writer},
    model::window::{Window, WindowSpec},
    output::{self, diag::UsageError, Format},
    pipeline::{
        filter::TraceFilter,
        from_log,
        tap::{Tap, Taps},
        LostNotices, Pipeline,
    },
    ship::{metrics, parquet, Origin, ShipOptions, Shipping},
};

pub enum To {
    Jsonl,
    /// The collector's URL.
    Otlp(String),
    Perfetto,
    Prometheus,
    Parquet,
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
    /// `--dataset DIR`: Parquet parts added to DIR.
    pub dataset: Option<PathBuf>,
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

/// Every event of the logs `files` name as Parquet rows, into the one tap
/// `tap` makes from the first log's header; each row names `ancestors`
/// generations.
fn parquet_rows(
    files: &[PathBuf],
    (spec, ancestors): (&WindowSpec, usize),
    tap: impl FnOnce(parquet::Origin) -> Result<Box<dyn Tap>>,
) -> Result<()> {
    from_log::run(files, |header| {
        let window = window(spec, header)?;
        let tap = tap(parquet::Origin::of(header))?;
        Ok(Pipeline::new(
            std::io::sink(),
            output::silent(),
            header.take_task_table(),
            everything(),
            LostNotices::Stderr,
        )
        .with_window(window)
        .with_taps(Taps::new(vec![tap]))
        .with_ancestors(ancestors))
    })
}

/// `--dataset DIR`: each input (a log, or a directory of one recording's
/// rotated logs) on its own, so the logs of many hosts and boots go into
/// one dataset; the first failure is returned once all are done.
fn dataset(opts: &ExportOptions, dir: &Path) -> Result<()> {
    if matches!(opts.format, To::Otlp(_) | To::Perfetto | To::Prometheus) {
        return Err(UsageError(
            "--dataset writes Parquet: leave out --format or give --format parquet".into(),
        )
        .into());
    }
    let mut first = Ok(());
    for input in &opts.files {
        let res = parquet_rows(
            std::slice::from_ref(input),
            (&opts.window, opts.ancestors),
            |origin| parquet::dataset_tap(dir.to_path_buf(), origin),
        )
        .with_context(|| format!("adding {} to the dataset", input.display()));
        if let Err(e) = res {
            if first.is_ok() {
                first = Err(e);
            } else {
                crate::say!("tracer: {e:#}");
            }
        }
    }
    first
}

pub fn run(opts: ExportOptions) -> Result<()> {
    if let (To::Otlp(_), Some(_)) = (&opts.format, &opts.output) {
        bail!("--format otlp sends to the collector; it writes no file (drop -o)");
    }
    if let Some(dir) = &opts.dataset {
        return dataset(&opts, dir);
    }
    if let To::Parquet = opts.format {
        // Parquet's writer wants `Send` (it is a tap): stdout unlocked.
        let (out, name): (Box<dyn Write + Send>, String) = match &opts.output {
            Some(path) => (Box::new(writer::create(path)?), path.display().to_string()),
            None if std::io::stdout().is_terminal() => {
                bail!("Parquet is binary: write it with -o FILE (or into a pipe)")
            }
            None => (Box::new(BufWriter::new(std::io::stdout())), "stdout".into()),
        };
        return parquet_rows(&opts.files, (&opts.window, opts.ancestors), |origin| {
            parquet::file_tap(out, name, origin)
        });
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
        To::Parquet => unreachable!("written above"),
    }
}
