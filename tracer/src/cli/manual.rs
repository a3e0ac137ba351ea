//! What the man pages say beyond the options clap knows: each page's
//! description, output columns, examples (the docs' own, checked by
//! tests/docs.rs to parse and to appear in README.md or docs/), files and
//! the legend of the compact layout's short names (also in `trace --help`).

/// The compact layout's short names (`trace --help`, `replay --help`, the
/// man pages), in the order a line shows them.
pub const LEGEND: &str = "\
Short names in the compact layout (--narrow, or a terminal under 150 columns):
  EVENT  siggen  signal_generate: a signal sent (its target is the subject)
         sigdlv  signal_deliver: a signal taken by its target
         umhreq  helper_request: the kernel asked for a user-mode helper
         exec!   exec_failed: an execve/execveat that failed (--failed-execs)
         thrtl   throttled: events counted, not recorded (--throttle)
  KIND   kthd    kthreadd (pid 2), the parent of kernel threads
         kthr    kthread: a kernel thread
         kwork   kworker: a workqueue worker (a kernel thread)
         iowrk   io_worker: an io_uring worker thread
         uwork   user_worker: another user worker thread (vhost, ...)
         umh     a user-mode helper the kernel started (core_pattern, modprobe)
         umhch   umh_child: a descendant of a user-mode helper
Other events and kinds (fork, exec, exit, rename; idle, init, user) keep
their names. The full layout names every event and kind in full.";

/// One page: `sub` is the subcommand (`""`: tracer(1) itself).
pub struct Page {
    pub sub: &'static str,
    /// Paragraphs, after the one-line summary clap has.
    pub description: &'static [&'static str],
    /// What each column or part of the output holds.
    pub output: &'static [(&'static str, &'static str)],
    /// (command line, what it does); each is in README.md or docs/.
    pub examples: &'static [(&'static str, &'static str)],
    pub files: &'static [(&'static str, &'static str)],
    /// Whether the compact layout's legend belongs on the page.
    pub legend: bool,
}

const BTF: (&str, &str) = (
    "/sys/kernel/btf/vmlinux",
    "the kernel's BTF, to resolve structure offsets (--btf names another)",
);
const PROC: (&str, &str) = ("/proc", "the start-up snapshot of every task");
const LOGS: (&str, &str) = (
    "/var/log/tracer",
    "where the packaged tracer-record service records (rotated logs)",
);
const EVENT_COLUMNS: &[(&str, &str)] = &[
    ("TIME", "local time of the event (a date line comes first on each new day)"),
    ("CPU", "the CPU it happened on (full layout)"),
    ("EVENT", "fork, exec, exit, rename, signal_generate, signal_deliver, helper_request, exec_failed, throttled"),
    ("PID", "the subject: the new child, the exec'ing or exiting task, or the signal's target"),
    ("TGID, PPID", "its thread group, and its real parent's tgid (full layout)"),
    ("COMM", "its command name"),
    ("KIND", "idle, init, kthreadd, kthread, kworker, io_worker, user_worker, umh, umh_child or user"),
    ("FLAGS", "its PF_* flags (full layout)"),
    ("DETAILS", "what happened: the parent, the file and argv, the exit status and lifetime, the signal and its sender, the helper and whom it ran for"),
];

/// The pages, tracer(1) first.
pub const PAGES: &[Page] = &[
    Page {
        sub: "",
        description: &[
            "tracer follows every task the kernel creates (processes, threads, kernel threads, io_uring workers, user-mode helpers), what they exec, how they end, and the signals they are sent and take, with each task's PF_* flags, so kernel-side tasks are told from user ones as the kernel itself does. It needs root (or CAP_BPF and CAP_PERFMON) and a kernel with BTF, except ps and tree, which read /proc.",
            "trace watches live; record writes a log that replay, report and export read later; ps and tree list the tasks running now. Each subcommand has its own page: tracer-trace(1) and so on.",
        ],
        output: &[],
        examples: &[
            ("sudo tracer trace", "trace every task until Ctrl-C"),
            ("tracer trace --umh", "the user-mode helper story: who asked, what ran, how it ended"),
            ("tracer record -o night.log --duration 8h", "record eight hours into night.log"),
            ("tracer report night.log", "summarize a recording"),
        ],
        files: &[BTF, PROC, LOGS],
        legend: true,
    },
    Page {
        sub: "trace",
        description: &[
            "Prints one line per event as it happens: fork (every new task), exec, exit, rename (comm changes other than exec's), signal_generate and signal_deliver (by default only signals to kernel-side tasks), helper_request (the kernel asking for a user-mode helper), and with --failed-execs exec_failed. The filters (--kind, --pid, --comm, --event, --umh) choose what is shown. On a terminal narrower than 150 columns the compact layout fits 80; a pipe or a file gets the full layout.",
            "With -- CMD, tracer starts CMD once its programs are attached, follows it and everything it starts, and exits with its status; --follow PID does the same for a running process.",
        ],
        output: EVENT_COLUMNS,
        examples: &[
            ("sudo tracer trace", "trace every task until Ctrl-C"),
            ("tracer trace --umh", "only the user-mode helper story"),
            ("tracer trace --kind kworker,umh --event fork,exit", "only forks and exits of kworkers and helpers"),
            ("sudo tracer trace --narrow -- sh -c 'ls / > /dev/null; sleep 0.1; kill -TERM 2; exit 3'", "run a command under tracer, in the compact layout"),
            ("tracer trace --format json --duration 10s", "ten seconds of events as JSON Lines"),
        ],
        files: &[BTF, PROC],
        legend: true,
    },
    Page {
        sub: "record",
        description: &[
            "Writes every event into a log (-o FILE, mode 0600, never overwriting one), or into a directory of rotated logs (--dir), for replay, report and export later. A log holds the start-up snapshot of every task, so lineage stays whole. Storms are throttled per source by default (--throttle). SIGINT and SIGTERM end the log cleanly; SIGHUP reopens it (for logrotate).",
        ],
        output: &[],
        examples: &[
            ("tracer record -o night.log --duration 8h", "record eight hours into night.log"),
            ("tracer record --dir /var/log/tracer --rotate-every 1h --keep 168 --max-total 20G --compress", "record for weeks: a new file every hour, a week kept, compressed"),
            ("tracer record -o storm.log --throttle off", "record every event, unthrottled"),
        ],
        files: &[BTF, PROC, LOGS, ("/etc/default/tracer-record", "the packaged service's options")],
        legend: false,
    },
    Page {
        sub: "replay",
        description: &[
            "Renders a recorded log (or a directory of rotated logs, read in time order as one stream) exactly as live trace would have shown it, with the same filters and formats; --since and --until keep a time window (-10m: the last ten minutes).",
        ],
        output: EVENT_COLUMNS,
        examples: &[
            ("sudo tracer replay /var/log/tracer", "read what the service recorded"),
            ("tracer replay /var/log/tracer --since '2026-11-27 21:00' --until '2026-11-27 22:00'", "one hour of a long recording"),
            ("tracer replay night.log --since +1h --until +1h30m", "the second hour's first half, counted from the start"),
        ],
        files: &[LOGS],
        legend: true,
    },
    Page {
        sub: "report",
        description: &[
            "Summarizes a recorded log: tasks by kind, kernel threads, user-mode helpers and whom they ran for (the longest waits on a helper), signals, deaths by signal, and what was lost or throttled.",
        ],
        output: &[],
        examples: &[
            ("tracer report night.log", "summarize a recording"),
            ("tracer report /var/log/tracer --since -10m", "the last ten minutes of a recording"),
        ],
        files: &[LOGS],
        legend: false,
    },
    Page {
        sub: "export",
        description: &[
            "Every event of a recorded log in another format: JSON Lines for jq, pandas, DuckDB and log shippers; OpenTelemetry logs sent to a collector; a Perfetto timeline; or the log's counts as Prometheus metrics.",
        ],
        output: &[],
        examples: &[
            ("tracer export night.log --format perfetto -o night.pftrace", "a timeline for ui.perfetto.dev"),
            ("tracer export night.log --format otlp --otlp http://127.0.0.1:4318", "send the events to an OpenTelemetry collector"),
            ("tracer export night.log --format prometheus -o /var/lib/node_exporter/textfile/tracer.prom", "the counts for node_exporter's textfile collector"),
        ],
        files: &[LOGS],
        legend: false,
    },
    Page {
        sub: "ps",
        description: &[
            "Lists every task from /proc with its kind and each kernel-thread test (PF_KTHREAD, no address space, kthreadd in its ancestry, ...); a ! marks a task the tests disagree on. No BPF is needed, except for --live, which also traces for a while after the snapshot and merges in the tasks born meanwhile.",
        ],
        output: &[
            ("PID, TGID, PPID", "the task, its thread group and its parent"),
            ("COMM", "its command name"),
            ("KIND", "the kind the tests agree on"),
            ("tests", "each kernel-thread test's verdict, and ! where they disagree"),
        ],
        examples: &[
            ("tracer ps --kind kworker,umh", "only kworkers and user-mode helpers"),
            ("tracer ps --format json --pid 2", "kthreadd as a JSON object"),
        ],
        files: &[PROC, BTF],
        legend: false,
    },
    Page {
        sub: "tree",
        description: &[
            "Shows the lineage tree from /proc, from the idle task (pid 0) or from PID, each task with its kind; no BPF is needed.",
        ],
        output: &[],
        examples: &[
            ("tracer tree 2", "kthreadd and every kernel thread under it"),
            ("tracer tree --format json", "the whole tree as one nested JSON object"),
        ],
        files: &[PROC],
        legend: false,
    },
    Page {
        sub: "top",
        description: &[
            "A live screen of the kernel-side task population, as htop shows processes: the task tree (kthreadd's subtree and user-mode helpers unfolded, user processes folded), helper stories with their requester and killer, signals to kernel-side tasks, kernel-thread churn, the tracer's own health and an event feed. It takes trace's options; the command line's filter is the screen's first / filter.",
            "With LOG... it shows a recording with a time cursor: step by event or second, jump to a time, or to the next helper failure or kill. Keys: arrows and PgUp/PgDn move, / filters, f follows the selected task's subtree, Enter shows its details, space pauses (events are still counted), 1 to 6 show or hide panes, ? is help, q quits. The screen needs a terminal; elsewhere it points to trace.",
        ],
        output: &[],
        examples: &[
            ("tracer top --kind umh,kworker", "only helpers and kworkers, live"),
            ("tracer top /var/log/tracer/", "a recording: a log, or a directory of rotated logs"),
        ],
        files: &[BTF, PROC, LOGS],
        legend: false,
    },
];

/// The exit statuses (docs/reference.md has the full table).
pub const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "success"),
    ("1", "an error: no BTF, not root, I/O, a file that is not a log, no such pid"),
    ("2", "a usage error: an unknown option, or a value it refuses (said in one sentence)"),
    ("3", "--strict: the kernel refused a program, so some events cannot be seen"),
    ("4", "replay, report, export: the log is damaged; every intact record was still read"),
    ("CMD's", "with -- CMD or --follow PID: the followed command's own status (128+N for a death by signal N)"),
];

/// The documentation pages, for SEE ALSO.
pub const DOCS: &str =
    "docs/guide.md, docs/recording.md, docs/reference.md and docs/operations.md in tracer's source";
