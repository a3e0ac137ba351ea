//! The command line's definition: `tracer SUBCOMMAND ...`, one variant
//! per subcommand, read by clap (and by `generate` for the man pages and
//! completions).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use super::{
    args::{AncestryArgs, FilterArgs, SessionArgs, ShipArgs, TextArgs, WindowArgs},
    manual::LEGEND,
    values::{
        kind_parser, parse_duration, parse_live, parse_log_size, parse_rotate_every, parse_size,
    },
};
use crate::{kernel::loader::DEFAULT_BTF, model::classify::Kind, output::Format};

/// Live Linux task tracer: kernel threads, user-mode helpers and the signals
/// they get, from eBPF.
#[derive(Parser, Debug)]
#[command(
    name = "tracer",
    version = env!("TRACER_VERSION"),
    after_help = "`tracer COMMAND --help` and the man pages (man tracer-trace, ...) say more, \
                  with examples."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print fork, exec, exit, rename and signal events live, with the kind
    /// of each task.
    ///
    /// On a busy host, --no-threads shows processes only (as execsnoop
    /// does), and --kind, --comm or --pid narrow it further.
    #[command(after_help = LEGEND)]
    Trace {
        /// text: one aligned line per event (columns in docs/guide.md);
        /// json: one JSON object per event and line (JSON Lines; fields in
        /// docs/reference.md).
        #[arg(long, value_enum, default_value_t = Format::Text, hide_possible_values = true, value_name = "text|json")]
        format: Format,
        /// Warn on stderr once a task has waited on a user-mode helper (or
        /// dumped core into one) for longer than DURATION (e.g. 2s, 1m).
        #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
        stuck_after: std::time::Duration,
        #[command(flatten)]
        text: TextArgs,
        #[command(flatten)]
        filter: FilterArgs,
        #[command(flatten)]
        ship: ShipArgs,
        #[command(flatten)]
        session: SessionArgs,
        #[command(flatten)]
        ancestry: AncestryArgs,
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
        /// old (e.g. 90s, 30m, 1h30m; at least 1s).
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
        /// "Recording for weeks" in docs/operations.md).
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
    #[command(after_help = LEGEND)]
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
        /// text: one aligned line per event, as `trace` prints them; json:
        /// one JSON object per event and line (JSON Lines).
        #[arg(long, value_enum, default_value_t = Format::Text, hide_possible_values = true, value_name = "text|json")]
        format: Format,
        #[command(flatten)]
        text: TextArgs,
        #[command(flatten)]
        window: WindowArgs,
        #[command(flatten)]
        filter: FilterArgs,
        #[command(flatten)]
        ancestry: AncestryArgs,
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
        /// text: a summary to read, section by section; json: the same
        /// summary as one JSON document.
        #[arg(long, value_enum, default_value_t = Format::Text, hide_possible_values = true, value_name = "text|json")]
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
        /// Add the logs' events to the Parquet dataset in DIR (Hive
        /// partitions host=HOST/date=DAY; a part already there is not
        /// written again); implies --format parquet.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["output", "since", "until"])]
        dataset: Option<PathBuf>,
        #[command(flatten)]
        window: WindowArgs,
        #[command(flatten)]
        ancestry: AncestryArgs,
    },
    /// List every task with its kind and each kernel-thread test (from
    /// /proc; no BPF needed). `!` marks tasks the tests disagree on.
    Ps {
        /// Only tasks of these kinds.
        #[arg(long, value_delimiter = ',', value_name = "KIND,...", value_parser = kind_parser())]
        kind: Vec<Kind>,
        /// Only these pids (or the threads of these tgids).
        #[arg(long, value_delimiter = ',', value_name = "PID,...")]
        pid: Vec<u32>,
        /// text: a table, one task a line; json: one JSON object per task
        /// and line (JSON Lines).
        #[arg(long, value_enum, default_value_t = Format::Text, hide_possible_values = true, value_name = "text|json")]
        format: Format,
        /// procfs mount to read.
        #[arg(long, value_name = "DIR", default_value = "/proc", hide = true)]
        proc_root: PathBuf,
        /// Also trace (BPF, root) for DURATION (default 300ms, at most 1h)
        /// after the snapshot: tasks born meanwhile are merged in, with the
        /// task that created them (and a kernel thread's requester).
        /// Ctrl-C ends it early.
        #[arg(long, value_name = "DURATION", num_args = 0..=1, default_missing_value = "300ms", value_parser = parse_live)]
        live: Option<std::time::Duration>,
        /// Kernel BTF, for --live.
        #[arg(long, value_name = "FILE", default_value = DEFAULT_BTF)]
        btf: PathBuf,
        /// Also say, on stderr, which tests /proc cannot fully answer (and,
        /// with --live, when tracing has begun).
        #[arg(long, short)]
        verbose: bool,
        /// Accepted for older scripts: the notes are shown only with -v.
        #[arg(long, short, hide = true)]
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
        what: Generated,
        dir: PathBuf,
    },
    /// A live screen of kernel threads, helpers and the signals they get
    /// (or of a recording, with a time cursor); `?` lists the keys.
    Top {
        /// A recording (logs, or directories of rotated logs) to show
        /// instead of the live system.
        #[arg(value_name = "LOG")]
        files: Vec<PathBuf>,
        /// In a directory, also read logs owned by another user than the
        /// directory's owner.
        #[arg(long)]
        include_foreign: bool,
        #[command(flatten)]
        filter: FilterArgs,
        #[command(flatten)]
        session: SessionArgs,
    },
    /// Show the lineage tree from PID 0, or from PID, with kinds.
    Tree {
        /// Root of the tree (default: 0, the idle task).
        #[arg(default_value_t = 0)]
        pid: u32,
        /// text: an indented tree, one task a line; json: the tree as one
        /// nested JSON object.
        #[arg(long, value_enum, default_value_t = Format::Text, hide_possible_values = true, value_name = "text|json")]
        format: Format,
        /// procfs mount to read.
        #[arg(long, value_name = "DIR", default_value = "/proc", hide = true)]
        proc_root: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// JSON Lines: the same objects as `trace --format json`, plus `lost` lines
    /// (`jsonl` is accepted too).
    #[value(name = "json", alias = "jsonl")]
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
    /// Apache Parquet, one row per event (for DuckDB, Spark, pandas,
    /// polars); binary, so it goes to `-o FILE` or a pipe.
    Parquet,
}

/// What to write.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Generated {
    /// tracer.1 and tracer-SUBCOMMAND.1 for every subcommand shown in --help.
    Man,
    /// bash (tracer.bash), zsh (_tracer) and fish (tracer.fish).
    Completions,
}
