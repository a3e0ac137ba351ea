//! `tracer generate man|completions DIR` (hidden): the man pages and shell
//! completions, made from the command line's own definition so they never
//! drift from it. `cargo xtask dist` packages them.

use std::path::Path;

use anyhow::{Context as _, Result};
use clap::{CommandFactory as _, ValueEnum};
use clap_complete::Shell;

use crate::cli::Cli;

/// What to write.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Generated {
    /// tracer.1 and tracer-SUBCOMMAND.1 for every subcommand shown in --help.
    Man,
    /// bash (tracer.bash), zsh (_tracer) and fish (tracer.fish).
    Completions,
}

pub fn run(what: Generated, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cmd = Cli::command();
    match what {
        Generated::Man => clap_mangen::generate_to(cmd, dir),
        Generated::Completions => [Shell::Bash, Shell::Zsh, Shell::Fish]
            .into_iter()
            .try_for_each(|shell| {
                clap_complete::generate_to(shell, &mut cmd.clone(), "tracer", dir).map(|_| ())
            }),
    }
    .with_context(|| format!("writing {what:?} into {}", dir.display()))
}
