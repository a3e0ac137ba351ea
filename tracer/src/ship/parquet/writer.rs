//! One Parquet file being written: the writer's settings and batches.

use std::{io::Write, sync::Arc};

use anyhow::Result;
use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use parquet::{
    arrow::ArrowWriter,
    basic::Compression,
    file::{metadata::KeyValue, properties::WriterProperties},
};

use super::schema::{Columns, SCHEMA_VERSION};

/// A row group is closed at this many rows...
const ROW_GROUP_ROWS: usize = 128 * 1024;
/// ...or once its estimated encoded size passes this.
const ROW_GROUP_BYTES: usize = 48 << 20;

/// The codec of the column chunks: Snappy, pure Rust, read by every
/// engine (the crate's LZ4 is pure Rust too; its zstd is C).
const CODEC: Compression = Compression::SNAPPY;

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
pub(super) struct File<W: Write + Send> {
    writer: ArrowWriter<W>,
}

impl<W: Write + Send> File<W> {
    pub(super) fn new(out: W) -> Result<Self> {
        Ok(File {
            writer: ArrowWriter::try_new(out, schema(), Some(properties()))?,
        })
    }

    /// Writes the rows built so far.
    pub(super) fn write(&mut self, cols: &mut Columns) -> Result<()> {
        if cols.rows() == 0 {
            return Ok(());
        }
        let batch = RecordBatch::try_new(schema(), cols.finish())?;
        self.writer.write(&batch)?;
        Ok(())
    }

    pub(super) fn close(self) -> Result<W> {
        Ok(self.writer.into_inner()?)
    }
}
