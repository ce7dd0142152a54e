//! The schema: its migrations, in order, and [`migrate`], which creates it or brings it up to
//! date when a process connects (`mlpnas_schema` holds its version; an older binary refuses a
//! newer schema).

use postgres::Client;

use crate::error::Failure;
use crate::error::PgError;

/// First key of every advisory lock mlpnas takes in a database (the schema's lock here, each
/// run's coordinator lock in `conn`) (the second is the hash of what is locked).
pub(crate) const LOCK_SPACE: i32 = 0x6d6c_706e; // "mlpn"

/// The schema's migrations, in order: migration `i` brings the schema to version `i + 1`.
/// Never edit one that has shipped; add the next.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE mlpnas_runs (
    id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    config text NOT NULL,
    version text NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    holder text,
    data_hash text,
    summary text
);
CREATE TABLE mlpnas_data (
    hash text PRIMARY KEY,
    bytes bytea NOT NULL
);
CREATE TABLE mlpnas_trials (
    run bigint NOT NULL REFERENCES mlpnas_runs (id) ON DELETE CASCADE,
    trial integer NOT NULL,
    reward double precision NOT NULL,
    record text NOT NULL,
    PRIMARY KEY (run, trial)
);
CREATE TABLE mlpnas_puts (
    run bigint NOT NULL REFERENCES mlpnas_runs (id) ON DELETE CASCADE,
    trial integer NOT NULL,
    body bytea NOT NULL,
    PRIMARY KEY (run, trial)
);
CREATE TABLE mlpnas_epochs (
    run bigint NOT NULL REFERENCES mlpnas_runs (id) ON DELETE CASCADE,
    epoch integer NOT NULL,
    report text NOT NULL,
    PRIMARY KEY (run, epoch)
);
CREATE TABLE mlpnas_checkpoints (
    run bigint PRIMARY KEY REFERENCES mlpnas_runs (id) ON DELETE CASCADE,
    meta text NOT NULL,
    controller bytea NOT NULL,
    store bytea
);
CREATE TABLE mlpnas_tasks (
    run bigint NOT NULL REFERENCES mlpnas_runs (id) ON DELETE CASCADE,
    run_name text NOT NULL,
    trial integer NOT NULL,
    backend text NOT NULL,
    version text NOT NULL,
    tokens text NOT NULL,
    seed bigint NOT NULL,
    init bytea NOT NULL,
    state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempt integer NOT NULL DEFAULT 0,
    worker text,
    lease_until timestamptz,
    result text,
    weights bytea,
    seconds double precision,
    PRIMARY KEY (run, trial)
);
CREATE INDEX mlpnas_tasks_open ON mlpnas_tasks (state, lease_until) WHERE state IN ('queued', 'running');
CREATE TABLE mlpnas_run_workers (
    run bigint NOT NULL REFERENCES mlpnas_runs (id) ON DELETE CASCADE,
    worker text NOT NULL,
    trials bigint NOT NULL DEFAULT 0,
    last_seen timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run, worker)
);
"#,
    r#"
-- 0.5.0: what a run's data holds (mlpnas_core::DataSummary, JSON), for report and the dashboard.
ALTER TABLE mlpnas_runs ADD COLUMN data_summary text;
"#,
    r#"
-- 0.9.0: a queued rung of a multi-fidelity search: its epochs, where its previous rung left the
-- trial (the trainer's bytes), and where it stands after it (written with the result).
ALTER TABLE mlpnas_tasks ADD COLUMN epochs integer, ADD COLUMN continuation bytea, ADD COLUMN continued bytea;
"#,
];

/// Creates the schema or brings it up to date, in one transaction under an advisory lock (two
/// processes starting at once migrate once); refuses a schema newer than this binary knows.
pub(crate) fn migrate(c: &mut Client, shown: &str) -> Result<(), Failure> {
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1, 0)", &[&LOCK_SPACE])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS mlpnas_schema (version integer NOT NULL)")?;
    let version: Option<i32> = tx.query_opt("SELECT version FROM mlpnas_schema", &[])?.map(|r| r.get(0));
    let version = version.unwrap_or(0);
    let known = MIGRATIONS.len() as i32;
    if version > known {
        return Err(Failure::Other(PgError::Schema(format!(
            "{shown}: the database holds mlpnas schema version {version}, newer than this mlpnas knows ({known}); upgrade mlpnas"
        ))));
    }
    for m in &MIGRATIONS[version as usize..] {
        tx.batch_execute(m)?;
    }
    if version == 0 {
        tx.execute("INSERT INTO mlpnas_schema (version) VALUES ($1)", &[&known])?;
    } else if version < known {
        tx.execute("UPDATE mlpnas_schema SET version = $1", &[&known])?;
    }
    Ok(tx.commit()?)
}
