//! Helper threads that give way to the ring reader: lowered only where
//! they can be raised again, since a thread left at SCHED_IDLE on a busy
//! machine may take seconds for work the end of a session waits on.

use std::{
    io,
    sync::atomic::{AtomicBool, Ordering},
};

/// How a helper thread competes for the CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// SCHED_OTHER at this nice value.
    Nice(i32),
    /// SCHED_IDLE: only what no other task wants.
    Idle,
}

/// CAP_SYS_NICE's bit in the capability sets.
const CAP_SYS_NICE: u32 = 23;

/// The calling thread's id.
pub fn this_thread() -> libc::pid_t {
    // SAFETY: gettid takes nothing and cannot fail.
    unsafe { libc::gettid() }
}

/// Lowers thread `tid` of this process to `priority`, only where it can
/// be raised back to nice 0 ([`can_raise`]); whether it was lowered.
pub fn lower(tid: libc::pid_t, priority: Priority) -> bool {
    can_raise() && set_priority(tid, priority).is_ok()
}

/// Raises thread `tid`, lowered by [`lower`], back to nice 0; a failure
/// is said once.
pub fn raise(tid: libc::pid_t) {
    static SAID: AtomicBool = AtomicBool::new(false);
    if let Err(e) = set_priority(tid, Priority::Nice(0)) {
        if !SAID.swap(true, Ordering::Relaxed) {
            crate::say!(
                "tracer: warning: could not raise a helper thread's priority back ({e}): \
                 it goes on below every other task"
            );
        }
    }
}

/// Whether this process may take a thread back to nice 0 from SCHED_IDLE
/// or a higher nice value: with CAP_SYS_NICE (which a systemd unit's
/// bounding set or a CAP_BPF+CAP_PERFMON run may lack), or an RLIMIT_NICE
/// of 20 or more. Capabilities are per thread: the calling thread's
/// (read once a file at most, not on a hot path).
pub fn can_raise() -> bool {
    let cap = std::fs::read_to_string("/proc/thread-self/status")
        .ok()
        .and_then(|s| has_sys_nice(&s))
        .unwrap_or(false);
    cap || nice_limit_allows_0()
}

/// CAP_SYS_NICE in the effective set of a `/proc/PID/status` text.
fn has_sys_nice(status: &str) -> Option<bool> {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    let eff = u64::from_str_radix(hex, 16).ok()?;
    Some(eff & (1 << CAP_SYS_NICE) != 0)
}

/// RLIMIT_NICE lets an unprivileged thread reach nice 20 - limit.
fn nice_limit_allows_0() -> bool {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a live local that getrlimit fills.
    let res = unsafe { libc::getrlimit(libc::RLIMIT_NICE, &mut lim) };
    res == 0 && lim.rlim_cur >= 20
}

/// Sets thread `tid` of this process to `priority` (per thread on
/// Linux).
fn set_priority(tid: libc::pid_t, priority: Priority) -> io::Result<()> {
    let (policy, nice) = match priority {
        Priority::Nice(nice) => (libc::SCHED_OTHER, nice),
        Priority::Idle => (libc::SCHED_IDLE, 0),
    };
    // Zeroed, not a literal: musl's `sched_param` has more fields.
    // SAFETY: all-zero bytes are a valid `sched_param` (priority 0).
    let param: libc::sched_param = unsafe { std::mem::zeroed() };
    // SAFETY: `param` is a live local; `tid` is a thread of this process,
    // and only its scheduling policy changes.
    if unsafe { libc::sched_setscheduler(tid, policy, &param) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: only thread `tid`'s nice value changes.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_sys_nice_is_read_from_the_effective_set() {
        let status = |eff: &str| format!("Name:\tx\nCapInh:\t0\nCapPrm:\t{eff}\nCapEff:\t{eff}\n");
        assert_eq!(has_sys_nice(&status("000001ffffffffff")), Some(true));
        assert_eq!(has_sys_nice(&status("0000000000800000")), Some(true));
        // CAP_BPF and CAP_PERFMON alone.
        assert_eq!(has_sys_nice(&status("000000c000000000")), Some(false));
        assert_eq!(has_sys_nice(&status("0000000000000000")), Some(false));
        assert_eq!(has_sys_nice("Name:\tx\n"), None);
    }

    /// Without CAP_SYS_NICE (dropped from this test thread's effective
    /// set alone) a thread is not lowered: it could never be raised.
    #[test]
    fn without_cap_sys_nice_nothing_is_lowered() {
        assert!(!nice_limit_allows_0(), "RLIMIT_NICE lets anyone raise");
        std::thread::spawn(|| {
            #[repr(C)]
            struct Header {
                version: u32,
                pid: i32,
            }
            #[repr(C)]
            #[derive(Clone, Copy, Default)]
            struct Data {
                effective: u32,
                permitted: u32,
                inheritable: u32,
            }
            let mut head = Header {
                version: 0x2008_0522,
                pid: 0,
            };
            let mut data = [Data::default(); 2];
            // SAFETY: capget fills `data` (two entries for version 3) of
            // this thread.
            let res = unsafe { libc::syscall(libc::SYS_capget, &mut head, data.as_mut_ptr()) };
            assert_eq!(res, 0, "capget");
            data[0].effective &= !(1 << CAP_SYS_NICE);
            // SAFETY: capset changes this thread's effective set alone.
            let res = unsafe { libc::syscall(libc::SYS_capset, &mut head, data.as_ptr()) };
            assert_eq!(res, 0, "capset");
            let tid = this_thread();
            assert!(!can_raise());
            assert!(!lower(tid, Priority::Idle), "lowered for good");
            // SAFETY: reads this thread's policy.
            assert_eq!(unsafe { libc::sched_getscheduler(tid) }, libc::SCHED_OTHER);
        })
        .join()
        .unwrap();
    }
}
