//! Where start-up time goes: with `TRACER_STARTUP_TIMES` set, each phase
//! of getting attached prints its time since `main` began on stderr
//! (`tracer-startup: 123.4 ms <phase>`). For finding what to cut; the
//! bench measures the whole.

use std::{sync::OnceLock, time::Instant};

static START: OnceLock<Option<Instant>> = OnceLock::new();

/// Starts the clock (first thing in `main`), if asked for.
pub fn begin() {
    START.get_or_init(|| std::env::var_os("TRACER_STARTUP_TIMES").map(|_| Instant::now()));
}

/// Says that `phase` ended now.
pub fn mark(phase: &str) {
    if let Some(Some(start)) = START.get() {
        crate::say!(
            "tracer-startup: {:6.1} ms {phase}",
            start.elapsed().as_secs_f64() * 1e3
        );
    }
}

/// Says that `program` is loaded, and the CPU its loading thread used: the
/// kernel verifies a program in the thread that loads it.
pub fn verified(program: &str) {
    if let Some(Some(_)) = START.get() {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes the timespec we own.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
        let ms = t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6;
        mark(&format!("verified {program} in {ms:.1} ms of CPU"));
    }
}
