//! Kernel memory reads. Everything the programs learn about a task goes
//! through here, at offsets that came from BTF (see `tracer-common::offsets`).
//!
//! Reads use `bpf_probe_read_kernel`, which copies with fault handling: a bad
//! pointer yields an error (mapped to a zero value here), never a crash.

use aya_ebpf::helpers::{
    bpf_probe_read_kernel, bpf_probe_read_kernel_buf, bpf_probe_read_kernel_str_bytes,
    generated::bpf_probe_read_user,
};
use tracer_common::{KernelFilter, KernelOffsets};

/// Placeholder that the loader overrides with the running kernel's offsets.
/// `.rodata` is frozen at load, so the verifier sees these as constants.
#[unsafe(no_mangle)]
static OFFSETS: KernelOffsets = KernelOffsets::UNSET;

/// The offsets the loader resolved.
#[inline(always)]
pub fn offsets() -> KernelOffsets {
    // SAFETY: OFFSETS is a valid static; the volatile read stops the compiler
    // from folding in the placeholder zeros the loader replaces.
    unsafe { core::ptr::read_volatile(&OFFSETS) }
}

/// Pre-filters chosen on the command line; the loader overrides this too.
#[unsafe(no_mangle)]
static FILTER: KernelFilter = KernelFilter::ALL;

/// The in-kernel filter the loader set.
#[inline(always)]
pub fn filter() -> KernelFilter {
    // SAFETY: as for `offsets`.
    unsafe { core::ptr::read_volatile(&FILTER) }
}

/// Reads a `T` at `base + off` in kernel memory; zero if the read faults.
#[inline(always)]
pub fn field<T: Copy + Default>(base: *const u8, off: u32) -> T {
    let src = base.wrapping_add(off as usize).cast::<T>();
    // SAFETY: the helper copies with fault handling into a value it owns, so
    // any address is acceptable; no Rust reference to kernel memory is made.
    unsafe { bpf_probe_read_kernel(src) }.unwrap_or_default()
}

/// Copies `dst.len()` bytes from `base + off`; zero-fills on fault.
#[inline(always)]
pub fn bytes(base: *const u8, off: u32, dst: &mut [u8]) {
    let src = base.wrapping_add(off as usize);
    // SAFETY: as for `field`: a fault-tolerant copy into memory we own.
    if unsafe { bpf_probe_read_kernel_buf(src, dst) }.is_err() {
        dst.fill(0);
    }
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
