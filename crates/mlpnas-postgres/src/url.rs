//! [`PgUrl`]: a database URL parsed once, its password (from the URL, `PGPASSWORD` or
//! `~/.pgpass`) kept out of everything shown ([`mask`]), and TLS when it asks for
//! `sslmode=require`.

use std::path::PathBuf;
use std::time::Duration;

use postgres::{Client, Config, NoTls};

/// A database URL, parsed once, with the password (from the URL, `PGPASSWORD` or `~/.pgpass`)
/// kept out of everything shown.
#[derive(Clone)]
pub struct PgUrl {
    config: Config,
    shown: String,
    /// TLS (rustls) when the URL says `sslmode=require`; plain TCP or a Unix socket otherwise.
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl PgUrl {
    /// Connects once.
    pub(crate) fn connect(&self) -> Result<Client, postgres::Error> {
        match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        }
    }

    /// The URL, password masked.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }
}

/// The TLS settings of `sslmode=require`: the server's certificate must chain to Mozilla's roots
/// or to the certificates in `PGSSLROOTCERT` (a PEM file, as libpq reads it), and name the host.
fn tls_config() -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = std::env::var_os("PGSSLROOTCERT").filter(|p| !p.is_empty()) {
        let shown = PathBuf::from(&path).display().to_string();
        let certs = CertificateDer::pem_file_iter(&path)
            .map_err(|e| format!("PGSSLROOTCERT {shown}: {e}"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("PGSSLROOTCERT {shown}: {e}"))?;
        if certs.is_empty() {
            return Err(format!("PGSSLROOTCERT {shown}: no certificate in it"));
        }
        for c in certs {
            roots.add(c).map_err(|e| format!("PGSSLROOTCERT {shown}: {e}"))?;
        }
    }
    let config =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::fmt::Display for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::str::FromStr for PgUrl {
    type Err = String;
    /// Parses `postgresql://user[:password]@host[:port]/db[?sslmode=...]` (or `postgres://`).
    fn from_str(url: &str) -> Result<Self, String> {
        let shown = mask(url);
        if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
            return Err(format!("{shown}: not a PostgreSQL URL (expected postgresql://user@host:port/database)"));
        }
        let mut config: Config = url.parse().map_err(|e| format!("{shown}: not a valid PostgreSQL URL: {e}"))?;
        if config.get_dbname().is_none() {
            return Err(format!("{shown}: the URL names no database (postgresql://user@host:port/DATABASE)"));
        }
        if config.get_password().is_none() {
            if let Some(p) = std::env::var_os("PGPASSWORD").filter(|p| !p.is_empty()) {
                config.password(p.to_string_lossy().as_bytes());
            } else if let Some(p) = pgpass(&config) {
                config.password(p.as_bytes());
            }
        }
        config.connect_timeout(Duration::from_secs(10));
        config.application_name("mlpnas");
        let tls = if config.get_ssl_mode() == postgres::config::SslMode::Require {
            Some(tls_config().map_err(|e| format!("{shown}: {e}"))?)
        } else {
            None
        };
        Ok(Self { config, shown, tls })
    }
}

/// `url` with its password replaced by `***`.
pub fn mask(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    let auth = auth.map(|a| match a.split_once(':') {
        Some((user, _)) => format!("{user}:***@"),
        None => format!("{a}@"),
    });
    let mut shown = format!("{scheme}://{}{host}", auth.unwrap_or_default());
    if let Some(i) = shown.find("password=") {
        let end = shown[i..].find('&').map_or(shown.len(), |e| i + e);
        shown.replace_range(i..end, "password=***");
    }
    shown
}

/// The password for `config` in `~/.pgpass` (or `PGPASSFILE`), if any: lines
/// `host:port:database:user:password`, `*` matching anything, the first match wins.
fn pgpass(config: &Config) -> Option<String> {
    let path = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
    let text = std::fs::read_to_string(path).ok()?;
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432).to_string();
    let db = config.get_dbname().unwrap_or_default().to_string();
    let user = config.get_user().unwrap_or_default().to_string();
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let f: Vec<&str> = line.splitn(5, ':').collect();
        if f.len() == 5 && [&host, &port, &db, &user].iter().zip(&f).all(|(want, got)| *got == "*" || got == want) {
            return Some(f[4].to_string());
        }
    }
    None
}
