//! Kernel memory reads. Everything the programs learn about a task goes
//! through here, at offsets that came from BTF (see `tracer-common::offsets`).
//!
//! Fields are read with direct loads through BTF-typed pointers (tracepoint
//! arguments, `bpf_get_current_task_btf()`, and pointer fields loaded from
//! those): the verifier checks each load against the kernel's BTF, and the
//! JIT turns a faulting load into a zero, so a bad pointer never crashes.
//! A direct load costs a few ns; `bpf_probe_read_kernel` costs tens, which
//! mattered: a task snapshot is eight reads. Strings still go through the
//! string helpers.

use aya_ebpf::helpers::{
    bpf_probe_read_kernel, bpf_probe_read_kernel_str_bytes, generated::bpf_probe_read_user,
};
use tracer_common::{KernelFilter, KernelOffsets};

/// Placeholder that the loader overrides with the running kernel's offsets.
/// `.rodata` is frozen at load, so the verifier sees these as constants.
#[unsafe(no_mangle)]
pub static OFFSETS: KernelOffsets = KernelOffsets::UNSET;

/// One resolved offset. Each is read on its own, straight from the frozen
/// map value, so the verifier knows it as a constant and can check the load
/// it feeds against BTF.
macro_rules! offset {
    ($field:ident) => {
        // SAFETY: OFFSETS is a valid static; the volatile read stops the
        // compiler from folding in the placeholder the loader replaces.
        unsafe { core::ptr::read_volatile(&raw const $crate::kread::OFFSETS.$field) }
    };
}
pub(crate) use offset;

/// Pre-filters chosen on the command line; the loader overrides this too.
#[unsafe(no_mangle)]
static FILTER: KernelFilter = KernelFilter::ALL;

/// The in-kernel filter the loader set.
#[inline(always)]
pub fn filter() -> KernelFilter {
    // SAFETY: as for `offsets`.
    unsafe { core::ptr::read_volatile(&FILTER) }
}

/// Reads a `T` at `base + off`, where `base` is a BTF-typed kernel pointer
/// and `off` a BTF offset of a field of that size.
#[inline(always)]
pub fn field<T: Copy>(base: *const u8, off: u32) -> T {
    let src = base.wrapping_add(off as usize).cast::<T>();
    // SAFETY: in a tp_btf program this is a BTF-checked kernel load: the
    // verifier accepts it only at a real field of `base`'s type, and the JIT
    // makes a faulting load yield zero. No Rust reference is created.
    unsafe { core::ptr::read_volatile(src) }
}

/// Whether bit `bit` (counted from `base`) is set, for bitfields, which the
/// verifier does not let a direct load touch.
#[inline(always)]
pub fn bit(base: *const u8, bit: u32) -> bool {
    let src = base.wrapping_add((bit / 8) as usize);
    // SAFETY: a fault-tolerant copy of one byte into a value we own.
    let byte: u8 = unsafe { bpf_probe_read_kernel(src) }.unwrap_or(0);
    byte & (1 << (bit % 8)) != 0
}

/// Copies the NUL-terminated kernel string at `src` into `dst`; returns its
/// length without the NUL (0 on fault).
#[inline(always)]
pub fn kernel_str(src: *const u8, dst: &mut [u8]) -> usize {
    // SAFETY: fault-tolerant copy bounded by `dst.len()`.
    match unsafe { bpf_probe_read_kernel_str_bytes(src, dst) } {
        Ok(s) => s.len(),
        Err(_) => 0,
    }
}

/// Copies up to `N` bytes of the current task's user memory at `src`;
/// returns how many were copied (0 on fault).
#[inline(always)]
pub fn user_bytes<const N: usize>(src: u64, len: u64, dst: &mut [u8; N]) -> usize {
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
