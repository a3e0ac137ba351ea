//! The ring buffers: how many and how big ([`plan`]), and reading them all
//! through one epoll instance ([`Rings`]), each up to a time before which
//! it holds nothing more (for the merge; see `live::merge`).
//!
//! One epoll over every ring's fd, itself registered with tokio, rather
//! than a tokio `AsyncFd` per ring: a batch drains every ring anyway (the
//! merge needs them all read up to the same moment), so one readiness
//! source is all the loop needs, however many rings there are.

use std::{
    collections::VecDeque,
    io,
    os::fd::{AsRawFd, FromRawFd as _, OwnedFd, RawFd},
    ptr::NonNull,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use anyhow::{Context as _, Result};
use aya::maps::{MapData, RingBuf};
use tokio::io::{unix::AsyncFd, Interest};
use tracer_common::{Header, MAX_RINGS, MIN_RING_BYTES};

use crate::model::clock;

/// How long after its time a record may still be committed and keep its
/// place: the bound on the ordering guarantee (docs/reference.md, "Order"). It needs
/// to cover only a program's time from stamp to commit (microseconds,
/// unless its CPU is taken away mid-program), not the reader's polling:
/// every batch reads every ring.
pub const WINDOW: Duration = Duration::from_millis(10);

/// How long a drain waits for a ring's record still being written, before
/// trusting the ring only up to the merge's window.
const WAIT_FOR_COMMIT_NS: u64 = 50_000;

/// How the total ring size is split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingPlan {
    /// Rings in use: ring `i` takes CPUs `i * cpus_per_ring ..`.
    pub rings: u32,
    pub cpus_per_ring: u32,
    /// Bytes of each ring in use (a power of two).
    pub ring_bytes: u32,
    /// What differs from what was asked, one sentence each (for --verbose).
    pub notes: Vec<String>,
}

impl RingPlan {
    /// `2 rings of 4 MiB, 1 CPU each (2 possible CPUs)`.
    pub fn describe(&self, cpus: u32) -> String {
        format!(
            "{} ring{} of {}, {} CPU{} each ({cpus} possible CPU{})",
            self.rings,
            plural(self.rings),
            size(u64::from(self.ring_bytes)),
            self.cpus_per_ring,
            plural(self.cpus_per_ring),
            plural(cpus),
        )
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `64 KiB`, `4 MiB`, `1 GiB`, or bytes.
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b.is_multiple_of(1 << 30) => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b.is_multiple_of(1 << 20) => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b.is_multiple_of(1 << 10) => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// Splits `total` bytes (a power of two of at least a page) across the
/// rings that `cpus` possible CPUs need at `cpus_per_ring` each: at most
/// [`MAX_RINGS`] rings (more CPUs per ring beyond that), each a power of
/// two of at least [`MIN_RING_BYTES`] (fewer, shared rings when the total
/// is too small; one ring of the total below that).
pub fn plan(total: u32, cpus: u32, cpus_per_ring: u32) -> RingPlan {
    let cpus = cpus.max(1);
    let mut per = cpus_per_ring.max(1);
    let mut notes = Vec::new();
    let max = MAX_RINGS as u32;
    if cpus.div_ceil(per) > max {
        let wider = cpus.div_ceil(max);
        notes.push(format!(
            "{cpus} CPUs at {per} per ring would need more than {max} rings: {wider} CPUs per ring"
        ));
        per = wider;
    }
    let mut rings = cpus.div_ceil(per);
    // Rings of at least MIN_RING_BYTES that fit in the total.
    let fit = (total / MIN_RING_BYTES).max(1);
    if rings > fit {
        let wider = cpus.div_ceil(fit);
        notes.push(format!(
            "a ring buffer size of {} is too small for {rings} rings of at least {}: \
             {wider} CPUs per ring",
            size(u64::from(total)),
            size(u64::from(MIN_RING_BYTES)),
        ));
        per = wider;
        rings = cpus.div_ceil(per);
    }
    // Round each ring down to a power of two.
    let ring_bytes = 1u32 << (total / rings).ilog2();
    if u64::from(ring_bytes) * u64::from(rings) < u64::from(total) {
        notes.push(format!(
            "{rings} rings of {} use {} of the {} asked (each ring is a power of two)",
            size(u64::from(ring_bytes)),
            size(u64::from(ring_bytes) * u64::from(rings)),
            size(u64::from(total)),
        ));
    }
    RingPlan {
        rings,
        cpus_per_ring: per,
        ring_bytes,
        notes,
    }
}

/// CPUs a program may run on: the highest id in
/// /sys/devices/system/cpu/possible, plus one (`0-15` is 16).
pub fn possible_cpus() -> u32 {
    std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|s| parse_cpu_list(&s))
        .unwrap_or_else(|| {
            // SAFETY: sysconf has no memory-safety preconditions.
            let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
            n.max(1) as u32
        })
}

/// `0-3,8-11` → 12 (the highest id plus one).
fn parse_cpu_list(s: &str) -> Option<u32> {
    let mut highest = None;
    for part in s.trim().split(',') {
        let last = part.rsplit('-').next()?.trim().parse::<u32>().ok()?;
        highest = Some(highest.map_or(last, |h: u32| h.max(last)));
    }
    highest.and_then(|h| h.checked_add(1))
}

/// An epoll instance watching the rings (edge-triggered: a batch drains
/// every ring whichever woke it).
struct Epoll(OwnedFd);

impl AsRawFd for Epoll {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl Epoll {
    fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 has no memory-safety preconditions.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor that nothing else owns.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: token,
        };
        // SAFETY: both fds are open; `ev` is a valid epoll_event we own.
        let rc = unsafe { libc::epoll_ctl(self.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Takes the pending readiness events without waiting.
    fn clear(&self) {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; MAX_RINGS];
        // SAFETY: `evs` is a writable array of MAX_RINGS epoll_events.
        unsafe { libc::epoll_wait(self.as_raw_fd(), evs.as_mut_ptr(), MAX_RINGS as i32, 0) };
    }
}

/// A read-only view of a ring's consumer and producer positions (the first
/// two pages of the ring's memory), to tell an empty ring from one whose
/// next record is still being written.
struct Positions {
    base: NonNull<u8>,
    page: usize,
}

impl Positions {
    fn map(fd: RawFd) -> io::Result<Positions> {
        // SAFETY: sysconf has no memory-safety preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
        // SAFETY: a new shared read-only mapping of the first two pages of a
        // ring buffer map's fd, which the kernel allows; checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                2 * page,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        match NonNull::new(ptr.cast::<u8>()) {
            Some(base) if ptr != libc::MAP_FAILED => Ok(Positions { base, page }),
            _ => Err(io::Error::last_os_error()),
        }
    }

    /// The consumer (`0`) or producer (`self.page`) position.
    fn at(&self, off: usize) -> u64 {
        // SAFETY: the consumer and producer positions are 8-byte aligned
        // u64s at the start of the two mapped pages, which live as long as
        // `self`; the kernel and aya update them atomically.
        unsafe { (*self.base.as_ptr().add(off).cast::<AtomicU64>()).load(Ordering::Acquire) }
    }

    /// Whether every record reserved so far has been consumed.
    fn empty(&self) -> bool {
        self.at(0) == self.at(self.page)
    }

    /// Bytes reserved and not yet consumed (record headers and padding
    /// included). The consumer position is read first: the producer's only
    /// grows, so the difference is never negative.
    fn used(&self) -> u64 {
        let consumer = self.at(0);
        self.at(self.page).saturating_sub(consumer)
    }
}

impl Drop for Positions {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `map` made, once.
        unsafe { libc::munmap(self.base.as_ptr().cast(), 2 * self.page) };
    }
}

/// Test hook: ring `ring`'s records are handed on only at the first batch
/// at least `by` after their time, as if they were committed that late
/// (the ordering test uses it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DelayRing {
    pub ring: u32,
    pub by: Duration,
}

/// Records of the delayed ring, read but not yet handed on.
struct Delayed {
    hook: DelayRing,
    held: VecDeque<(u64, Vec<u8>)>,
}

/// How full one ring got: the most bytes it held when a drain began
/// (records waiting, headers included) since the last
/// [`Rings::take_fill`], and its size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingFill {
    pub peak_bytes: u64,
    pub size_bytes: u64,
}

/// Every ring in use, and the epoll that says when one needs reading.
pub struct Rings {
    rings: Vec<RingBuf<MapData>>,
    positions: Vec<Positions>,
    /// Bytes of each ring.
    ring_bytes: u64,
    /// Per ring, the most bytes held at the start of a drain since the
    /// last `take_fill`.
    peak: Vec<u64>,
    epoll: AsyncFd<Epoll>,
    delayed: Option<Delayed>,
}

impl Rings {
    pub fn new(
        rings: Vec<RingBuf<MapData>>,
        ring_bytes: u32,
        delay: Option<DelayRing>,
    ) -> Result<Rings> {
        let epoll = Epoll::new().context("creating an epoll instance for the rings")?;
        let mut positions = Vec::with_capacity(rings.len());
        for (i, ring) in rings.iter().enumerate() {
            epoll
                .add(ring.as_raw_fd(), i as u64)
                .with_context(|| format!("watching ring buffer {i}"))?;
            positions.push(
                Positions::map(ring.as_raw_fd())
                    .with_context(|| format!("mapping ring buffer {i}'s positions"))?,
            );
        }
        // SAFETY: the Epoll owns its fd for its whole life and `as_raw_fd`
        // always returns that same fd.
        let epoll = unsafe { AsyncFd::register_with_interest(epoll, Interest::READABLE) }
            .context("polling the ring buffers")?;
        Ok(Rings {
            peak: vec![0; rings.len()],
            rings,
            positions,
            ring_bytes: u64::from(ring_bytes),
            epoll,
            delayed: delay.map(|hook| Delayed {
                hook,
                held: VecDeque::new(),
            }),
        })
    }

    pub fn len(&self) -> usize {
        self.rings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rings.is_empty()
    }

    /// How full each ring got since the last call (metrics read it once a
    /// second), and starts over.
    pub fn take_fill(&mut self) -> Vec<RingFill> {
        let size_bytes = self.ring_bytes;
        self.peak
            .iter_mut()
            .map(|peak| RingFill {
                peak_bytes: std::mem::take(peak).min(size_bytes),
                size_bytes,
            })
            .collect()
    }

    /// Waits until the kernel wakes the reader (a ring passed its wakeup
    /// threshold), then takes the wakeup: records committed after this
    /// return wake it again.
    pub async fn woken(&self) -> Result<()> {
        let mut guard = self
            .epoll
            .readable()
            .await
            .context("waiting on the ring buffers")?;
        guard.clear_ready();
        self.epoll.get_ref().clear();
        Ok(())
    }

    /// Feeds every record waiting in every ring to `each`, with its ring's
    /// number, and returns a time up to which every ring has been read:
    /// the time a ring was seen empty (it can only get records stamped
    /// later), or, for a ring whose next record stayed half-written, the
    /// merge's window before `began` (the boot clock before draining).
    /// `None`: the final drain, everything (the delayed ring's too).
    pub fn drain(&mut self, began: Option<u64>, mut each: impl FnMut(usize, &[u8])) -> u64 {
        let fallback = began.map_or(u64::MAX, |b| b.saturating_sub(WINDOW.as_nanos() as u64));
        let mut upto = u64::MAX;
        for (i, ring) in self.rings.iter_mut().enumerate() {
            let mut delayed = match &mut self.delayed {
                Some(d) if d.hook.ring as usize == i => Some(d),
                _ => None,
            };
            // Two loads: what the reader finds waiting is how full it got.
            let used = self.positions[i].used();
            self.peak[i] = self.peak[i].max(used);
            let started = clock::boottime_ns();
            let seen_empty = loop {
                while let Some(item) = ring.next() {
                    match &mut delayed {
                        Some(d) => {
                            let boot_ns = Header::peek_boot_ns(&item).unwrap_or(0);
                            d.held.push_back((boot_ns, item.to_vec()));
                        }
                        None => each(i, &item),
                    }
                }
                // Read the clock first: empty now means nothing stamped
                // before this time can still come.
                let now = clock::boottime_ns();
                if self.positions[i].empty() {
                    break Some(now);
                }
                if now.saturating_sub(started) > WAIT_FOR_COMMIT_NS {
                    break None;
                }
                std::hint::spin_loop();
            };
            let mut read_to = seen_empty.unwrap_or(fallback);
            if let Some(d) = delayed {
                let by = d.hook.by.as_nanos() as u64;
                while let Some((boot_ns, raw)) = d.held.front() {
                    if began.is_some_and(|now| boot_ns.saturating_add(by) > now) {
                        // Records the merge must not know of yet: as if
                        // still being written.
                        read_to = fallback;
                        break;
                    }
                    each(i, raw);
                    d.held.pop_front();
                }
            }
            upto = upto.min(read_to);
        }
        if began.is_none() {
            u64::MAX
        } else {
            upto
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u32 = 1 << 20;

    #[test]
    fn the_total_is_split_across_cpus() {
        let p = plan(8 * M, 2, 1);
        assert_eq!((p.rings, p.cpus_per_ring, p.ring_bytes), (2, 1, 4 * M));
        assert!(p.notes.is_empty(), "{:?}", p.notes);
        assert_eq!(
            p.describe(2),
            "2 rings of 4 MiB, 1 CPU each (2 possible CPUs)"
        );
        let p = plan(8 * M, 16, 1);
        assert_eq!((p.rings, p.cpus_per_ring, p.ring_bytes), (16, 1, 512 << 10));
        let p = plan(8 * M, 16, 4);
        assert_eq!((p.rings, p.cpus_per_ring, p.ring_bytes), (4, 4, 2 * M));
        let p = plan(8 * M, 1, 1);
        assert_eq!((p.rings, p.cpus_per_ring, p.ring_bytes), (1, 1, 8 * M));
        assert_eq!(
            p.describe(1),
            "1 ring of 8 MiB, 1 CPU each (1 possible CPU)"
        );
    }

    #[test]
    fn rings_are_powers_of_two_rounded_down() {
        let p = plan(8 * M, 3, 1);
        assert_eq!((p.rings, p.cpus_per_ring, p.ring_bytes), (3, 1, 2 * M));
        assert_eq!(
            p.notes,
            ["3 rings of 2 MiB use 6 MiB of the 8 MiB asked (each ring is a power of two)"]
        );
    }

    #[test]
    fn more_cpus_than_rings_share() {
        let p = plan(8 * M, 128, 1);
        assert_eq!((p.rings, p.cpus_per_ring, p.ring_bytes), (16, 8, 512 << 10));
        assert_eq!(
            p.notes,
            ["128 CPUs at 1 per ring would need more than 16 rings: 8 CPUs per ring"]
        );
        // 20 CPUs at 2 per ring: 10 rings.
        let p = plan(16 * M, 20, 2);
        assert_eq!((p.rings, p.cpus_per_ring, p.ring_bytes), (10, 2, M));
        // 33 CPUs: 3 per ring, 11 rings.
        let p = plan(16 * M, 33, 1);
        assert_eq!((p.rings, p.cpus_per_ring), (11, 3));
    }

    #[test]
    fn a_small_total_makes_fewer_bigger_rings() {
        let p = plan(256 << 10, 16, 1);
        assert_eq!((p.rings, p.cpus_per_ring, p.ring_bytes), (4, 4, 64 << 10));
        assert_eq!(
            p.notes,
            [
                "a ring buffer size of 256 KiB is too small for 16 rings of at least 64 KiB: \
              4 CPUs per ring"
            ]
        );
        // Below the minimum ring: one ring of the total.
        let p = plan(4096, 2, 1);
        assert_eq!((p.rings, p.cpus_per_ring, p.ring_bytes), (1, 2, 4096));
        let p = plan(64 << 10, 2, 1);
        assert_eq!((p.rings, p.cpus_per_ring, p.ring_bytes), (1, 2, 64 << 10));
        // Never a ring under the minimum when there is more than one.
        for cpus in 1..=64 {
            for shift in 12..=30 {
                let p = plan(1 << shift, cpus, 1);
                assert!(p.rings <= MAX_RINGS as u32);
                assert!(p.rings == 1 || p.ring_bytes >= MIN_RING_BYTES, "{p:?}");
                assert!(p.ring_bytes.is_power_of_two());
                assert!(u64::from(p.ring_bytes) * u64::from(p.rings) <= 1u64 << shift);
                assert!(p.rings * p.cpus_per_ring >= cpus, "{p:?}");
            }
        }
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1\n"), Some(2));
        assert_eq!(parse_cpu_list("0"), Some(1));
        assert_eq!(parse_cpu_list("0-3,8-11"), Some(12));
        assert_eq!(parse_cpu_list("0,2,5"), Some(6));
        assert_eq!(parse_cpu_list("garbage"), None);
        assert_eq!(parse_cpu_list(""), None);
        assert!(possible_cpus() >= 1);
    }
}
