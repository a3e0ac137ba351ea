//! Loads the eBPF object with this kernel's offsets, attaches one program
//! per tracepoint, and hands out the ring buffer and loss counters.

use std::path::Path;

use anyhow::{anyhow, bail, Context as _, Result};
use aya::{
    maps::{MapData, PerCpuArray, RingBuf},
    programs::{tp_btf::BtfTracePointLinkId, BtfTracePoint},
    Ebpf, EbpfLoader,
};
use tracer_common::{EventKind, KernelFilter};

use crate::{btf, offsets, privileges};

/// The object built from `tracer-ebpf` by build.rs.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/tracer"));

/// (program name in the object, tracepoint it attaches to).
const PROGRAMS: [(&str, &str); 6] = [
    ("task_newtask", "task_newtask"),
    ("sched_process_exec", "sched_process_exec"),
    ("sched_process_exit", "sched_process_exit"),
    ("signal_generate", "signal_generate"),
    ("signal_deliver", "signal_deliver"),
    ("task_rename", "task_rename"),
];

pub const DEFAULT_BTF: &str = "/sys/kernel/btf/vmlinux";

pub struct LoadOptions<'a> {
    pub btf_path: &'a Path,
    /// Ring buffer bytes: a power of two, at least one page.
    pub ring_bytes: u32,
    pub filter: KernelFilter,
    /// Capacity of the helper-lineage map.
    pub helper_map_entries: u32,
}

pub struct Session {
    ebpf: Ebpf,
    links: Vec<(&'static str, BtfTracePointLinkId)>,
    lost: PerCpuArray<MapData, u64>,
}

/// The kernel's BTF, read once: our reader resolves offsets from it, aya
/// parses it for loading the tp_btf programs.
fn read_kernel_btf(path: &Path) -> Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(data) => Ok(data),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "kernel BTF not found at {}: tracer needs a kernel built with \
             CONFIG_DEBUG_INFO_BTF=y (most distribution kernels since 5.x are), \
             or a BTF file passed with --btf",
            path.display()
        ),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
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

pub fn load(opts: &LoadOptions<'_>) -> Result<Session> {
    privileges::check()?;
    let data = read_kernel_btf(opts.btf_path)?;
    let offsets = btf::Btf::parse(&data)
        .with_context(|| format!("reading kernel BTF from {}", opts.btf_path.display()))
        .and_then(|btf| offsets::resolve(&btf))?;
    let aya_btf = aya::Btf::parse(&data, aya::Endianness::default())
        .with_context(|| format!("parsing kernel BTF at {}", opts.btf_path.display()))?;
    drop(data);
    let mut ebpf = EbpfLoader::new()
        .btf(Some(&aya_btf))
        .override_global("OFFSETS", &offsets, true)
        .override_global("FILTER", &opts.filter, true)
        .override_global("WAKEUP_BYTES", &u64::from(opts.ring_bytes / 8), true)
        .map_max_entries("EVENTS", opts.ring_bytes)
        .map_max_entries("UMH_TGIDS", opts.helper_map_entries.max(1))
        .load(OBJECT)
        .map_err(|e| explain(e, "loading the eBPF object".into()))?;

    for (name, tracepoint) in PROGRAMS {
        let program: &mut BtfTracePoint = ebpf
            .program_mut(name)
            .ok_or_else(|| anyhow!("program {name} missing from the eBPF object"))?
            .try_into()?;
        program.load(tracepoint, &aya_btf).map_err(|e| {
            explain(
                e,
                format!("loading program {name} (tracepoint {tracepoint})"),
            )
        })?;
    }
    let lost = PerCpuArray::try_from(
        ebpf.take_map("LOST")
            .ok_or_else(|| anyhow!("map LOST missing from the eBPF object"))?,
    )?;
    Ok(Session {
        ebpf,
        links: Vec::with_capacity(PROGRAMS.len()),
        lost,
    })
}

impl Session {
    /// Attaches every program (loaded, not yet attached, by [`load`]).
    pub fn attach(&mut self) -> Result<()> {
        for (name, tracepoint) in PROGRAMS {
            let program: &mut BtfTracePoint = self
                .ebpf
                .program_mut(name)
                .ok_or_else(|| anyhow!("program {name} missing from the eBPF object"))?
                .try_into()?;
            let link = program
                .attach()
                .map_err(|e| explain(e, format!("attaching {name} to tracepoint {tracepoint}")))?;
            self.links.push((name, link));
        }
        Ok(())
    }

    pub fn program_count(&self) -> usize {
        self.links.len()
    }

    /// The reader of the programs' own log messages; call once.
    pub fn take_logger(&mut self) -> Option<crate::kernel_log::KernelLogger> {
        crate::kernel_log::init(&mut self.ebpf)
    }

    /// The event ring buffer; call once.
    pub fn take_ring(&mut self) -> Result<RingBuf<MapData>> {
        let map = self
            .ebpf
            .take_map("EVENTS")
            .ok_or_else(|| anyhow!("ring buffer already taken"))?;
        Ok(RingBuf::try_from(map)?)
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

    /// Marks existing helpers' thread groups in the kernel's lineage map, so
    /// the in-kernel signal filter keeps their signals.
    pub fn seed_umh(&mut self, groups: impl Iterator<Item = (u32, u32)>) -> Result<()> {
        let mut map: aya::maps::HashMap<_, u32, u32> = aya::maps::HashMap::try_from(
            self.ebpf
                .map_mut("UMH_TGIDS")
                .ok_or_else(|| anyhow!("map UMH_TGIDS missing from the eBPF object"))?,
        )?;
        for (tgid, mark) in groups {
            if let Err(e) = map.insert(tgid, mark, 0) {
                eprintln!(
                    "tracer: warning: cannot mark helper group {tgid} in the kernel ({e}); \
                     signals to it may be dropped by the default filter"
                );
                break;
            }
        }
        Ok(())
    }

    /// (program, runs, total ns in the program) from the kernel's BPF
    /// statistics; zeros unless `kernel.bpf_stats_enabled` is 1.
    pub fn program_stats(&self) -> Vec<(&'static str, u64, u64)> {
        PROGRAMS
            .iter()
            .filter_map(|(name, _)| {
                let info = self.ebpf.program(name)?.info().ok()?;
                Some((*name, info.run_count(), info.run_time().as_nanos() as u64))
            })
            .collect()
    }

    /// Records dropped because the ring buffer was full, by kind, summed
    /// over CPUs.
    pub fn lost(&self) -> Result<Vec<(EventKind, u64)>> {
        EventKind::ALL
            .iter()
            .map(|&kind| {
                let per_cpu = self
                    .lost
                    .get(&(kind as u32), 0)
                    .with_context(|| format!("reading the loss counter for {}", kind.name()))?;
                Ok((kind, per_cpu.iter().sum()))
            })
            .collect()
    }
}
