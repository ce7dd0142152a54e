//! Configuration of the in-memory store (`[store]`, `type = "memory"`).

use std::path::Path;

use mlpnas_core::{ConfigError, StoreConfig, StoreError, WeightStore};
use serde::{Deserialize, Serialize};

use crate::memory::MemoryStore;

/// Settings of the in-memory store. It has none: `[store]` with `type = "memory"` is all it takes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryStoreConfig {}

impl MemoryStoreConfig {
    /// Checks every field (there is none, so this always succeeds).
    pub fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }

    /// Validates, then builds an empty store.
    pub fn build(&self) -> Result<MemoryStore, ConfigError> {
        self.validate()?;
        Ok(MemoryStore::new())
    }
}

#[typetag::serde(name = "memory")]
impl StoreConfig for MemoryStoreConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        MemoryStoreConfig::validate(self)
    }

    fn needs_files(&self) -> bool {
        false
    }

    fn build(&self, _run_dir: &Path) -> Result<Box<dyn WeightStore>, StoreError> {
        // The host checked the config once, when it was loaded.
        Ok(Box::new(MemoryStore::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deserializes_through_typetag() -> Result<(), Box<dyn std::error::Error>> {
        let cfg: Box<dyn StoreConfig> = toml::from_str(r#"type = "memory""#)?;
        cfg.validate()?;
        let store = cfg.build(Path::new("."))?;
        assert!(store.is_empty());
        Ok(())
    }

    #[test]
    fn rejects_unknown_fields() {
        let err = toml::from_str::<Box<dyn StoreConfig>>("type = \"memory\"\npath = \"x\"\n");
        assert!(err.is_err(), "{err:?}");
    }

    #[test]
    fn serializes_with_its_tag() -> Result<(), Box<dyn std::error::Error>> {
        let cfg: Box<dyn StoreConfig> = Box::new(MemoryStoreConfig {});
        let json = serde_json::to_string(&cfg)?;
        assert_eq!(json, r#"{"type":"memory"}"#);
        Ok(())
    }
}
