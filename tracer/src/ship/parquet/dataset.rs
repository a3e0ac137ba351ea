//! `--dataset DIR`: Hive-style partitions that many logs add to.
//!
//! ```text
//! DIR/host=HOST/date=YYYY-MM-DD/part-RECORDING-SEQ.parquet
//! ```
//!
//! HOST is the log header's host name (bytes other than letters, digits,
//! `.`, `-` and `_` as `%XX`, as Hive escapes them), the date is the UTC
//! day of the events, RECORDING the recording id (see
//! [`super::recording_id`]) and SEQ the log file's sequence number in its
//! recording. A part is the rows of one log file on one day: a part that
//! is already there is skipped, so exporting a log again adds no rows,
//! and the dataset is only ever added to. A part is written under a
//! hidden temporary name and linked to its name only when complete
//! (`link` fails rather than replace), so two exports at once cannot
//! collide and a reader never sees half a file.

use std::{
    collections::BTreeMap,
    fs,
    io::{BufWriter, ErrorKind},
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};

use super::{rows::Rows, schema::Columns, writer::File};
use crate::model::calendar::civil_from_days;

const NS_PER_DAY: i128 = 86_400 * 1_000_000_000;

/// A part being written.
struct PartFile {
    file: Option<File<BufWriter<fs::File>>>,
    tmp: PathBuf,
    dest: PathBuf,
}

impl PartFile {
    fn create(dest: PathBuf) -> Result<PartFile> {
        let dir = dest.parent().expect("a part is in a directory");
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let name = dest
            .file_name()
            .expect("a part has a name")
            .to_string_lossy();
        // Unique among exports at once (this process's included); one
        // left by a crashed export is passed over.
        let (tmp, out) = (0u32..)
            .map(|n| dir.join(format!(".{name}.{}-{n}.tmp", std::process::id())))
            .find_map(|tmp| match fs::File::create_new(&tmp) {
                Err(e) if e.kind() == ErrorKind::AlreadyExists => None,
                res => Some((tmp, res)),
            })
            .expect("an unused name");
        let out = out.with_context(|| format!("creating {}", tmp.display()))?;
        Ok(PartFile {
            file: Some(File::new(BufWriter::new(out))?),
            tmp,
            dest,
        })
    }

    fn write(&mut self, cols: &mut Columns) -> Result<()> {
        match &mut self.file {
            Some(f) => f.write(cols),
            None => Ok(()),
        }
    }

    /// Completes the file and gives it its name, unless another export
    /// gave the same part its name first.
    fn publish(mut self) -> Result<()> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let out = file.close()?;
        out.into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()
            .with_context(|| format!("writing {}", self.tmp.display()))?;
        match fs::hard_link(&self.tmp, &self.dest) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                already_there(&self.dest);
                Ok(())
            }
            Err(e) => Err(e).with_context(|| format!("naming {}", self.dest.display())),
        }
        // Drop removes the temporary name.
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.tmp);
    }
}

fn already_there(dest: &Path) {
    crate::say!(
        "tracer: note: {} is already in the dataset; its rows are not added again",
        dest.display()
    );
}

/// The parts of one log file, by UTC day.
pub(super) struct Dataset {
    dir: PathBuf,
    /// `None`: the part was already there.
    parts: BTreeMap<i64, Option<PartFile>>,
    /// The day of the rows being built.
    day: Option<i64>,
}

impl Dataset {
    pub(super) fn new(dir: PathBuf) -> Result<Dataset> {
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Dataset {
            dir,
            parts: BTreeMap::new(),
            day: None,
        })
    }

    /// Before a row at `boot_ns`: writes the rows of another day, opens
    /// this day's part; whether the row is wanted.
    pub(super) fn row_at(&mut self, boot_ns: u64, rows: &mut Rows) -> Result<bool> {
        let day = rows.origin().clock.wall_ns(boot_ns).div_euclid(NS_PER_DAY) as i64;
        if self.day != Some(day) {
            self.write(&mut rows.cols)?;
            self.day = Some(day);
            if !self.parts.contains_key(&day) {
                let dest = self.part_path(rows, day);
                let part = if dest.exists() {
                    already_there(&dest);
                    None
                } else {
                    Some(PartFile::create(dest)?)
                };
                self.parts.insert(day, part);
            }
        }
        Ok(self.parts.get(&day).is_some_and(Option::is_some))
    }

    fn part_path(&self, rows: &Rows, day: i64) -> PathBuf {
        let o = rows.origin();
        let (y, m, d) = civil_from_days(day);
        self.dir
            .join(format!("host={}", escape(&o.host)))
            .join(format!("date={y:04}-{m:02}-{d:02}"))
            .join(format!(
                "part-{}-{}.parquet",
                o.recording_id, o.part.sequence
            ))
    }

    /// Writes the rows built so far into their day's part.
    pub(super) fn write(&mut self, cols: &mut Columns) -> Result<()> {
        match self.day.and_then(|d| self.parts.get_mut(&d)) {
            Some(Some(part)) => part.write(cols),
            // Rows of a skipped part are not built; nothing to drop.
            _ => {
                cols.finish();
                Ok(())
            }
        }
    }

    /// The log's next file starts: its rows make new parts.
    pub(super) fn next_file(&mut self, rows: &mut Rows) -> Result<()> {
        self.write(&mut rows.cols)?;
        self.day = None;
        for part in std::mem::take(&mut self.parts).into_values().flatten() {
            part.publish()?;
        }
        Ok(())
    }

    pub(super) fn finish(mut self, rows: &mut Rows) -> Result<()> {
        self.next_file(rows)
    }
}

/// A partition value as Hive writes it: `%XX` for bytes that could
/// split or hide a path (`/`, `=`, `%`, controls, dots alone), empty as
/// Hive's default partition.
fn escape(value: &str) -> String {
    if value.is_empty() {
        return "__HIVE_DEFAULT_PARTITION__".into();
    }
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_')
            || (b == b'.' && value != "." && value != "..")
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_values_cannot_leave_their_directory() {
        assert_eq!(escape("web-1.example.com"), "web-1.example.com");
        assert_eq!(escape("a/b=c%"), "a%2Fb%3Dc%25");
        assert_eq!(escape(".."), "%2E%2E");
        assert_eq!(escape(""), "__HIVE_DEFAULT_PARTITION__");
        assert_eq!(escape("é"), "%C3%A9");
    }
}
