//! Bench workloads, each timed from inside one process:
//!
//! ```text
//! workload forkexec N   fork + exec /bin/true, N times (waiting for each)
//! workload fork N       fork + _exit, N times
//! workload signal N     kill(getpid(), SIGURG) N times (ignored by default)
//! workload rename N     prctl(PR_SET_NAME) N times, with changing names
//! ```
//!
//! Prints `{"workload":..,"ops":N,"ns":T}`. Options, for parallel storms
//! (`cargo xtask bench --parallel`):
//!
//! ```text
//! --wait-go   start only once a byte (or EOF) arrives on stdin, and also
//!             print the start and end times (CLOCK_MONOTONIC ns), so N
//!             storms start together and their wall time can be taken
//! --rate R    at most R operations a second (paced in steps of 1/1000 s)
//! ```

use std::{
    io::Read as _,
    time::{Duration, Instant},
};

use serde::Serialize;

/// The one line printed.
#[derive(Serialize)]
struct Output<'a> {
    workload: &'a str,
    ops: u64,
    ns: u128,
    /// CLOCK_MONOTONIC at the start and end (with `--wait-go`).
    #[serde(skip_serializing_if = "Option::is_none")]
    start_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_ns: Option<u64>,
}

/// CLOCK_MONOTONIC in ns, the clock every process shares.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Runs `op` `n` times, at most `rate` a second when given: in steps of a
/// millisecond's worth, sleeping (or spinning, under 100 us) until each
/// step is due.
fn paced(n: u64, rate: Option<u64>, mut op: impl FnMut()) {
    let Some(rate) = rate.filter(|&r| r > 0) else {
        (0..n).for_each(|_| op());
        return;
    };
    let step = (rate / 1000).max(1);
    let start = Instant::now();
    let mut done = 0;
    while done < n {
        let due = Duration::from_secs_f64(done as f64 / rate as f64);
        loop {
            let now = start.elapsed();
            if now >= due {
                break;
            }
            let wait = due - now;
            if wait > Duration::from_micros(100) {
                std::thread::sleep(wait - Duration::from_micros(50));
            } else {
                std::hint::spin_loop();
            }
        }
        for _ in 0..step.min(n - done) {
            op();
        }
        done += step.min(n - done);
    }
}

fn fork_wait(exec: bool) {
    // SAFETY: the child only calls async-signal-safe functions (execv, _exit)
    // before it ends; the parent waits for it.
    unsafe {
        let pid = libc::fork();
        if pid == 0 {
            if exec {
                let path = c"/bin/true".as_ptr();
                let argv = [path, std::ptr::null()];
                libc::execv(path, argv.as_ptr());
            }
            libc::_exit(0);
        }
        assert!(pid > 0, "fork failed");
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
    }
}

/// `n` round trips of one byte with a child over two pipes: two wakeups
/// each, the wakeup storm.
fn pipe_round_trips(n: u64, rate: Option<u64>) {
    let (mut there, mut back) = ([0i32; 2], [0i32; 2]);
    // SAFETY: pipe() writes two fds into each array.
    let ok = unsafe { libc::pipe(there.as_mut_ptr()) == 0 && libc::pipe(back.as_mut_ptr()) == 0 };
    assert!(ok, "pipe: {}", std::io::Error::last_os_error());
    let mut byte = [0u8; 1];
    // SAFETY: the child only reads, writes and exits (no allocation).
    let child = unsafe { libc::fork() };
    if child == 0 {
        // SAFETY: reads and writes into a byte we own, on our own fds; the
        // ends it does not use are closed so the parent's close ends it.
        unsafe {
            libc::close(there[1]);
            libc::close(back[0]);
            while libc::read(there[0], byte.as_mut_ptr().cast(), 1) == 1 {
                libc::write(back[1], byte.as_ptr().cast(), 1);
            }
            libc::_exit(0);
        }
    }
    // SAFETY: closing the child's ends in the parent.
    unsafe {
        libc::close(there[0]);
        libc::close(back[1]);
    }
    paced(n, rate, || {
        // SAFETY: as above.
        unsafe {
            libc::write(there[1], byte.as_ptr().cast(), 1);
            libc::read(back[0], byte.as_mut_ptr().cast(), 1);
        }
    });
    // SAFETY: closing our fds ends the child's loop; then it is reaped.
    unsafe {
        libc::close(there[1]);
        libc::waitpid(child, std::ptr::null_mut(), 0);
    }
}

fn usage() -> ! {
    eprintln!("usage: workload forkexec|fork|signal|rename|pipe N [--rate OPS_PER_S] [--wait-go]");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(which), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u64>().ok()))
    else {
        usage();
    };
    let (mut rate, mut wait_go) = (None, false);
    let mut rest = args[3..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--wait-go" => wait_go = true,
            "--rate" => {
                rate = Some(
                    rest.next()
                        .and_then(|r| r.parse().ok())
                        .unwrap_or_else(|| usage()),
                )
            }
            _ => usage(),
        }
    }
    if !["forkexec", "fork", "signal", "rename", "pipe"].contains(&which.as_str()) {
        eprintln!("unknown workload {which}");
        std::process::exit(2);
    }
    if wait_go {
        let _ = std::io::stdin().read(&mut [0u8]);
    }
    let start_ns = monotonic_ns();
    let start = Instant::now();
    match which.as_str() {
        "forkexec" => paced(n, rate, || fork_wait(true)),
        "fork" => paced(n, rate, || fork_wait(false)),
        "pipe" => pipe_round_trips(n, rate),
        "rename" => {
            let mut name = *b"rename-000000\0";
            let mut i = 0u64;
            paced(n, rate, || {
                let digits = format!("{:06}", i % 1_000_000);
                name[7..13].copy_from_slice(digits.as_bytes());
                i += 1;
                // SAFETY: PR_SET_NAME reads a NUL-terminated name of at most
                // 16 bytes.
                unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
            });
        }
        _ => {
            // SAFETY: getpid/kill have no memory-safety preconditions; SIGURG's
            // default disposition is to ignore it.
            let me = unsafe { libc::getpid() };
            paced(n, rate, || {
                // SAFETY: as above.
                unsafe { libc::kill(me, libc::SIGURG) };
            });
        }
    }
    let ns = start.elapsed().as_nanos();
    let out = Output {
        workload: which,
        ops: n,
        ns,
        start_ns: wait_go.then_some(start_ns),
        end_ns: wait_go.then(monotonic_ns),
    };
    println!("{}", serde_json::to_string(&out).expect("plain struct"));
}

#[cfg(test)]
mod tests {
    #[test]
    fn output_keeps_its_field_order() {
        let out = super::Output {
            workload: "fork",
            ops: 5000,
            ns: 123,
            start_ns: None,
            end_ns: None,
        };
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"workload":"fork","ops":5000,"ns":123}"#
        );
        let timed = super::Output {
            start_ns: Some(7),
            end_ns: Some(130),
            ..out
        };
        assert_eq!(
            serde_json::to_string(&timed).unwrap(),
            r#"{"workload":"fork","ops":5000,"ns":123,"start_ns":7,"end_ns":130}"#
        );
    }

    #[test]
    fn pacing_runs_every_operation_at_about_the_rate() {
        let mut n = 0u64;
        let t = std::time::Instant::now();
        super::paced(2000, Some(20_000), || n += 1);
        assert_eq!(n, 2000);
        // 2000 at 20,000/s: 100 ms, not much sooner.
        assert!(t.elapsed() >= std::time::Duration::from_millis(90));
        let mut m = 0;
        super::paced(7, None, || m += 1);
        assert_eq!(m, 7);
    }
}
