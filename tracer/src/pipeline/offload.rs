//! Decoding off the ring reader: `record`'s reader only copies each raw
//! record into the log and into a chunk (a reused `Vec<u8>`); full chunks
//! go over a bounded channel to a decode thread, which runs the
//! [`Observer`] (task table, metrics, OTLP). The reader never waits for
//! it: a chunk that finds the channel full is dropped and its events are
//! counted, said on stderr (at most once per 10 s) and handed to the taps
//! as missed, so the exporter's summary counts them. The log has every
//! record either way.
//!
//! The one wait: a new log file's header holds the task table as the
//! records so far leave it, so a rotation (or SIGHUP) hands over what it
//! holds and waits for the decode thread to reach it, at the reader's
//! priority: the time to decode at most [`QUEUED_CHUNKS`] chunks, once
//! per file. Where the queue is full (the thread far behind, dropping
//! anyway), the chunks ahead of it only update the table (the taps count
//! their events as missed), so that wait is the table's work alone.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc::{self, Receiver, SyncSender, TrySendError},
        Arc,
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context as _, Result};
use tracer_common::{EventKind, Header};

use super::{
    priority::{self, this_thread, Priority},
    tap::Observer,
};
use crate::{kernel::rings::RingFill, model::procfs::ProcTask};

/// A chunk is handed over once it holds this many bytes ...
const CHUNK_BYTES: usize = 64 << 10;
/// ... or at the end of a read of the rings once it is this old.
const CHUNK_AGE: Duration = Duration::from_millis(100);
/// Chunks waiting for the decode thread: with [`CHUNK_BYTES`], 2 MiB of
/// records (about 10,000 signal records) absorb a burst.
pub const QUEUED_CHUNKS: usize = 32;
/// Empty chunks kept for reuse.
const SPARE_CHUNKS: usize = 4;
/// At most one warning this often.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// What is in a chunk, in order.
enum Entry {
    /// A raw record: the bytes up to `end`, from the previous one's end.
    Event { end: u32 },
    Lost {
        kind: EventKind,
        count: u64,
        boot_ns: u64,
    },
}

#[derive(Default)]
struct Chunk {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
    events: u64,
    /// Events dropped since the chunk before this one reached the thread.
    missed_before: u64,
}

impl Chunk {
    fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.missed_before == 0
    }

    /// Dropped: only its loss notices stay (they count losses), one per
    /// kind, so that a decode thread starved for long bounds them.
    fn drop_events(&mut self) {
        self.bytes.clear();
        self.events = 0;
        let mut merged: Vec<Entry> = Vec::new();
        for entry in self.entries.drain(..) {
            let Entry::Lost {
                kind,
                count,
                boot_ns,
            } = entry
            else {
                continue;
            };
            match merged
                .iter_mut()
                .find(|e| matches!(e, Entry::Lost { kind: k, .. } if *k == kind))
            {
                // The latest time: the losses are known by then.
                Some(Entry::Lost {
                    count: c,
                    boot_ns: b,
                    ..
                }) => {
                    *c += count;
                    *b = (*b).max(boot_ns);
                }
                _ => merged.push(Entry::Lost {
                    kind,
                    count,
                    boot_ns,
                }),
            }
        }
        self.entries = merged;
    }
}

enum Msg {
    Chunk(Chunk),
    Tick,
    Rings(Vec<RingFill>),
    /// The task table once every record before this is applied.
    Snapshot(SyncSender<Vec<ProcTask>>),
}

/// The ring reader's end.
pub struct Offload {
    tx: Option<SyncSender<Msg>>,
    /// Chunks the thread is done with, for reuse.
    spare: Receiver<Chunk>,
    chunk: Chunk,
    started: Instant,
    /// No taps: the table alone needs no signal records.
    skip_signals: bool,
    /// Events dropped, in all.
    missed: u64,
    warned: Option<Instant>,
    thread: Option<JoinHandle<Result<()>>>,
    /// The decode thread's id, once lowered to `priority` (for a
    /// snapshot's boost).
    tid: Option<libc::pid_t>,
    priority: Priority,
    /// A snapshot waits: chunks ahead of it skip the taps.
    snapshot_pending: Arc<AtomicBool>,
    /// The decode thread has ended before [`Offload::finish`] (it failed).
    ended: bool,
}

impl Offload {
    /// Starts the decode thread with `observer`.
    pub fn start(observer: Observer) -> Result<Offload> {
        let skip_signals = !observer.has_taps();
        // With taps it is always behind in a storm: SCHED_IDLE, so that it
        // never takes the ring reader's CPU, and a CPU running only it
        // counts as idle where the reader wakes (at nice 10 or 19, some
        // rounds of a recorded signal storm on 2 CPUs lost events in the
        // rings). The table alone is light.
        let priority = if skip_signals {
            Priority::Nice(10)
        } else {
            Priority::Idle
        };
        let (tx, rx) = mpsc::sync_channel(QUEUED_CHUNKS);
        // A few chunks kept for reuse; after a burst, the rest are freed.
        let (spare_tx, spare) = mpsc::sync_channel(SPARE_CHUNKS);
        let (tid_tx, tid) = mpsc::sync_channel(1);
        let snapshot_pending = Arc::new(AtomicBool::new(false));
        let pending = Arc::clone(&snapshot_pending);
        let thread = thread::Builder::new()
            .name("tracer-decode".into())
            .spawn(move || {
                let tid = this_thread();
                let lowered = priority::lower(tid, priority);
                let _ = tid_tx.send(lowered.then_some(tid));
                run(observer, rx, spare_tx, &pending)
            })
            .context("starting the decode thread")?;
        Ok(Offload {
            tx: Some(tx),
            spare,
            chunk: Chunk::default(),
            started: Instant::now(),
            skip_signals,
            missed: 0,
            warned: None,
            thread: Some(thread),
            tid: tid.recv().ok().flatten(),
            priority,
            snapshot_pending,
            ended: false,
        })
    }

    /// One raw record, as the rings had it: copied, not decoded.
    pub fn record(&mut self, raw: &[u8]) {
        // The task table (the next file's header: who exists, lineage,
        // names, arguments) is not changed by signals, most of a storm (on
        // 16 CPUs, decoding them held a recording's loss-free signal rate
        // at about 1M events/s; skipping them, about 1.9M).
        if self.skip_signals
            && matches!(
                Header::peek_kind(raw),
                Some(EventKind::SignalGenerate | EventKind::SignalDeliver)
            )
        {
            return;
        }
        if self.chunk.entries.is_empty() {
            self.started = Instant::now();
        }
        self.chunk.bytes.extend_from_slice(raw);
        let end = u32::try_from(self.chunk.bytes.len()).unwrap_or(u32::MAX);
        self.chunk.entries.push(Entry::Event { end });
        self.chunk.events += 1;
        if self.chunk.bytes.len() >= CHUNK_BYTES {
            self.hand_over();
        }
    }

    pub fn lost(&mut self, kind: EventKind, count: u64, boot_ns: u64) {
        self.chunk.entries.push(Entry::Lost {
            kind,
            count,
            boot_ns,
        });
    }

    /// The end of a read of the rings: what is held goes once it is
    /// [`CHUNK_AGE`] old, so the taps lag little on a quiet machine.
    pub fn flush(&mut self) {
        if !self.chunk.is_empty() && self.started.elapsed() >= CHUNK_AGE {
            self.hand_over();
        }
    }

    /// Once a second.
    pub fn tick(&mut self) {
        self.hand_over();
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(Msg::Tick);
        }
    }

    pub fn rings(&mut self, fill: &[RingFill]) {
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(Msg::Rings(fill.to_vec()));
        }
    }

    /// The task table as the records so far leave it (for a new file's
    /// header): waits for the thread to apply them.
    ///
    /// The reader waits meanwhile, so the decode thread runs at its
    /// priority (nice 0) until it answers, from before the reader waits
    /// for room in the queue: the wait is its work, not its turn behind
    /// every other task on a busy machine. Where the queue is full, the
    /// chunks ahead only update the table; the taps count their events as
    /// missed.
    pub fn snapshot(&mut self) -> Result<Vec<ProcTask>> {
        if self.tx.is_none() {
            bail!("the decode thread has finished: no task table to snapshot");
        }
        self.raise();
        let chunk = (!self.chunk.is_empty()).then(|| std::mem::take(&mut self.chunk));
        let pending = &self.snapshot_pending;
        let (reply, answer) = mpsc::sync_channel(1);
        let tasks = self.tx.as_ref().and_then(|tx| {
            if let Some(chunk) = chunk {
                send_behind(tx, pending, Msg::Chunk(chunk))?;
            }
            send_behind(tx, pending, Msg::Snapshot(reply))?;
            answer.recv().ok()
        });
        self.snapshot_pending.store(false, Ordering::Release);
        self.lower();
        tasks.ok_or_else(|| {
            self.ended = true;
            anyhow!(
                "the decode thread has ended (it failed), so the task table for the next \
                 log's header is unknown"
            )
        })
    }

    /// Hands over the rest and waits for the thread to finish the taps,
    /// at the reader's priority: the rings are read no more.
    pub fn finish(&mut self) -> Result<()> {
        self.raise();
        self.hand_over_waiting();
        drop(self.tx.take());
        let res = match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| anyhow!("the decode thread failed"))?,
            None => Ok(()),
        };
        if self.missed > 0 {
            let why = if self.ended {
                "the decode thread ended early"
            } else {
                "decoding fell behind"
            };
            crate::say!(
                "tracer: warning: {why}: {} events reached neither the task table nor the taps \
                 (--metrics, --otlp); the log has them all",
                self.missed
            );
        }
        res
    }

    /// To nice 0, while the reader waits for it.
    fn raise(&self) {
        if let Some(tid) = self.tid {
            priority::raise(tid);
        }
    }

    fn lower(&self) {
        if let Some(tid) = self.tid {
            priority::lower(tid, self.priority);
        }
    }

    /// Sends the chunk unless the thread is behind: then its events are
    /// dropped and counted.
    fn hand_over(&mut self) {
        if self.chunk.is_empty() {
            return;
        }
        let Some(tx) = &self.tx else {
            return;
        };
        let chunk = std::mem::take(&mut self.chunk);
        let (mut chunk, ended) = match tx.try_send(Msg::Chunk(chunk)) {
            Ok(()) => {
                self.chunk = self.spare.try_recv().unwrap_or_default();
                return;
            }
            Err(TrySendError::Full(Msg::Chunk(chunk))) => (chunk, false),
            Err(TrySendError::Disconnected(Msg::Chunk(chunk))) => (chunk, true),
            Err(_) => unreachable!("a chunk was sent"),
        };
        let n = chunk.events;
        chunk.drop_events();
        chunk.missed_before += n;
        self.chunk = chunk;
        self.missed += n;
        if ended && !self.ended {
            self.ended = true;
            crate::say!(
                "\ntracer: warning: the decode thread has ended (it failed): the task table and \
                 the taps (--metrics, --otlp) get no more events; the log has them all"
            );
        } else if !ended {
            self.warn(n);
        }
    }

    /// Sends the chunk, waiting for room.
    fn hand_over_waiting(&mut self) {
        let Some(tx) = &self.tx else {
            return;
        };
        if self.chunk.is_empty() {
            return;
        }
        let chunk = std::mem::take(&mut self.chunk);
        let _ = tx.send(Msg::Chunk(chunk));
    }

    fn warn(&mut self, n: u64) {
        if self.warned.is_some_and(|t| t.elapsed() < WARN_EVERY) {
            return;
        }
        self.warned = Some(Instant::now());
        crate::say!(
            "\ntracer: warning: decoding is not keeping up; dropped {n} events for the task \
             table and the taps ({} so far; the log has them all)",
            self.missed
        );
    }
}

/// Sends `msg` for a snapshot; a full queue first sets `pending`, so that
/// the chunks ahead skip the taps. None: the thread has ended.
fn send_behind(tx: &SyncSender<Msg>, pending: &AtomicBool, msg: Msg) -> Option<()> {
    match tx.try_send(msg) {
        Ok(()) => Some(()),
        Err(TrySendError::Full(msg)) => {
            pending.store(true, Ordering::Release);
            tx.send(msg).ok()
        }
        Err(TrySendError::Disconnected(_)) => None,
    }
}

impl Drop for Offload {
    fn drop(&mut self) {
        // An error path: the thread ends once the channel closes.
        drop(self.tx.take());
    }
}

/// The decode thread (below the reader's priority: [`Offload::start`]), so that on a busy
/// machine it is the one that falls behind (and drops, counted), never
/// the reading of the rings.
fn run(
    mut observer: Observer,
    rx: Receiver<Msg>,
    spare: SyncSender<Chunk>,
    snapshot_pending: &AtomicBool,
) -> Result<()> {
    for msg in rx {
        match msg {
            Msg::Chunk(mut chunk) => {
                if chunk.missed_before > 0 {
                    observer.missed(chunk.missed_before);
                }
                // The reader waits for a snapshot behind a full queue: only
                // the table's work, so that the wait stays short.
                let table_only = observer.has_taps() && snapshot_pending.load(Ordering::Acquire);
                let mut start = 0;
                for entry in &chunk.entries {
                    match *entry {
                        Entry::Event { end } => {
                            let end = end as usize;
                            let raw = &chunk.bytes[start..end];
                            if table_only {
                                observer.table_record(raw);
                            } else {
                                observer.record(raw);
                            }
                            start = end;
                        }
                        Entry::Lost {
                            kind,
                            count,
                            boot_ns,
                        } => observer.lost(kind, count, boot_ns),
                    }
                }
                if table_only && chunk.events > 0 {
                    observer.taps_missed(chunk.events);
                }
                chunk.bytes.clear();
                chunk.entries.clear();
                chunk.events = 0;
                chunk.missed_before = 0;
                let _ = spare.try_send(chunk);
            }
            Msg::Tick => observer.tick(),
            Msg::Rings(fill) => observer.rings(&fill),
            Msg::Snapshot(reply) => {
                let _ = reply.send(observer.table().snapshot());
            }
        }
    }
    observer.finish()
}

#[cfg(test)]
mod tests {
    use std::sync::{
        atomic::{AtomicBool, Ordering},
        mpsc::Receiver,
        Arc, Mutex,
    };

    use tracer_common::{ForkEvent, Plain, TaskInfo, COMM_LEN};

    use super::*;
    use crate::{
        model::{
            event::Record,
            tasks::{Annotation, TaskTable},
        },
        pipeline::tap::{Tap, Taps},
    };

    fn as_bytes<T: Plain>(v: &T) -> Vec<u8> {
        // SAFETY: T is Plain (repr(C), no implicit padding), so all
        // size_of::<T>() bytes are initialized.
        unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
    }

    fn task(pid: u32, comm: &str) -> TaskInfo {
        let mut c = [0u8; COMM_LEN];
        c[..comm.len()].copy_from_slice(comm.as_bytes());
        TaskInfo {
            start_boottime: 1000 + u64::from(pid),
            pid,
            tgid: pid,
            ppid: 1,
            flags: 0x400100,
            comm: c,
            has_mm: 1,
            _pad: [0; 7],
            uid: 0,
            gid: 0,
            cgroup_id: 0,
            pidns_inum: 0,
            ns_pid: 0,
            mntns_inum: 0,
            context: 0,
        }
    }

    /// A fork of `child` by pid 1: raw, as the ring has it.
    fn fork(child: u32, boot_ns: u64) -> Vec<u8> {
        as_bytes(&ForkEvent {
            header: Header::new(EventKind::Fork, 0, boot_ns),
            creator: task(1, "init"),
            child: task(child, "kid"),
            clone_flags: 0x11,
        })
    }

    #[derive(Default)]
    struct Seen {
        /// Children's pids, in order.
        events: Vec<u32>,
        missed: u64,
        lost: u64,
        finished: bool,
    }

    /// A tap that stops at its first event until the gate opens.
    struct Gated {
        gate: Option<Receiver<()>>,
        waiting: Arc<AtomicBool>,
        seen: Arc<Mutex<Seen>>,
    }

    impl Tap for Gated {
        fn event(&mut self, rec: &Record, _ann: &Annotation, _shown: bool) {
            if let Some(gate) = self.gate.take() {
                self.waiting.store(true, Ordering::SeqCst);
                let _ = gate.recv();
            }
            if let crate::model::event::Event::Fork { child, .. } = &rec.event {
                self.seen.lock().unwrap().events.push(child.pid);
            }
        }
        fn lost(&mut self, _kind: Option<EventKind>, count: u64, _boot_ns: u64) {
            self.seen.lock().unwrap().lost += count;
        }
        fn missed(&mut self, count: u64) {
            self.seen.lock().unwrap().missed += count;
        }
        fn finish(self: Box<Self>) -> Result<()> {
            self.seen.lock().unwrap().finished = true;
            Ok(())
        }
    }

    fn table() -> TaskTable {
        TaskTable::new(100, true)
    }

    /// An offload whose one tap is stuck on its first event (sent
    /// through `open` to go on): what it has seen, in `seen`.
    fn stuck() -> (Offload, mpsc::Sender<()>, Arc<Mutex<Seen>>) {
        let (open, gate) = mpsc::channel();
        let waiting = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let tap = Gated {
            gate: Some(gate),
            waiting: Arc::clone(&waiting),
            seen: Arc::clone(&seen),
        };
        let mut off = Offload::start(Observer::new(table(), Taps::new(vec![Box::new(tap)])))
            .expect("thread starts");
        off.record(&fork(100, 1));
        off.tick();
        while !waiting.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(1));
        }
        (off, open, seen)
    }

    /// The reader goes on while the decode side is stuck: what does not
    /// fit is dropped and counted, and reaches the taps as missed; every
    /// other event and the loss notices arrive, in order.
    #[test]
    fn a_stuck_decoder_never_blocks_the_reader() {
        let (mut off, open, seen) = stuck();
        // Far more than the queue holds, while the tap is stuck.
        let per_chunk = CHUNK_BYTES / fork(0, 0).len() + 1;
        let total = (QUEUED_CHUNKS + 8) * per_chunk;
        for i in 0..total {
            off.record(&fork(1000 + i as u32, 2 + i as u64));
        }
        off.lost(EventKind::Exec, 3, 5);
        off.tick();
        let missed = off.missed;
        assert!(
            missed > 0,
            "nothing dropped: the queue is larger than expected"
        );
        open.send(()).unwrap();
        off.finish().expect("finishes");
        let seen = seen.lock().unwrap();
        assert!(seen.finished);
        assert_eq!(seen.missed, missed);
        assert_eq!(seen.lost, 3, "a loss notice is never dropped");
        assert_eq!(seen.events.len() as u64 + missed, total as u64 + 1);
        assert!(seen.events.windows(2).all(|w| w[0] < w[1]), "out of order");
    }

    /// A new file's header: the table as every record so far leaves it,
    /// although the records are decoded on the other thread.
    #[test]
    fn a_snapshot_sees_every_record_before_it() {
        let mut off = Offload::start(Observer::new(table(), Taps::default())).expect("starts");
        assert!(off.snapshot().expect("a table").is_empty());
        for pid in 500..600 {
            off.record(&fork(pid, u64::from(pid)));
        }
        let tasks = off.snapshot().expect("a table");
        for pid in 500..600 {
            assert!(tasks.iter().any(|t| t.pid == pid), "{pid} missing");
        }
        off.finish().expect("finishes");
    }

    /// A snapshot waits for the chunks ahead of it, but not for the taps:
    /// those chunks update the table alone, and reach the taps as missed.
    #[test]
    fn a_snapshot_waits_for_the_table_not_the_taps() {
        let (mut off, open, seen) = stuck();
        // Queued behind the stuck tap: the queue full (the tick holds a
        // place), nothing dropped, and a part chunk left.
        let per_chunk = CHUNK_BYTES.div_ceil(fork(0, 0).len());
        let total = (QUEUED_CHUNKS - 1) * per_chunk + 7;
        for i in 0..total {
            off.record(&fork(1000 + i as u32, 2 + i as u64));
        }
        assert_eq!(off.missed, 0, "nothing dropped");
        // The tap goes on once the snapshot is asked for.
        let pending = Arc::clone(&off.snapshot_pending);
        let opener = thread::spawn(move || {
            while !pending.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(1));
            }
            open.send(()).unwrap();
        });
        let tasks = off.snapshot().expect("a table");
        opener.join().unwrap();
        for i in 0..total {
            let pid = 1000 + i as u32;
            assert!(tasks.iter().any(|t| t.pid == pid), "{pid} missing");
        }
        off.finish().expect("finishes");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.events, [100], "the taps ran ahead of the snapshot");
        assert_eq!(seen.missed, total as u64);
    }

    /// A snapshot on a decode thread that keeps up costs the taps nothing.
    #[test]
    fn a_snapshot_with_room_in_the_queue_keeps_every_event_for_the_taps() {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let tap = Gated {
            gate: None,
            waiting: Arc::new(AtomicBool::new(false)),
            seen: Arc::clone(&seen),
        };
        let mut off = Offload::start(Observer::new(table(), Taps::new(vec![Box::new(tap)])))
            .expect("thread starts");
        let per_chunk = CHUNK_BYTES.div_ceil(fork(0, 0).len());
        let total = 3 * per_chunk + 7;
        for i in 0..total {
            off.record(&fork(1000 + i as u32, 2 + i as u64));
        }
        let tasks = off.snapshot().expect("a table");
        assert!(tasks.iter().any(|t| t.pid == 1000 + total as u32 - 1));
        off.finish().expect("finishes");
        let seen = seen.lock().unwrap();
        assert_eq!((seen.events.len(), seen.missed), (total, 0));
    }

    /// A decode thread that is gone: a snapshot says so, not an empty
    /// table.
    #[test]
    fn a_snapshot_without_a_decode_thread_is_an_error() {
        struct Panics;
        impl Tap for Panics {
            fn event(&mut self, _rec: &Record, _ann: &Annotation, _shown: bool) {}
            fn lost(&mut self, _kind: Option<EventKind>, _count: u64, _boot_ns: u64) {}
            fn tick(&mut self, _table: &TaskTable) {
                panic!("a tap that fails");
            }
            fn finish(self: Box<Self>) -> Result<()> {
                Ok(())
            }
        }
        let mut off = Offload::start(Observer::new(table(), Taps::new(vec![Box::new(Panics)])))
            .expect("thread starts");
        off.record(&fork(100, 1));
        off.tick();
        let err = off.snapshot().expect_err("no table");
        assert!(
            format!("{err:#}").contains("decode thread has ended"),
            "{err:#}"
        );
        assert!(off.finish().is_err(), "the thread failed");
    }

    /// A chunk dropped again and again keeps one loss notice per kind,
    /// their counts summed.
    #[test]
    fn a_dropped_chunks_loss_notices_stay_bounded() {
        let mut chunk = Chunk::default();
        for round in 0..1000u64 {
            chunk.bytes.extend_from_slice(&fork(7, round));
            chunk.entries.push(Entry::Event { end: 1 });
            chunk.events += 1;
            for kind in [EventKind::Exec, EventKind::Fork] {
                chunk.entries.push(Entry::Lost {
                    kind,
                    count: 2,
                    boot_ns: round,
                });
            }
            chunk.drop_events();
        }
        assert!(chunk.bytes.is_empty() && chunk.events == 0);
        assert_eq!(chunk.entries.len(), 2, "one notice per kind");
        for entry in &chunk.entries {
            let Entry::Lost { count, boot_ns, .. } = entry else {
                panic!("an event kept");
            };
            assert_eq!((*count, *boot_ns), (2000, 999));
        }
    }
}
