//! Configuration of the evolution controller (`[controller]`, `type = "evolution"`).

use mlpnas_core::{ConfigError, Controller, ControllerConfig, ControllerError, SearchSpace};
use serde::{Deserialize, Serialize};

use crate::evolution::EvolutionController;
use crate::mutation::Mutation;

/// Settings of the aging-evolution controller.
///
/// ```toml
/// [controller]
/// type = "evolution"
/// population = 20
/// sample_size = 5
/// max_attempts = 100
/// mutation = { units = 1.0, activation = 1.0, insert = 1.0, remove = 1.0, dropout = 0.5, training = 1.0 }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvolutionControllerConfig {
    /// Members kept (the most recently evaluated architectures); also the number of uniform random
    /// proposals before evolution starts.
    pub population: usize,
    /// Members drawn (uniformly, without replacement) for each tournament; the best is the parent.
    pub sample_size: usize,
    /// Relative weights of the mutations.
    pub mutation: MutationWeights,
    /// Mutations tried per proposal (and random draws per fallback) before falling back (to a
    /// uniform untried sequence, then to enumerating the untried sequences).
    pub max_attempts: usize,
}

impl Default for EvolutionControllerConfig {
    fn default() -> Self {
        Self { population: 20, sample_size: 5, mutation: MutationWeights::default(), max_attempts: 100 }
    }
}

/// Relative weights of the mutations (`[controller.mutation]`); they need not sum to 1, and a
/// weight of 0 disables that mutation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MutationWeights {
    /// Change one hidden layer's width.
    pub units: f64,
    /// Change one hidden layer's activation.
    pub activation: f64,
    /// Insert a hidden layer.
    pub insert: f64,
    /// Remove a hidden layer (with its dropout).
    pub remove: f64,
    /// Add or remove the dropout after a hidden layer.
    pub dropout: f64,
    /// Change one training setting (only drawn in a space that searches some).
    pub training: f64,
}

impl Default for MutationWeights {
    fn default() -> Self {
        Self { units: 1.0, activation: 1.0, insert: 1.0, remove: 1.0, dropout: 0.5, training: 1.0 }
    }
}

impl MutationWeights {
    /// The weight of `m`.
    pub fn weight(&self, m: Mutation) -> f64 {
        match m {
            Mutation::Units => self.units,
            Mutation::Activation => self.activation,
            Mutation::Insert => self.insert,
            Mutation::Remove => self.remove,
            Mutation::Dropout => self.dropout,
            Mutation::Training => self.training,
        }
    }

    /// Checks every weight (finite, non-negative) and that one at least is positive.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for m in Mutation::ALL {
            let w = self.weight(m);
            if !w.is_finite() || w < 0.0 {
                return Err(ConfigError::new(
                    format!("mutation.{}", m.name()),
                    format!("{w} is not a finite weight >= 0"),
                ));
            }
        }
        if Mutation::ALL.iter().all(|&m| self.weight(m) == 0.0) {
            return Err(ConfigError::new("mutation", "at least one mutation weight must be positive"));
        }
        Ok(())
    }
}

impl EvolutionControllerConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.population == 0 {
            return Err(ConfigError::new("population", "must be at least 1"));
        }
        if self.sample_size == 0 || self.sample_size > self.population {
            return Err(ConfigError::new(
                "sample_size",
                format!("{} is not in 1..={} (the population)", self.sample_size, self.population),
            ));
        }
        if self.max_attempts == 0 {
            return Err(ConfigError::new("max_attempts", "must be at least 1"));
        }
        self.mutation.validate()
    }

    /// Validates, then builds the controller, its RNG seeded with `seed`: the one way to a
    /// controller (the trait's `build` comes here too), so it only ever runs a checked config.
    pub fn build(&self, seed: u64) -> Result<EvolutionController, ConfigError> {
        self.validate()?;
        Ok(EvolutionController::new(self.clone(), seed))
    }
}

#[typetag::serde(name = "evolution")]
impl ControllerConfig for EvolutionControllerConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        EvolutionControllerConfig::validate(self)
    }

    fn build(&self, _space: &dyn SearchSpace, seed: u64) -> Result<Box<dyn Controller>, ControllerError> {
        let controller =
            EvolutionControllerConfig::build(self, seed).map_err(|e| ControllerError::Other(e.to_string()))?;
        Ok(Box::new(controller))
    }

    fn added_fields(&self) -> &'static [(&'static str, &'static str)] {
        // Before training settings could be searched there was no training mutation (it is
        // never drawn in a space without them, whatever its weight).
        &[("mutation.training", "0.0")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn defaults_and_typetag() -> TestResult {
        let cfg: Box<dyn ControllerConfig> = toml::from_str(r#"type = "evolution""#)?;
        cfg.validate()?;
        assert_eq!(
            serde_json::to_string(&cfg)?,
            r#"{"type":"evolution","population":20,"sample_size":5,"mutation":{"units":1.0,"activation":1.0,"insert":1.0,"remove":1.0,"dropout":0.5,"training":1.0},"max_attempts":100}"#
        );
        let cfg: Box<dyn ControllerConfig> =
            toml::from_str("type = \"evolution\"\npopulation = 8\n[mutation]\ndropout = 0.0\nremove = 2.0\n")?;
        cfg.validate()?;
        let json = serde_json::to_string(&cfg)?;
        assert!(json.contains(r#""population":8"#) && json.contains(r#""remove":2.0,"dropout":0.0"#), "{json}");
        Ok(())
    }

    /// As the search writes the resolved config: through a TOML table, under `[controller]`.
    #[test]
    fn round_trips_through_toml() -> TestResult {
        let cfg = EvolutionControllerConfig { population: 7, sample_size: 3, ..Default::default() };
        let boxed: Box<dyn ControllerConfig> = Box::new(cfg.clone());
        let mut root = toml::Table::new();
        root.insert("controller".into(), toml::Value::try_from(&boxed)?);
        let text = toml::to_string_pretty(&root)?;
        assert!(text.contains("[controller.mutation]"), "{text}");
        let mut back: toml::Table = toml::from_str(&text)?;
        let back: Box<dyn ControllerConfig> = back.remove("controller").ok_or("no [controller]")?.try_into()?;
        assert_eq!(serde_json::to_value(&back)?, serde_json::to_value(&boxed)?);
        assert_eq!(toml::from_str::<EvolutionControllerConfig>(&toml::to_string(&cfg)?)?, cfg);
        Ok(())
    }

    #[test]
    fn rejects_bad_configs() {
        for text in ["type = \"evolution\"\nlr = 0.1\n", "type = \"evolution\"\n[mutation]\nswap = 1.0\n"] {
            assert!(toml::from_str::<Box<dyn ControllerConfig>>(text).is_err(), "{text}");
        }
        let d = EvolutionControllerConfig::default;
        let w = |f: fn(&mut MutationWeights)| {
            let mut m = MutationWeights::default();
            f(&mut m);
            EvolutionControllerConfig { mutation: m, ..d() }
        };
        for (cfg, field) in [
            (EvolutionControllerConfig { population: 0, ..d() }, "population"),
            (EvolutionControllerConfig { sample_size: 0, ..d() }, "sample_size"),
            (EvolutionControllerConfig { sample_size: 21, ..d() }, "sample_size"),
            (EvolutionControllerConfig { max_attempts: 0, ..d() }, "max_attempts"),
            (w(|m| m.insert = -1.0), "mutation.insert"),
            (w(|m| m.units = f64::NAN), "mutation.units"),
            (
                w(|m| {
                    *m = MutationWeights {
                        units: 0.0,
                        activation: 0.0,
                        insert: 0.0,
                        remove: 0.0,
                        dropout: 0.0,
                        training: 0.0,
                    }
                }),
                "mutation",
            ),
        ] {
            let e = cfg.validate().expect_err("invalid");
            assert_eq!(e.field, field, "{cfg:?}: {e}");
            assert!(cfg.build(0).is_err());
        }
    }
}
