//! [`prepare_data`]: a run's data as its trainer gets it (loaded, split once with the run's seed,
//! encoded and standardized on the training part).

use std::sync::Arc;

use mlpnas_core::seed::derive;
use mlpnas_core::{ConfigError, DataSplit, Objective};

use crate::config::SearchConfig;
use crate::error::SearchError;

/// Loaded, split and standardized data, ready for a trainer.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The fixed split.
    pub split: Arc<DataSplit>,
    /// The encoding of a table's columns, fitted on the training part (`None`: numbers only).
    pub preprocessor: Option<mlpnas_data::Preprocessor>,
    /// Standardization fitted on the training part, if on.
    pub standardizer: Option<mlpnas_data::Standardizer>,
    /// The columns as loaded (types, missing cells, levels, what was left out).
    pub columns: Vec<mlpnas_data::ColumnInfo>,
    /// What loading left out, one line each.
    pub notes: Vec<String>,
    /// `search.metric` resolved against the classes (its positive class) or the target.
    pub objective: Objective,
}

/// The run's objective on `split`: `search.metric` with its positive class, checked against
/// the data's classes (f1 needs two; a named positive class must exist). A space that loads no
/// data (a benchmark table) has its own metric and gets the default.
pub fn objective(cfg: &SearchConfig, split: &DataSplit) -> Result<Objective, SearchError> {
    if !cfg.trainer.needs_data() {
        return Ok(Objective::default());
    }
    let err =
        |field: &str, e: String| SearchError::Config { path: cfg.origin.clone(), source: ConfigError::new(field, e) };
    // The metric against the data first (f1 on three classes is the metric's fault, whatever
    // the positive class), then the positive class.
    Objective::resolve(cfg.search.metric, None, &split.train).map_err(|e| err("search.metric", e))?;
    Objective::resolve(cfg.search.metric, cfg.search.positive_class.as_deref(), &split.train)
        .map_err(|e| err("search.positive_class", e))
}

/// Loads the config's data and splits it with its split seed ([`SearchConfig::split_seed`]);
/// for a trainer that needs no data (a benchmark table), an empty split.
pub fn prepare_data(cfg: &SearchConfig) -> Result<Prepared, SearchError> {
    if !cfg.trainer.needs_data() {
        let empty = mlpnas_core::Dataset {
            features: Vec::new(),
            sample_shape: Vec::new(),
            labels: Vec::new(),
            targets: Vec::new(),
            class_names: Vec::new(),
            feature_names: Vec::new(),
        };
        let split = DataSplit { train: empty.clone(), valid: empty, test: None };
        return Ok(Prepared {
            split: Arc::new(split),
            preprocessor: None,
            standardizer: None,
            columns: Vec::new(),
            notes: Vec::new(),
            objective: Objective::default(),
        });
    }
    let data = mlpnas_data::load(&cfg.data, &cfg.base_dir, cfg.search.task)?;
    let p = mlpnas_data::prepare(&cfg.data, data, derive(cfg.split_seed(), "split", 0))?;
    let split = Arc::new(p.split);
    let objective = objective(cfg, &split)?;
    // Settings the data contradicts (a class weight for a class it lacks) fail here, before a
    // run is created.
    // So do resampling settings the data cannot meet (more folds than a class has rows).
    crate::resampled::build_trainer(cfg, Arc::clone(&split), &objective)?;
    Ok(Prepared {
        split,
        preprocessor: p.preprocessor,
        standardizer: p.standardizer,
        columns: p.columns,
        notes: p.notes,
        objective,
    })
}
