//! A live session: attach, snapshot, then feed every ring-buffer record to
//! a sink, in time order across the rings (see `merge`), until Ctrl-C,
//! SIGTERM, a time limit or the sink says stop (SIGHUP: as the sink says;
//! `trace` stops, `record` reopens its log); then detach, drain what is
//! left, and account for lost records.
//!
//! `trace` and `record` are sinks: one prints, the other writes a log.
//!
//! A following session (see `follow`) traces only a command it starts, or
//! a running process, and their descendants, and ends with them.

use std::{path::PathBuf, time::Duration};

use anyhow::{bail, Context as _, Result};
use serde_json::json;
use tokio::{
    io::{unix::AsyncFd, Interest},
    signal::unix::{signal, Signal, SignalKind},
};
use tracer_common::{EventKind, KernelFilter, ThrottleConfig};

use crate::{
    dev::storm::StormCount,
    kernel::{
        ebpf_log::KernelLogger,
        loader::{self, LoadOptions},
        rings::{self, DelayRing, Rings},
        throttle, timing,
    },
    live::{
        follow::{FollowOptions, Follower, Next},
        merge::{Item, Merge},
    },
    model::{
        clock::{self, WallClock},
        counts::{Counts, LossCause},
        procfs::{self, ProcTask, Procfs},
        snapshot,
        tasks::TaskTable,
    },
    pipeline::sink::{Flow, Sink},
};

/// Longest a record waits in its ring on a quiet machine (and then at most
/// `rings::WINDOW` more, when another ring's record was being written as
/// the batch read it).
const POLL: Duration = Duration::from_millis(50);

pub struct SessionOptions {
    pub btf: PathBuf,
    /// Bytes of all the rings together (a power of two, at least a page).
    pub ring_bytes: u32,
    /// CPUs sharing one ring (raised when there would be too many rings).
    pub cpus_per_ring: u32,
    /// Test hook: drain one ring late.
    pub delay_ring: Option<DelayRing>,
    pub filter: KernelFilter,
    pub duration: Option<Duration>,
    /// Print a `tracer-stats:` JSON line to stderr at the end (for the bench).
    pub bench_stats: bool,
    /// Count the events of the bench storm run by processes of this name
    /// (in the `tracer-stats:` line; see `dev::storm`).
    pub bench_comm: Option<String>,
    pub helper_map_entries: u32,
    /// Fail if any program cannot load (see `loader`).
    pub strict: bool,
    pub verbose: bool,
    /// Test hook: programs to load in a form the verifier refuses.
    pub refuse_mask: u32,
    /// Also trace failed execs (a program at every system call's exit).
    pub failed_execs: bool,
    /// Time kernel threads from request to first run (a program at every
    /// wakeup).
    pub kthread_times: bool,
    /// procfs mount the start-up snapshot is read from.
    pub proc_root: PathBuf,
    /// Say on stderr when tracing starts (`ps --live` keeps quiet).
    pub announce: bool,
    /// Trace only a command or a subtree, and end with it.
    pub follow: Option<FollowOptions>,
    /// Per-source budgets (see `throttle`); off unless asked.
    pub throttle: ThrottleConfig,
}

impl SessionOptions {
    /// Every event, default sizes, until stopped.
    pub fn new(btf: PathBuf) -> SessionOptions {
        SessionOptions {
            btf,
            ring_bytes: 16 << 20,
            cpus_per_ring: 1,
            delay_ring: None,
            filter: KernelFilter::ALL,
            duration: None,
            bench_stats: false,
            bench_comm: None,
            helper_map_entries: tracer_common::HELPER_MAP_ENTRIES,
            strict: false,
            verbose: false,
            refuse_mask: 0,
            failed_execs: false,
            kthread_times: false,
            proc_root: PathBuf::from("/proc"),
            announce: true,
            follow: None,
            throttle: ThrottleConfig::OFF,
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

/// Why a session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Signal,
    Duration,
    Sink,
    /// The followed command (or process) ended; with
    /// `--keep-following`, every followed task did.
    Followed,
}

/// The attached programs and the streams a running session reads.
struct Live {
    session: loader::Loaded,
    rings: Rings,
    /// Records read from the rings, until their turn comes.
    merge: Merge,
    /// The bench storm's events, when counted.
    storm: Option<StormCount>,
    logs: Option<AsyncFd<KernelLogger>>,
    counts: Counts,
    /// Loss totals already passed to the sink, by kind tag: to full rings,
    /// and to skipped runs.
    reported: [u64; EventKind::COUNTERS as usize],
    reported_skipped: [u64; EventKind::COUNTERS as usize],
    stops: Stops,
    follow: Option<Follower>,
    throttle: ThrottleConfig,
}

/// The signals that stop a session cleanly: Ctrl-C, SIGTERM, and SIGHUP (a
/// closed terminal) where the sink does not take it as "reopen your log"
/// (see [`Sink::hangup`]), so the ring is drained and a log gets its end
/// record instead of the process dying.
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
    // CMD is forked first, stopped before its exec, so it holds none of
    // the programs' fds.
    let mut follow = opts.follow.as_ref().map(Follower::prepare).transpose()?;
    // Events are recorded from the moment the programs attach.
    let started_boot_ns = clock::boottime_ns();
    let cpus = rings::possible_cpus();
    let plan = rings::plan(opts.ring_bytes, cpus, opts.cpus_per_ring);
    if opts.verbose {
        crate::say!("tracer: ring buffers: {}", plan.describe(cpus));
        for note in &plan.notes {
            crate::say!("tracer: {note}");
        }
    }
    if let Some(d) = opts.delay_ring {
        if d.ring >= plan.rings {
            bail!(
                "--test-delay-ring: there is no ring {} ({} in use)",
                d.ring,
                plan.rings
            );
        }
    }
    let mut session = loader::load(&LoadOptions {
        btf_path: &opts.btf,
        rings: &plan,
        filter: opts.filter,
        helper_map_entries: opts.helper_map_entries,
        strict: opts.strict,
        verbose: opts.verbose,
        refuse_mask: opts.refuse_mask,
        failed_execs: opts.failed_execs,
        kthread_times: opts.kthread_times,
        follow_map_entries: opts.follow.as_ref().map(|f| f.map_entries),
        throttle: opts.throttle,
    })?;
    if opts.verbose {
        crate::say!("tracer: {}", throttle::describe(&opts.throttle));
    }
    // Mark the helpers that exist before attaching, so a child one forks
    // while we start up is marked by the kernel too.
    let quick_tasks = Procfs::new(&opts.proc_root).processes();
    let quick = TaskTable::from_snapshot(quick_tasks.clone(), None, procfs::clock_ticks_per_sec());
    session.seed_helpers(quick.helper_groups())?;
    if let Some(follow) = &follow {
        session.follow(follow.groups(&quick_tasks))?;
    }
    timing::mark("helpers seeded");
    session.attach()?;
    timing::mark("attached");
    // Snapshot after attaching: a task born meanwhile is in the snapshot,
    // in the ring, or both, and the table merges it by pid + start time.
    // Seeding again covers helpers born between the two looks.
    let mut snap = snapshot::take(&Procfs::new(&opts.proc_root))?;
    timing::mark("snapshot taken");
    session.seed_helpers(snap.table.helper_groups())?;
    // Likewise for PID's descendants born before attaching.
    if let Some(follow) = &follow {
        session.follow(follow.groups(&snap.tasks))?;
    }
    // Live: kernel addresses are this boot's, and a failed helper's path
    // can still be looked at.
    snap.table
        .name_functions_from(crate::model::kallsyms::Kallsyms::running());
    snap.table.infer_exec_errors();
    // CMD waited for tracer's start-up before its exec: not its life.
    if let Some(pid) = follow.as_ref().and_then(Follower::command_pid) {
        snap.table.life_from_exec(pid);
    }
    if session.missing().iter().any(|m| m.kind == EventKind::Exec) {
        snap.table.execs_unseen();
    }
    let rings = Rings::new(session.take_rings()?, plan.ring_bytes, opts.delay_ring)?;
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
        merge: Merge::new(rings.len()),
        storm: opts.bench_comm.as_deref().map(StormCount::new),
        rings,
        logs,
        counts: Counts::default(),
        reported: [0; EventKind::COUNTERS as usize],
        reported_skipped: [0; EventKind::COUNTERS as usize],
        stops,
        follow: follow.take(),
        throttle: opts.throttle,
    };
    Ok((live, start))
}

impl Live {
    /// Queues new kernel loss counts for the sink, in time order with the
    /// records.
    fn check_lost(&mut self) -> Result<()> {
        let now = clock::boottime_ns();
        for (cause, totals) in [
            (LossCause::RingFull, self.session.lost()?),
            (LossCause::Skipped, self.session.skipped()?),
        ] {
            for (kind, total) in totals {
                let i = usize::from(kind.tag());
                let reported = match cause {
                    LossCause::Skipped => &mut self.reported_skipped[i],
                    _ => &mut self.reported[i],
                };
                let delta = total.saturating_sub(*reported);
                if delta > 0 {
                    *reported = total;
                    self.counts.count_lost(kind.tag(), delta);
                    self.merge.push_lost(kind, delta, now, cause);
                }
            }
        }
        Ok(())
    }

    /// Ends the throttle episodes still open: their end record would have
    /// come at the source's next event, which no program will see now.
    /// Never silent: what a throttled source lost is said.
    fn end_throttles<S: Sink>(&mut self, sink: &mut S) -> Result<()> {
        if self.throttle.on == 0 {
            return Ok(());
        }
        let now = clock::boottime_ns();
        let mut open = self.session.open_throttles()?;
        open.sort_by_key(|(_, b)| b.last_ns);
        for (cpu, b) in open {
            let raw = throttle::bytes(&throttle::end_record(cpu, &b, &self.throttle, now));
            self.counts.count_raw(&raw);
            if sink.record(&raw)? == Flow::Stop {
                break;
            }
        }
        sink.flush()?;
        Ok(())
    }

    /// Reads every ring into the merge, then gives the sink what the merge
    /// releases and flushes it.
    fn pump<S: Sink>(&mut self, sink: &mut S) -> Result<Flow> {
        // Before reading: what the batch releases is what every ring held
        // by now (see `merge`).
        let began = clock::boottime_ns();
        let merge = &mut self.merge;
        let upto = self
            .rings
            .drain(Some(began), |ring, raw| merge.push(ring, raw));
        self.release(sink, Some(upto))
    }

    /// Gives the sink, in time order, what the merge holds up to `upto`
    /// (everything when `None`), then flushes it.
    fn release<S: Sink>(&mut self, sink: &mut S, upto: Option<u64>) -> Result<Flow> {
        let counts = &mut self.counts;
        let storm = &mut self.storm;
        let follow = &mut self.follow;
        let mut out = |item: Item<'_>| match item {
            Item::Record(raw) => {
                counts.count_raw(raw);
                if let Some(storm) = storm {
                    storm.observe(raw);
                }
                if let Some(follow) = follow {
                    follow.observe(raw);
                }
                sink.record(raw)
            }
            Item::Lost {
                cause,
                kind,
                count,
                boot_ns,
            } => {
                sink.lost(kind, count, boot_ns, cause)?;
                Ok(Flow::Continue)
            }
        };
        let flow = match upto {
            Some(t) => self.merge.release(t, &mut out)?,
            None => self.merge.release_all(&mut out)?,
        };
        if flow == Flow::Stop {
            return Ok(Flow::Stop);
        }
        sink.flush()
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
                // The wakeup is taken before the rings are read, so a record
                // committed meanwhile wakes the next turn.
                woken = self.rings.woken() => {
                    woken?;
                    if self.pump(sink)? == Flow::Stop {
                        return Ok(Ended::Sink);
                    }
                }
                _ = poll.tick() => {
                    if self.pump(sink)? == Flow::Stop {
                        return Ok(Ended::Sink);
                    }
                    if let Some(follow) = self.follow.as_mut().filter(|f| f.watches_map()) {
                        if follow.check(&mut self.session)? == Next::Stop {
                            return Ok(Ended::Followed);
                        }
                    }
                }
                ended = async { self.follow.as_mut().expect("guarded").cmd_ended().await }, if self.follow.is_some() => {
                    ended?;
                    if self.follow.as_mut().expect("guarded").on_cmd_end()? == Next::Stop {
                        return Ok(Ended::Followed);
                    }
                }
                _ = tick.tick() => {
                    if let Some(follow) = &mut self.follow {
                        follow.sweep(&mut self.session)?;
                    }
                    self.check_lost()?;
                    sink.rings(&self.rings.take_fill());
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
                _ = self.stops.hup.recv() => {
                    // What the rings hold now goes to the log open now.
                    if self.pump(sink)? == Flow::Stop {
                        return Ok(Ended::Sink);
                    }
                    if sink.hangup()? == Flow::Stop {
                        return Ok(Ended::Signal);
                    }
                }
            }
        }
    }

    /// Detaches, drains what is left (unless the sink asked to stop) and
    /// takes the final loss counts.
    fn finish<S: Sink>(mut self, sink: &mut S, ended: &Ended, bench_stats: bool) -> Result<Counts> {
        self.session.detach()?;
        if *ended != Ended::Sink {
            let merge = &mut self.merge;
            let _ = self.rings.drain(None, |ring, raw| merge.push(ring, raw));
            self.check_lost()?;
            self.release(sink, None)?;
            self.end_throttles(sink)?;
        } else {
            // The sink takes no more records, but still hears of losses.
            self.check_lost()?;
            for (kind, count, boot_ns, cause) in self.merge.take_lost() {
                sink.lost(kind, count, boot_ns, cause)?;
            }
        }
        if bench_stats {
            crate::say!("tracer-stats: {}", stats(&self, &self.counts));
        }
        // After the drain: PID's exit may have been in the rings.
        if let Some(follow) = self.follow.take() {
            follow.finish();
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
    timing::mark("session ready");
    let mut sink = make_sink(start)?;
    timing::mark("sink made");
    if opts.announce {
        // Rescues are how tracer copes with nested runs: a detail for
        // --verbose, not for the first line a user reads.
        let (programs, rescues) = live.session.program_count();
        let rescues = match rescues {
            n if n > 0 && opts.verbose => {
                format!(" (and {n} rescue programs for runs nested on one CPU)")
            }
            _ => String::new(),
        };
        let following = match &live.follow {
            Some(f) => format!("; {}", f.describe()),
            None => String::new(),
        };
        crate::say!("tracer: attached {programs} programs{rescues}; Ctrl-C to stop{following}");
    }
    // CMD runs only now: attached, and the sink ready for its events.
    if let Some(follow) = &mut live.follow {
        follow.release()?;
    }
    let ended = live.serve(&mut sink, opts.duration).await?;
    let counts = live.finish(&mut sink, &ended, opts.bench_stats)?;
    Ok((sink, counts, ended))
}

/// Kernel time per program, this process's CPU time and peak RSS, events
/// and losses, as one JSON object.
fn stats(live: &Live, counts: &Counts) -> String {
    let session = &live.session;
    // SAFETY: getrusage fills the struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    let mut rescued = [0; EventKind::COUNTERS as usize];
    for kind in EventKind::ALL {
        rescued[usize::from(kind.tag())] = session.rescued(kind).unwrap_or(0);
    }
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
        "rings": live.rings.len(),
        "late": live.merge.late(),
        "lost_by_kind": by_kind(&counts.lost),
        "throttle_records": counts.by_kind[usize::from(EventKind::Throttle.tag())],
        "storm": live.storm.as_ref().map(|s| by_kind(&s.by_kind)),
        "skipped_by_kind": by_kind(&live.reported_skipped),
        "rescued_by_kind": by_kind(&rescued),
        "programs": programs,
    })
    .to_string()
}

/// `{"fork": n, ...}` for every kind.
fn by_kind(n: &[u64; EventKind::COUNTERS as usize]) -> serde_json::Value {
    EventKind::ALL
        .iter()
        .map(|k| (k.name().to_string(), json!(n[usize::from(k.tag())])))
        .collect::<serde_json::Map<_, _>>()
        .into()
}
