//! Configuration of the random controller (`[controller]`, `type = "random"`).

use mlpnas_core::{ConfigError, Controller, ControllerConfig, ControllerError, SearchSpace};
use serde::{Deserialize, Serialize};

use crate::random::RandomController;

/// Settings of the random-search controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomControllerConfig {
    /// Whether sequences already tried in the search may be proposed again (a batch never holds
    /// the same sequence twice either way).
    pub allow_repeats: bool,
    /// Draws per proposal before falling back to enumerating the untried sequences.
    pub max_attempts: usize,
}

impl Default for RandomControllerConfig {
    fn default() -> Self {
        Self { allow_repeats: false, max_attempts: 1000 }
    }
}

impl RandomControllerConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(ConfigError::new("max_attempts", "must be at least 1"));
        }
        Ok(())
    }

    /// Validates, then builds the controller, its RNG seeded with `seed`: the one way to a
    /// controller (the trait's `build` comes here too), so it only ever runs a checked config.
    pub fn build(&self, seed: u64) -> Result<RandomController, ConfigError> {
        self.validate()?;
        Ok(RandomController::new(self.clone(), seed))
    }
}

#[typetag::serde(name = "random")]
impl ControllerConfig for RandomControllerConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        RandomControllerConfig::validate(self)
    }

    fn build(&self, _space: &dyn SearchSpace, seed: u64) -> Result<Box<dyn Controller>, ControllerError> {
        let controller =
            RandomControllerConfig::build(self, seed).map_err(|e| ControllerError::Other(e.to_string()))?;
        Ok(Box::new(controller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_typetag() -> Result<(), Box<dyn std::error::Error>> {
        let cfg: Box<dyn ControllerConfig> = toml::from_str(r#"type = "random""#)?;
        cfg.validate()?;
        assert_eq!(serde_json::to_string(&cfg)?, r#"{"type":"random","allow_repeats":false,"max_attempts":1000}"#);
        let cfg: RandomControllerConfig = toml::from_str("allow_repeats = true")?;
        assert_eq!(cfg, RandomControllerConfig { allow_repeats: true, max_attempts: 1000 });
        Ok(())
    }

    #[test]
    fn rejects_bad_configs() {
        assert!(toml::from_str::<Box<dyn ControllerConfig>>("type = \"random\"\nlr = 0.1\n").is_err());
        let zero = RandomControllerConfig { max_attempts: 0, ..Default::default() };
        let e = zero.validate().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("max_attempts"), "{e}");
        assert!(zero.build(0).is_err());
    }
}
