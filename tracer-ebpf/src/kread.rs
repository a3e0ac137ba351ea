//! Kernel memory reads. Everything the programs learn about a task goes
//! through here, at offsets that came from BTF (see `tracer-common::offsets`)
//! and that the loader set (`globals.rs`).
//!
//! Fields are read with direct loads through BTF-typed pointers (tracepoint
//! arguments, `bpf_get_current_task_btf()`, and pointer fields loaded from
//! those): the verifier checks each load against the kernel's BTF, and the
//! JIT turns a faulting load into a zero, so a bad pointer never crashes.
//! A direct load costs a few ns; `bpf_probe_read_kernel` costs tens, which
//! mattered: a task snapshot is eight reads. Strings still go through the
//! string helpers.
//!
//! Where the kernel gives no BTF-typed pointer (the current task before
//! 5.11, the siginfo argument from 7.2.9), a [`Kptr`] falls back on
//! `bpf_probe_read_kernel`; the choice comes from the loader's
//! `KernelFeatures` (`globals.rs`), constants to the verifier, so each
//! kernel verifies only the path it can run.

use aya_ebpf::helpers::{
    bpf_probe_read_kernel, bpf_probe_read_kernel_str_bytes, generated::bpf_probe_read_user,
};

/// A kernel pointer and how it may be read: directly where the verifier
/// knows its BTF type, else through `bpf_probe_read_kernel`. Pointers read
/// out of it are read the same way.
#[derive(Clone, Copy)]
pub(crate) struct Kptr {
    addr: *const u8,
    direct: bool,
}

impl Kptr {
    /// A BTF-typed pointer: a tp_btf argument or `bpf_get_current_task_btf()`.
    #[inline(always)]
    pub(crate) fn btf(addr: *const u8) -> Kptr {
        Kptr { addr, direct: true }
    }

    /// `addr`, read directly when `direct`, else through the probe helper.
    #[inline(always)]
    pub(crate) fn new(addr: *const u8, direct: bool) -> Kptr {
        Kptr { addr, direct }
    }

    #[inline(always)]
    pub(crate) fn addr(self) -> usize {
        self.addr as usize
    }

    /// Whether it is read with direct loads.
    #[inline(always)]
    pub(crate) fn is_direct(self) -> bool {
        self.direct
    }

    #[inline(always)]
    pub(crate) fn is_null(self) -> bool {
        self.addr.is_null()
    }

    /// The `T` at byte offset `off` (0 if the read faults).
    #[inline(always)]
    pub(crate) fn read<T: Copy + Default>(self, off: u32) -> T {
        if self.direct {
            field(self.addr, off)
        } else {
            probed(self.addr, off)
        }
    }

    /// The pointer at byte offset `off`, read the same way as this one.
    #[inline(always)]
    pub(crate) fn ptr(self, off: u32) -> Kptr {
        Kptr {
            addr: self.read::<usize>(off) as *const u8,
            direct: self.direct,
        }
    }
}

/// Reads a `T` at `base + off` with the probe helper (0 on fault).
#[inline(always)]
fn probed<T: Copy + Default>(base: *const u8, off: u32) -> T {
    let src = base.wrapping_add(off as usize).cast::<T>();
    // SAFETY: a fault-tolerant copy into a value we own.
    unsafe { bpf_probe_read_kernel(src) }.unwrap_or_default()
}

/// Reads a `T` at `base + off`, where `base` is a BTF-typed kernel pointer
/// and `off` a BTF offset of a field of that size.
#[inline(always)]
fn field<T: Copy>(base: *const u8, off: u32) -> T {
    let src = base.wrapping_add(off as usize).cast::<T>();
    // SAFETY: in a tp_btf program this is a BTF-checked kernel load: the
    // verifier accepts it only at a real field of `base`'s type, and the JIT
    // makes a faulting load yield zero. No Rust reference is created.
    unsafe { core::ptr::read_volatile(src) }
}

/// Whether bit `bit` (counted from `base`) is set, for bitfields, which the
/// verifier does not let a direct load touch.
#[inline(always)]
pub(crate) fn bit(base: Kptr, bit: u32) -> bool {
    let src = base.addr.wrapping_add((bit / 8) as usize);
    // SAFETY: a fault-tolerant copy of one byte into a value we own.
    let byte: u8 = unsafe { bpf_probe_read_kernel(src) }.unwrap_or(0);
    byte & (1 << (bit % 8)) != 0
}

/// Copies the NUL-terminated kernel string at `src` into `dst`; returns its
/// length without the NUL (0 on fault).
#[inline(always)]
pub(crate) fn kernel_str(src: *const u8, dst: &mut [u8]) -> usize {
    // SAFETY: fault-tolerant copy bounded by `dst.len()`.
    match unsafe { bpf_probe_read_kernel_str_bytes(src, dst) } {
        Ok(s) => s.len(),
        Err(_) => 0,
    }
}

/// The kernel byte at `src + off` (0 on fault).
#[inline(always)]
pub(crate) fn kernel_byte(src: *const u8, off: usize) -> u8 {
    probed(src, off as u32)
}

/// The current task's user byte at `src + off` (0 on fault).
#[inline(always)]
pub(crate) fn user_byte(src: *const u8, off: usize) -> u8 {
    let mut byte = [0u8; 1];
    user_bytes(src as u64 + off as u64, 1, &mut byte);
    byte[0]
}

/// Copies up to `N` bytes of the current task's user memory at `src`;
/// returns how many were copied (0 on fault).
#[inline(always)]
pub(crate) fn user_bytes<const N: usize>(src: u64, len: u64, dst: &mut [u8; N]) -> usize {
    // Bound the size with a mask the verifier can follow (N is a power of two).
    let n = if len >= N as u64 {
        N as u64
    } else {
        len & (N as u64 - 1)
    };
    // SAFETY: the helper copies at most `n <= N` bytes into `dst` with fault
    // handling; `src` is only read through the helper.
    let ret = unsafe { bpf_probe_read_user(dst.as_mut_ptr().cast(), n as u32, src as *const _) };
    if ret == 0 {
        n as usize
    } else {
        0
    }
}
