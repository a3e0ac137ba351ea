//! Several logs read as one stream: the files of a rotated recording (a
//! directory, or files named one by one), in time order.
//!
//! Files are ordered by their header's start time (then sequence number),
//! not by name. They must all come from one boot: boot-clock times of two
//! boots cannot be put in one order, so a mix is refused with the files
//! named. At each boundary the reader hands on the next file's start-up
//! snapshot; the caller merges it into the table it carries, so tasks stay
//! known across files (with the lineage seen live) and only tasks the
//! table lacks (after a missing file) are added. A file that cannot be
//! read, or a gap in a recording's sequence numbers, is damage: said,
//! counted, and everything else is still read.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
};

use anyhow::{bail, Context as _, Result};

use super::{
    header::{LogHeader, Part},
    reader::{Damage, Item, LogReader},
    rotate,
};
use crate::{model::procfs::ProcTask, output::escape::quote_name};

/// What the next file of a set starts with.
pub enum Step<'a> {
    Item(Item<'a>),
    /// The stream goes on in the next file; its start-up snapshot.
    Boundary {
        tasks: Vec<ProcTask>,
    },
}

struct Member {
    path: PathBuf,
    started_boot_ns: u64,
    part: Part,
}

pub struct LogSet {
    /// The files after the current one, in order.
    rest: std::vec::IntoIter<Member>,
    current: PathBuf,
    current_part: Part,
    reader: LogReader,
    /// Damage to report before the next item (unreadable files, a gap).
    pending: Vec<Damage>,
}

/// Read other users' files in a directory too (`--include-foreign`).
static INCLUDE_FOREIGN: AtomicBool = AtomicBool::new(false);

/// Whether files in a directory owned by another user than the
/// directory's owner are read (`--include-foreign`); by default they are
/// skipped with a warning: where others can write, they can plant a log.
pub fn include_foreign(yes: bool) {
    INCLUDE_FOREIGN.store(yes, Ordering::Relaxed);
}

/// `found` in `dir`, less those owned by another user than `dir`'s owner
/// (said, unless asked to read them).
fn skip_foreign(dir: &Path, found: Vec<rotate::Rotated>) -> Result<Vec<rotate::Rotated>> {
    use std::os::unix::fs::MetadataExt as _;
    let owner = std::fs::metadata(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .uid();
    let include = INCLUDE_FOREIGN.load(Ordering::Relaxed);
    let (mine, foreign): (Vec<_>, Vec<_>) = found.into_iter().partition(|f| f.uid == owner);
    if foreign.is_empty() || include {
        let mut all = mine;
        all.extend(foreign);
        all.sort_by(|a, b| a.path.cmp(&b.path));
        return Ok(all);
    }
    let named: Vec<String> = foreign
        .iter()
        .take(3)
        .map(|f| format!("{} (uid {})", f.path.display(), f.uid))
        .collect();
    let more = match foreign.len() {
        n if n > 3 => format!(" and {} more", n - 3),
        _ => String::new(),
    };
    crate::say!(
        "tracer: warning: skipping {}{more}: they belong to other users than {}'s owner (uid \
         {owner}), so they may have been planted; --include-foreign reads them",
        named.join(", "),
        dir.display()
    );
    Ok(mine)
}

/// The files `inputs` name: each file as given, each directory's tracer
/// logs (see `rotate`).
fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found = rotate::list(input)
                .with_context(|| format!("listing the logs in {}", input.display()))?;
            found = skip_foreign(input, found)?;
            // `record` creates its first file before it attaches (a bad
            // directory fails at once) and writes the header once
            // recording starts: an empty newest file is a recording that is
            // starting, not damage.
            if found
                .last()
                .is_some_and(|f| f.bytes == 0 && f.path.extension().is_some_and(|e| e == "log"))
            {
                found.pop();
            }
            if found.is_empty() {
                bail!(
                    "{} holds no tracer logs (files named {}*{} or *{})",
                    input.display(),
                    rotate::PREFIX,
                    rotate::PLAIN,
                    rotate::COMPRESSED
                );
            }
            paths.extend(found.into_iter().map(|f| f.path));
        } else {
            paths.push(input.clone());
        }
    }
    Ok(paths)
}

impl LogSet {
    /// Opens `inputs` (files and directories) as one stream; the header of
    /// the first file in time order. One file alone fails as `log::open`
    /// does; in a set, a file that cannot be read is damage, unless none
    /// can be.
    pub fn open(inputs: &[PathBuf]) -> Result<(LogHeader, LogSet)> {
        let paths = expand(inputs)?;
        if let [only] = paths.as_slice() {
            let (header, reader) = super::open(only)?;
            let set = LogSet {
                rest: Vec::new().into_iter(),
                current: only.clone(),
                current_part: header.part,
                reader,
                pending: Vec::new(),
            };
            return Ok((header, set));
        }
        let mut pending = Vec::new();
        let mut members: Vec<(Member, String, String)> = Vec::new();
        for path in paths {
            match super::open(&path) {
                Ok((h, _)) => members.push((
                    Member {
                        path,
                        started_boot_ns: h.started_boot_ns,
                        part: h.part,
                    },
                    h.boot_id,
                    h.hostname,
                )),
                Err(e) => pending.push(Damage::Unreadable(format!("{e:#}"))),
            }
        }
        let Some((_, boot, host)) = members.first() else {
            bail!("none of the {} logs given can be read", pending.len());
        };
        if let Some((other, other_boot, other_host)) = members.iter().find(|(_, b, _)| b != boot) {
            // Host and boot as the headers, which a hostile file can
            // forge, hold them: quoted and escaped.
            let (host, boot) = (quote_name(host), quote_name(boot));
            let (other_host, other_boot) = (quote_name(other_host), quote_name(other_boot));
            bail!(
                "{} (host {host}, boot {boot}) and {} (host {other_host}, boot {other_boot}) \
                 are from different boots; their times cannot be put in one order: read each \
                 boot's logs on their own",
                members[0].0.path.display(),
                other.path.display()
            );
        }
        let mut members: Vec<Member> = members.into_iter().map(|(m, _, _)| m).collect();
        members.sort_by(|a, b| {
            (a.started_boot_ns, a.part.sequence, &a.path).cmp(&(
                b.started_boot_ns,
                b.part.sequence,
                &b.path,
            ))
        });
        // A crash between compressing a file and deleting the plain one
        // leaves both: the same part of a recording, read once.
        members.dedup_by(|b, a| {
            a.part.session != 0
                && (a.part.session, a.part.sequence) == (b.part.session, b.part.sequence)
        });
        let mut rest = members.into_iter();
        let first = rest.next().expect("one at least");
        let (header, reader) = super::open(&first.path)?;
        let set = LogSet {
            rest,
            current: first.path,
            current_part: first.part,
            reader,
            pending,
        };
        Ok((header, set))
    }

    /// The file being read (for messages).
    pub fn path(&self) -> &Path {
        &self.current
    }

    /// The place of the file being read in its recording.
    pub fn part(&self) -> Part {
        self.current_part
    }

    /// The next item of the stream, a boundary between files, or damage.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<Step<'_>, Damage>> {
        if !self.pending.is_empty() {
            return Some(Err(self.pending.remove(0)));
        }
        // Polonius would take `self.reader.next()` straight; the borrow
        // checker needs to know the file is not done first.
        if self.reader_has_more() {
            return self.reader.next().map(|r| r.map(Step::Item));
        }
        let next = self.rest.next()?;
        match super::open(&next.path) {
            Ok((mut header, reader)) => {
                let gap = (next.part.session == self.current_part.session
                    && next.part.session != 0)
                    .then(|| {
                        next.part
                            .sequence
                            .saturating_sub(self.current_part.sequence)
                    })
                    .filter(|&d| d > 1);
                if let Some(d) = gap {
                    self.pending.push(Damage::Missing {
                        files: d - 1,
                        before: next.path.display().to_string(),
                    });
                }
                self.current = next.path;
                self.current_part = next.part;
                self.reader = reader;
                Some(Ok(Step::Boundary {
                    tasks: std::mem::take(&mut header.tasks),
                }))
            }
            // Readable when the set was opened, not now (deleted by
            // rotation meanwhile, say).
            Err(e) => Some(Err(Damage::Unreadable(format!("{e:#}")))),
        }
    }

    fn reader_has_more(&mut self) -> bool {
        self.reader.has_more()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{header::tests::sample, writer::LogWriter};

    /// A log of part `sequence` started at `start`, holding one lost
    /// frame stamped `start`.
    fn log(dir: &Path, name: &str, start: u64, sequence: u32) -> PathBuf {
        let header = LogHeader {
            started_boot_ns: start,
            part: Part {
                session: 9,
                sequence,
            },
            ..sample()
        };
        let path = dir.join(name);
        let mut w = LogWriter::new(std::fs::File::create(&path).unwrap(), &header).unwrap();
        w.lost(1, 1, start).unwrap();
        w.end(start + 1).unwrap();
        path
    }

    /// What the set yields: a lost frame's time, `B` for a boundary, `!`
    /// for damage.
    fn read(inputs: &[PathBuf]) -> (u64, Vec<String>) {
        let (header, mut set) = LogSet::open(inputs).unwrap();
        let mut seen = Vec::new();
        while let Some(step) = set.next() {
            seen.push(match step {
                Ok(Step::Item(Item::Lost { boot_ns, .. })) => boot_ns.to_string(),
                Ok(Step::Item(_)) => continue,
                Ok(Step::Boundary { .. }) => "B".into(),
                Err(_) => "!".into(),
            });
        }
        (header.started_boot_ns, seen)
    }

    /// Logs of two boots are refused, naming each boot and host as one
    /// quoted word, whatever their headers hold.
    #[test]
    fn logs_of_two_boots_are_refused_with_their_names_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let a = log(dir.path(), "a.log", 10, 0);
        let b = dir.path().join("b.log");
        let header = LogHeader {
            hostname: "h\n\x1b[2Jfake".into(),
            boot_id: "x) and y (z".into(),
            ..sample()
        };
        let mut w = LogWriter::new(std::fs::File::create(&b).unwrap(), &header).unwrap();
        w.end(1).unwrap();
        let Err(e) = LogSet::open(&[a, b]) else {
            panic!("two boots read as one");
        };
        let e = format!("{e:#}");
        assert!(
            e.contains("(host $'h\\n\\e[2Jfake', boot 'x) and y (z')"),
            "{e}"
        );
        assert!(!e.chars().any(char::is_control), "{e:?}");
    }

    #[test]
    fn files_are_read_in_header_time_order_and_gaps_are_damage() {
        let dir = tempfile::tempdir().unwrap();
        // Names in the opposite order to their start times.
        let c = log(dir.path(), "a.log", 30, 2);
        let b = log(dir.path(), "b.log", 20, 1);
        let a = log(dir.path(), "c.log", 10, 0);
        let all = read(&[c.clone(), a.clone(), b]);
        assert_eq!(
            all,
            (
                10,
                vec![
                    "10".into(),
                    "B".into(),
                    "20".into(),
                    "B".into(),
                    "30".into()
                ]
            )
        );
        // The middle file missing: said once, the rest read.
        let gap = read(&[a.clone(), c]);
        assert_eq!(gap.1, ["10", "B", "!", "30"]);
        // The same part twice (plain and compressed): read once.
        let twice = log(dir.path(), "c.log.zst", 10, 0);
        assert_eq!(read(&[a, twice]).1, ["10"]);
    }
}
