//! tracer's kernel side: one program per tracepoint (see `programs/`), a
//! ring buffer per group of CPUs for the events, and a per-CPU loss
//! counter.
#![no_std]
#![no_main]

mod emit;
mod follow;
mod globals;
mod kread;
mod nesting;
mod programs;
mod requests;
mod task;
mod throttle;
mod umh;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    // The verifier rejects unbounded loops, so a reachable panic fails the
    // load instead of hanging the kernel; this body is never run.
    loop {}
}

/// GPL-compatible on purpose: the kernel lends GPL-only helpers (such as
/// `bpf_probe_read_kernel`) to GPL-compatible programs alone. The crate's
/// Cargo license, `MIT OR GPL-2.0-only`, says the same.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
