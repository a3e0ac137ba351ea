//! `tracer generate man|completions DIR` (hidden): the man pages and shell
//! completions, made from the command line's own definition so they never
//! drift from it. `cargo xtask dist` packages them.
//!
//! A man page is clap_mangen's synopsis and options, and the sections a
//! user learns from (`manual.rs`): DESCRIPTION, OUTPUT, the legend,
//! EXAMPLES, EXIT STATUS, FILES, SEE ALSO.

use std::{fmt::Write as _, path::Path};

use anyhow::{Context as _, Result};
use clap::{Command, CommandFactory as _};
use clap_complete::Shell;

use super::{
    command::{Cli, Generated},
    manual::{self, Page, DOCS, EXIT_STATUS, LEGEND},
};
use crate::model::calendar::civil_from_days;

pub fn run(what: Generated, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cmd = Cli::command();
    match what {
        Generated::Man => man_pages(cmd, dir),
        Generated::Completions => {
            let visible = visible(&cmd);
            [Shell::Bash, Shell::Zsh, Shell::Fish]
                .into_iter()
                .try_for_each(|shell| {
                    clap_complete::generate_to(shell, &mut visible.clone(), "tracer", dir)
                        .map(|_| ())
                })
                .map_err(anyhow::Error::from)
        }
    }
    .with_context(|| format!("writing {what:?} into {}", dir.display()))
}

/// `cmd` without its hidden subcommands and arguments (the bench's and the
/// tests' hooks, and this command): clap_complete would offer them, and
/// clap can only add to a Command, so this builds a new one.
fn visible(cmd: &Command) -> Command {
    // Without clap's `string` feature names must be 'static; this process
    // writes three files and exits.
    let leak = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
    let mut out = Command::new(leak(cmd.get_name()));
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        out = out.version(leak(version));
    }
    out.args(cmd.get_arguments().filter(|a| !a.is_hide_set()).cloned())
        // The groups of shown arguments (`requires` may name one; clap's
        // debug checks want it).
        .groups(
            cmd.get_groups()
                .filter(|g| {
                    g.get_args().all(|id| {
                        cmd.get_arguments()
                            .any(|a| a.get_id() == id && !a.is_hide_set())
                    })
                })
                .cloned(),
        )
        .subcommands(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(visible),
        )
}

/// tracer.1 and tracer-SUB.1 for each subcommand `--help` lists.
fn man_pages(cmd: Command, dir: &Path) -> Result<()> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let date = man_date();
    let source = format!("tracer {}", env!("CARGO_PKG_VERSION"));
    let subs: Vec<&Command> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    let top = manual::PAGES
        .iter()
        .find(|p| p.sub.is_empty())
        .unwrap_or(&BARE);
    let mut pages: Vec<(&Command, String, &Page)> = vec![(&cmd, "tracer".into(), top)];
    for sub in &subs {
        // A subcommand without its own page gets the bare one (the tests
        // and the dist check then say which sections it lacks).
        let page = manual::PAGES
            .iter()
            .find(|p| p.sub == sub.get_name())
            .unwrap_or(&BARE);
        pages.push((sub, format!("tracer-{}", sub.get_name()), page));
    }
    let others: Vec<String> = pages.iter().map(|(_, name, _)| name.clone()).collect();
    for (sub, name, page) in &pages {
        let text = page_text(sub, name, page, &date, &source, &others)?;
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// A page with nothing beyond what clap knows.
const BARE: Page = Page {
    sub: "",
    description: &[],
    output: &[],
    examples: &[],
    files: &[],
    legend: false,
};

/// The page's date: SOURCE_DATE_EPOCH's day where it is set (reproducible
/// packages), else today's, as YYYY-MM-DD (UTC).
fn man_date() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Text made safe for roff: backslashes and hyphens escaped, a leading
/// `.` or `'` kept from being a request.
fn esc(text: &str) -> String {
    let body = text.replace('\\', "\\e").replace('-', "\\-");
    if body.starts_with(['.', '\'']) {
        format!("\\&{body}")
    } else {
        body
    }
}

fn page_text(
    cmd: &Command,
    name: &str,
    page: &Page,
    date: &str,
    source: &str,
    others: &[String],
) -> Result<String> {
    let man = clap_mangen::Man::new(cmd.clone());
    let clap_part = |f: fn(&clap_mangen::Man, &mut dyn std::io::Write) -> std::io::Result<()>| {
        let mut out = Vec::new();
        f(&man, &mut out).map(|()| String::from_utf8_lossy(&out).into_owned())
    };
    let synopsis = clap_part(clap_mangen::Man::render_synopsis_section)?;
    let options = clap_part(clap_mangen::Man::render_options_section)?;
    let commands = clap_part(clap_mangen::Man::render_subcommands_section)?;
    let mut t = String::new();
    let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
    // `.TH title section date source manual`, each quoted.
    writeln!(
        t,
        ".TH \"{}\" 1 \"{date}\" \"{source}\" \"User Commands\"",
        name.to_uppercase()
    )?;
    writeln!(t, ".SH NAME\n{} \\- {}", esc(name), esc(&about))?;
    t.push_str(&synopsis);
    t.push_str(".SH DESCRIPTION\n");
    writeln!(t, "{}", esc(&about))?;
    for para in page.description {
        writeln!(t, ".PP\n{}", esc(para))?;
    }
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        t.push_str(&options);
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        t.push_str(&commands);
    }
    if !page.output.is_empty() {
        t.push_str(".SH OUTPUT\n");
        for (what, means) in page.output {
            writeln!(t, ".TP\n.B {}\n{}", esc(what), esc(means))?;
        }
    }
    if page.legend {
        writeln!(t, ".SH SHORT NAMES\n.nf\n{}\n.fi", esc(LEGEND))?;
    }
    if !page.examples.is_empty() {
        t.push_str(".SH EXAMPLES\n");
        for (example, what) in page.examples {
            writeln!(
                t,
                ".PP\n{}:\n.RS\n.nf\n{}\n.fi\n.RE",
                esc(what),
                esc(example)
            )?;
        }
    }
    t.push_str(".SH EXIT STATUS\n");
    for (code, means) in EXIT_STATUS {
        writeln!(t, ".TP\n.B {}\n{}", esc(code), esc(means))?;
    }
    if !page.files.is_empty() {
        t.push_str(".SH FILES\n");
        for (file, what) in page.files {
            writeln!(t, ".TP\n.I {}\n{}", esc(file), esc(what))?;
        }
    }
    let see: Vec<String> = others
        .iter()
        .filter(|o| *o != name)
        .map(|o| format!(".BR {} (1)", esc(o)))
        .collect();
    writeln!(t, ".SH SEE ALSO\n{}\n.PP\n{}.", see.join(",\n"), esc(DOCS))?;
    writeln!(t, ".SH VERSION\n{}", esc(env!("TRACER_VERSION")))?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_text_is_escaped() {
        assert_eq!(esc("--since -10m"), "\\-\\-since \\-10m");
        assert_eq!(esc(".TH not a request"), "\\&.TH not a request");
        assert_eq!(esc("'quoted"), "\\&'quoted");
        assert_eq!(esc("a\\b"), "a\\eb");
    }

    #[test]
    fn the_date_is_source_date_epochs_or_todays() {
        let date = man_date();
        assert_eq!(date.len(), 10, "{date}");
        assert_eq!(civil_from_days(20_427), (2025, 12, 5));
    }
}
