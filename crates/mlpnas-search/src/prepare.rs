//! [`prepare_data`]: a run's data as its trainer gets it (loaded, split once with the run's seed,
//! standardized on the training part).

use std::sync::Arc;

use mlpnas_core::DataSplit;
use mlpnas_core::seed::derive;

use crate::config::SearchConfig;
use crate::error::SearchError;

/// Loaded, split and standardized data, ready for a trainer.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The fixed split.
    pub split: Arc<DataSplit>,
    /// Standardization fitted on the training part, if on.
    pub standardizer: Option<mlpnas_data::Standardizer>,
}

/// Loads the config's data and splits it with the config's seed; for a trainer that needs no
/// data (a benchmark table), an empty split.
pub fn prepare_data(cfg: &SearchConfig) -> Result<Prepared, SearchError> {
    if !cfg.trainer.needs_data() {
        let empty = mlpnas_core::Dataset {
            features: Vec::new(),
            sample_shape: Vec::new(),
            labels: Vec::new(),
            class_names: Vec::new(),
            feature_names: Vec::new(),
        };
        let split = DataSplit { train: empty.clone(), valid: empty, test: None };
        return Ok(Prepared { split: Arc::new(split), standardizer: None });
    }
    let data = mlpnas_data::load(&cfg.data, &cfg.base_dir)?;
    let p = mlpnas_data::prepare(&cfg.data, data, derive(cfg.seed, "split", 0))?;
    Ok(Prepared { split: Arc::new(p.split), standardizer: p.standardizer })
}
