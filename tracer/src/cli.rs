//! Command-line interface.

use std::{ffi::OsString, path::PathBuf};

use anyhow::{bail, Context as _, Result};
use clap::{error::ErrorKind, CommandFactory as _, Parser, Subcommand};

use crate::{
    commands::{bench_log, bench_table, export, generate, ps, record, replay, report, trace, tree},
    kernel::{follow, loader::DEFAULT_BTF, rings::DelayRing, session::SessionOptions, throttle},
    model::{
        classify::Kind,
        window::{TimeSpec, WindowSpec},
    },
    output::{
        style::{self, ColorChoice, LayoutChoice, Surroundings},
        Format,
    },
    pipeline::{
        filter::{EventSel, Glob, TraceFilter},
        LostNotices,
    },
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
    /// Stop after this long, e.g. 30s, 10m, 1h (default: until Ctrl-C).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
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
    /// cost is in the README's bench section).
    #[arg(long)]
    failed_execs: bool,
    /// Test hook: load these programs in a form the verifier refuses
    /// (events: fork, exec, exit, signal_generate, signal_deliver, rename).
    #[arg(long, hide = true, value_name = "EVENT,...", value_delimiter = ',')]
    refuse_program: Vec<EventSel>,
    /// Follow a running process: only its events and its descendants'
    /// (present and future, threads and io_uring workers included) are
    /// traced, the rest dropped in kernel; stops when PID exits, with its
    /// status.
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(u32).range(1..))]
    follow: Option<u32>,
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
    command: Vec<std::ffi::OsString>,
}

impl SessionArgs {
    /// `throttle_by_default`: whether the command throttles without
    /// `--throttle` (`record` does).
    fn options(self, filter: &TraceFilter, throttle_by_default: bool) -> SessionOptions {
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
    otlp: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics, e.g.
    /// 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
}

impl ShipArgs {
    fn options(self) -> ShipOptions {
        ShipOptions {
            otlp: self.otlp,
            metrics: self.metrics,
        }
    }
}

/// Live Linux task tracer: kernel threads, user-mode helpers and the signals
/// they get, from eBPF.
#[derive(Parser, Debug)]
#[command(name = "tracer", version = env!("TRACER_VERSION"))]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the command line, refusing (as a usage error, status 2)
    /// what clap's rules cannot say: `record` filters that only a reader
    /// can apply, which it would otherwise accept and ignore.
    pub fn parse_checked() -> Cli {
        let args: Vec<OsString> = std::env::args_os().collect();
        let cli = Cli::parse_from(&args);
        if let Err(e) = cli.check_values(&args) {
            e.exit();
        }
        if let Command::Record { filter, .. } = &cli.command {
            if let Some((what, flag)) = filter.replay_only() {
                Cli::command()
                    .error(
                        ErrorKind::ArgumentConflict,
                        format!(
                            "record cannot apply {what}: it keeps every task's fork, exec and \
                             exit so lineage stays whole, and such filters apply when the log \
                             is read (`tracer replay FILE {flag} ...`); record applies --event, \
                             one --pid and --all-signals in the kernel"
                        ),
                    )
                    .exit();
            }
        }
        if let Err(why) = record_sizes(&cli.command) {
            Cli::command().error(ErrorKind::ValueValidation, why).exit();
        }
        // A window that ends before it starts is a usage error; where its
        // ends are of different forms (an offset, a time of day, a date),
        // only the log's header can order them.
        if let Command::Replay { files, window, .. }
        | Command::Report { files, window, .. }
        | Command::Export { files, window, .. } = &cli.command
        {
            if let Err(why) = window.check(files) {
                Cli::command().error(ErrorKind::ValueValidation, why).exit();
            }
        }
        cli
    }

    /// Refuses, as a usage error, what clap's rules cannot say: `--` with
    /// no command after it, following tracer itself, a collector URL that
    /// cannot be used; warns that following pid 1 follows every process.
    /// `args` is the command line the `Cli` was parsed from.
    fn check_values(&self, args: &[OsString]) -> Result<(), clap::Error> {
        let refuse = |why: String| Err(Cli::command().error(ErrorKind::ValueValidation, why));
        let (session, otlp) = match &self.command {
            Command::Trace { session, ship, .. } | Command::Record { session, ship, .. } => {
                (Some(session), ship.otlp.as_deref())
            }
            Command::Export { otlp, .. } => (None, otlp.as_deref()),
            _ => (None, None),
        };
        if let Some(url) = otlp {
            if let Err(e) = crate::ship::otlp::Target::parse(url) {
                return refuse(format!("{e:#}"));
            }
        }
        let Some(session) = session else {
            return Ok(());
        };
        // clap takes `--` alone as an empty CMD, the same as no `--`.
        if session.command.is_empty() && args.iter().skip(1).any(|a| a == "--") {
            return refuse(
                "`--` must be followed by the command to run (`-- CMD [ARGS...]`); without a \
                 command, leave `--` out to trace every task"
                    .into(),
            );
        }
        match session.follow {
            Some(pid) if pid == std::process::id() => refuse(format!(
                "--follow {pid} is tracer's own pid, and tracer never traces itself; follow \
                 another process, or start one with `-- CMD`"
            )),
            Some(1) => {
                crate::say!(
                    "tracer: warning: --follow 1 follows init, the ancestor of every process: \
                     it traces every process (kernel threads aside), as no --follow does"
                );
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// `record --dir`'s sizes agree: the directory holds the file being
/// written and one finished file at least.
fn record_sizes(command: &Command) -> Result<(), String> {
    if let Command::Record {
        dir: Some(_),
        rotate_size,
        max_total: Some(max_total),
        ..
    } = command
    {
        let size = rotate_size.unwrap_or(record::DEFAULT_ROTATE_SIZE);
        if *max_total < size.saturating_mul(2) {
            return Err(format!(
                "--max-total ({max_total} bytes) must be at least twice --rotate-size ({size} \
                 bytes): the directory holds the file being written and one finished file at \
                 least"
            ));
        }
    }
    Ok(())
}

/// A time window of a log.
#[derive(clap::Args, Debug)]
pub struct WindowArgs {
    /// Only events at or after TIME: an RFC 3339 time
    /// (2026-11-27T21:36:30Z), a local date and time (2026-11-27 21:36:30),
    /// a local time of day on the log's first day (21:36:30), or an offset
    /// from the log's start (+90s, +10m, +1h30m). The task table still
    /// reads the whole log.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    since: Option<TimeSpec>,
    /// Only events at or before TIME (the same forms as --since).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    until: Option<TimeSpec>,
}

impl WindowArgs {
    fn spec(&self) -> WindowSpec {
        WindowSpec {
            since: self.since.clone(),
            until: self.until.clone(),
        }
    }

    /// Whether the window ends after it starts, in the logs `files` (logs
    /// that cannot be opened are the command's to report).
    fn check(&self, files: &[PathBuf]) -> Result<(), String> {
        if self.since.is_none() || self.until.is_none() {
            return Ok(());
        }
        match crate::log::set::LogSet::open(files) {
            Ok((header, _)) => self
                .spec()
                .resolve(header.wall_clock(), header.started_boot_ns)
                .map(|_| ()),
            Err(_) => Ok(()),
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
}

impl TextArgs {
    /// Sets the style of event text on stdout for this command.
    fn apply(&self) {
        let layout = match (self.wide, self.narrow) {
            (true, _) => LayoutChoice::Wide,
            (_, true) => LayoutChoice::Narrow,
            _ => LayoutChoice::Auto,
        };
        style::set_stdout(Surroundings::of_stdout().style(self.color, layout));
    }
}

/// Which events a live session shows.
#[derive(clap::Args, Debug)]
pub struct FilterArgs {
    /// Only events concerning tasks of these kinds (idle, init, kthreadd,
    /// kthread, kworker, io_worker, user_worker, umh, umh_child, user).
    #[arg(long, value_delimiter = ',', value_name = "KIND,...")]
    kind: Vec<Kind>,
    /// Only events concerning these pids or tgids.
    #[arg(long, value_delimiter = ',', value_name = "PID,...")]
    pid: Vec<u32>,
    /// Only events concerning tasks whose comm matches this glob (`*`, `?`).
    #[arg(long, value_name = "GLOB")]
    comm: Vec<Glob>,
    /// Only these events: fork, exec, exit, signal (both signal events),
    /// signal_generate, signal_deliver, rename.
    #[arg(long, value_delimiter = ',', value_name = "EVENT,...")]
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
}

impl FilterArgs {
    /// A filter `record` cannot apply: it needs the task table (kinds,
    /// comms, the helper story) or more than the kernel's one pid, so it
    /// applies when the log is read.
    /// (what, its flag).
    fn replay_only(&self) -> Option<(&'static str, &'static str)> {
        if !self.kind.is_empty() {
            Some(("--kind", "--kind"))
        } else if !self.comm.is_empty() {
            Some(("--comm", "--comm"))
        } else if self.umh {
            Some(("--umh", "--umh"))
        } else if self.pid.len() > 1 {
            Some(("--pid with several pids", "--pid"))
        } else {
            None
        }
    }

    fn into_filter(self) -> TraceFilter {
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
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print fork, exec, exit, rename and signal events live, with the kind
    /// of each task.
    Trace {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        text: TextArgs,
        #[command(flatten)]
        filter: FilterArgs,
        #[command(flatten)]
        ship: ShipArgs,
        #[command(flatten)]
        session: SessionArgs,
    },
    /// Record events to a log file for later replay, report or export.
    #[command(group(clap::ArgGroup::new("to").required(true).args(["output", "dir"])))]
    Record {
        /// The log to create (mode 0600; an existing file is never
        /// overwritten). SIGHUP finishes it and creates FILE afresh (after
        /// logrotate moved it away).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// Write rotated logs into DIR (created if missing), named
        /// tracer-<UTC start>-<sequence>.log; a new file every
        /// --rotate-size (default 256M) or --rotate-every, and on SIGHUP.
        #[arg(long, value_name = "DIR", conflicts_with = "output")]
        dir: Option<PathBuf>,
        /// With --dir: start a new file once the current one reaches SIZE
        /// (e.g. 512K, 256M, 1G; default 256M; at least 48K).
        #[arg(long, value_name = "SIZE", value_parser = parse_log_size, conflicts_with = "output")]
        rotate_size: Option<u64>,
        /// With --dir: start a new file once the current one is DURATION
        /// old (e.g. 90s, 30m, 1h; at least 1s).
        #[arg(long, value_name = "DURATION", value_parser = parse_rotate_every, conflicts_with = "output")]
        rotate_every: Option<std::time::Duration>,
        /// With --dir: keep at most N logs there, deleting the oldest (the
        /// one being written is never deleted).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), conflicts_with = "output")]
        keep: Option<u64>,
        /// With --dir: delete the oldest logs there while all of them take
        /// more than SIZE (never the one being written).
        #[arg(long, value_name = "SIZE", value_parser = parse_size, conflicts_with = "output")]
        max_total: Option<u64>,
        /// With --dir: zstd-compress each finished log (.log.zst), in the
        /// background; the one being written stays plain.
        #[arg(long, conflicts_with = "output")]
        compress: bool,
        /// With --dir: record even where DIR or a directory above it lets
        /// other users plant, take or remove logs (refused otherwise; see
        /// "Recording for weeks" in the README).
        #[arg(long, conflicts_with = "output")]
        allow_unsafe_dir: bool,
        /// With -o: stop once the log reaches this size, e.g. 100M, 2G (at
        /// least 48K; with --dir, --max-total bounds the space instead).
        #[arg(long, value_name = "SIZE", value_parser = parse_log_size, conflicts_with = "dir")]
        max_size: Option<u64>,
        #[command(flatten)]
        filter: FilterArgs,
        #[command(flatten)]
        ship: ShipArgs,
        #[command(flatten)]
        session: SessionArgs,
    },
    /// Render a recorded log exactly as live `trace` would have.
    Replay {
        /// Logs, or directories of rotated logs (`record --dir`), read in
        /// time order as one stream; `.log.zst` files are read as they are.
        #[arg(value_name = "LOG", required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// In a directory, also read logs owned by another user than the
        /// directory's owner (skipped with a warning otherwise: they may
        /// have been planted).
        #[arg(long)]
        include_foreign: bool,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        text: TextArgs,
        #[command(flatten)]
        window: WindowArgs,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Summarize a recorded log: tasks, kthreads, helpers, signals, losses.
    Report {
        /// Logs, or directories of rotated logs (`record --dir`), read in
        /// time order as one stream; `.log.zst` files are read as they are.
        #[arg(value_name = "LOG", required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// In a directory, also read logs owned by another user than the
        /// directory's owner (skipped with a warning otherwise: they may
        /// have been planted).
        #[arg(long)]
        include_foreign: bool,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        window: WindowArgs,
    },
    /// Every event of a recorded log: as JSON Lines (for jq, pandas and
    /// pipelines), to an OpenTelemetry collector, or as a Perfetto timeline.
    Export {
        /// Logs, or directories of rotated logs (`record --dir`), read in
        /// time order as one stream; `.log.zst` files are read as they are.
        #[arg(value_name = "LOG", required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// In a directory, also read logs owned by another user than the
        /// directory's owner (skipped with a warning otherwise: they may
        /// have been planted).
        #[arg(long)]
        include_foreign: bool,
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// The OTLP/HTTP collector for `--format otlp`, e.g.
        /// http://127.0.0.1:4318.
        #[arg(long, value_name = "URL", required_if_eq("format", "otlp"))]
        otlp: Option<String>,
        /// Write to FILE (created; never overwritten) instead of stdout.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        window: WindowArgs,
    },
    /// List every task with its kind and each kernel-thread test (from
    /// /proc; no BPF needed). `!` marks tasks the tests disagree on.
    Ps {
        /// Only tasks of these kinds.
        #[arg(long, value_delimiter = ',', value_name = "KIND,...")]
        kind: Vec<Kind>,
        /// Only these pids (or the threads of these tgids).
        #[arg(long, value_delimiter = ',', value_name = "PID,...")]
        pid: Vec<u32>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// procfs mount to read.
        #[arg(long, value_name = "DIR", default_value = "/proc", hide = true)]
        proc_root: PathBuf,
        /// Also trace (BPF, root) for SECS (0 to 3600) after the snapshot:
        /// tasks born meanwhile are merged in, with the task that created
        /// them.
        #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "0.3", value_parser = parse_live_secs)]
        live: Option<f64>,
        /// Kernel BTF, for --live.
        #[arg(long, value_name = "FILE", default_value = DEFAULT_BTF)]
        btf: PathBuf,
        /// Leave out the notes on what /proc cannot tell.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Peak RSS of the task table with N synthetic tasks (for the bench).
    #[command(hide = true)]
    BenchTable { tasks: u32 },
    /// Write a hostile input (resync, garbage, argv, cycle, sparse) of about MB
    /// megabytes (for the bench and the tests).
    #[command(hide = true)]
    BenchLog {
        kind: String,
        file: PathBuf,
        mb: u64,
    },
    /// Write the man pages or shell completions into DIR (for packaging).
    #[command(hide = true)]
    Generate {
        #[arg(value_enum)]
        what: generate::Generated,
        dir: PathBuf,
    },
    /// Show the lineage tree from PID 0, or from PID, with kinds.
    Tree {
        /// Root of the tree (default: 0, the idle task).
        #[arg(default_value_t = 0)]
        pid: u32,
        /// Output format: text, or one nested JSON object.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// procfs mount to read.
        #[arg(long, value_name = "DIR", default_value = "/proc", hide = true)]
        proc_root: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// JSON Lines: the same objects as `trace --format json`, plus `lost` lines.
    Jsonl,
    /// OpenTelemetry logs, sent to the collector `--otlp` names.
    Otlp,
    /// A Perfetto trace (protobuf TrackEvents) for ui.perfetto.dev; binary,
    /// so it goes to `-o FILE` or a pipe, never a terminal.
    Perfetto,
    /// The log's counts in the Prometheus text format, as `--metrics`
    /// serves them live (for node_exporter's textfile collector or a
    /// Pushgateway).
    Prometheus,
}

/// `4096`, `64K`, `100M`, `2G`: a byte count (public for the fuzz
/// targets, as are the other parsers of option values).
pub fn parse_size(s: &str) -> Result<u64> {
    let (digits, mult) = match s.trim().to_ascii_uppercase() {
        t if t.ends_with('K') => (t[..t.len() - 1].to_string(), 1u64 << 10),
        t if t.ends_with('M') => (t[..t.len() - 1].to_string(), 1 << 20),
        t if t.ends_with('G') => (t[..t.len() - 1].to_string(), 1 << 30),
        t => (t, 1),
    };
    match digits.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n.saturating_mul(mult)),
        _ => bail!("`{s}` is not a size (examples: 4096, 64K, 100M, 2G)"),
    }
}

/// `500ms`, `30s`, `10m`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let secs_per = match unit {
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => bail!("`{s}`: unknown unit `{unit}` (use ms, s, m or h)"),
    };
    match num.parse::<f64>() {
        Ok(n) if n > 0.0 && (n * secs_per) < 1e9 => {
            Ok(std::time::Duration::from_secs_f64(n * secs_per))
        }
        _ => bail!("`{s}` is not a duration (examples: 30s, 10m, 1h)"),
    }
}

/// `4096`, `64K`, `4M`: a power-of-two byte count of at least one page.
pub fn parse_ring_size(s: &str) -> Result<u32> {
    let bytes = parse_size(s)
        .map_err(|_| anyhow::anyhow!("`{s}` is not a size (examples: 4096, 64K, 4M)"))?;
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    if !bytes.is_power_of_two() || bytes < page || bytes > 1 << 30 {
        bail!("the ring buffer size must be a power of two from {page} bytes to 1G, not {s}");
    }
    Ok(bytes as u32)
}

/// The smallest log `--rotate-size` and `--max-size` take: a header and
/// some events (the package's boot test rotates at 64K).
pub const MIN_LOG_SIZE: u64 = 48 << 10;

/// A size of a log file: [`parse_size`], at least [`MIN_LOG_SIZE`].
pub fn parse_log_size(s: &str) -> Result<u64> {
    let bytes = parse_size(s)?;
    if bytes < MIN_LOG_SIZE {
        bail!(
            "`{s}` is too small for a log: at least {}K",
            MIN_LOG_SIZE >> 10
        );
    }
    Ok(bytes)
}

/// `--rotate-every`: [`parse_duration`], at least a second.
fn parse_rotate_every(s: &str) -> Result<std::time::Duration> {
    let every = parse_duration(s)?;
    if every < std::time::Duration::from_secs(1) {
        bail!("`{s}` is too short to start a new log each time: at least 1s");
    }
    Ok(every)
}

/// `--cpus-per-ring`: from 1 to the number of possible CPUs.
fn parse_cpus_per_ring(s: &str) -> Result<u32> {
    let cpus = crate::kernel::rings::possible_cpus();
    match s.trim().parse::<u32>() {
        Ok(n) if (1..=cpus).contains(&n) => Ok(n),
        _ => bail!("`{s}` is not a number of CPUs from 1 to {cpus} (this machine's possible CPUs)"),
    }
}

/// `ps --live`: seconds, from 0 to 3600.
fn parse_live_secs(s: &str) -> Result<f64> {
    match s.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && (0.0..=3600.0).contains(&secs) => Ok(secs),
        _ => bail!("`{s}` is not a number of seconds from 0 to 3600"),
    }
}

/// `1:10`: ring 1, 10 ms late.
fn parse_delay_ring(s: &str) -> Result<DelayRing> {
    let parsed = s
        .split_once(':')
        .and_then(|(ring, ms)| Some((ring.parse().ok()?, ms.parse().ok()?)));
    match parsed {
        Some((ring, ms)) => Ok(DelayRing {
            ring,
            by: std::time::Duration::from_millis(ms),
        }),
        None => bail!("`{s}` is not RING:MS (e.g. 1:10)"),
    }
}

pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Trace {
            format,
            text,
            filter,
            ship,
            session,
        } => {
            text.apply();
            let filter = filter.into_filter();
            trace::run(trace::TraceOptions {
                session: session.options(&filter, false),
                format,
                filter,
                ship: ship.options(),
            })
            .await
        }
        Command::Record {
            output,
            dir,
            rotate_size,
            rotate_every,
            keep,
            max_total,
            compress,
            allow_unsafe_dir,
            max_size,
            filter,
            ship,
            session,
        } => {
            let filter = filter.into_filter();
            let to = match (output, dir) {
                (Some(path), _) => record::Target::File(path),
                (None, Some(dir)) => record::Target::Dir(record::Rotation {
                    dir,
                    size: rotate_size.unwrap_or(record::DEFAULT_ROTATE_SIZE),
                    every: rotate_every,
                    retention: crate::log::rotate::Retention {
                        keep: keep.map(|k| usize::try_from(k).unwrap_or(usize::MAX)),
                        max_total,
                    },
                    compress,
                    allow_unsafe: allow_unsafe_dir,
                }),
                (None, None) => bail!("record needs -o FILE or --dir DIR"),
            };
            record::run(record::RecordOptions {
                session: session.options(&filter, true),
                to,
                max_size,
                ship: ship.options(),
            })
            .await
        }
        Command::Replay {
            files,
            include_foreign,
            format,
            text,
            window,
            filter,
        } => {
            crate::log::set::include_foreign(include_foreign);
            text.apply();
            replay::run(
                &files,
                format,
                filter.into_filter(),
                &window.spec(),
                LostNotices::Stderr,
            )
        }
        Command::Report {
            files,
            include_foreign,
            format,
            window,
        } => {
            crate::log::set::include_foreign(include_foreign);
            report::run(&files, format, &window.spec())
        }
        Command::Export {
            files,
            include_foreign,
            format,
            otlp,
            output,
            window,
        } => {
            crate::log::set::include_foreign(include_foreign);
            export::run(export::ExportOptions {
                files,
                format: match format {
                    ExportFormat::Jsonl => export::To::Jsonl,
                    ExportFormat::Otlp => {
                        export::To::Otlp(otlp.context("--format otlp needs --otlp URL")?)
                    }
                    ExportFormat::Perfetto => export::To::Perfetto,
                    ExportFormat::Prometheus => export::To::Prometheus,
                },
                output,
                window: window.spec(),
            })
        }
        Command::Ps {
            kind,
            pid,
            format,
            proc_root,
            live,
            btf,
            quiet,
        } => {
            // parse_live_secs checked the range.
            let live = live.map(|secs| (std::time::Duration::from_secs_f64(secs), btf));
            ps::run(ps::PsOptions {
                kinds: kind,
                pids: pid,
                format,
                proc_root,
                live,
                quiet,
            })
            .await
        }
        Command::BenchTable { tasks } => bench_table::run(tasks),
        Command::BenchLog { kind, file, mb } => bench_log::run(&kind, &file, mb),
        Command::Generate { what, dir } => generate::run(what, &dir),
        Command::Tree {
            pid,
            format,
            proc_root,
        } => tree::run(tree::TreeOptions {
            root: pid,
            proc_root,
            format,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_takes_a_file_or_a_directory_with_rotation_options() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["tracer", "record"], args].concat());
        let ok = parse(&[
            "--dir",
            "d",
            "--rotate-size",
            "512K",
            "--rotate-every",
            "1h",
        ]);
        match ok.map(|c| c.command) {
            Ok(Command::Record {
                dir: Some(_),
                rotate_size: Some(size),
                rotate_every: Some(every),
                ..
            }) => assert_eq!((size, every.as_secs()), (512 << 10, 3600)),
            other => panic!("{:?}", other.err()),
        }
        assert!(parse(&[
            "--dir",
            "d",
            "--keep",
            "3",
            "--max-total",
            "1G",
            "--compress"
        ])
        .is_ok());
        for bad in [
            &[][..],
            &["-o", "f", "--dir", "d"],
            &["-o", "f", "--compress"],
            &["-o", "f", "--rotate-size", "1M"],
            &["-o", "f", "--keep", "2"],
            &["--dir", "d", "--max-size", "1M"],
            &["--dir", "d", "--keep", "0"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn max_total_is_twice_the_rotate_size_at_least() {
        let sizes = |args: &[&str]| {
            let mut all = vec!["tracer", "record"];
            all.extend_from_slice(args);
            record_sizes(&Cli::try_parse_from(all).unwrap().command)
        };
        // The service's defaults and the package test's options.
        assert!(sizes(&["--dir", "d", "--rotate-size", "256M", "--max-total", "4G"]).is_ok());
        assert!(sizes(&["--dir", "d", "--max-total", "4G"]).is_ok());
        assert!(sizes(&["--dir", "d", "--rotate-size", "64K", "--keep", "5"]).is_ok());
        assert!(sizes(&["--dir", "d", "--rotate-size", "48K", "--max-total", "96K"]).is_ok());
        let why = sizes(&["--dir", "d", "--rotate-size", "1M", "--max-total", "1500K"]);
        assert!(why.unwrap_err().contains("at least twice --rotate-size"));
        assert!(sizes(&["--dir", "d", "--max-total", "500M"]).is_err());
    }

    #[test]
    fn parses_ring_sizes() {
        assert_eq!(parse_ring_size("4096").unwrap(), 4096);
        assert_eq!(parse_ring_size("64k").unwrap(), 65536);
        assert_eq!(parse_ring_size("4M").unwrap(), 4 << 20);
        assert!(parse_ring_size("3000").is_err());
        assert!(parse_ring_size("12K").is_err());
        assert!(parse_ring_size("lots").is_err());
        assert!(parse_ring_size("2G").is_err());
        assert_eq!(parse_size("100M").unwrap(), 100 << 20);
        assert!(parse_size("0").is_err());
        assert_eq!(parse_duration("1.5s").unwrap().as_millis(), 1500);
        assert_eq!(parse_duration("2m").unwrap().as_secs(), 120);
        assert_eq!(parse_duration("10").unwrap().as_secs(), 10);
        assert!(parse_duration("5 days").is_err());
        assert!(parse_duration("-1s").is_err());
        assert_eq!(
            parse_delay_ring("1:10").unwrap(),
            DelayRing {
                ring: 1,
                by: std::time::Duration::from_millis(10)
            }
        );
        assert!(parse_delay_ring("1").is_err());
        assert!(parse_delay_ring("x:10").is_err());
    }

    /// Parses `args` (after `tracer`) and runs [`Cli::check_values`].
    fn checked(args: &[&str]) -> Result<Cli, clap::Error> {
        let argv: Vec<OsString> = std::iter::once("tracer")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        let cli = Cli::try_parse_from(&argv)?;
        cli.check_values(&argv).map(|()| cli)
    }

    #[test]
    fn dash_dash_needs_a_command() {
        for args in [
            &["trace", "--"][..],
            &["record", "-o", "f", "--"],
            &["record", "-o", "f", "--duration", "1s", "--"],
        ] {
            let e = checked(args).expect_err("refused");
            assert_eq!(e.exit_code(), 2, "{args:?}");
            assert!(
                e.to_string()
                    .contains("`--` must be followed by the command"),
                "{e}"
            );
        }
        assert!(checked(&["trace", "--", "true"]).is_ok());
        assert!(checked(&["trace"]).is_ok());
        assert!(checked(&["record", "-o", "f", "--", "sh", "-c", "--"]).is_ok());
    }

    #[test]
    fn following_tracer_itself_is_refused() {
        let me = std::process::id().to_string();
        let e = checked(&["trace", "--follow", &me]).expect_err("refused");
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("is tracer's own pid"), "{e}");
        assert!(checked(&["trace", "--follow", "1"]).is_ok());
    }

    #[test]
    fn unusable_collector_urls_are_usage_errors() {
        for args in [
            &["trace", "--otlp", "https://127.0.0.1:4318"][..],
            &["record", "-o", "f", "--otlp", "notaurl"],
            &["export", "f", "--format", "otlp", "--otlp", "http://h:port"],
        ] {
            let e = checked(args).expect_err("refused");
            assert_eq!(e.exit_code(), 2, "{args:?}");
            assert!(e.to_string().contains("--otlp "), "{e}");
        }
        assert!(checked(&["trace", "--otlp", "http://127.0.0.1:4318"]).is_ok());
    }

    #[test]
    fn sizes_and_counts_have_minimums_named_in_the_error() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["tracer"], args].concat());
        for (args, says) in [
            (
                &["record", "--dir", "d", "--rotate-size", "1"][..],
                "at least 48K",
            ),
            (
                &["record", "--dir", "d", "--rotate-size", "47K"],
                "at least 48K",
            ),
            (&["record", "-o", "f", "--max-size", "1"], "at least 48K"),
            (
                &["record", "--dir", "d", "--rotate-every", "10ms"],
                "at least 1s",
            ),
            (&["trace", "--cpus-per-ring", "4294967295"], "from 1 to "),
            (&["trace", "--cpus-per-ring", "0"], "from 1 to "),
            (&["trace", "--helper-map-entries", "0"], "1.."),
            (&["ps", "--live", "1e9"], "from 0 to 3600"),
            (&["ps", "--live", "NaN"], "from 0 to 3600"),
        ] {
            let e = parse(args).expect_err("refused");
            assert_eq!(e.exit_code(), 2, "{args:?}");
            assert!(e.to_string().contains(says), "{args:?}: {e}");
        }
        assert!(parse(&["record", "--dir", "d", "--rotate-size", "48K"]).is_ok());
        assert!(parse(&["record", "-o", "f", "--max-size", "48K"]).is_ok());
        assert!(parse(&["trace", "--cpus-per-ring", "1"]).is_ok());
        assert!(parse(&["ps", "--live"]).is_ok());
    }
}
