//! The table trainer (`[trainer] type = "table"`, `path = DIR`): a trial looks its configuration
//! up instead of training it.
//!
//! With `noise = "seed"` (the default) the reward is the metric of one of the configuration's
//! seeds, drawn from the trial's random stream, like a real, noisy training run; with `"mean"` it
//! is the mean over its seeds. For a `minimize` table the reward is `-metric`, so controllers
//! always maximise; the raw metric goes to the journal as `metric`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use mlpnas_core::{
    Architecture, ArchitectureTrainer, Candidate, ConfigError, Continuation, DataSplit, Dataset, EarlyStopping,
    FitOutcome, LayerWeights, Measured, Model, Objective, Score, SearchSpace, TrainOutcome, TrainerConfig,
    TrainerError,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::space::TableSpace;
use mlpnas_data::table::{Observation, Table};
use mlpnas_data::table_curves::Curves;

/// Which of a configuration's observations a trial sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Noise {
    /// One seed's metric, drawn from the trial's random stream.
    #[default]
    Seed,
    /// The mean over its seeds (no noise).
    Mean,
}

/// Settings of the table trainer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableTrainerConfig {
    /// The table directory (relative to the config file's directory); the `[space]`'s table.
    pub path: PathBuf,
    /// Which observation a trial sees.
    #[serde(default)]
    pub noise: Noise,
}

const NO_NETWORK: &str = "a table trainer looks configurations up in its table; it trains no networks (finalize, eval, export and predict need an MLP space and a network trainer)";

#[typetag::serde(name = "table")]
impl TrainerConfig for TableTrainerConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.path.as_os_str().is_empty() {
            return Err(ConfigError::new("path", "is empty; name a table directory (table.toml + table.csv)"));
        }
        // Loaded (once: `Table::open` caches it) while the config is checked, so that a bad
        // table is reported before a run is created.
        Table::open(&self.path).map_err(|e| ConfigError::new("path", e.to_string()))?;
        Ok(())
    }
    fn build(
        &self,
        _data: Arc<DataSplit>,
        _objective: &Objective,
    ) -> Result<Box<dyn ArchitectureTrainer>, TrainerError> {
        let table = Table::open(&self.path).map_err(|e| TrainerError::Other(e.to_string()))?;
        Ok(Box::new(TableTrainer::new(table, self.noise).with_curves_in(&self.path)))
    }
    fn model(&self, _arch: &Architecture, _weights: &[LayerWeights]) -> Result<Box<dyn Model>, TrainerError> {
        Err(TrainerError::Other(NO_NETWORK.into()))
    }
    fn boxed_clone(&self) -> Box<dyn TrainerConfig> {
        Box::new(self.clone())
    }
    fn needs_data(&self) -> bool {
        false
    }
    fn rebase(&mut self, base: &Path) {
        if self.path.is_relative() && !self.path.as_os_str().is_empty() {
            self.path = base.join(&self.path);
        }
    }
}

/// Measures configurations of one table.
#[derive(Debug, Clone)]
pub struct TableTrainer {
    table: Arc<Table>,
    noise: Noise,
    /// The table's directory, whose `epochs.csv` [`ArchitectureTrainer::measure_at`] reads.
    dir: Option<PathBuf>,
    /// Its learning curves, read on the first lookup at a fidelity (or why they cannot be).
    curves: Arc<OnceLock<Result<Curves, String>>>,
}

impl TableTrainer {
    /// The outcome of `point` for trial seed `seed`: the metric `metric_of` gives for one
    /// observation (index, observation), of the observation the seed draws or the mean over all
    /// ([`Noise`]), with that observation's recorded training seconds (the mean's: their mean).
    fn observed(
        &self,
        point: &[u32],
        seed: u64,
        metric_of: impl Fn(usize, &Observation) -> Result<f64, TrainerError>,
    ) -> Result<TrainOutcome, TrainerError> {
        let obs = self.table.observations(point).ok_or_else(|| {
            TrainerError::Other(format!("{:?} is not a configuration of table {}", point, self.table.description.name))
        })?;
        let (metric, seconds) = match self.noise {
            Noise::Seed => {
                let j = Self::drawn(seed, obs.len());
                (metric_of(j, &obs[j])?, obs[j].seconds)
            }
            Noise::Mean => {
                let n = obs.len() as f64;
                let metric = obs.iter().enumerate().map(|(j, o)| metric_of(j, o)).sum::<Result<f64, _>>()? / n;
                let seconds = obs.iter().map(|o| o.seconds).sum::<Option<f64>>().map(|s| s / n);
                (metric, seconds)
            }
        };
        let reward = self.table.description.direction.reward(metric);
        Ok(TrainOutcome {
            epochs: Vec::new(),
            diverged: false,
            weights: Vec::new(),
            measured: Some(Measured { reward, metric, seconds }),
            evaluations: Vec::new(),
        })
    }

    /// A trainer over `table`.
    pub fn new(table: Arc<Table>, noise: Noise) -> Self {
        Self { table, noise, dir: None, curves: Arc::new(OnceLock::new()) }
    }

    /// The same, with the learning curves of the table in `dir` for lookups at a fidelity.
    pub fn with_curves_in(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// Its learning curves, read on first use (or why they cannot be).
    fn curves(&self) -> Result<&Curves, TrainerError> {
        let name = &self.table.description.name;
        let curves = self.curves.get_or_init(|| match &self.dir {
            Some(dir) => Curves::load(dir, &self.table).map_err(|e| e.to_string()),
            None => Err(format!("table {name}: no directory to read its learning curves from")),
        });
        curves.as_ref().map_err(|e| TrainerError::Other(e.clone()))
    }

    /// Index of the observation `seed` draws among `obs` observations (`noise = "seed"`).
    fn drawn(seed: u64, obs: usize) -> usize {
        ChaCha8Rng::seed_from_u64(seed).random_range(0..obs)
    }
}

impl ArchitectureTrainer for TableTrainer {
    fn train(
        &self,
        _arch: &Architecture,
        _init: &[Option<LayerWeights>],
        _seed: u64,
    ) -> Result<TrainOutcome, TrainerError> {
        Err(TrainerError::Other(NO_NETWORK.into()))
    }
    fn fit(
        &self,
        _arch: &Architecture,
        _init: &[Option<LayerWeights>],
        _seed: u64,
        _stop: EarlyStopping,
    ) -> Result<FitOutcome, TrainerError> {
        Err(TrainerError::Other(NO_NETWORK.into()))
    }
    fn score(&self, _arch: &Architecture, _weights: &[LayerWeights], _part: &Dataset) -> Result<Score, TrainerError> {
        Err(TrainerError::Other(NO_NETWORK.into()))
    }
    fn measure(&self, point: &[u32], seed: u64) -> Result<TrainOutcome, TrainerError> {
        self.observed(point, seed, |_, o| Ok(o.metric))
    }
    fn fidelity(&self) -> Result<usize, TrainerError> {
        match self.curves()?.epochs() {
            0 => Err(TrainerError::Other(format!(
                "table {}: its learning curves are empty, so there is no epoch to stop at",
                self.table.description.name
            ))),
            e => Ok(e),
        }
    }
    fn train_to(
        &self,
        candidate: &Candidate,
        _init: &[Option<LayerWeights>],
        seed: u64,
        epochs: usize,
        _from: Option<Continuation>,
    ) -> Result<(TrainOutcome, Option<Continuation>), TrainerError> {
        let Candidate::Point { values, .. } = candidate else { return Err(TrainerError::Other(NO_NETWORK.into())) };
        // A lookup has nothing to carry over: the next rung looks the point up again.
        Ok((self.measure_at(values, seed, epochs)?, Some(Box::new(()))))
    }
    fn continuations_travel(&self) -> Result<(), TrainerError> {
        Ok(())
    }
    fn save_continuation(&self, _from: &Continuation) -> Result<Vec<u8>, TrainerError> {
        // Nothing to carry over (`train_to`): no bytes.
        Ok(Vec::new())
    }
    fn load_continuation(&self, bytes: &[u8]) -> Result<Continuation, TrainerError> {
        if !bytes.is_empty() {
            return Err(TrainerError::Other(format!(
                "a continued lookup carries no state, and this one holds {} bytes",
                bytes.len()
            )));
        }
        Ok(Box::new(()))
    }
    fn measure_at(&self, point: &[u32], seed: u64, epochs: usize) -> Result<TrainOutcome, TrainerError> {
        let name = &self.table.description.name;
        let curves = self.curves()?;
        self.observed(point, seed, |j, _| {
            let c = curves.curve(&self.table, point, j).unwrap_or_default();
            c.get(epochs.wrapping_sub(1)).copied().ok_or_else(|| {
                TrainerError::Other(format!(
                    "table {name}: {} has {} epochs of learning curve; asked for epoch {epochs}",
                    self.table.text(point),
                    c.len()
                ))
            })
        })
    }
    fn records_seconds(&self) -> Result<(), TrainerError> {
        if self.table.has_seconds() {
            Ok(())
        } else {
            Err(TrainerError::Other(format!(
                "table {} has no seconds column, so its configurations have no recorded training time",
                self.table.description.name
            )))
        }
    }
    fn check_space(&self, space: &dyn SearchSpace) -> Result<(), TrainerError> {
        // The space must be this table's: same tokens, same meaning.
        let mine = TableSpace::new(Arc::clone(&self.table));
        let same = space.vocab_size() == mine.vocab_size()
            && space.max_len() == mine.max_len()
            && (1..mine.vocab_size() as u32).all(|id| space.token_text(id) == mine.token_text(id));
        if space.as_mlp().is_some() || !same {
            return Err(TrainerError::Other(format!(
                "the [trainer]'s table {} is not the [space]'s: a table search needs [space] and [trainer] type = \"table\" with the same path",
                self.table.description.name
            )));
        }
        Ok(())
    }
    fn input_dim(&self) -> usize {
        0
    }
    fn n_classes(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlpnas_data::table::{Description, Dimension, Direction, Row, Value, write_plain};

    fn table(direction: Direction) -> Arc<Table> {
        let dir = std::env::temp_dir().join(format!("mlpnas-table-trainer-{direction:?}-{}", std::process::id()));
        let description = Description {
            name: "t".into(),
            metric: "loss".into(),
            direction,
            dimensions: vec![Dimension { name: "a".into(), values: vec![Value::Integer(1), Value::Integer(2)] }],
        };
        let rows: Vec<Row> = (0..4)
            .map(|s| Row { config: vec![0], seed: s, metric: 0.1 * (s + 1) as f64, seconds: Some(1.0) })
            .chain([Row { config: vec![1], seed: 0, metric: 0.9, seconds: Some(1.0) }])
            .collect();
        write_plain(&dir, &description, &rows).expect("write");
        Table::open(&dir).expect("load")
    }

    #[test]
    fn the_reward_is_one_seeds_metric_drawn_from_the_trial_seed() {
        let t = TableTrainer::new(table(Direction::Minimize), Noise::Seed);
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..64 {
            let o = t.measure(&[0], seed).expect("measure");
            let m = o.measured.expect("measured");
            assert_eq!(m.reward, -m.metric, "minimize: reward = -metric");
            assert_eq!(o.reward(&mlpnas_core::Objective::default()), m.reward);
            assert_eq!(t.measure(&[0], seed).expect("again"), o, "same seed, same observation");
            seen.insert((m.metric * 10.0).round() as i64);
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![1, 2, 3, 4], "every seed's row is drawn");
        let mean = TableTrainer::new(table(Direction::Maximize), Noise::Mean).measure(&[0], 7).expect("mean");
        let m = mean.measured.expect("measured");
        assert!((m.metric - 0.25).abs() < 1e-12 && m.reward == m.metric, "{m:?}");
        assert!(t.measure(&[5], 0).is_err());
        assert!(t.measure_at(&[0], 0, 1).expect_err("no curves").to_string().contains("learning curves"));
    }

    /// On the seed space's table, a lookup after the last epoch is the full measurement, and
    /// after fewer epochs it is the same observation's curve there.
    #[test]
    fn a_lookup_at_a_fidelity_follows_the_drawn_observations_curve() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tables/winequality-red");
        let table = Table::open(&dir).expect("table");
        let curves = Curves::load(&dir, &table).expect("curves");
        for noise in [Noise::Seed, Noise::Mean] {
            let t = TableTrainer::new(Arc::clone(&table), noise).with_curves_in(&dir);
            for (i, config) in table.configs().iter().enumerate().step_by(97) {
                let seed = 1000 + i as u64;
                let full = t.measure(config, seed).expect("measure").measured.expect("measured");
                let at10 = t.measure_at(config, seed, 10).expect("at 10").measured.expect("measured");
                assert!((full.metric - at10.metric).abs() < 1e-12, "{}", table.text(config));
                let at3 = t.measure_at(config, seed, 3).expect("at 3").measured.expect("measured");
                let n = table.observations(config).expect("obs").len();
                let want = match noise {
                    Noise::Seed => curves.curve(&table, config, TableTrainer::drawn(seed, n)).expect("curve")[2],
                    Noise::Mean => {
                        (0..n).map(|j| curves.curve(&table, config, j).expect("curve")[2]).sum::<f64>() / n as f64
                    }
                };
                assert!((at3.metric - want).abs() < 1e-12);
            }
        }
        let t = TableTrainer::new(Arc::clone(&table), Noise::Seed).with_curves_in(&dir);
        let e = t.measure_at(&table.configs()[0], 0, 11).expect_err("past the curve").to_string();
        assert!(e.contains("10 epochs") && e.contains("epoch 11"), "{e}");
        assert!(t.measure_at(&table.configs()[0], 0, 0).is_err());
    }
}
