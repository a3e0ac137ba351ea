//! Checks, before touching BPF, that this process may load tracing
//! programs, so a newcomer gets a sentence rather than EPERM; and lifts
//! the locked-memory limit old kernels charge BPF maps to.

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

/// Lifts RLIMIT_MEMLOCK, as far as we may: kernels before 5.11 charge BPF
/// maps to it, and their 64 KiB default cannot hold the ring buffer. Later
/// kernels charge memory cgroups instead, so a refusal matters only there;
/// `Err` says why the limit stayed where it was.
pub fn raise_memlock() -> Result<(), std::io::Error> {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads a valid rlimit struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) } == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    // Without CAP_SYS_RESOURCE: up to the hard limit, at least.
    let mut now = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read or write a valid rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut now) == 0 {
            now.rlim_cur = now.rlim_max;
            libc::setrlimit(libc::RLIMIT_MEMLOCK, &now);
        }
    }
    if now.rlim_cur == libc::RLIM_INFINITY {
        Ok(())
    } else {
        Err(err)
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
