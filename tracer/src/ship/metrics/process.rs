//! The standard `process_*` gauges of a live session, read from
//! /proc/self at each scrape.

use std::fmt;

use prometheus_client::{
    encoding::{DescriptorEncoder, NoLabelSet},
    metrics::MetricType,
};

use super::family::{family, gauge};
use crate::model::procfs;

/// This process, as the standard `process_*` metrics describe it, from
/// /proc/self (each missing where it could not be read).
#[derive(Debug, Default, PartialEq)]
pub(super) struct Process {
    cpu_seconds: Option<f64>,
    pub(super) rss_bytes: Option<u64>,
    virtual_bytes: Option<u64>,
    start_time_seconds: Option<f64>,
    open_fds: Option<u64>,
    max_fds: Option<u64>,
}

impl Process {
    pub(super) fn read() -> Process {
        let page = page_size();
        let ticks = procfs::clock_ticks_per_sec().max(1) as f64;
        let mut p = Process {
            // statm: size resident shared ... in pages.
            rss_bytes: std::fs::read_to_string("/proc/self/statm")
                .ok()
                .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
                .map(|pages| pages * page),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|d| d.count() as u64),
            max_fds: max_fds(),
            ..Process::default()
        };
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            let btime = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("btime "))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            });
            p.read_stat(&stat, ticks, btime);
        }
        p
    }

    /// Fields of /proc/self/stat after the command name (which may hold
    /// spaces and parentheses: the last `)` ends it).
    fn read_stat(&mut self, stat: &str, ticks: f64, btime: Option<u64>) {
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return;
        };
        // rest[0] is field 3 (state).
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
        if let (Some(utime), Some(stime)) = (num(11), num(12)) {
            self.cpu_seconds = Some((utime + stime) as f64 / ticks);
        }
        if let (Some(start), Some(btime)) = (num(19), btime) {
            self.start_time_seconds = Some(btime as f64 + start as f64 / ticks);
        }
        self.virtual_bytes = num(20);
    }

    pub(super) fn encode(&self, enc: &mut DescriptorEncoder<'_>) -> fmt::Result {
        if let Some(v) = self.cpu_seconds {
            let mut m = family(
                enc,
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                MetricType::Counter,
            )?;
            m.encode_counter::<NoLabelSet, f64, f64>(&v, None)?;
        }
        let whole: [(&str, &str, Option<u64>); 4] = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                self.rss_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                self.virtual_bytes,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                self.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors",
                self.max_fds,
            ),
        ];
        for (name, help, v) in whole {
            if let Some(v) = v {
                let mut m = family(enc, name, help, MetricType::Gauge)?;
                gauge(&mut m, &[], v)?;
            }
        }
        if let Some(v) = self.start_time_seconds {
            let mut m = family(
                enc,
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds",
                MetricType::Gauge,
            )?;
            gauge(&mut m, &[], v)?;
        }
        Ok(())
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if page > 0 {
        page as u64
    } else {
        4096
    }
}

fn max_fds() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the rlimit we own.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    (rc == 0 && lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_stat() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1000 \
                    123456789 500 18446744073709551615";
        let mut p = Process::default();
        p.read_stat(stat, 100.0, Some(1_700_000_000));
        assert_eq!(p.cpu_seconds, Some(3.0));
        assert_eq!(p.start_time_seconds, Some(1_700_000_010.0));
        assert_eq!(p.virtual_bytes, Some(123_456_789));
        let me = Process::read();
        assert!(me.rss_bytes.unwrap() > 0);
        assert!(me.open_fds.unwrap() > 0);
    }
}
