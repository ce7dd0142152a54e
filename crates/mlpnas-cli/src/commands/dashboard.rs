//! `mlpnas dashboard`: the web dashboard over run directories and the runs of a PostgreSQL
//! storage.

use std::path::PathBuf;

use anyhow::Result;
use mlpnas_core::RunStorage;

use crate::args::DashboardArgs;

pub(crate) fn dashboard(a: DashboardArgs) -> Result<()> {
    let mut dirs = a.dirs;
    if dirs.is_empty() && a.storage.is_none() {
        dirs.push(PathBuf::from("runs"));
    }
    let mut sources: Vec<Box<dyn mlpnas_dashboard::RunSource>> = Vec::new();
    for d in &dirs {
        sources.push(Box::new(mlpnas_dashboard::DirSource::new(d)?));
    }
    if let Some(url) = &a.storage {
        sources.push(Box::new(PgSource(mlpnas_postgres::open(url)?)));
    }
    let shown: Vec<String> = sources.iter().map(|s| s.describe()).collect();
    let opts = mlpnas_dashboard::Options { host: a.host, port: a.port, ..Default::default() };
    mlpnas_dashboard::serve(sources, &opts, |addr, shared| {
        // The address it listens on, as it is (0.0.0.0 included).
        say!("dashboard: http://{addr}/");
        if !addr.ip().is_loopback() {
            note!(
                "warning: the dashboard listens on {addr}, not only on this machine: anyone who can reach it reads every run it shows, without authentication (bind to 127.0.0.1, the default, to keep them private)"
            );
        }
        say!("{} run(s) from {}; read-only; Ctrl-C stops it", shared.runs().len(), shown.join(", "));
        for e in shared.source_errors() {
            note!("warning: {e}");
        }
        let _ = std::io::Write::flush(&mut std::io::stdout());
    })?;
    Ok(())
}

/// The runs of a PostgreSQL storage, for the dashboard.
struct PgSource(mlpnas_postgres::Database);

impl mlpnas_dashboard::RunSource for PgSource {
    fn describe(&self) -> String {
        self.0.shown().to_string()
    }

    fn runs(&mut self) -> Result<mlpnas_dashboard::FoundRuns, String> {
        let list = mlpnas_postgres::list_runs(&self.0).map_err(|e| e.to_string())?;
        Ok(list.into_iter().map(|r| (r.name.clone(), Box::new(self.0.run(&r.name)) as Box<dyn RunStorage>)).collect())
    }
}
