//! A live session: attach, snapshot, then feed every ring-buffer record to
//! a sink until Ctrl-C, SIGTERM, SIGHUP, a time limit or the sink says stop; then
//! detach, drain what is left, and account for lost records.
//!
//! `trace` and `record` are sinks: one prints, the other writes a log.

use std::{path::PathBuf, time::Duration};

use anyhow::{Context as _, Result};
use aya::maps::{MapData, RingBuf};
use serde_json::json;
use tokio::{
    io::{unix::AsyncFd, Interest},
    signal::unix::{signal, Signal, SignalKind},
};
use tracer_common::{EventKind, KernelFilter};

use crate::{
    kernel::{
        ebpf_log::KernelLogger,
        loader::{self, LoadOptions},
    },
    model::{
        clock::{self, WallClock},
        counts::Counts,
        procfs::{self, ProcTask, Procfs},
        snapshot,
        tasks::TaskTable,
    },
};

/// Longest a record waits in the ring on a quiet machine.
const POLL: Duration = Duration::from_millis(50);

pub struct SessionOptions {
    pub btf: PathBuf,
    pub ring_bytes: u32,
    pub filter: KernelFilter,
    pub duration: Option<Duration>,
    /// Print a `tracer-stats:` JSON line to stderr at the end (for the bench).
    pub bench_stats: bool,
    pub helper_map_entries: u32,
    /// Fail if any program cannot load (see `loader`).
    pub strict: bool,
    pub verbose: bool,
    /// Test hook: programs to load in a form the verifier refuses.
    pub refuse_mask: u32,
    /// procfs mount the start-up snapshot is read from.
    pub proc_root: PathBuf,
    /// Say on stderr when tracing starts (`ps --live` keeps quiet).
    pub announce: bool,
}

impl SessionOptions {
    /// Every event, default sizes, until stopped.
    pub fn new(btf: PathBuf) -> SessionOptions {
        SessionOptions {
            btf,
            ring_bytes: 16 << 20,
            filter: KernelFilter::ALL,
            duration: None,
            bench_stats: false,
            helper_map_entries: tracer_common::HELPER_MAP_ENTRIES,
            strict: false,
            verbose: false,
            refuse_mask: 0,
            proc_root: PathBuf::from("/proc"),
            announce: true,
        }
    }
}

/// What a sink gets to start with.
pub struct Start {
    pub clock: WallClock,
    pub started_boot_ns: u64,
    /// The procfs snapshot taken after attaching, and the table built from it.
    pub tasks: Vec<ProcTask>,
    pub init_cgroup: Option<String>,
    pub table: TaskTable,
    /// Events the kernel's refusals leave out.
    pub missing: Vec<loader::Missing>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Stop the session (output closed, size limit reached).
    Stop,
}

pub trait Sink {
    /// One ring-buffer record, bytes as the kernel wrote them.
    fn record(&mut self, raw: &[u8]) -> Result<Flow>;
    /// `count` more records of `kind` were lost in the kernel.
    fn lost(&mut self, kind: EventKind, count: u64, boot_ns: u64) -> Result<()>;
    /// End of a batch: flush buffered output.
    fn flush(&mut self) -> Result<Flow>;
    /// Once a second.
    fn tick(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Why a session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Signal,
    Duration,
    Sink,
}

/// Feeds every record waiting in `ring` to `sink`, then flushes it.
fn drain<S: Sink>(ring: &mut RingBuf<MapData>, counts: &mut Counts, sink: &mut S) -> Result<Flow> {
    while let Some(item) = ring.next() {
        counts.count_raw(&item);
        if sink.record(&item)? == Flow::Stop {
            return Ok(Flow::Stop);
        }
    }
    sink.flush()
}

/// The attached programs and the streams a running session reads.
struct Live {
    session: loader::Session,
    ring: AsyncFd<RingBuf<MapData>>,
    logs: Option<AsyncFd<KernelLogger>>,
    counts: Counts,
    /// Loss totals already passed to the sink, by kind tag.
    reported: [u64; EventKind::COUNTERS as usize],
    stops: Stops,
}

/// The signals that stop a session cleanly: Ctrl-C, SIGTERM, and SIGHUP (a
/// closed terminal or a service manager's reload), so the ring is drained
/// and a log gets its end record instead of the process dying.
struct Stops {
    int: Signal,
    term: Signal,
    hup: Signal,
}

const STOP_SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Blocks the stop signals for now, so one that comes while tracer starts
/// up stays pending instead of killing it (and leaving an empty log); the
/// session takes them once its handlers are in place. Call it first thing.
pub fn hold_stop_signals() {
    set_stop_signals(libc::SIG_BLOCK);
}

fn set_stop_signals(how: libc::c_int) {
    // SAFETY: sigset_t is plain data, initialized by sigemptyset; the calls
    // only read and write it and this thread's signal mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in STOP_SIGNALS {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

impl Stops {
    fn install() -> Result<Stops> {
        let on = |kind: SignalKind, name: &str| {
            signal(kind).with_context(|| format!("installing a {name} handler"))
        };
        let stops = Stops {
            int: on(SignalKind::interrupt(), "SIGINT")?,
            term: on(SignalKind::terminate(), "SIGTERM")?,
            hup: on(SignalKind::hangup(), "SIGHUP")?,
        };
        // A stop held back since start-up arrives now, into the handlers.
        set_stop_signals(libc::SIG_UNBLOCK);
        Ok(stops)
    }
}

/// Loads and attaches the programs, then snapshots procfs: the state a
/// sink starts from.
fn attach(opts: &SessionOptions) -> Result<(Live, Start)> {
    // First of all: a stop asked for while loading is kept and acted on
    // once serving starts, so the session still ends cleanly.
    let stops = Stops::install()?;
    // Events are recorded from the moment the programs attach.
    let started_boot_ns = clock::boottime_ns();
    let mut session = loader::load(&LoadOptions {
        btf_path: &opts.btf,
        ring_bytes: opts.ring_bytes,
        filter: opts.filter,
        helper_map_entries: opts.helper_map_entries,
        strict: opts.strict,
        verbose: opts.verbose,
        refuse_mask: opts.refuse_mask,
    })?;
    // Mark the helpers that exist before attaching, so a child one forks
    // while we start up is marked by the kernel too.
    let quick = TaskTable::from_snapshot(
        Procfs::new(&opts.proc_root).processes(),
        None,
        procfs::clock_ticks_per_sec(),
    );
    session.seed_helpers(quick.helper_groups())?;
    session.attach()?;
    // Snapshot after attaching: a task born meanwhile is in the snapshot,
    // in the ring, or both, and the table merges it by pid + start time.
    // Seeding again covers helpers born between the two looks.
    let snap = snapshot::take(&Procfs::new(&opts.proc_root))?;
    session.seed_helpers(snap.table.helper_groups())?;
    let ring = session.take_ring()?;
    // SAFETY: the RingBuf owns its map fd for its whole life and `as_raw_fd`
    // always returns that same fd.
    let ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
        .map_err(|e| anyhow::anyhow!("polling the ring buffer: {e}"))?;
    let logs = match session.take_logger() {
        // SAFETY: the logger owns its ring's map fd for its whole life.
        Some(l) => Some(
            unsafe { AsyncFd::register_with_interest(l, Interest::READABLE) }
                .map_err(|e| anyhow::anyhow!("polling the kernel log: {e}"))?,
        ),
        None => None,
    };
    let start = Start {
        clock: WallClock::now(),
        started_boot_ns,
        tasks: snap.tasks,
        init_cgroup: snap.init_cgroup,
        table: snap.table,
        missing: session.missing().to_vec(),
    };
    let live = Live {
        session,
        ring,
        logs,
        counts: Counts::default(),
        reported: [0; EventKind::COUNTERS as usize],
        stops,
    };
    Ok((live, start))
}

impl Live {
    /// Passes new kernel loss counts to the sink.
    fn check_lost<S: Sink>(&mut self, sink: &mut S) -> Result<()> {
        for (kind, total) in self.session.lost()? {
            let i = usize::from(kind.tag());
            let delta = total.saturating_sub(self.reported[i]);
            if delta > 0 {
                self.reported[i] = total;
                self.counts.lost[i] = total;
                sink.lost(kind, delta, clock::boottime_ns())?;
            }
        }
        Ok(())
    }

    /// Feeds the sink until a signal, the time limit, or the sink says stop.
    async fn serve<S: Sink>(&mut self, sink: &mut S, duration: Option<Duration>) -> Result<Ended> {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        // The kernel wakes us only past a fill threshold; this picks up the
        // rest within a short, bounded delay.
        let mut poll = tokio::time::interval(POLL);
        let deadline = async {
            match duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                guard = self.ring.readable_mut() => {
                    let mut guard = guard.context("waiting on the ring buffer")?;
                    if drain(guard.get_inner_mut(), &mut self.counts, sink)? == Flow::Stop {
                        return Ok(Ended::Sink);
                    }
                    // Clear, then drain again: a record committed between the
                    // first drain and the clear would otherwise wait for the next.
                    guard.clear_ready();
                    if drain(guard.get_inner_mut(), &mut self.counts, sink)? == Flow::Stop {
                        return Ok(Ended::Sink);
                    }
                }
                _ = poll.tick() => {
                    if drain(self.ring.get_mut(), &mut self.counts, sink)? == Flow::Stop {
                        return Ok(Ended::Sink);
                    }
                }
                _ = tick.tick() => {
                    self.check_lost(sink)?;
                    sink.tick()?;
                }
                guard = async { self.logs.as_mut().expect("guarded").readable_mut().await }, if self.logs.is_some() => {
                    let mut guard = guard.context("waiting on the kernel log")?;
                    guard.get_inner_mut().flush();
                    guard.clear_ready();
                }
                _ = &mut deadline => return Ok(Ended::Duration),
                _ = self.stops.int.recv() => return Ok(Ended::Signal),
                _ = self.stops.term.recv() => return Ok(Ended::Signal),
                _ = self.stops.hup.recv() => return Ok(Ended::Signal),
            }
        }
    }

    /// Detaches, drains what is left (unless the sink asked to stop) and
    /// takes the final loss counts.
    fn finish<S: Sink>(mut self, sink: &mut S, ended: &Ended, bench_stats: bool) -> Result<Counts> {
        self.session.detach()?;
        if *ended != Ended::Sink {
            drain(self.ring.get_mut(), &mut self.counts, sink)?;
        }
        self.check_lost(sink)?;
        if bench_stats {
            crate::say!("tracer-stats: {}", stats(&self.session, &self.counts));
        }
        Ok(self.counts)
    }
}

/// Runs a session. `make_sink` gets the start-up state once attached.
pub async fn run<S: Sink>(
    opts: SessionOptions,
    make_sink: impl FnOnce(Start) -> Result<S>,
) -> Result<(S, Counts, Ended)> {
    let (mut live, start) = attach(&opts)?;
    let mut sink = make_sink(start)?;
    if opts.announce {
        crate::say!(
            "tracer: attached {} programs; Ctrl-C to stop",
            live.session.program_count()
        );
    }
    let ended = live.serve(&mut sink, opts.duration).await?;
    let counts = live.finish(&mut sink, &ended, opts.bench_stats)?;
    Ok((sink, counts, ended))
}

/// Kernel time per program, this process's CPU time and peak RSS, events
/// and losses, as one JSON object.
fn stats(session: &loader::Session, counts: &Counts) -> String {
    // SAFETY: getrusage fills the struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    let programs: serde_json::Map<String, serde_json::Value> = session
        .program_stats()
        .iter()
        .map(|(name, runs, ns)| (name.to_string(), json!({"runs": runs, "ns": ns})))
        .collect();
    json!({
        "events": counts.total(),
        "lost": counts.lost_total(),
        "cpu_ns": tv(ru.ru_utime) + tv(ru.ru_stime),
        "maxrss_kb": procfs::peak_rss_kb(),
        "programs": programs,
    })
    .to_string()
}
