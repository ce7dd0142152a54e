//! `mlpnas completions` and `mlpnas man`: the shell completion script and the man pages, all
//! generated from the clap types in `args`.

use std::path::Path;

use anyhow::{Context, Result};

use crate::args::Cli;

pub(crate) fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "mlpnas", &mut std::io::stdout());
    Ok(())
}

/// The page of `mlpnas` on stdout, or every page (one per command, as `mlpnas(1)` refers to
/// them: `mlpnas-search.1`, ...) written into `out`.
pub(crate) fn man(out: Option<&Path>) -> Result<()> {
    // As `generate_to` renders them: no `help` page, so none is referred to.
    let cmd = <Cli as clap::CommandFactory>::command().disable_help_subcommand(true);
    let Some(dir) = out else {
        clap_mangen::Man::new(cmd).render(&mut std::io::stdout()).context("writing the man page")?;
        return Ok(());
    };
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create the directory", dir.display()))?;
    clap_mangen::generate_to(cmd, dir).with_context(|| format!("{}: cannot write the man pages", dir.display()))?;
    let pages = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list the man pages", dir.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("mlpnas") && n.ends_with(".1"))
        .count();
    say!("{pages} man pages in {} (try: man -l {})", dir.display(), dir.join("mlpnas-search.1").display());
    Ok(())
}
