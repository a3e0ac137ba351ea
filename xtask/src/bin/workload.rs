//! Bench workloads, each timed from inside one process:
//!
//! ```text
//! workload forkexec N   fork + exec /bin/true, N times (waiting for each)
//! workload fork N       fork + _exit, N times
//! workload signal N     kill(getpid(), SIGURG) N times (ignored by default)
//! ```
//!
//! Prints `{"workload":..,"ops":N,"ns":T}`.

use std::time::Instant;

use serde::Serialize;

/// The one line printed.
#[derive(Serialize)]
struct Output<'a> {
    workload: &'a str,
    ops: u64,
    ns: u128,
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(which), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u64>().ok()))
    else {
        eprintln!("usage: workload forkexec|fork|signal N");
        std::process::exit(2);
    };
    let start = Instant::now();
    match which.as_str() {
        "forkexec" => (0..n).for_each(|_| fork_wait(true)),
        "fork" => (0..n).for_each(|_| fork_wait(false)),
        "signal" => {
            // SAFETY: getpid/kill have no memory-safety preconditions; SIGURG's
            // default disposition is to ignore it.
            let me = unsafe { libc::getpid() };
            for _ in 0..n {
                // SAFETY: as above.
                unsafe { libc::kill(me, libc::SIGURG) };
            }
        }
        other => {
            eprintln!("unknown workload {other}");
            std::process::exit(2);
        }
    }
    let out = Output {
        workload: which,
        ops: n,
        ns: start.elapsed().as_nanos(),
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
        };
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"workload":"fork","ops":5000,"ns":123}"#
        );
    }
}
