//! `mlpnas completions` and `mlpnas man`: the shell completion script and the man page, both
//! generated from the clap types in `args`.

use anyhow::{Context, Result};

use crate::args::Cli;

pub(crate) fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "mlpnas", &mut std::io::stdout());
    Ok(())
}

pub(crate) fn man() -> Result<()> {
    let cmd = <Cli as clap::CommandFactory>::command();
    clap_mangen::Man::new(cmd).render(&mut std::io::stdout()).context("writing the man page")?;
    Ok(())
}
