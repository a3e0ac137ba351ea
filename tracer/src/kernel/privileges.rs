//! Checks, before touching BPF, that this process may load tracing
//! programs, so a newcomer gets a sentence rather than EPERM.

use anyhow::{bail, Result};

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// Effective capabilities of this process, from /proc/self/status.
fn effective_caps() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

fn has(caps: u64, cap: u32) -> bool {
    caps & (1 << cap) != 0
}

/// Whether `caps` allow loading and attaching tp_btf programs.
pub fn sufficient(caps: u64) -> bool {
    has(caps, CAP_SYS_ADMIN) || (has(caps, CAP_BPF) && has(caps, CAP_PERFMON))
}

pub fn check() -> Result<()> {
    match effective_caps() {
        Some(caps) if sufficient(caps) => Ok(()),
        Some(_) => bail!(
            "tracer needs root, or the CAP_BPF and CAP_PERFMON capabilities, to load its eBPF \
             programs; run it with sudo (e.g. `sudo tracer trace`)"
        ),
        // Cannot tell (no procfs?): let the kernel decide and report then.
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_bpf_and_perfmon_or_sys_admin() {
        assert!(sufficient(1 << CAP_SYS_ADMIN));
        assert!(sufficient((1 << CAP_BPF) | (1 << CAP_PERFMON)));
        assert!(!sufficient(1 << CAP_BPF));
        assert!(!sufficient(0));
    }
}
