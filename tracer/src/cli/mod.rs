//! Command-line interface: the definition (`command`, with the option
//! groups in `args` and value parsers in `values`), the checks clap's rules
//! cannot say, the dispatch to one command per subcommand, and the man
//! pages and completions made from the definition (`generate`).

pub mod args;
pub mod command;
pub mod generate;
pub mod manual;
pub mod values;

use std::ffi::OsString;

use anyhow::{bail, Context as _, Result};
use clap::{error::ErrorKind, CommandFactory as _, Parser};
pub use command::{Cli, Command, ExportFormat, Generated};
pub use values::{parse_duration, parse_log_size, parse_ring_size, parse_size, MIN_LOG_SIZE};

use crate::{
    commands::{export, ps, record, replay, report, top, trace, tree},
    dev::{bench_log, bench_table},
    pipeline::LostNotices,
};

impl Cli {
    /// Parses the command line, refusing (as a usage error, status 2)
    /// what clap's rules cannot say: `record` filters that only a reader
    /// can apply, which it would otherwise accept and ignore.
    pub fn parse_checked() -> Cli {
        let args: Vec<OsString> = std::env::args_os().collect();
        let mut cli = Cli::parse_from(&args);
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
        // `--since -10m` counts back from the logs' end, found once here.
        if let Command::Replay { files, window, .. }
        | Command::Report { files, window, .. }
        | Command::Export { files, window, .. } = &mut cli.command
        {
            window.anchor(files);
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
        if let Command::Top { files, session, .. } = &self.command {
            if !files.is_empty() && (session.follow.is_some() || !session.command.is_empty()) {
                return refuse(
                    "`tracer top LOG` shows a recording; --follow and `-- CMD` are for the \
                     live screen (`tracer top` without LOG)"
                        .into(),
                );
            }
        }
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

pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Trace {
            format,
            stuck_after,
            text,
            filter,
            ship,
            session,
            ancestry,
        } => {
            text.apply();
            let filter = filter.into_filter().for_format(format);
            let ship = ship.options();
            trace::run(trace::TraceOptions {
                session: session.options(&filter, false),
                format,
                filter,
                stuck_after,
                ancestors: ancestry.depth(ship.otlp.is_some()),
                ship,
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
            ancestry,
        } => {
            crate::log::set::include_foreign(include_foreign);
            text.apply();
            replay::run(
                &files,
                (format, ancestry.depth(false)),
                filter.into_filter().for_format(format),
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
            dataset,
            window,
            ancestry,
        } => {
            crate::log::set::include_foreign(include_foreign);
            export::run(export::ExportOptions {
                // OTLP's default ancestry for Parquet too: "what started
                // this" without a recursive join.
                ancestors: ancestry.depth(
                    matches!(format, ExportFormat::Otlp | ExportFormat::Parquet)
                        || dataset.is_some(),
                ),
                files,
                format: match format {
                    ExportFormat::Jsonl => export::To::Jsonl,
                    ExportFormat::Otlp => {
                        export::To::Otlp(otlp.context("--format otlp needs --otlp URL")?)
                    }
                    ExportFormat::Perfetto => export::To::Perfetto,
                    ExportFormat::Prometheus => export::To::Prometheus,
                    ExportFormat::Parquet => export::To::Parquet,
                },
                dataset,
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
            verbose,
            quiet: _,
        } => {
            let live = live.map(|d| (d, btf));
            ps::run(ps::PsOptions {
                kinds: kind,
                pids: pid,
                format,
                proc_root,
                live,
                verbose,
            })
            .await
        }
        Command::BenchTable { tasks } => bench_table::run(tasks),
        Command::BenchLog { kind, file, mb } => bench_log::run(&kind, &file, mb),
        Command::Generate { what, dir } => generate::run(what, &dir),
        Command::Top {
            files,
            include_foreign,
            filter,
            session,
        } => {
            crate::log::set::include_foreign(include_foreign);
            let filter = filter.into_filter();
            top::run(top::TopOptions {
                session: files.is_empty().then(|| session.options(&filter, false)),
                files,
                filter,
                parse: args::parse_filter_line,
            })
            .await
        }
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
    use super::{values::parse_delay_ring, *};
    use crate::kernel::rings::DelayRing;

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
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
        assert!(parse_duration("10").is_err());
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
    fn top_follows_live_only() {
        let e = checked(&["top", "x.log", "--follow", "1"]).expect_err("refused");
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("shows a recording"), "{e}");
        assert!(checked(&["top", "x.log", "--", "true"]).is_err());
        assert!(checked(&["top", "--", "true"]).is_ok());
        assert!(checked(&["top", "a.log", "b.log", "--kind", "umh"]).is_ok());
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
            (&["ps", "--live", "2h"], "at most 1h"),
            (&["ps", "--live", "NaN"], "is not a length of time"),
            (&["ps", "--live", "5"], "has no unit: write 5s"),
            (
                &["trace", "--duration", "0"],
                "would stop before anything is traced",
            ),
            (&["trace", "--duration", "5"], "`5` has no unit: write 5s"),
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
