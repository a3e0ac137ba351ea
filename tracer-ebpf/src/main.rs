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

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
