//! Puts the records of several rings back in time order.
//!
//! Each ring holds one group of CPUs' records in about the order they were
//! reserved; across rings, nothing is ordered. The session drains every
//! ring into a [`Merge`] at each batch and releases, in `boot_ns` order,
//! the records up to a time before which every ring is known to have been
//! read (see `rings::Rings::drain`):
//!
//! - A program stamps its record *after* reserving it, and a reservation
//!   shows at once in the ring's producer position. So a ring seen empty
//!   (consumer position = producer position) at time `t` will only ever
//!   hold records stamped after `t`: everything up to `t` may go.
//! - A ring whose next record is still being written (reserved, not yet
//!   committed) is waited for a few microseconds; if it stays so, its
//!   records are trusted to be complete up to [`WINDOW`](crate::kernel::rings::WINDOW) before the batch
//!   began. A program commits microseconds after stamping, unless its CPU
//!   is taken away mid-program (as a host may do to a VM): a record whose
//!   commit came more than `WINDOW` after its stamp can miss its turn. It
//!   is then released with the next batch, out of order by its lateness,
//!   and counted as late, never dropped.
//!
//! Records queue per ring, their bytes appended as read to fixed-size
//! chunks that are reused once every record in them is gone (no compaction,
//! no reallocation); a ring's queue is sorted on arrival (a record older
//! than its ring's last is inserted in place, which is rare and near the
//! end), and release takes runs from the queue with the oldest head, so a
//! record costs one copy and no sort.

use std::collections::VecDeque;

use anyhow::Result;
use tracer_common::{EventKind, Header};

use crate::{model::counts::LossCause, pipeline::sink::Flow};

/// Bytes of one chunk of held records.
const CHUNK: usize = 256 << 10;

/// What a merge releases, in time order.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A record, its bytes as the kernel wrote them.
    Record(&'a [u8]),
    /// `count` records of `kind` were lost in the kernel, noticed at `boot_ns`.
    Lost {
        cause: LossCause,
        kind: EventKind,
        count: u64,
        boot_ns: u64,
    },
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    boot_ns: u64,
    /// Chunk number (counted since the queue began) and place in it.
    chunk: u64,
    off: u32,
    len: u32,
}

struct Chunk {
    bytes: Vec<u8>,
    /// Records in it not yet released.
    live: u32,
}

#[derive(Default)]
struct Queue {
    /// Chunks holding the records' bytes, oldest first; the last is filled.
    chunks: VecDeque<Chunk>,
    /// Number of the first chunk in `chunks`.
    first: u64,
    /// Emptied chunks, for reuse.
    spare: Vec<Vec<u8>>,
    /// Held records, oldest first.
    entries: VecDeque<Entry>,
}

impl Queue {
    fn push(&mut self, raw: &[u8]) {
        // A record too short for a time goes first; decoding reports it.
        let boot_ns = Header::peek_boot_ns(raw).unwrap_or(0);
        let room = self
            .chunks
            .back()
            .is_some_and(|c| c.bytes.capacity() - c.bytes.len() >= raw.len());
        if !room {
            let mut bytes = self.spare.pop().unwrap_or_default();
            bytes.reserve(CHUNK.max(raw.len()));
            self.chunks.push_back(Chunk { bytes, live: 0 });
        }
        let number = self.first + self.chunks.len() as u64 - 1;
        let chunk = self.chunks.back_mut().expect("just ensured");
        let entry = Entry {
            boot_ns,
            chunk: number,
            off: chunk.bytes.len() as u32,
            len: raw.len() as u32,
        };
        chunk.bytes.extend_from_slice(raw);
        chunk.live += 1;
        match self.entries.back() {
            Some(last) if last.boot_ns > boot_ns => {
                let at = self.entries.partition_point(|e| e.boot_ns <= boot_ns);
                self.entries.insert(at, entry);
            }
            _ => self.entries.push_back(entry),
        }
    }

    fn head(&self) -> Option<u64> {
        self.entries.front().map(|e| e.boot_ns)
    }

    fn bytes(&self, e: &Entry) -> &[u8] {
        let chunk = &self.chunks[(e.chunk - self.first) as usize];
        &chunk.bytes[e.off as usize..(e.off + e.len) as usize]
    }

    /// `e` was released: its chunk's count drops, and leading chunks with
    /// nothing left (but the one being filled) go back to the spares.
    fn released(&mut self, e: &Entry) {
        self.chunks[(e.chunk - self.first) as usize].live -= 1;
        while self.chunks.len() > 1 && self.chunks.front().is_some_and(|c| c.live == 0) {
            let mut done = self.chunks.pop_front().expect("checked").bytes;
            self.first += 1;
            if self.spare.len() < 4 {
                done.clear();
                self.spare.push(done);
            }
        }
    }
}

pub struct Merge {
    queues: Vec<Queue>,
    /// Loss notices, in the order (and so the time) they were taken.
    lost: VecDeque<(u64, EventKind, u64, LossCause)>,
    /// Records with a time at or before this may go.
    cutoff: u64,
    /// Time of the last record released.
    last_released: u64,
    /// Records released after a later one (their commit lagged their time
    /// by more than the window).
    late: u64,
    held: usize,
}

impl Merge {
    /// A merge of `rings` rings.
    pub fn new(rings: usize) -> Merge {
        Merge {
            queues: (0..rings.max(1)).map(|_| Queue::default()).collect(),
            lost: VecDeque::new(),
            cutoff: 0,
            last_released: 0,
            late: 0,
            held: 0,
        }
    }

    /// A record read from ring `ring`.
    pub fn push(&mut self, ring: usize, raw: &[u8]) {
        let last = self.queues.len() - 1;
        self.queues[ring.min(last)].push(raw);
        self.held += 1;
    }

    /// A loss noticed at `boot_ns`.
    pub fn push_lost(&mut self, kind: EventKind, count: u64, boot_ns: u64, cause: LossCause) {
        self.lost.push_back((boot_ns, kind, count, cause));
    }

    /// Takes every loss notice not yet released, oldest first.
    pub fn take_lost(&mut self) -> Vec<(EventKind, u64, u64, LossCause)> {
        self.lost
            .drain(..)
            .map(|(boot_ns, kind, count, cause)| (kind, count, boot_ns, cause))
            .collect()
    }

    /// Records held now.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Records released after a later one so far.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// Releases, in time order, the records up to `upto` (boot clock): every
    /// ring has been read up to there.
    pub fn release(
        &mut self,
        upto: u64,
        out: impl FnMut(Item<'_>) -> Result<Flow>,
    ) -> Result<Flow> {
        self.cutoff = self.cutoff.max(upto);
        self.release_to(self.cutoff, out)
    }

    /// Releases everything held, in time order (the end of a session).
    pub fn release_all(&mut self, out: impl FnMut(Item<'_>) -> Result<Flow>) -> Result<Flow> {
        self.cutoff = u64::MAX;
        self.release_to(u64::MAX, out)
    }

    fn release_to(
        &mut self,
        cutoff: u64,
        mut out: impl FnMut(Item<'_>) -> Result<Flow>,
    ) -> Result<Flow> {
        let mut flow = Flow::Continue;
        'runs: loop {
            // The queue with the oldest head, and the next oldest head of
            // the others (loss notices included): a run from that queue
            // may go up to it.
            let mut best: Option<(usize, u64)> = None;
            let mut bound = self.lost.front().map_or(u64::MAX, |l| l.0);
            for (i, q) in self.queues.iter().enumerate() {
                let Some(t) = q.head() else { continue };
                match best {
                    Some((_, b)) if b <= t => bound = bound.min(t),
                    _ => {
                        if let Some((_, b)) = best {
                            bound = bound.min(b);
                        }
                        best = Some((i, t));
                    }
                }
            }
            let lost_first = match (best, self.lost.front()) {
                (None, Some(_)) => true,
                (Some((_, t)), Some(l)) => l.0 < t,
                _ => false,
            };
            if lost_first {
                let (boot_ns, kind, count, cause) = *self.lost.front().expect("checked");
                if boot_ns > cutoff {
                    break;
                }
                self.lost.pop_front();
                if out(Item::Lost {
                    cause,
                    kind,
                    count,
                    boot_ns,
                })? == Flow::Stop
                {
                    flow = Flow::Stop;
                    break;
                }
                continue;
            }
            let Some((i, _)) = best else { break };
            let limit = cutoff.min(bound);
            let q = &mut self.queues[i];
            let mut any = false;
            while let Some(&e) = q.entries.front() {
                // A run ends past the limit; the first record of a run goes
                // even at the bound (a tie), so each pass makes progress.
                if e.boot_ns > cutoff || (any && e.boot_ns > limit) {
                    break;
                }
                q.entries.pop_front();
                self.held -= 1;
                any = true;
                if e.boot_ns < self.last_released {
                    self.late += 1;
                } else {
                    self.last_released = e.boot_ns;
                }
                let flow_now = out(Item::Record(q.bytes(&e)));
                q.released(&e);
                if flow_now? == Flow::Stop {
                    flow = Flow::Stop;
                    break 'runs;
                }
            }
            if !any {
                break;
            }
        }
        Ok(flow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16-byte record with only a header: kind Fork, `boot_ns`, and the
    /// ring in the cpu field so tests can tell records apart.
    fn rec(ring: u32, boot_ns: u64) -> Vec<u8> {
        let h = Header::new(EventKind::Fork, ring, boot_ns);
        let mut v = Vec::new();
        v.extend_from_slice(&h.version.to_le_bytes());
        v.extend_from_slice(&h.kind.to_le_bytes());
        v.extend_from_slice(&h.cpu.to_le_bytes());
        v.extend_from_slice(&h.boot_ns.to_le_bytes());
        v
    }

    fn times(m: &mut Merge, began: Option<u64>) -> Vec<u64> {
        let mut got = Vec::new();
        let mut take = |item: Item<'_>| {
            match item {
                Item::Record(raw) => got.push(Header::peek_boot_ns(raw).unwrap()),
                Item::Lost { boot_ns, .. } => got.push(boot_ns + 1_000_000_000),
            }
            Ok(Flow::Continue)
        };
        match began {
            Some(t) => m.release(t, &mut take).unwrap(),
            None => m.release_all(&mut take).unwrap(),
        };
        got
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn releases_in_time_order_up_to_the_time_given() {
        let mut m = Merge::new(3);
        for t in [1, 4, 9, 30] {
            m.push(0, &rec(0, t * MS));
        }
        for t in [2, 3, 25] {
            m.push(1, &rec(1, t * MS));
        }
        m.push(2, &rec(2, 5 * MS));
        assert_eq!(
            times(&mut m, Some(10 * MS)),
            [1, 2, 3, 4, 5, 9].map(|t| t * MS)
        );
        assert_eq!(m.held(), 2);
        // A record of the past arriving now is late, but still delivered.
        m.push(2, &rec(2, 8 * MS));
        m.push(2, &rec(2, 26 * MS));
        assert_eq!(times(&mut m, Some(10 * MS)), [8 * MS]);
        assert_eq!(m.late(), 1);
        assert_eq!(times(&mut m, None), [25, 26, 30].map(|t| t * MS));
        assert_eq!(m.held(), 0);
        assert_eq!(m.late(), 1);
    }

    #[test]
    fn a_ring_out_of_order_is_sorted_and_ties_keep_ring_order() {
        let mut m = Merge::new(2);
        for t in [5, 3, 7, 7, 1] {
            m.push(0, &rec(0, t));
        }
        m.push(1, &rec(1, 7));
        m.push(1, &rec(1, 2));
        assert_eq!(times(&mut m, None), [1, 2, 3, 5, 7, 7, 7]);
        assert_eq!(m.late(), 0);
    }

    #[test]
    fn losses_go_in_time_order_with_the_records() {
        let mut m = Merge::new(1);
        m.push(0, &rec(0, 10));
        m.push_lost(EventKind::Exec, 3, 15, LossCause::RingFull);
        m.push(0, &rec(0, 20));
        let mut got = Vec::new();
        m.release_all(|item| {
            got.push(match item {
                Item::Record(raw) => format!("r{}", Header::peek_boot_ns(raw).unwrap()),
                Item::Lost { kind, count, .. } => format!("{}x{count}", kind.name()),
            });
            Ok(Flow::Continue)
        })
        .unwrap();
        assert_eq!(got, ["r10", "execx3", "r20"]);
    }

    #[test]
    fn stop_keeps_the_rest() {
        let mut m = Merge::new(2);
        for t in [1, 2, 3] {
            m.push(0, &rec(0, t));
        }
        let mut n = 0;
        let flow = m
            .release_all(|_| {
                n += 1;
                Ok(if n == 2 { Flow::Stop } else { Flow::Continue })
            })
            .unwrap();
        assert_eq!(flow, Flow::Stop);
        assert_eq!(m.held(), 1);
    }

    #[test]
    fn records_spanning_many_chunks_keep_their_bytes() {
        let mut m = Merge::new(2);
        let big = |ring: u32, t: u64| {
            let mut r = rec(ring, t);
            r.extend((0..1000u32).map(|i| (i as u64 ^ t) as u8));
            r
        };
        let mut t = 0;
        let mut got = 0;
        for round in 0..20u64 {
            for _ in 0..300 {
                t += 1;
                m.push((t % 2) as usize, &big((t % 2) as u32, t));
            }
            // Release most, keep some held across chunks.
            m.release(t - 50 + round % 7, |item| {
                let Item::Record(raw) = item else {
                    panic!("no losses here")
                };
                let at = Header::peek_boot_ns(raw).unwrap();
                assert_eq!(raw, &big((at % 2) as u32, at)[..]);
                got += 1;
                Ok(Flow::Continue)
            })
            .unwrap();
        }
        m.release_all(|_| {
            got += 1;
            Ok(Flow::Continue)
        })
        .unwrap();
        assert_eq!(got, 6000);
        assert!(m.queues.iter().all(|q| q.chunks.len() <= 1));
    }

    #[test]
    fn many_records_in_random_order_come_out_sorted_and_bytes_intact() {
        // A small xorshift, so the test needs no crate and is repeatable.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut m = Merge::new(4);
        let mut out = Vec::new();
        let mut clock = [0u64; 4];
        for _ in 0..200 {
            for (ring, clock) in clock.iter_mut().enumerate() {
                for _ in 0..next() % 50 {
                    // Each ring mostly in order, jittered by up to 20 us.
                    *clock += next() % 20_000;
                    let t = clock.saturating_sub(next() % 20_000);
                    m.push(ring, &rec(ring as u32, t));
                }
            }
            // Every ring's next record is later than its clock less the
            // jitter: release up to there.
            let safe = clock.iter().min().unwrap().saturating_sub(20_000);
            out.extend(times(&mut m, Some(safe)));
        }
        out.extend(times(&mut m, None));
        assert!(out.windows(2).all(|w| w[0] <= w[1]), "out of order");
        assert_eq!(m.late(), 0);
        assert_eq!(m.held(), 0);
    }
}
