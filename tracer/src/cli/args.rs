//! The option groups subcommands share (`#[command(flatten)]`): how a
//! live session runs, where it ships, a log's time window, text styling
//! and the event filter, each with its conversion to a layer's options.

use std::path::PathBuf;

use super::values::{
    event_parser, kind_parser, parse_cpus_per_ring, parse_delay_ring, parse_ring_size,
    parse_run_duration,
};
use crate::{
    kernel::{loader::DEFAULT_BTF, rings::DelayRing, throttle},
    live::{follow, session::SessionOptions},
    log::{
        reader::Item,
        set::{LogSet, Step},
    },
    model::{
        classify::Kind,
        clock::{boottime_ns, WallClock},
        tasks::{MAX_ANCESTORS, OTLP_ANCESTORS},
        window::{TimeSpec, WindowSpec},
    },
    output::style::{self, ColorChoice, LayoutChoice, Surroundings},
    pipeline::filter::{EventSel, Glob, TraceFilter},
    ship::ShipOptions,
};

/// How a live session runs.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("follow_target").args(["follow", "command"])))]
pub struct SessionArgs {
    /// Kernel BTF to resolve structure offsets from.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_BTF)]
    btf: PathBuf,
    /// Ring buffer size, all rings together: a power of two of at least one
    /// page, e.g. 64K, 4M; split evenly across the rings, each a power of
    /// two of at least 64K (fewer, shared rings when it is too small).
    #[arg(long, value_name = "SIZE", default_value = "8M", value_parser = parse_ring_size)]
    ring_buffer_size: u32,
    /// CPUs sharing one ring buffer, from 1 to the number of possible CPUs
    /// (raised when more than 16 rings would be needed).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = parse_cpus_per_ring)]
    cpus_per_ring: u32,
    /// Test hook: hand on ring N's records only MS milliseconds after their
    /// time, as if its consumer lagged.
    #[arg(long, hide = true, value_name = "N:MS", value_parser = parse_delay_ring)]
    test_delay_ring: Option<DelayRing>,
    /// Stop after this long, e.g. 30s, 10m, 1h30m (default: until Ctrl-C).
    #[arg(long, value_name = "DURATION", value_parser = parse_run_duration)]
    duration: Option<std::time::Duration>,
    /// Print kernel and process statistics at the end (used by `cargo xtask bench`).
    #[arg(long, hide = true)]
    bench_stats: bool,
    /// Count the bench storm run by processes of this name in the
    /// statistics (used by `cargo xtask bench --parallel`).
    #[arg(long, hide = true, value_name = "COMM")]
    bench_comm: Option<String>,
    /// Capacity of the kernel's map of helper thread groups (tests shrink it).
    #[arg(long, hide = true, default_value_t = tracer_common::HELPER_MAP_ENTRIES, value_parser = clap::value_parser!(u32).range(1..))]
    helper_map_entries: u32,
    /// Fail if the kernel refuses any program, instead of running without
    /// its events.
    #[arg(long)]
    strict: bool,
    /// Say which read modes the kernel needs, and show a refused program's
    /// whole verifier log.
    #[arg(long, short)]
    verbose: bool,
    /// Also show execve/execveat calls that fail, with the kernel's error
    /// (`exec_failed` events). Off by default: the kernel has no tracepoint
    /// for them, so this runs a program at every system call's exit (its
    /// cost is in docs/benchmarks.md).
    #[arg(long)]
    failed_execs: bool,
    /// Time each kernel thread kthreadd makes, from its request to its
    /// first run (`ran 35 µs after the request`). Off by default: it runs a
    /// program at every wakeup in the system (its cost is in
    /// docs/benchmarks.md).
    #[arg(long)]
    kthread_times: bool,
    /// Test hook: load these programs in a form the verifier refuses
    /// (events: fork, exec, exit, signal_generate, signal_deliver, rename).
    #[arg(long, hide = true, value_name = "EVENT,...", value_delimiter = ',')]
    refuse_program: Vec<EventSel>,
    /// Follow a running process: only its events and its descendants'
    /// (present and future, threads and io_uring workers included) are
    /// traced, the rest dropped in kernel; stops when PID exits, with its
    /// status.
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(u32).range(1..))]
    pub(super) follow: Option<u32>,
    /// With --follow or a command: go on until every followed task has
    /// exited, not only PID or CMD (daemons they leave behind included).
    #[arg(long, requires = "follow_target")]
    keep_following: bool,
    /// Capacity of the kernel's map of followed thread groups.
    #[arg(long, hide = true, default_value_t = tracer_common::FOLLOW_MAP_ENTRIES, value_parser = clap::value_parser!(u32).range(1..))]
    follow_map_entries: u32,
    /// Per-source throttling: events of each kind each real uid may record
    /// per second on each CPU (forks, execs, exits, renames, failed execs,
    /// signals between user tasks), e.g. 1000/s; past it they are counted
    /// in `throttled` records, not recorded. `on` for the default (1000/s),
    /// `off` to record everything. Default: on for `record`, off for
    /// `trace`. Helpers, kernel threads and signals to kernel-side tasks
    /// are never throttled.
    #[arg(long, value_name = "RATE|on|off", value_parser = throttle::parse_rate)]
    throttle: Option<throttle::Rate>,
    /// Budget of all sources together, per second on each CPU (default
    /// 4000/s, or --throttle's rate if higher; `off` for none).
    #[arg(long, value_name = "RATE|off", value_parser = throttle::parse_rate)]
    throttle_total: Option<throttle::Rate>,
    /// Start CMD once tracing is attached and follow it and every
    /// descendant (as --follow does); stop when it exits, after draining,
    /// and exit with its status (128+N for a death by signal N). CMD
    /// shares tracer's terminal: its output interleaves with `trace`'s.
    #[arg(last = true, value_name = "CMD")]
    pub(super) command: Vec<std::ffi::OsString>,
}

impl SessionArgs {
    /// `throttle_by_default`: whether the command throttles without
    /// `--throttle` (`record` does).
    pub(super) fn options(self, filter: &TraceFilter, throttle_by_default: bool) -> SessionOptions {
        SessionOptions {
            throttle: throttle::config(self.throttle, self.throttle_total, throttle_by_default),
            btf: self.btf,
            ring_bytes: self.ring_buffer_size,
            cpus_per_ring: self.cpus_per_ring,
            delay_ring: self.test_delay_ring,
            filter: filter.kernel(),
            duration: self.duration,
            bench_stats: self.bench_stats,
            bench_comm: self.bench_comm,
            helper_map_entries: self.helper_map_entries,
            strict: self.strict,
            verbose: self.verbose,
            refuse_mask: self
                .refuse_program
                .iter()
                .fold(0, |mask, sel| mask | sel.mask()),
            failed_execs: self.failed_execs,
            kthread_times: self.kthread_times,
            proc_root: PathBuf::from("/proc"),
            announce: true,
            follow: {
                let target = match (self.follow, self.command.is_empty()) {
                    (Some(pid), _) => Some(follow::Target::Pid(pid)),
                    (None, false) => Some(follow::Target::Command(self.command)),
                    (None, true) => None,
                };
                target.map(|t| follow::FollowOptions {
                    map_entries: self.follow_map_entries,
                    ..follow::FollowOptions::new(t, self.keep_following)
                })
            },
        }
    }
}

/// Where a live session also sends what it sees.
#[derive(clap::Args, Debug)]
pub struct ShipArgs {
    /// Also send every shown event as an OpenTelemetry log record to this
    /// OTLP/HTTP collector, e.g. http://127.0.0.1:4318 (`/v1/logs` is
    /// added; plain HTTP).
    #[arg(long, value_name = "URL")]
    pub(super) otlp: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics, e.g.
    /// 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
}

impl ShipArgs {
    pub(super) fn options(self) -> ShipOptions {
        ShipOptions {
            otlp: self.otlp,
            metrics: self.metrics,
        }
    }
}

/// A time window of a log.
#[derive(clap::Args, Debug)]
pub struct WindowArgs {
    /// Only events at or after TIME: an RFC 3339 time
    /// (2026-11-27T21:36:30Z), a local date and time (2026-11-27 21:36:30),
    /// a local time of day on the log's first day (21:36:30), an offset
    /// from the log's start (+90s, +10m, +1h30m), or a length of time
    /// before the log's end (-10m: the last ten minutes; for a log still
    /// being written, before now). The task table still reads the whole
    /// log.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    since: Option<TimeSpec>,
    /// Only events at or before TIME (the same forms as --since).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    until: Option<TimeSpec>,
}

impl WindowArgs {
    pub(super) fn spec(&self) -> WindowSpec {
        WindowSpec {
            since: self.since.clone(),
            until: self.until.clone(),
        }
    }

    /// Makes times before the log's end (`--since -10m`) times of day:
    /// the end is the last event or end marker of `files`, or now where
    /// the newest file is still being written (no end marker yet, and
    /// recorded in this boot). Logs that cannot be read are left for the
    /// command to report.
    pub(super) fn anchor(&mut self, files: &[PathBuf]) {
        let spec = self.spec();
        if !spec.needs_end() {
            return;
        }
        if let Some(end) = log_end(files) {
            let anchored = spec.anchored(end);
            self.since = anchored.since;
            self.until = anchored.until;
        }
    }

    /// Whether the window ends after it starts, in the logs `files` (logs
    /// that cannot be opened are the command's to report).
    pub(super) fn check(&self, files: &[PathBuf]) -> Result<(), String> {
        if self.since.is_none() || self.until.is_none() {
            return Ok(());
        }
        match LogSet::open(files) {
            Ok((header, _)) => self
                .spec()
                .resolve(header.wall_clock(), header.started_boot_ns)
                .map(|_| ()),
            Err(_) => Ok(()),
        }
    }
}

/// How many ancestors each event names.
#[derive(clap::Args, Debug)]
pub struct AncestryArgs {
    /// With each event, its task's parent, grandparent, ... up to N
    /// generations (task id, pid, comm, kind), in JSON, OTLP, Perfetto
    /// and Parquet (not in text). Default 0, and 4 for OTLP and Parquet.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=MAX_ANCESTORS as i64))]
    ancestors: Option<u8>,
}

impl AncestryArgs {
    /// The depth asked for; where none was, 4 for a stream that goes to an
    /// OTLP collector or into Parquet (`otlp`), else 0.
    pub(super) fn depth(&self, otlp: bool) -> usize {
        match self.ancestors {
            Some(n) => usize::from(n),
            None if otlp => OTLP_ANCESTORS,
            None => 0,
        }
    }
}

/// How event text is shown.
#[derive(clap::Args, Debug)]
pub struct TextArgs {
    /// Colour kinds and failures: auto (on a terminal whose TERM is not
    /// dumb, unless NO_COLOR is set), always, never.
    #[arg(long, alias = "colour", value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// The full layout, even on a terminal narrower than it.
    #[arg(long, conflicts_with = "narrow")]
    wide: bool,
    /// The compact layout (fits 80 columns), even where the full one fits
    /// or stdout is not a terminal.
    #[arg(long)]
    narrow: bool,
    /// Say every task's user and cgroup on every line (by default only
    /// what sets a task apart: a user other than root, a cgroup other than
    /// the root one and tracer's own, a container, foreign namespaces).
    #[arg(long)]
    context: bool,
}

impl TextArgs {
    /// Sets the style of event text on stdout for this command.
    pub(super) fn apply(&self) {
        let layout = match (self.wide, self.narrow) {
            (true, _) => LayoutChoice::Wide,
            (_, true) => LayoutChoice::Narrow,
            _ => LayoutChoice::Auto,
        };
        let mut style = Surroundings::of_stdout().style(self.color, layout);
        style.all_context = self.context;
        style::set_stdout(style);
    }
}

/// Which events a live session shows.
#[derive(clap::Args, Debug)]
pub struct FilterArgs {
    /// Only events concerning tasks of these kinds (`tracer trace --help`
    /// has a legend of their short names).
    #[arg(long, value_delimiter = ',', value_name = "KIND,...", value_parser = kind_parser())]
    kind: Vec<Kind>,
    /// Only events concerning these pids or tgids.
    #[arg(long, value_delimiter = ',', value_name = "PID,...")]
    pid: Vec<u32>,
    /// Only events concerning tasks whose comm matches this glob (`*`, `?`).
    #[arg(long, value_name = "GLOB")]
    comm: Vec<Glob>,
    /// Only these events (`signal`: both signal events; `exec_failed` needs
    /// --failed-execs).
    #[arg(long, value_delimiter = ',', value_name = "EVENT,...", value_parser = event_parser())]
    event: Vec<EventSel>,
    /// Also show signals between ordinary user processes (by default only
    /// signals to kernel-side tasks are shown; the rest are dropped in kernel).
    #[arg(long)]
    all_signals: bool,
    /// The user-mode helper story: helper requests, spawns, execs (and
    /// failed ones), children, signals and deaths (same as --kind
    /// umh,umh_child --event helper_request,fork,exec,exec_failed,exit,signal).
    #[arg(long, conflicts_with_all = ["kind", "event"])]
    umh: bool,
    /// Processes only: leave out threads' forks, exits, renames and signal
    /// deliveries (io_uring and vhost workers stay), as execsnoop shows.
    #[arg(long)]
    no_threads: bool,
}

impl FilterArgs {
    /// A filter `record` cannot apply: it needs the task table (kinds,
    /// comms, the helper story) or more than the kernel's one pid, so it
    /// applies when the log is read.
    /// (what, its flag).
    pub(super) fn replay_only(&self) -> Option<(&'static str, &'static str)> {
        if !self.kind.is_empty() {
            Some(("--kind", "--kind"))
        } else if !self.comm.is_empty() {
            Some(("--comm", "--comm"))
        } else if self.umh {
            Some(("--umh", "--umh"))
        } else if self.pid.len() > 1 {
            Some(("--pid with several pids", "--pid"))
        } else if self.no_threads {
            Some(("--no-threads", "--no-threads"))
        } else {
            None
        }
    }

    pub(super) fn into_filter(self) -> TraceFilter {
        let (kinds, events) = if self.umh {
            let events = [
                "helper_request",
                "fork",
                "exec",
                "exec_failed",
                "exit",
                "signal",
            ]
            .iter()
            .map(|e| e.parse().expect("known event names"))
            .collect();
            (vec![Kind::Helper, Kind::HelperChild], events)
        } else {
            (self.kind, self.event)
        };
        TraceFilter {
            kinds,
            pids: self.pid,
            comms: self.comm,
            events,
            all_signals: self.all_signals,
            no_threads: self.no_threads,
            ..TraceFilter::default()
        }
    }
}

/// The wall-clock end of the logs `files` name (see [`WindowArgs::anchor`]),
/// read through once; `None` when they cannot be opened.
fn log_end(files: &[PathBuf]) -> Option<i128> {
    let (header, mut set) = LogSet::open(files).ok()?;
    let boot_ns_at = std::mem::offset_of!(tracer_common::Header, boot_ns);
    let (mut last, mut ended) = (header.started_boot_ns, false);
    while let Some(step) = set.next() {
        match step {
            Ok(Step::Item(Item::Event(raw))) => {
                if let Some(b) = raw.get(boot_ns_at..boot_ns_at + 8) {
                    let t = u64::from_le_bytes(b.try_into().expect("8 bytes"));
                    last = last.max(t);
                }
            }
            Ok(Step::Item(Item::Lost { boot_ns, .. })) => last = last.max(boot_ns),
            Ok(Step::Item(Item::End { boot_ns })) => {
                last = last.max(boot_ns);
                ended = true;
            }
            // Only the newest file's end marker says the recording stopped.
            Ok(Step::Boundary { .. }) => ended = false,
            Err(_) => {}
        }
    }
    let this_boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .is_ok_and(|id| id.trim() == header.boot_id);
    if !ended && this_boot {
        return Some(WallClock::now().wall_ns(boottime_ns()));
    }
    Some(header.wall_clock().wall_ns(last))
}

/// `tracer top`'s `/` line: `trace`'s filter options (`--kind umh --comm
/// 'jbd2*'`), or, with no option in it, comm globs. An error is clap's
/// first line.
pub fn parse_filter_line(line: &str) -> Result<TraceFilter, String> {
    #[derive(clap::Parser)]
    #[command(no_binary_name = true)]
    struct Line {
        #[command(flatten)]
        filter: FilterArgs,
    }
    let words = split_words(line);
    let words: Vec<String> = if words.iter().any(|w| w.starts_with('-')) {
        words
    } else {
        words
            .into_iter()
            .flat_map(|w| ["--comm".to_string(), w])
            .collect()
    };
    <Line as clap::Parser>::try_parse_from(words)
        .map(|l| l.filter.into_filter())
        .map_err(|e| {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad filter");
            first.trim_start_matches("error: ").to_string()
        })
}

/// Words split at blanks; '...' and "..." keep blanks.
fn split_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (None, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_line_is_traces_options_or_globs() {
        let f = parse_filter_line("--kind umh,kworker --comm 'jbd2 *'").unwrap();
        assert_eq!(f.kinds, vec![Kind::Helper, Kind::Kworker]);
        assert!(f.comms[0].matches("jbd2 x"));
        let f = parse_filter_line("jbd2* kswapd?").unwrap();
        assert_eq!(f.comms.len(), 2);
        assert!(f.comms[0].matches("jbd2/loop0-8"));
        let why = parse_filter_line("--kind nope").unwrap_err();
        assert!(why.contains("'nope'") && why.contains("--kind"), "{why}");
    }
}
