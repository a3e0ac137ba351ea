//! How the programs must read the kernel, decided by the loader from what
//! the running kernel offers (see `tracer::probe`), handed over as one
//! read-only global. `.rodata` is frozen at load, so the verifier knows each
//! field as a constant and never walks the branch a kernel cannot run: a
//! 5.10 kernel never sees the call to a helper it lacks.

use core::mem::size_of;

use crate::EventKind;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelFeatures {
    /// 1 where `bpf_get_current_task_btf` exists (5.11+): the current task
    /// is then read with direct BTF-checked loads, else with
    /// `bpf_probe_read_kernel` through `bpf_get_current_task`.
    pub current_task_btf: u8,
    /// 1 where the verifier lets `signal_generate` / `signal_deliver` load
    /// through their `kernel_siginfo *` argument. From 7.2.9 it marks that
    /// argument a scalar (it may be `SEND_SIG_NOINFO`/`SEND_SIG_PRIV`), and
    /// the fields are read with `bpf_probe_read_kernel` instead.
    pub generate_siginfo_direct: u8,
    pub deliver_siginfo_direct: u8,
    pub _pad: u8,
    /// Test hook: programs whose [`EventKind::bit`] is set here take a path
    /// the verifier refuses, so tests can check a real refusal. Always 0
    /// outside tests.
    pub refuse_mask: u32,
}

impl KernelFeatures {
    /// The placeholder compiled into the object: every fast path (the
    /// loader always overrides it).
    pub const FAST: KernelFeatures = KernelFeatures {
        current_task_btf: 1,
        generate_siginfo_direct: 1,
        deliver_siginfo_direct: 1,
        _pad: 0,
        refuse_mask: 0,
    };

    pub const fn refuses(&self, kind: EventKind) -> bool {
        self.refuse_mask & kind.bit() != 0
    }
}

const _: () = assert!(size_of::<KernelFeatures>() == 8);

#[cfg(feature = "user")]
mod pod {
    // SAFETY: repr(C), integer fields only, no padding (size asserted).
    unsafe impl aya::Pod for super::KernelFeatures {}
}
