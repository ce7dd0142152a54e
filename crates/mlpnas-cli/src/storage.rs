//! Where a run lives: a run directory, or a run in a PostgreSQL storage, and the names of both.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use mlpnas_core::RunStorage;
use mlpnas_runs::RunDir;

/// The run's storage: the run directory `dir`, or the run named `dir` in the PostgreSQL
/// database at `url`.
pub(crate) fn run_storage(url: Option<&str>, dir: &Path) -> Result<Box<dyn RunStorage>> {
    match url {
        None => Ok(Box::new(RunDir::new(dir))),
        Some(url) => {
            let name = run_name(dir)?;
            Ok(Box::new(mlpnas_postgres::open(url)?.run(&name)))
        }
    }
}

/// A run name given where a directory could be (`--resume NAME`, `report NAME`).
pub(crate) fn run_name(given: &Path) -> Result<String> {
    let name = given.to_string_lossy().into_owned();
    if name.trim().is_empty() || name.chars().any(char::is_control) || name.len() > 200 {
        bail!("{name:?}: not a run name (1 to 200 printable characters)");
    }
    Ok(name)
}

/// A new directory `runs/NAME`, or `runs/NAME-2`, `-3`, ... when taken: created atomically, so
/// that searches started in the same second (a seed loop, parallel jobs) never share one.
pub(crate) fn new_run_dir(name: &str) -> Result<PathBuf> {
    let root = PathBuf::from("runs");
    std::fs::create_dir_all(&root).with_context(|| root.display().to_string())?;
    for n in 1..10_000 {
        let dir = if n == 1 { root.join(name) } else { root.join(format!("{name}-{n}")) };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => bail!("{}: cannot create the run directory: {e}", dir.display()),
        }
    }
    bail!("{}: no free run directory name left for {name}", root.display())
}

/// The last component of `dir` (made absolute first: `.` has a name too).
pub(crate) fn dir_name(dir: &Path) -> String {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    dir.file_name().map_or("table".into(), |s| s.to_string_lossy().into_owned())
}
