//! Parquet: `tracer export --format parquet` (one file) and `--dataset
//! DIR` (Hive-style partitions of many hosts' logs), one row per event, a
//! tap on the export's stream like the OTLP exporter.
//!
//! Rows are built into Arrow columns ([`schema`]) and handed to the
//! `parquet` crate's writer a batch at a time; a row group is closed at
//! `writer::ROW_GROUP_ROWS` rows or `ROW_GROUP_BYTES` encoded bytes, whichever
//! comes first, so memory stays flat in the number of events. Codecs are
//! pure Rust (Snappy by default): the static aarch64 build links no C.

mod column;
mod dataset;
mod origin;
mod rows;
mod schema;
mod writer;

use std::{io::Write, path::PathBuf};

use anyhow::{Context as _, Result};
use tracer_common::EventKind;

use self::{dataset::Dataset, rows::Rows, writer::File};
pub use self::{
    origin::{recording_id, Origin},
    schema::SCHEMA_VERSION,
};
use crate::{
    log::header::Part,
    model::{event::Record, procfs::ProcTask, tasks::Annotation},
    pipeline::tap::Tap,
};

/// Rows built before they are handed to the writer.
const BATCH_ROWS: usize = 8192;
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
pub fn file_tap(out: Box<dyn Write + Send>, name: String, origin: Origin) -> Result<Box<dyn Tap>> {
    let target = Target::One(Box::new(File::new(out)?));
    Ok(Box::new(Exporter::new(origin, target, name)))
}

/// Adds the rows to the dataset in `dir` (see [`dataset`]).
pub fn dataset_tap(dir: PathBuf, origin: Origin) -> Result<Box<dyn Tap>> {
    let name = dir.display().to_string();
    let target = Target::Dataset(Dataset::new(dir)?);
    Ok(Box::new(Exporter::new(origin, target, name)))
}

impl Exporter {
    fn new(origin: Origin, target: Target, name: String) -> Exporter {
        Exporter {
            rows: Rows::new(origin),
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
    fn event(&mut self, rec: &Record, ann: &Annotation, shown: bool) {
        // The rows are the events the export's filter shows, as in JSON.
        if shown && self.row_at(rec.boot_ns) {
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

    fn next_file(&mut self, part: Part, _snapshot: &[ProcTask]) {
        self.rows.next_file(part);
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use arrow_array::{cast::AsArray as _, types::Int32Type, Array as _, RecordBatch};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::{schema::Columns, *};
    use crate::{
        log::header::tests::sample,
        model::{
            classify::Kind,
            event::{Event, Task},
            kthreads::{KthreadInfo, KthreadLink, KthreadRequest},
            signals::ExitStatus,
            task_id::{BootKey, TaskIds},
            tasks::{Ancestor, Annotation, Ids},
        },
    };

    /// A `Write` the test reads back once the tap has finished.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn task(pid: u32, comm: &str, start_ns: u64) -> Task {
        Task {
            pid,
            tgid: pid,
            ppid: 2,
            flags: 0x208040,
            has_mm: false,
            comm: comm.into(),
            start_ns,
            context: None,
        }
    }

    fn ann(kind: Kind) -> Annotation {
        Annotation {
            subject: kind,
            other: Some(Kind::Kthreadd),
            helper: None,
            killer: None,
            lifetime_ns: None,
            ids: Default::default(),
            kthread: None,
        }
    }

    /// kthreadd's fork of a kernel thread a kworker asked for, with the
    /// ids and ancestry the task table would add.
    fn kthread_fork(boot: BootKey) -> Annotation {
        let ids = TaskIds {
            boot,
            ns_per_tick: 10_000_000,
        };
        let kthreadd = Ancestor {
            task_id: boot.task(1, 2),
            pid: 2,
            comm: "kthreadd".into(),
            kind: Kind::Kthreadd,
        };
        Annotation {
            ids: Ids {
                namer: ids,
                parent: Some(boot.task(1, 2)),
                ancestors: Some(vec![kthreadd]),
            },
            kthread: Some(Box::new(KthreadInfo {
                request: KthreadRequest {
                    requester: Some(task(57, "kworker/u8:2", 3_000_000_000)),
                    requester_func: Some(0xffff_ffff_8100_1000),
                    threadfn: Some(0xffff_ffff_8100_2000),
                    link: KthreadLink::Exact,
                    named: Default::default(),
                    requested_ns: None,
                },
                requester_kind: Some(Kind::Kworker),
                threadfn: Some("worker_thread".into()),
                work: Some("flush_to_ldisc".into()),
                first_run_ns: None,
            })),
            ..ann(Kind::Kthread)
        }
    }

    /// Rows for: kthreadd forking a kthread whose comm is not UTF-8, its
    /// exit, a loss and a damaged stretch; read back.
    fn written() -> (RecordBatch, std::collections::HashMap<String, String>) {
        let header = sample();
        let out = Shared::default();
        let mut tap = file_tap(Box::new(out.clone()), "test".into(), Origin::of(&header)).unwrap();
        let boot = Origin::of(&header).boot_key();
        let odd = crate::model::text::decode(b"k\xffw");
        let child = Task {
            ppid: 2,
            ..task(77, &odd, 6_000_000_000)
        };
        tap.event(
            &Record {
                boot_ns: 6_000_000_000,
                cpu: 3,
                event: Event::Fork {
                    creator: task(2, "kthreadd", 10_000_000),
                    child: child.clone(),
                    clone_flags: 0x800,
                },
            },
            &kthread_fork(boot),
            true,
        );
        tap.lost(Some(EventKind::Exec), 5, 6_500_000_000);
        tap.damaged("skipped 10 damaged bytes at offset 4096", 6_500_000_000);
        tap.event(
            &Record {
                boot_ns: 7_000_000_000,
                cpu: 0,
                event: Event::Exit {
                    task: child,
                    status: ExitStatus::Signaled {
                        sig: 9,
                        core: false,
                    },
                    group_dead: Some(true),
                },
            },
            &ann(Kind::Kthread),
            true,
        );
        tap.finish().unwrap();
        let bytes = bytes::Bytes::from(out.0.lock().unwrap().clone());
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
        let meta: std::collections::HashMap<String, String> = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .unwrap()
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
            .collect();
        let mut reader = builder.build().unwrap();
        let batch = reader.next().unwrap().unwrap();
        assert!(reader.next().is_none(), "four rows: one batch");
        (batch, meta)
    }

    fn strings(batch: &RecordBatch, col: &str) -> Vec<Option<String>> {
        arrow_cast_strings(batch.column_by_name(col).unwrap().as_ref())
    }

    /// Dictionary or plain string columns as strings.
    fn arrow_cast_strings(array: &dyn arrow_array::Array) -> Vec<Option<String>> {
        if let Some(dict) = array.as_dictionary_opt::<Int32Type>() {
            let values = dict.values().as_string::<i32>();
            return dict
                .keys()
                .iter()
                .map(|k| k.map(|k| values.value(k as usize).to_string()))
                .collect();
        }
        array
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect()
    }

    #[test]
    fn every_event_loss_and_damage_is_a_typed_row() {
        let (batch, meta) = written();
        assert_eq!(meta["parquet_schema_version"], "1");
        assert_eq!(batch.num_rows(), 4);
        assert_eq!(batch.schema().fields().len(), Columns::fields().len());
        let s = |c| strings(&batch, c);
        assert_eq!(
            s("event"),
            ["fork", "lost", "damaged", "exit"].map(|e| Some(e.to_string()))
        );
        assert_eq!(s("host")[3].as_deref(), Some("box"));
        assert_eq!(s("machine_id")[0].as_deref(), Some("m1"));
        assert_eq!(s("lost_event")[1].as_deref(), Some("exec"));
        assert_eq!(
            s("damage")[2].as_deref(),
            Some("skipped 10 damaged bytes at offset 4096")
        );
        assert_eq!(s("exit_signal")[3].as_deref(), Some("SIGKILL"));
        assert_eq!(s("kind")[0].as_deref(), Some("kthread"));
        assert_eq!(s("creator_kind")[0].as_deref(), Some("kthreadd"));
        // Text lossy as in JSON; the exact bytes beside it.
        assert_eq!(s("comm")[0].as_deref(), Some("k\u{fffd}w"));
        let exact = batch
            .column_by_name("comm_bytes")
            .unwrap()
            .as_binary::<i32>();
        assert_eq!(exact.value(0), b"k\xffw");
        assert!(exact.is_valid(3) && exact.value(3) == b"k\xffw");
        assert!(batch.column_by_name("creator_comm").unwrap().is_valid(0));
        // Ids: the child's, its parent kthreadd's from the snapshot (start
        // 1 tick), the same child id at exit.
        let boot = Origin::of(&sample()).boot_key();
        let ids = s("task_id");
        assert_eq!(ids[0], Some(boot.task(600, 77).to_string()));
        assert_eq!(ids[3], ids[0]);
        assert_eq!(s("parent_task_id")[0], Some(boot.task(1, 2).to_string()));
        assert_eq!(s("creator_task_id")[0], Some(boot.task(1, 2).to_string()));
        assert_eq!(ids[1], None, "a lost row has no task");
        // The parent and ancestors the table gave, as in JSON; none asked
        // at exit: null.
        let chain = batch.column_by_name("ancestors").unwrap().as_list::<i32>();
        assert!(chain.is_null(3));
        let first = chain.value(0);
        let first = first.as_struct();
        assert_eq!(first.len(), 1);
        assert_eq!(
            arrow_cast_strings(first.column_by_name("task_id").unwrap().as_ref()),
            [Some(boot.task(1, 2).to_string())]
        );
        let kind = arrow_cast_strings(first.column_by_name("kind").unwrap().as_ref());
        assert_eq!(kind, [Some("kthreadd".to_string())]);
        let pid = first.column_by_name("pid").unwrap();
        assert_eq!(pid.as_primitive::<Int32Type>().value(0), 2);
        // Who asked kthreadd: on the fork only.
        assert_eq!(
            s("kthread_requester_task_id")[0],
            Some(boot.task(300, 57).to_string())
        );
        for (col, want) in [
            ("kthread_requester_comm", "kworker/u8:2"),
            ("kthread_requester_kind", "kworker"),
            ("kthread_work", "flush_to_ldisc"),
            ("kthread_link", "exact"),
            ("kthread_threadfn", "worker_thread"),
        ] {
            assert_eq!(s(col), [Some(want.to_string()), None, None, None], "{col}");
        }
        assert_eq!(
            s("kthread_reason")[0].as_deref(),
            Some(KthreadLink::Exact.reason())
        );
        let addr = batch.column_by_name("kthread_threadfn_addr").unwrap();
        let addr = addr.as_primitive::<arrow_array::types::Int64Type>();
        assert_eq!(addr.value(0) as u64, 0xffff_ffff_8100_2000);
        assert!(addr.is_null(3));
        let count = batch.column_by_name("count").unwrap();
        let count = count.as_primitive::<arrow_array::types::Int64Type>();
        assert_eq!((count.is_null(0), count.value(1)), (true, 5));
        let time = batch.column_by_name("time").unwrap();
        let time = time.as_primitive::<arrow_array::types::TimestampNanosecondType>();
        assert_eq!(time.value(0), 1_795_000_000_000_000_000 + 6_000_000_000);
    }

    /// Two exports of one log into one dataset at once: one part, both
    /// succeed; a third finds it there and writes nothing.
    #[test]
    fn concurrent_exports_of_one_log_make_one_part() {
        let dir = tempfile::tempdir().unwrap();
        let header = sample();
        let export = || {
            let mut tap = dataset_tap(dir.path().to_path_buf(), Origin::of(&header)).unwrap();
            tap.lost(None, 1, 6_000_000_000);
            tap
        };
        let (a, b) = (export(), export());
        a.finish().unwrap();
        b.finish().unwrap();
        let parts = |dir: &std::path::Path| -> Vec<PathBuf> {
            let mut found = Vec::new();
            let mut stack = vec![dir.to_path_buf()];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(d).unwrap() {
                    let p = e.unwrap().path();
                    if p.is_dir() {
                        stack.push(p);
                    } else {
                        found.push(p);
                    }
                }
            }
            found
        };
        let found = parts(dir.path());
        assert_eq!(found.len(), 1, "{found:?}");
        let name = found[0]
            .strip_prefix(dir.path())
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(
            name,
            format!(
                "host=box/date=2026-11-18/part-{:016x}-7.parquet",
                sample().part.session
            )
        );
        let before = std::fs::read(&found[0]).unwrap();
        export().finish().unwrap();
        assert_eq!(parts(dir.path()), found);
        assert_eq!(std::fs::read(&found[0]).unwrap(), before);
    }
}
