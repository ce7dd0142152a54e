//! Configuration of the TPE controller (`[controller]`, `type = "tpe"`).

use mlpnas_core::{ConfigError, Controller, ControllerConfig, ControllerError, SearchSpace};
use serde::{Deserialize, Serialize};

use crate::tpe::TpeController;

/// Settings of the TPE controller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TpeControllerConfig {
    /// Share of the finished trials that make the good set (the best `ceil(gamma * n)`, at
    /// least one); in (0, 1).
    pub gamma: f64,
    /// Trials drawn uniformly at random before the model is used; at least 1.
    pub n_startup: usize,
    /// Sequences drawn from the good model per proposal, of which the best ratio is proposed.
    pub n_candidates: usize,
    /// Weight of the uniform prior over the allowed tokens at each position (added to the
    /// counts of each set); positive.
    pub prior_weight: f64,
    /// Draws per proposal (model or uniform) before falling back to enumerating the untried
    /// sequences.
    pub max_attempts: usize,
}

impl Default for TpeControllerConfig {
    fn default() -> Self {
        Self { gamma: 0.15, n_startup: 10, n_candidates: 24, prior_weight: 1.0, max_attempts: 1000 }
    }
}

impl TpeControllerConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.gamma > 0.0 && self.gamma < 1.0) {
            return Err(ConfigError::new("gamma", format!("{} is not in (0, 1)", self.gamma)));
        }
        if self.n_startup == 0 {
            return Err(ConfigError::new("n_startup", "must be at least 1 (the model needs trials to start from)"));
        }
        if self.n_candidates == 0 {
            return Err(ConfigError::new("n_candidates", "must be at least 1"));
        }
        if !(self.prior_weight > 0.0 && self.prior_weight.is_finite()) {
            return Err(ConfigError::new("prior_weight", format!("{} is not a positive number", self.prior_weight)));
        }
        if self.max_attempts == 0 {
            return Err(ConfigError::new("max_attempts", "must be at least 1"));
        }
        Ok(())
    }

    /// Validates, then builds the controller, its RNG seeded with `seed`: the one way to a
    /// controller (the trait's `build` comes here too).
    pub fn build(&self, seed: u64) -> Result<TpeController, ConfigError> {
        self.validate()?;
        Ok(TpeController::new(self.clone(), seed))
    }
}

#[typetag::serde(name = "tpe")]
impl ControllerConfig for TpeControllerConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        TpeControllerConfig::validate(self)
    }

    fn build(&self, _space: &dyn SearchSpace, seed: u64) -> Result<Box<dyn Controller>, ControllerError> {
        let controller = TpeControllerConfig::build(self, seed).map_err(|e| ControllerError::Other(e.to_string()))?;
        Ok(Box::new(controller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_typetag_and_bad_settings() -> Result<(), Box<dyn std::error::Error>> {
        let cfg: Box<dyn ControllerConfig> = toml::from_str("type = \"tpe\"")?;
        cfg.validate()?;
        let field = |c: TpeControllerConfig| c.validate().expect_err("refused").field;
        let d = TpeControllerConfig::default;
        assert_eq!(field(TpeControllerConfig { gamma: 0.0, ..d() }), "gamma");
        assert_eq!(field(TpeControllerConfig { gamma: 1.0, ..d() }), "gamma");
        assert_eq!(field(TpeControllerConfig { gamma: f64::NAN, ..d() }), "gamma");
        assert_eq!(field(TpeControllerConfig { n_startup: 0, ..d() }), "n_startup");
        assert_eq!(field(TpeControllerConfig { n_candidates: 0, ..d() }), "n_candidates");
        assert_eq!(field(TpeControllerConfig { prior_weight: 0.0, ..d() }), "prior_weight");
        assert_eq!(field(TpeControllerConfig { max_attempts: 0, ..d() }), "max_attempts");
        assert!(toml::from_str::<Box<dyn ControllerConfig>>("type = \"tpe\"\nalpha = 1\n").is_err());
        Ok(())
    }
}
