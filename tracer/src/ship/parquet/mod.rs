//! Parquet: `tracer export --format parquet` (one file) and `--dataset
//! DIR` (Hive-style partitions of many hosts' logs), one row per event, a
//! tap on the export's stream like the OTLP exporter.
//!
//! Rows are built into Arrow columns ([`schema`]) and handed to the
//! `parquet` crate's writer a batch at a time; a row group is closed at
//! [`ROW_GROUP_ROWS`] rows or [`ROW_GROUP_BYTES`] encoded bytes, whichever
//! comes first, so memory stays flat in the number of events. Codecs are
//! pure Rust (Snappy by default): the static aarch64 build links no C.

mod column;
mod dataset;
mod parents;
mod rows;
mod schema;

use std::{io::Write, path::PathBuf, sync::Arc};

use anyhow::{Context as _, Result};
use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use parquet::{
    arrow::ArrowWriter,
    basic::Compression,
    file::{metadata::KeyValue, properties::WriterProperties},
};
use tracer_common::EventKind;

use self::{dataset::Dataset, parents::Parents, rows::Rows, schema::Columns};
use crate::{
    log::header::{LogHeader, Part},
    model::{
        clock::WallClock, event::Record, flags::PfNames, procfs::ProcTask, task_id::BootKey,
        tasks::Annotation,
    },
    pipeline::tap::Tap,
};

/// Version of the Parquet schema (the columns in [`schema`], their types
/// and meaning), in every file's key-value metadata as
/// `parquet_schema_version`. 1: the first.
pub const SCHEMA_VERSION: u32 = 1;

/// Rows built before they are handed to the writer.
const BATCH_ROWS: usize = 8192;
/// A row group is closed at this many rows...
const ROW_GROUP_ROWS: usize = 128 * 1024;
/// ...or once its estimated encoded size passes this.
const ROW_GROUP_BYTES: usize = 48 << 20;

/// The codec of the column chunks: Snappy, pure Rust, read by every
/// engine (the crate's LZ4 is pure Rust too; its zstd is C).
const CODEC: Compression = Compression::SNAPPY;

/// What every row of one log repeats, from its header.
#[derive(Clone, Debug)]
pub struct Origin {
    pub host: String,
    /// None in logs before log version 4.
    pub machine_id: Option<String>,
    pub boot_id: String,
    /// The recording session, hex (see [`recording_id`]).
    pub recording_id: String,
    pub clock: WallClock,
    pub pf: PfNames,
    pub ticks_per_sec: u64,
    /// The file's place in its recording (named in dataset part files).
    pub part: Part,
}

impl Origin {
    /// From a log's header; takes nothing from it.
    pub fn of(header: &LogHeader) -> Origin {
        Origin {
            host: header.hostname.clone(),
            machine_id: Some(header.machine_id.clone()).filter(|m| !m.is_empty()),
            boot_id: header.boot_id.clone(),
            recording_id: recording_id(header),
            clock: header.wall_clock(),
            pf: header.pf_names(),
            ticks_per_sec: header.ticks_per_sec,
            part: header.part,
        }
    }

    fn boot_key(&self) -> BootKey {
        BootKey::new(self.machine_id.as_deref().unwrap_or(""), &self.boot_id)
    }

    fn ns_per_tick(&self) -> u64 {
        (1_000_000_000 / self.ticks_per_sec.max(1)).max(1)
    }
}

/// A recording's id: its session number (16 hex digits); for logs before
/// log version 3, which have none, a hash of the boot and start time, so
/// two such logs still differ.
pub fn recording_id(header: &LogHeader) -> String {
    let session = match header.part.session {
        0 => {
            let text = format!("{}\n{}", header.boot_id, header.started_boot_ns);
            // The boot part of a task id is such a hash: its 16 digits.
            let id = BootKey::new("", &text).task(0, 0).to_string();
            return id[..16].to_string();
        }
        s => s,
    };
    format!("{session:016x}")
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(Columns::fields()))
}

fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(CODEC)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .set_key_value_metadata(Some(vec![
            KeyValue::new("parquet_schema_version".into(), SCHEMA_VERSION.to_string()),
            KeyValue::new(
                "tracer_version".into(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
        ]))
        .build()
}

/// One Parquet file being written.
struct File<W: Write + Send> {
    writer: ArrowWriter<W>,
}

impl<W: Write + Send> File<W> {
    fn new(out: W) -> Result<Self> {
        Ok(File {
            writer: ArrowWriter::try_new(out, schema(), Some(properties()))?,
        })
    }

    /// Writes the rows built so far.
    fn write(&mut self, cols: &mut Columns) -> Result<()> {
        if cols.rows() == 0 {
            return Ok(());
        }
        let batch = RecordBatch::try_new(schema(), cols.finish())?;
        self.writer.write(&batch)?;
        Ok(())
    }

    fn close(self) -> Result<W> {
        Ok(self.writer.into_inner()?)
    }
}

/// Where the rows go.
enum Target {
    One(Box<File<Box<dyn Write + Send>>>),
    Dataset(Dataset),
}

/// The tap an export writes Parquet with.
struct Exporter {
    rows: Rows,
    target: Target,
    /// The output's name, for errors.
    name: String,
    /// The first error; rows after it are dropped.
    failed: Option<anyhow::Error>,
}

/// Writes every row into one file (or pipe) `out`.
pub fn file_tap(
    out: Box<dyn Write + Send>,
    name: String,
    origin: Origin,
    snapshot: &[ProcTask],
) -> Result<Box<dyn Tap>> {
    let target = Target::One(Box::new(File::new(out)?));
    Ok(Box::new(Exporter::new(origin, snapshot, target, name)))
}

/// Adds the rows to the dataset in `dir` (see [`dataset`]).
pub fn dataset_tap(dir: PathBuf, origin: Origin, snapshot: &[ProcTask]) -> Result<Box<dyn Tap>> {
    let name = dir.display().to_string();
    let target = Target::Dataset(Dataset::new(dir)?);
    Ok(Box::new(Exporter::new(origin, snapshot, target, name)))
}

impl Exporter {
    fn new(origin: Origin, snapshot: &[ProcTask], target: Target, name: String) -> Exporter {
        let mut parents = Parents::new(origin.ns_per_tick());
        parents.snapshot(snapshot);
        Exporter {
            rows: Rows::new(origin, parents),
            target,
            name,
            failed: None,
        }
    }

    /// Before a row at `boot_ns`: whether it is wanted (a dataset skips
    /// the parts it has), having written what belongs elsewhere.
    fn row_at(&mut self, boot_ns: u64) -> bool {
        if self.failed.is_some() {
            return false;
        }
        let res = match &mut self.target {
            Target::One(_) => Ok(true),
            Target::Dataset(d) => d.row_at(boot_ns, &mut self.rows),
        };
        self.check(res).unwrap_or(false)
    }

    /// After a row: writes a full batch.
    fn row_done(&mut self) {
        if self.rows.cols.rows() < BATCH_ROWS {
            return;
        }
        let res = match &mut self.target {
            Target::One(f) => f.write(&mut self.rows.cols),
            Target::Dataset(d) => d.write(&mut self.rows.cols),
        };
        self.check(res);
    }

    fn check<T>(&mut self, res: Result<T>) -> Option<T> {
        match res {
            Ok(v) => Some(v),
            Err(e) => {
                self.failed.get_or_insert(e);
                None
            }
        }
    }
}

impl Tap for Exporter {
    fn event(&mut self, rec: &Record, ann: &Annotation, _shown: bool) {
        self.rows.note(rec);
        if self.row_at(rec.boot_ns) {
            self.rows.record(rec, ann);
            self.row_done();
        }
    }

    fn lost(&mut self, kind: Option<EventKind>, count: u64, boot_ns: u64) {
        if self.row_at(boot_ns) {
            self.rows.lost(kind, count, boot_ns);
            self.row_done();
        }
    }

    fn damaged(&mut self, what: &str, boot_ns: u64) {
        if self.row_at(boot_ns) {
            self.rows.damaged(what, boot_ns);
            self.row_done();
        }
    }

    fn next_file(&mut self, part: Part, snapshot: &[ProcTask]) {
        self.rows.next_file(part, snapshot);
        if let Target::Dataset(d) = &mut self.target {
            let res = d.next_file(&mut self.rows);
            self.check(res);
        }
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let Exporter {
            mut rows,
            target,
            name,
            failed,
        } = *self;
        if let Some(e) = failed {
            return Err(e.context(format!("writing {name}")));
        }
        match target {
            Target::One(mut f) => {
                f.write(&mut rows.cols)?;
                f.close()
                    .and_then(|mut w| Ok(w.flush()?))
                    .with_context(|| format!("writing {name}"))
            }
            Target::Dataset(d) => d.finish(&mut rows),
        }
        .with_context(|| format!("writing {name}"))
    }
}
