//! Configuration of the on-disk store (`[store]`, `type = "disk"`).

use std::path::{Path, PathBuf};

use mlpnas_core::{ConfigError, StoreConfig, StoreError, WeightStore};
use serde::{Deserialize, Serialize};

use crate::disk::DiskStore;

/// Settings of the on-disk store.
///
/// ```toml
/// [store]
/// type = "disk"
/// path = "weights.redb"      # relative to the run directory (default)
/// max_bytes = 268435456      # optional cap on the stored values, least recently used evicted
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiskStoreConfig {
    /// The store file; a relative path is resolved against the run directory.
    pub path: PathBuf,
    /// Cap on the bytes of stored values (4 per f32; the file itself is larger). When a `put`
    /// would exceed it, the least recently used keys are evicted. `None`: no cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
}

impl Default for DiskStoreConfig {
    fn default() -> Self {
        Self { path: PathBuf::from("weights.redb"), max_bytes: None }
    }
}

impl DiskStoreConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.path.as_os_str().is_empty() {
            return Err(ConfigError::new("path", "must name a file, e.g. \"weights.redb\""));
        }
        if self.path.file_name().is_none() || self.path.as_os_str().to_string_lossy().ends_with(['/', '\\']) {
            return Err(ConfigError::new(
                "path",
                format!("{:?} names a directory, not a file (e.g. \"weights.redb\")", self.path),
            ));
        }
        if self.max_bytes == Some(0) {
            return Err(ConfigError::new("max_bytes", "must be at least 1 (leave it out for no cap)"));
        }
        Ok(())
    }

    /// The store file for a search whose run directory is `run_dir`.
    pub fn resolve(&self, run_dir: &Path) -> PathBuf {
        if self.path.is_absolute() { self.path.clone() } else { run_dir.join(&self.path) }
    }

    /// Validates, then opens (or creates) the store file for the run directory `run_dir`.
    pub fn build(&self, run_dir: &Path) -> Result<DiskStore, StoreError> {
        self.validate().map_err(|e| StoreError::Other(e.to_string()))?;
        DiskStore::open(&self.resolve(run_dir), self.max_bytes)
    }
}

#[typetag::serde(name = "disk")]
impl StoreConfig for DiskStoreConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        DiskStoreConfig::validate(self)
    }

    fn build(&self, run_dir: &Path) -> Result<Box<dyn WeightStore>, StoreError> {
        // The host checked the config once, when it was loaded.
        Ok(Box::new(DiskStore::open(&self.resolve(run_dir), self.max_bytes)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_through_typetag() -> Result<(), Box<dyn std::error::Error>> {
        let cfg: Box<dyn StoreConfig> = toml::from_str(r#"type = "disk""#)?;
        cfg.validate()?;
        let json = serde_json::to_string(&cfg)?;
        assert_eq!(json, r#"{"type":"disk","path":"weights.redb"}"#);
        Ok(())
    }

    #[test]
    fn reads_every_field() -> Result<(), Box<dyn std::error::Error>> {
        let cfg: DiskStoreConfig = toml::from_str("path = \"/tmp/w.redb\"\nmax_bytes = 4096\n")?;
        assert_eq!(cfg, DiskStoreConfig { path: PathBuf::from("/tmp/w.redb"), max_bytes: Some(4096) });
        assert_eq!(cfg.resolve(Path::new("/runs/a")), PathBuf::from("/tmp/w.redb"));
        assert_eq!(DiskStoreConfig::default().resolve(Path::new("/runs/a")), PathBuf::from("/runs/a/weights.redb"));
        let text = toml::to_string(&cfg)?;
        assert_eq!(toml::from_str::<DiskStoreConfig>(&text)?, cfg);
        Ok(())
    }

    #[test]
    fn rejects_unknown_fields() {
        let err = toml::from_str::<Box<dyn StoreConfig>>("type = \"disk\"\nmax_size = 3\n");
        let msg = format!("{:?}", err.expect_err("unknown field"));
        assert!(msg.contains("max_size"), "{msg}");
    }

    #[test]
    fn validation_names_the_field() {
        for (cfg, field, needle) in [
            (DiskStoreConfig { path: PathBuf::new(), max_bytes: None }, "path", "must name a file"),
            (DiskStoreConfig { path: PathBuf::from("runs/"), max_bytes: None }, "path", "directory"),
            (DiskStoreConfig { path: PathBuf::from("a/.."), max_bytes: None }, "path", "directory"),
            (DiskStoreConfig { max_bytes: Some(0), ..DiskStoreConfig::default() }, "max_bytes", "at least 1"),
        ] {
            let e = cfg.validate().expect_err("invalid");
            assert_eq!(e.field, field);
            assert!(e.reason.contains(needle), "{e}");
        }
    }
}
