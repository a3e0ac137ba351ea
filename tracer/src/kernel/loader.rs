//! Loads the eBPF object with this kernel's offsets and read modes,
//! attaches one program per tracepoint, and hands out the ring buffers and
//! loss counters.
//!
//! A program the kernel refuses does not take the others down: tracer runs
//! without it, says in one line which events are missing and why (the
//! verifier's verdict), and keeps the whole log in a file. `strict` makes
//! any refusal fatal.

use std::{io::Write as _, os::unix::fs::OpenOptionsExt as _, path::Path};

use anyhow::{anyhow, bail, Context as _, Result};
use aya::{
    maps::{MapData, PerCpuArray, RingBuf},
    programs::{tp_btf::BtfTracePointLinkId, BtfTracePoint},
    Ebpf, EbpfLoader,
};
use tracer_common::{names, EventKind, KernelFeatures, KernelFilter, ThrottleConfig};

use crate::kernel::{
    btf, kthreads, offsets, privileges, probe, requests, rings::RingPlan, timing, verifier,
};
pub use crate::model::event::Missing;

/// The object built from `tracer-ebpf` by build.rs.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/tracer"));

pub const DEFAULT_BTF: &str = "/sys/kernel/btf/vmlinux";

pub struct LoadOptions<'a> {
    pub btf_path: &'a Path,
    /// How many rings, how big, and which CPUs share one (see
    /// [`crate::kernel::rings::plan`]).
    pub rings: &'a RingPlan,
    pub filter: KernelFilter,
    /// Capacity of the kernel's helper map.
    pub helper_map_entries: u32,
    /// Fail when any program cannot load, instead of running without it.
    pub strict: bool,
    /// Print the whole verifier log of a refused program.
    pub verbose: bool,
    /// Test hook: programs (by [`EventKind::bit`]) to load in a form the
    /// verifier refuses.
    pub refuse_mask: u32,
    /// Load the failed-exec program, which runs at every system call's exit.
    pub failed_execs: bool,
    /// Load the kernel-thread timing program, which runs at every wakeup.
    pub kthread_times: bool,
    /// Capacity of the kernel's map of followed thread groups when the
    /// session follows a command or subtree (see [`crate::kernel::follow_map`]);
    /// `None`: every task is traced.
    pub follow_map_entries: Option<u32>,
    /// The per-source budgets (see `tracer_common::throttle`).
    pub throttle: ThrottleConfig,
}

/// Exit status when `--strict` and a program was refused.
pub const EXIT_REQUIRED_MISSING: u8 = 3;

/// `--strict` and a program was refused: the caller exits with its own
/// code (see docs/reference.md, "Exit codes").
#[derive(Debug)]
pub struct RequiredMissing(pub Missing);

impl std::fmt::Display for RequiredMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, and --strict asks for every event",
            self.0.sentence()
        )
    }
}

impl std::error::Error for RequiredMissing {}

/// The loaded programs and their maps, until attached and after.
pub struct Loaded {
    /// The follow map's operations are in `follow_map`.
    pub(super) ebpf: Ebpf,
    /// Rings in use.
    rings: u32,
    /// Programs loaded (and so to attach).
    pub(super) loaded: Vec<&'static str>,
    /// Rescue programs loaded, attached after `loaded`.
    pub(super) rescues: Vec<&'static str>,
    /// Programs that emit nothing themselves but feed one that does (the
    /// helper requester side, `workqueue_queue_work`).
    pub(super) companions: Vec<&'static str>,
    /// Programs attached before all others on their tracepoint (the
    /// kernel-thread record, which must precede its fork record).
    pub(super) first: Vec<&'static str>,
    /// Runs the rescues did, per CPU, by kind tag.
    pub(super) rescued: PerCpuArray<MapData, u64>,
    links: Vec<(&'static str, BtfTracePointLinkId)>,
    pub(super) lost: PerCpuArray<MapData, u64>,
    missing: Vec<Missing>,
    notes: Vec<String>,
}

/// Explains the load and attach errors a newcomer will hit.
fn explain(err: impl std::error::Error + Send + Sync + 'static, what: String) -> anyhow::Error {
    let text = format!("{err:?}");
    let hint = if text.contains("EPERM") || text.contains("Operation not permitted") {
        ": permission denied; run as root or with CAP_BPF and CAP_PERFMON"
    } else {
        ""
    };
    anyhow::Error::new(err).context(format!("{what}{hint}"))
}

/// What the kernel's BTF says, read once: the offsets and read modes
/// handed to the programs, the tracepoints a helper's requester is read
/// from, and the stub aya names each program's tracepoint with.
struct KernelFacts {
    offsets: tracer_common::KernelOffsets,
    probed: probe::Probed,
    umh_tracepoints: Result<(), String>,
    aya_btf: aya::Btf,
}

/// Which programs to load: the traced kinds, those that get rescues, and
/// every `(program, tracepoint)` wanted.
struct Choice {
    kinds: Vec<EventKind>,
    rescued_kinds: Vec<EventKind>,
    wanted: Vec<(&'static str, &'static str)>,
}

/// What loaded, sorted: first programs, refused ones, companions, rescues.
struct Sorted {
    loaded: Vec<&'static str>,
    missing: Vec<Missing>,
    companions: Vec<&'static str>,
    rescues: Vec<&'static str>,
}

pub fn load(opts: &LoadOptions<'_>) -> Result<Loaded> {
    privileges::check()?;
    let memlock = privileges::raise_memlock();
    // Start-up is CPU work (see docs/benchmarks.md, "Start-up"): what does
    // not need our reading of BTF runs beside it, on the other CPUs. That
    // is the work function's lookup and aya's loader, whose constructor
    // parses the running kernel's BTF (ours may come from --btf).
    let work_fn = std::thread::spawn(|| {
        let found = requests::find_work_fn();
        let start = kthreads::find_start_fn();
        timing::mark("work function found (thread)");
        (found, start)
    });
    let new_loader = std::thread::spawn(|| {
        let loader = EbpfLoader::new();
        timing::mark("aya loader made (thread)");
        loader
    });
    let KernelFacts {
        offsets,
        probed,
        umh_tracepoints,
        aya_btf,
    } = read_btf(opts.btf_path)?;
    let (found, start) = work_fn.join().expect("the work function thread panicked");
    let umh_work_fn = requests::work_fn(umh_tracepoints, &offsets, found);
    let kthread_fn = kthreads::start_fn(&offsets, start);
    timing::mark("work function joined");
    // Without the work function's address, helpers are still traced; only
    // whom they ran for is not.
    if let Err(why) = &umh_work_fn {
        crate::say!("tracer: note: helpers are traced without their requesters: {why}");
    }
    let features = KernelFeatures {
        refuse_mask: opts.refuse_mask,
        ..probed.features
    };
    if opts.verbose {
        for note in &probed.notes {
            crate::say!("tracer: {note}");
        }
        crate::say!(
            "tracer: {}",
            kthreads::note(&kthread_fn, opts.kthread_times)
        );
    }
    warn_memlock(memlock, &features);
    let globals = Globals::new(
        opts,
        &probed,
        &offsets,
        &features,
        umh_work_fn.as_ref().unwrap_or(&0),
        kthread_fn.as_ref().unwrap_or(&0),
    );
    let mut loader = new_loader.join().expect("the loader thread panicked");
    configure(&mut loader, opts, &globals);
    let mut ebpf = loader
        .load(OBJECT)
        .map_err(|e| explain(e, "loading the eBPF object".into()))?;
    timing::mark("maps created");

    let mut choice = choose(opts, &offsets, &probed, umh_work_fn.is_ok());
    if kthread_fn.is_ok() {
        choice
            .wanted
            .push((names::KTHREAD_PROGRAM, names::KTHREAD_TRACEPOINT));
        if opts.kthread_times && kthreads::can_time(&offsets) {
            choice
                .wanted
                .push((names::KTHREAD_WAKE_PROGRAM, names::KTHREAD_WAKE_TRACEPOINT));
        }
    }
    let results = load_all(&mut ebpf, &aya_btf, &choice.wanted)?;
    timing::mark("programs verified");
    let (results, first) = kthreads::take_programs(results, kthread_fn.is_ok());
    let sorted = sort(opts, &choice, results, umh_work_fn.is_ok())?;
    let lost = PerCpuArray::try_from(
        ebpf.take_map(names::LOST)
            .ok_or_else(|| anyhow!("map {} missing from the eBPF object", names::LOST))?,
    )?;
    let rescued = PerCpuArray::try_from(
        ebpf.take_map(names::RESCUED)
            .ok_or_else(|| anyhow!("map {} missing from the eBPF object", names::RESCUED))?,
    )?;
    Ok(Loaded {
        ebpf,
        rings: opts.rings.rings,
        loaded: sorted.loaded,
        rescues: sorted.rescues,
        companions: sorted.companions,
        first,
        rescued,
        links: Vec::with_capacity(2 * EventKind::TRACED.len()),
        lost,
        missing: sorted.missing,
        notes: probed.notes,
    })
}

/// Reads the kernel's BTF once and takes from it all that loading needs.
fn read_btf(path: &Path) -> Result<KernelFacts> {
    let data = btf::read_kernel_btf(path)?;
    timing::mark("BTF read");
    let btf = btf::Btf::parse(&data)
        .with_context(|| format!("reading kernel BTF from {}", path.display()))?;
    let offsets = offsets::resolve(&btf)?;
    let probed = probe::probe(&btf, offsets.siginfo_errno);
    let umh_tracepoints = requests::tracepoints(&btf);
    // aya needs BTF only to name each program's tracepoint: a stub with
    // just those typedefs, rather than a second parse of the whole.
    let tracepoints: Vec<&str> = EventKind::TRACED
        .iter()
        .map(|k| k.program())
        .chain([names::HELPER_QUEUE_PROGRAM, names::KTHREAD_WAKE_TRACEPOINT])
        .collect();
    let aya_btf = aya::Btf::parse(
        &btf.tracepoint_stub(&tracepoints),
        aya::Endianness::default(),
    )
    .with_context(|| format!("parsing kernel BTF at {}", path.display()))?;
    drop(btf);
    drop(data);
    timing::mark("offsets resolved, features probed, tracepoints named");
    Ok(KernelFacts {
        offsets,
        probed,
        umh_tracepoints,
        aya_btf,
    })
}

/// A locked-memory limit that stayed low matters only where the kernel
/// charges maps to it.
fn warn_memlock(memlock: Result<(), std::io::Error>, features: &KernelFeatures) {
    // The helper and memlock-free map accounting both came in 5.11.
    if let (Err(e), 0) = (memlock, features.current_task_btf) {
        crate::say!(
            "tracer: warning: cannot raise the locked-memory limit ({e}); this kernel \
             charges BPF maps to it, so they may not fit"
        );
    }
}

/// The globals the loader sets from what this kernel needs.
struct Globals<'a> {
    offsets: &'a tracer_common::KernelOffsets,
    features: &'a KernelFeatures,
    umh_work_fn: &'a u64,
    kthread_fn: &'a u64,
    wakeup_bytes: u64,
    follow: u32,
    rescued_kinds_mask: u32,
}

impl<'a> Globals<'a> {
    fn new(
        opts: &LoadOptions<'_>,
        probed: &probe::Probed,
        offsets: &'a tracer_common::KernelOffsets,
        features: &'a KernelFeatures,
        umh_work_fn: &'a u64,
        kthread_fn: &'a u64,
    ) -> Globals<'a> {
        let plan = opts.rings;
        // Per ring: each ring wakes the reader when it is an eighth full.
        let wakeup_bytes = u64::from(plan.ring_bytes / 8);
        let follow = u32::from(opts.follow_map_entries.is_some());
        let rescued_kinds_mask: u32 = EventKind::TRACED
            .into_iter()
            .filter(|&k| probed.nesting.needs_rescues(k))
            .fold(0, |m, k| m | 1 << k.tag());
        Globals {
            offsets,
            features,
            umh_work_fn,
            kthread_fn,
            wakeup_bytes,
            follow,
            rescued_kinds_mask,
        }
    }
}

/// Sets the object's globals and map sizes before it is loaded.
fn configure<'a>(loader: &mut EbpfLoader<'a>, opts: &'a LoadOptions<'_>, g: &'a Globals<'a>) {
    let plan = opts.rings;
    // The loader keeps the BTF its constructor parsed (the running
    // kernel's, or none): the object has no CO-RE relocations to resolve
    // against it, since `offsets` are globals.
    loader
        .override_global(names::OFFSETS, g.offsets, true)
        .override_global(names::FILTER, &opts.filter, true)
        .override_global(names::FEATURES, g.features, true)
        .override_global(names::WAKEUP_BYTES, &g.wakeup_bytes, true)
        .override_global(names::CPUS_PER_RING, &plan.cpus_per_ring, true)
        .override_global(names::UMH_WORK_FN, g.umh_work_fn, true)
        .override_global(names::KTHREAD_FN, g.kthread_fn, true)
        .map_max_entries(names::HELPER_TGIDS, opts.helper_map_entries.max(1))
        .override_global(names::FOLLOW, &g.follow, true)
        .override_global(names::RESCUED_KINDS, &g.rescued_kinds_mask, true)
        .override_global(names::THROTTLE_CONFIG, &opts.throttle, true)
        .map_max_entries(names::FOLLOWED, opts.follow_map_entries.unwrap_or(1).max(1));
    // Rings past the plan's are never written: one page each.
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u32;
    for (i, &name) in names::RINGS.iter().enumerate() {
        let bytes = if (i as u32) < plan.rings {
            plan.ring_bytes
        } else {
            page
        };
        loader.map_max_entries(name, bytes);
    }
}

/// Every program at once, rescues included where the kernel needs them
/// (see tracer-ebpf `nesting.rs`): verifying is most of start-up.
fn choose(
    opts: &LoadOptions<'_>,
    offsets: &tracer_common::KernelOffsets,
    probed: &probe::Probed,
    umh_work_fn: bool,
) -> Choice {
    // The failed-exec program reads the system call's `pt_regs`.
    let failed_execs = opts.failed_execs
        && if offsets.regs_syscall == tracer_common::KernelOffsets::ABSENT {
            crate::say!(
                "tracer: warning: --failed-execs needs the system call registers (pt_regs) \
                 in kernel BTF: failed execs are not traced"
            );
            false
        } else {
            true
        };
    let kinds: Vec<EventKind> = EventKind::TRACED
        .into_iter()
        .filter(|&k| k != EventKind::HelperRequest || umh_work_fn)
        .filter(|&k| k != EventKind::ExecFailed || failed_execs)
        .collect();
    let mut wanted: Vec<(&'static str, &'static str)> =
        kinds.iter().map(|&k| (k.program(), k.program())).collect();
    // Only where a tracepoint's program can nest: elsewhere a rescue would
    // cost every event a program call that returns at once (about 35 ns
    // with bpf_stats on) and start-up its verification.
    let rescued_kinds: Vec<EventKind> = kinds
        .iter()
        .copied()
        .filter(|&k| probed.nesting.needs_rescues(k))
        .collect();
    for level in 0..tracer_common::RESCUES {
        wanted.extend(
            rescued_kinds
                .iter()
                .map(|&k| (k.rescue_programs()[level], k.program())),
        );
    }
    if umh_work_fn {
        wanted.push((names::HELPER_QUEUE_PROGRAM, names::HELPER_QUEUE_PROGRAM));
    }
    Choice {
        kinds,
        rescued_kinds,
        wanted,
    }
}

/// Sorts the load results: a refused first program is missing (fatal with
/// `strict`), a companion or rescue that failed is left out with a
/// warning.
fn sort(
    opts: &LoadOptions<'_>,
    choice: &Choice,
    mut results: Vec<(&'static str, Result<(), aya::programs::ProgramError>)>,
    umh_work_fn: bool,
) -> Result<Sorted> {
    let Choice {
        kinds,
        rescued_kinds,
        ..
    } = choice;
    let mut result_of = |name: &str| {
        let at = results
            .iter()
            .position(|(n, _)| *n == name)
            .expect("loaded above");
        results.swap_remove(at).1
    };

    let mut loaded = Vec::with_capacity(kinds.len() + 1);
    let mut missing = Vec::new();
    for &kind in kinds {
        let name = kind.program();
        match result_of(name) {
            Ok(()) => loaded.push(name),
            Err(e) => {
                let Some((reason, log)) = refusal(&e) else {
                    return Err(explain(e, format!("loading program {name}")));
                };
                let m = Missing { kind, reason };
                if opts.strict {
                    report_log(name, &log, opts.verbose);
                    return Err(RequiredMissing(m).into());
                }
                crate::say!("tracer: warning: {}", m.sentence());
                report_log(name, &log, opts.verbose);
                missing.push(m);
            }
        }
    }
    if loaded.is_empty() {
        bail!("the kernel refused every program: nothing can be traced");
    }
    // The requester side is useful only with the start side loaded. It
    // emits nothing, so it has no kind, rescues or loss count: a skipped
    // run leaves a request without its requester, which output says.
    let mut companions = Vec::new();
    if umh_work_fn {
        let name = names::HELPER_QUEUE_PROGRAM;
        match result_of(name) {
            Ok(()) if loaded.contains(&EventKind::HelperRequest.program()) => companions.push(name),
            Ok(()) => {}
            Err(e) => crate::say!(
                "tracer: warning: cannot load {name} ({e}): helpers are traced without \
                 their requesters"
            ),
        }
    }
    // Attached after the first programs, level by level, so on each
    // tracepoint the rescues run in order after the first. A level is used
    // only if every level below it loaded; without them the skips still
    // count as losses.
    let mut rescues = Vec::new();
    for level in 0..tracer_common::RESCUES {
        for &kind in rescued_kinds {
            let names = kind.rescue_programs();
            let name = names[level];
            let result = result_of(name);
            let below = std::iter::once(kind.program()).chain(names[..level].iter().copied());
            if !below
                .into_iter()
                .all(|p| loaded.contains(&p) || rescues.contains(&p))
            {
                continue;
            }
            match result {
                Ok(()) => rescues.push(name),
                Err(e) => crate::say!(
                    "tracer: warning: cannot load {name} ({e}): more {} events the \
                     kernel skips (runs nested on one CPU) are lost, and counted",
                    kind.name()
                ),
            }
        }
    }
    Ok(Sorted {
        loaded,
        missing,
        companions,
        rescues,
    })
}

/// Loads each `(program, tracepoint)`, all at once: the kernel verifies
/// programs in parallel for root, and verifying is most of start-up (18
/// programs took 0.4 s one by one on the 2-CPU VM).
fn load_all(
    ebpf: &mut Ebpf,
    btf: &aya::Btf,
    wanted: &[(&'static str, &'static str)],
) -> Result<Vec<(&'static str, Result<(), aya::programs::ProgramError>)>> {
    let mut jobs = Vec::with_capacity(wanted.len());
    for (name, program) in ebpf.programs_mut() {
        if let Some(&(name, tracepoint)) = wanted.iter().find(|(n, _)| *n == name) {
            let program: &mut BtfTracePoint = program.try_into()?;
            jobs.push((name, tracepoint, program));
        }
    }
    if let Some((name, _)) = wanted
        .iter()
        .find(|(n, _)| !jobs.iter().any(|(j, _, _)| j == n))
    {
        bail!("program {name} missing from the eBPF object");
    }
    Ok(std::thread::scope(|scope| {
        let running: Vec<_> = jobs
            .into_iter()
            .map(|(name, tracepoint, program)| {
                (
                    name,
                    scope.spawn(move || {
                        let loaded = program.load(tracepoint, btf);
                        timing::verified(name);
                        loaded
                    }),
                )
            })
            .collect();
        running
            .into_iter()
            .map(|(name, job)| (name, job.join().expect("a load thread panicked")))
            .collect()
    }))
}

/// The verdict and whole log of a load the verifier refused; `None` for
/// other errors (permissions, a missing tracepoint), which stay fatal.
fn refusal(e: &aya::programs::ProgramError) -> Option<(String, String)> {
    let aya::programs::ProgramError::LoadError {
        io_error,
        verifier_log,
    } = e
    else {
        return None;
    };
    if io_error.raw_os_error() == Some(libc::EPERM) {
        return None;
    }
    let log = verifier_log.to_string();
    let reason = verifier::verdict(&log).unwrap_or_else(|| io_error.to_string());
    Some((reason, log))
}

/// Shows the whole verifier log (`verbose`) or keeps it in a new private
/// file and says where.
fn report_log(program: &str, log: &str, verbose: bool) {
    if verbose {
        crate::say!("tracer: verifier log for {program}:\n{log}");
        return;
    }
    let path = std::env::temp_dir().join(format!(
        "tracer-{}-{program}.verifier.log",
        std::process::id()
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(log.as_bytes()));
    match written {
        Ok(()) => crate::say!(
            "tracer: the verifier's whole log is in {} (or run with --verbose)",
            path.display()
        ),
        Err(e) => crate::say!(
            "tracer: cannot keep the verifier log in {} ({e}); run with --verbose to see it",
            path.display()
        ),
    }
}

impl Loaded {
    /// Attaches every program [`load`] loaded.
    pub fn attach(&mut self) -> Result<()> {
        for &name in self
            .first
            .iter()
            .chain(&self.loaded)
            .chain(&self.rescues)
            .chain(&self.companions)
        {
            let program: &mut BtfTracePoint = self
                .ebpf
                .program_mut(name)
                .ok_or_else(|| anyhow!("program {name} missing from the eBPF object"))?
                .try_into()?;
            let link = program
                .attach()
                .map_err(|e| explain(e, format!("attaching {name} to its tracepoint")))?;
            self.links.push((name, link));
        }
        Ok(())
    }

    /// Programs the kernel refused, so events that will not be seen.
    pub fn missing(&self) -> &[Missing] {
        &self.missing
    }

    /// The fallbacks the probes chose (read modes), one line each.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Programs attached, one per tracepoint, and rescues attached.
    pub fn program_count(&self) -> (usize, usize) {
        let rescues = self.rescues.len().min(self.links.len());
        (self.links.len() - rescues, rescues)
    }

    /// The reader of the programs' own log messages; call once.
    pub fn take_logger(&mut self) -> Option<crate::kernel::ebpf_log::KernelLogger> {
        crate::kernel::ebpf_log::init(&mut self.ebpf)
    }

    /// The ring buffers in use, ring `i` at index `i`; call once.
    pub fn take_rings(&mut self) -> Result<Vec<RingBuf<MapData>>> {
        names::RINGS[..self.rings as usize]
            .iter()
            .map(|&name| {
                let map = self
                    .ebpf
                    .take_map(name)
                    .ok_or_else(|| anyhow!("ring buffer {name} already taken"))?;
                Ok(RingBuf::try_from(map)?)
            })
            .collect()
    }

    /// Detaches every program; events already in the ring stay readable.
    pub fn detach(&mut self) -> Result<()> {
        for (name, link) in self.links.drain(..) {
            let program: &mut BtfTracePoint = self
                .ebpf
                .program_mut(name)
                .ok_or_else(|| anyhow!("program {name} vanished"))?
                .try_into()?;
            program
                .detach(link)
                .with_context(|| format!("detaching {name}"))?;
        }
        Ok(())
    }

    /// Marks existing helpers' thread groups in the kernel's helper map, so
    /// the in-kernel signal filter keeps their signals.
    pub fn seed_helpers(&mut self, groups: impl Iterator<Item = (u32, u32)>) -> Result<()> {
        let mut map: aya::maps::HashMap<_, u32, u32> =
            aya::maps::HashMap::try_from(self.ebpf.map_mut(names::HELPER_TGIDS).ok_or_else(
                || anyhow!("map {} missing from the eBPF object", names::HELPER_TGIDS),
            )?)?;
        for (tgid, mark) in groups {
            if let Err(e) = map.insert(tgid, mark, 0) {
                crate::say!(
                    "tracer: warning: cannot mark helper group {tgid} in the kernel ({e}); \
                     signals to it may be dropped by the default filter"
                );
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every symbol of a little-endian ELF64 object with its section's name
    /// (symbols in no section left out). Enough ELF for the test below; the
    /// object crate is not a dependency.
    fn symbols(elf: &[u8]) -> Vec<(String, String)> {
        const SHT_SYMTAB: u32 = 2;
        const SHN_LORESERVE: usize = 0xff00;
        assert_eq!(
            &elf[..6],
            b"\x7fELF\x02\x01",
            "a little-endian ELF64 object"
        );
        let u16_at = |at: usize| usize::from(u16::from_le_bytes([elf[at], elf[at + 1]]));
        let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap()) as usize;
        let c_str = |at: usize| {
            let len = elf[at..].iter().position(|&b| b == 0).expect("a NUL");
            String::from_utf8_lossy(&elf[at..at + len]).into_owned()
        };
        // Section header i: sh_name at 0, sh_type 4, sh_offset 0x18,
        // sh_size 0x20, sh_link 0x28, sh_entsize 0x38.
        let (shoff, shentsize, shnum) = (u64_at(0x28), u16_at(0x3a), u16_at(0x3c));
        let section = |i: usize| shoff + i * shentsize;
        let names_at = u64_at(section(u16_at(0x3e)) + 0x18);
        let section_name = |i: usize| c_str(names_at + u32_at(section(i)) as usize);
        let symtab = (0..shnum)
            .find(|&i| u32_at(section(i) + 4) == SHT_SYMTAB)
            .expect("a symbol table");
        let (at, size, entsize) = (
            u64_at(section(symtab) + 0x18),
            u64_at(section(symtab) + 0x20),
            u64_at(section(symtab) + 0x38),
        );
        let strings_at = u64_at(section(u32_at(section(symtab) + 0x28) as usize) + 0x18);
        // Symbol: st_name at 0, st_shndx at 6.
        (at..at + size)
            .step_by(entsize)
            .filter_map(|sym| {
                let shndx = u16_at(sym + 6);
                (shndx != 0 && shndx < SHN_LORESERVE).then(|| {
                    (
                        c_str(strings_at + u32_at(sym) as usize),
                        section_name(shndx),
                    )
                })
            })
            .collect()
    }

    /// A map, global or program renamed on one side only fails here, not
    /// at load time on a live kernel.
    #[test]
    fn object_has_every_name_the_loader_uses() {
        let symbols = symbols(OBJECT);
        let section_of = |name: &str| {
            symbols
                .iter()
                .find(|(symbol, _)| symbol == name)
                .map(|(_, section)| section.as_str())
        };
        for map in names::MAPS.iter().chain(&names::RINGS) {
            assert_eq!(section_of(map), Some("maps"), "map {map}");
        }
        // In .rodata: frozen at load, so constants to the verifier.
        for global in names::GLOBALS {
            assert_eq!(section_of(global), Some(".rodata"), "global {global}");
        }
        for kind in EventKind::TRACED {
            let program = kind.program();
            let section = format!("tp_btf/{program}");
            assert_eq!(
                section_of(program),
                Some(section.as_str()),
                "program {program}"
            );
            // The rescues sit on the same tracepoint.
            for rescue in kind.rescue_programs() {
                assert_eq!(
                    section_of(rescue),
                    Some(section.as_str()),
                    "program {rescue}"
                );
            }
        }
        for queue in [
            names::HELPER_QUEUE_PROGRAM,
            names::KTHREAD_PROGRAM,
            names::KTHREAD_WAKE_PROGRAM,
        ] {
            let tracepoint = match queue {
                names::KTHREAD_PROGRAM => names::KTHREAD_TRACEPOINT,
                names::KTHREAD_WAKE_PROGRAM => names::KTHREAD_WAKE_TRACEPOINT,
                _ => queue,
            };
            assert_eq!(
                section_of(queue),
                Some(format!("tp_btf/{tracepoint}").as_str()),
                "program {queue}"
            );
        }
        let queue = names::HELPER_QUEUE_PROGRAM;
        assert_eq!(
            section_of(queue),
            Some(format!("tp_btf/{queue}").as_str()),
            "program {queue}"
        );
        assert_eq!(section_of("NO_SUCH_MAP"), None);
    }

    /// The loader leaves aya the BTF its constructor parsed, which is no
    /// BTF at all under `--btf` without sysfs BTF: right only while the
    /// object has no CO-RE relocations to resolve against it.
    #[test]
    fn object_has_no_core_relocations() {
        let elf = OBJECT;
        let u16_at = |at: usize| usize::from(u16::from_le_bytes([elf[at], elf[at + 1]]));
        let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap()) as usize;
        let (shoff, shentsize, shnum) = (u64_at(0x28), u16_at(0x3a), u16_at(0x3c));
        let section = |i: usize| shoff + i * shentsize;
        let names_at = u64_at(section(u16_at(0x3e)) + 0x18);
        let ext = (0..shnum)
            .find(|&i| {
                let name = names_at + u32_at(section(i)) as usize;
                elf[name..].starts_with(b".BTF.ext\0")
            })
            .map(|i| u64_at(section(i) + 0x18))
            .expect("a .BTF.ext section");
        // btf_ext_header: magic, version, flags, hdr_len, then func_info,
        // line_info and (hdr_len >= 32) core_relo offset and length.
        assert_eq!(u16_at(ext), 0xeb9f);
        let hdr_len = u32_at(ext + 4);
        assert!(u32_at(ext + 12) > 0, "func_info: the header is read right");
        let core_relo_len = if hdr_len >= 32 { u32_at(ext + 28) } else { 0 };
        assert_eq!(core_relo_len, 0, "the loader must hand aya the kernel BTF");
    }
}
