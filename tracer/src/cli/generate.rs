//! `tracer generate man|completions DIR` (hidden): the man pages and shell
//! completions, made from the command line's own definition so they never
//! drift from it. `cargo xtask dist` packages them.

use std::path::Path;

use anyhow::{Context as _, Result};
use clap::{Command, CommandFactory as _};
use clap_complete::Shell;

use super::command::{Cli, Generated};

pub fn run(what: Generated, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cmd = Cli::command();
    match what {
        Generated::Man => clap_mangen::generate_to(cmd, dir),
        Generated::Completions => {
            let visible = visible(&cmd);
            [Shell::Bash, Shell::Zsh, Shell::Fish]
                .into_iter()
                .try_for_each(|shell| {
                    clap_complete::generate_to(shell, &mut visible.clone(), "tracer", dir)
                        .map(|_| ())
                })
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
        .subcommands(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(visible),
        )
}
