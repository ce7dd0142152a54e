//! The trainer extension point: the whole life of a model, from a search trial to a prediction.
//!
//! [`ArchitectureTrainer`] trains a search trial ([`ArchitectureTrainer::train`]), fits a chosen
//! architecture with early stopping ([`ArchitectureTrainer::fit`], `mlpnas finalize`) and scores
//! weights on a data part ([`ArchitectureTrainer::score`]); [`TrainerConfig::model`] turns
//! weights into a [`Model`] that predicts class probabilities (`mlpnas predict`). Weights cross
//! this boundary only as [`LayerWeights`], so an exported model is written in the one weights
//! format ([`crate::codec`]) by the caller, whatever the trainer.

use std::any::Any;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::arch::Architecture;
use crate::data::{DataSplit, Dataset};
use crate::error::{ConfigError, TrainerError};
use crate::objective::{MetricValue, Objective};
use crate::tensor::LayerWeights;

/// Metrics after one training epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Loss on the validation rows.
    pub val_loss: f64,
    /// Accuracy on the validation rows.
    pub val_acc: f64,
    /// The run's `search.metric` on the validation rows, named, when it is not the accuracy
    /// (absent in runs made before metrics, which are scored by accuracy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<MetricValue>,
}

impl EpochMetrics {
    /// What this epoch contributes to a reward: its metric's reward, else its accuracy.
    pub fn reward(&self) -> f64 {
        self.metric.map_or(self.val_acc, MetricValue::reward)
    }
}

/// What training one architecture produced.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOutcome {
    /// One entry per epoch run (fewer than configured if it diverged).
    pub epochs: Vec<EpochMetrics>,
    /// Whether a loss became NaN or infinite.
    pub diverged: bool,
    /// Trained weights of each dense layer in order (empty when diverged).
    pub weights: Vec<LayerWeights>,
    /// The reward and raw metric of a candidate measured without epochs (a benchmark table's
    /// row); `None` for a trained network, whose reward comes from its epochs.
    pub measured: Option<Measured>,
    /// A candidate scored on resampled splits (`search.folds`, `search.repeats`): each split's
    /// epochs, in order (`epochs` is then their per-epoch mean, and the reward the mean of
    /// theirs); empty otherwise.
    pub evaluations: Vec<Vec<EpochMetrics>>,
}

/// A reward measured directly ([`ArchitectureTrainer::measure`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// What controllers maximise (`-metric` for a metric to minimise).
    pub reward: f64,
    /// The metric as measured (e.g. a validation loss).
    pub metric: f64,
    /// The recorded training time of what was measured (a benchmark table's `seconds`), if any:
    /// the `seconds` objective of a multi-objective search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
}

impl TrainOutcome {
    /// Reward: the mean of the epochs' validation metric `metric` (the accuracy, as in the
    /// original MLPNAS, by default; negated for a metric to minimise) weighted by epoch number
    /// (1..N); [`Objective::worst_reward`] when diverged.
    pub fn reward(&self, objective: &Objective) -> f64 {
        if let Some(m) = self.measured {
            return m.reward;
        }
        if self.diverged || self.epochs.is_empty() {
            return objective.worst_reward();
        }
        if self.evaluations.is_empty() {
            return epochs_reward(&self.epochs);
        }
        self.scores(objective).iter().sum::<f64>() / self.evaluations.len() as f64
    }
    /// The reward of each resampled evaluation, in order (empty without resampling); a diverged
    /// candidate's are all [`Objective::worst_reward`].
    pub fn scores(&self, objective: &Objective) -> Vec<f64> {
        self.evaluations
            .iter()
            .map(|e| if self.diverged || e.is_empty() { objective.worst_reward() } else { epochs_reward(e) })
            .collect()
    }
    /// Validation accuracy after the last epoch (0 when diverged).
    pub fn val_acc_last(&self) -> f64 {
        if self.diverged { 0.0 } else { self.epochs.last().map_or(0.0, |e| e.val_acc) }
    }
}

/// The epoch-weighted mean (weights 1..N) of the epochs' rewards.
fn epochs_reward(epochs: &[EpochMetrics]) -> f64 {
    let (num, den) = epochs
        .iter()
        .enumerate()
        .fold((0.0, 0.0), |(n, d), (i, e)| (n + (i + 1) as f64 * e.reward(), d + (i + 1) as f64));
    num / den
}

/// When a [`ArchitectureTrainer::fit`] stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EarlyStopping {
    /// Epochs at most (at least 1).
    pub max_epochs: usize,
    /// Stop after this many epochs without a lower validation loss (at least 1); the best
    /// epoch's weights are kept.
    pub patience: usize,
}

/// What a fit with early stopping produced.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOutcome {
    /// One entry per epoch run.
    pub epochs: Vec<EpochMetrics>,
    /// 1-based epoch whose weights were kept (lowest validation loss); 0 when none finished.
    pub best_epoch: usize,
    /// Whether training stopped early because the validation loss stopped improving.
    pub stopped_early: bool,
    /// Whether a loss became NaN or infinite (training stops there; `weights` are the best
    /// epoch's, if any finished).
    pub diverged: bool,
    /// Weights of the best epoch, one entry per dense layer (empty when no epoch finished).
    pub weights: Vec<LayerWeights>,
}

impl FitOutcome {
    /// Metrics of the kept epoch.
    pub fn best(&self) -> Option<&EpochMetrics> {
        self.best_epoch.checked_sub(1).and_then(|i| self.epochs.get(i))
    }
}

/// Loss, accuracy and the run's metric of weights on a data part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Mean loss.
    pub loss: f64,
    /// Share of rows classified correctly.
    pub accuracy: f64,
    /// The objective's metric (the accuracy again when that is the metric).
    pub metric: MetricValue,
}

/// Where a trial trained in rungs stands between them ([`ArchitectureTrainer::train_to`]): the
/// trainer's own state (weights, optimizer moments, random streams), opaque to the search.
pub type Continuation = Box<dyn Any + Send>;

/// Trains architectures on one fixed data split.
///
/// # Design
///
/// A trainer owns its data (fixed for the whole search, so shared weights never see validation
/// rows) and is stateless between calls: `train(&self, ..)` takes everything a trial needs
/// (architecture, initial weights from the store, a per-trial seed) and returns everything it
/// produced (metrics, trained weights). It never touches the weight store itself: the search
/// reads the store before and writes it after, which keeps the sharing order deterministic even
/// when several trials run at once. `Send + Sync` so one trainer serves several worker threads.
/// The same seed, architecture and initial weights give the same outcome on one backend.
pub trait ArchitectureTrainer: Send + Sync + fmt::Debug {
    /// Trains `arch`; `init[i]` (if `Some`) holds the starting weights of the i-th dense layer
    /// (already checked to fit). Initial weights for the others and dropout masks derive from `seed`.
    fn train(
        &self,
        arch: &Architecture,
        init: &[Option<LayerWeights>],
        seed: u64,
    ) -> Result<TrainOutcome, TrainerError>;
    /// Final training of `arch` (`mlpnas finalize`): up to `stop.max_epochs` epochs with early
    /// stopping on the validation loss and the best epoch's weights kept; the same optimizer,
    /// batch size, initialization and seeding as a search trial, `init` as for `train`.
    fn fit(
        &self,
        arch: &Architecture,
        init: &[Option<LayerWeights>],
        seed: u64,
        stop: EarlyStopping,
    ) -> Result<FitOutcome, TrainerError>;
    /// Loss and accuracy of `arch` with `weights` (one per dense layer) on `part` (e.g. the
    /// test part), which must have the training part's width and classes.
    fn score(&self, arch: &Architecture, weights: &[LayerWeights], part: &Dataset) -> Result<Score, TrainerError>;
    /// Measures a candidate that is not a network: a point of a benchmark table, given as one
    /// value index per dimension ([`crate::Candidate::Point`]); `seed` picks among its noisy
    /// observations. Network trainers refuse.
    fn measure(&self, point: &[u32], seed: u64) -> Result<TrainOutcome, TrainerError> {
        let _ = (point, seed);
        Err(TrainerError::Other("this trainer trains networks; it cannot measure a point of a table space".into()))
    }
    /// [`Self::measure`] at a lower fidelity: the point's metric after `epochs` training epochs
    /// (the same observation `measure` draws for `seed`), for a multi-fidelity search over a
    /// table with learning curves. Trainers without curves refuse.
    fn measure_at(&self, point: &[u32], seed: u64, epochs: usize) -> Result<TrainOutcome, TrainerError> {
        let _ = (point, seed, epochs);
        Err(TrainerError::Other("this trainer has no learning curves to look a point up after some epochs".into()))
    }
    /// Epochs of a full trial, for a multi-fidelity search (`[scheduler]`), when this trainer
    /// can train a trial in rungs ([`Self::train_to`]); otherwise why it cannot. The default
    /// (trainers that only train to the end) cannot.
    fn fidelity(&self) -> Result<usize, TrainerError> {
        Err(TrainerError::Other("this trainer cannot stop a trial after some epochs and continue it later".into()))
    }
    /// Trains or measures `candidate` to `epochs` epochs in all: from the start (`from` is
    /// `None`; `init` as for [`Self::train`]) or continuing a [`Continuation`] an earlier call
    /// returned for the same candidate and seed. The outcome covers every epoch from the first,
    /// and equals that of a trial trained `epochs` epochs in one go (same seed, same batches).
    /// Returns where it stands, for a later call (`None` when it cannot go on, e.g. diverged).
    /// Only called when [`Self::fidelity`] is `Ok`.
    fn train_to(
        &self,
        candidate: &crate::Candidate,
        init: &[Option<LayerWeights>],
        seed: u64,
        epochs: usize,
        from: Option<Continuation>,
    ) -> Result<(TrainOutcome, Option<Continuation>), TrainerError> {
        let _ = (candidate, init, seed, epochs, from);
        Err(self.fidelity().err().unwrap_or_else(|| TrainerError::Other("train_to is not implemented".into())))
    }
    /// Whether this trainer's outcomes carry a recorded training time ([`Measured::seconds`]),
    /// the `seconds` objective of a multi-objective search. The default (trainers that train):
    /// no, since a search's own wall time is not reproducible.
    fn records_seconds(&self) -> Result<(), TrainerError> {
        Err(TrainerError::Other(
            "this trainer records no training time of its own (a search's wall time is not reproducible); `seconds` is an objective on benchmark tables with a seconds column".into(),
        ))
    }
    /// Whether this trainer's [`Continuation`]s can travel to another process
    /// ([`Self::save_continuation`], [`Self::load_continuation`]): a multi-fidelity search whose
    /// rungs PostgreSQL workers train needs it. The default cannot, and says why.
    fn continuations_travel(&self) -> Result<(), TrainerError> {
        Err(TrainerError::Other("this trainer cannot hand a trial it stopped to another process".into()))
    }
    /// The bytes of `from` (a continuation this trainer's [`Self::train_to`] returned), for
    /// another process's trainer of the same run to continue: [`Self::load_continuation`] of
    /// them continues exactly as `from` would. Only called when [`Self::continuations_travel`]
    /// is `Ok`.
    fn save_continuation(&self, from: &Continuation) -> Result<Vec<u8>, TrainerError> {
        let _ = from;
        Err(self
            .continuations_travel()
            .err()
            .unwrap_or_else(|| TrainerError::Other("save_continuation is not implemented".into())))
    }
    /// The continuation [`Self::save_continuation`] wrote as `bytes`.
    fn load_continuation(&self, bytes: &[u8]) -> Result<Continuation, TrainerError> {
        let _ = bytes;
        Err(self
            .continuations_travel()
            .err()
            .unwrap_or_else(|| TrainerError::Other("load_continuation is not implemented".into())))
    }
    /// Checks that this trainer can train or measure the candidates of `space` (built from the
    /// same config), before anything is trained. The default (network trainers): `space` must be
    /// an MLP space.
    fn check_space(&self, space: &dyn crate::SearchSpace) -> Result<(), TrainerError> {
        if space.as_mlp().is_none() {
            return Err(TrainerError::Other(
                "this trainer trains networks, and the [space] is not an MLP space (a table space needs [trainer] type = \"table\")".into(),
            ));
        }
        Ok(())
    }
    /// Width of the flattened input.
    fn input_dim(&self) -> usize;
    /// Number of classes of the task (0: a regression).
    fn n_classes(&self) -> usize;
}

/// A trained architecture, ready to predict (`mlpnas predict`).
///
/// # Design
///
/// Built by [`TrainerConfig::model`] from plain [`LayerWeights`], so a model exported by one
/// trainer on one backend is loaded by any process: the weights file is the caller's, in the
/// one weights format. Inputs are already preprocessed (standardized) rows.
pub trait Model: Send + Sync + fmt::Debug {
    /// Its architecture.
    fn architecture(&self) -> &Architecture;
    /// Number of classes it predicts (0: a regression, predicting one value per row).
    fn n_classes(&self) -> usize;
    /// Class probabilities of `rows` examples (`features` row-major), as `rows * n_classes`
    /// values; a one-unit sigmoid output gives `[1 - p, p]` per row; a regression (0 classes)
    /// gives its one output per row, as its weights compute it.
    fn predict_proba(&self, features: &[f32], rows: usize) -> Result<Vec<f32>, TrainerError>;
}

/// Serializable settings that build an [`ArchitectureTrainer`] (`[trainer]`, `type = "..."`).
///
/// Errors name fields relative to the section (`epochs`, not `trainer.epochs`): the host that
/// mounts the section adds its path ([`ConfigError::within`]).
#[typetag::serde(tag = "type")]
pub trait TrainerConfig: fmt::Debug + Send + Sync {
    /// Checks every field (called once, when the config is loaded).
    fn validate(&self) -> Result<(), ConfigError>;
    /// Builds a trainer over `data` from a validated config, reporting `objective`'s metric for
    /// every epoch ([`EpochMetrics::metric`]) and score. Fails on settings the data contradicts
    /// (a class weight for a class it lacks): the search builds one before it writes anything.
    fn build(&self, data: Arc<DataSplit>, objective: &Objective) -> Result<Box<dyn ArchitectureTrainer>, TrainerError>;
    /// The inference model of `arch` with trained `weights` (one per dense layer).
    fn model(&self, arch: &Architecture, weights: &[LayerWeights]) -> Result<Box<dyn Model>, TrainerError>;
    /// Whether it trains on the config's `[data]` (a table trainer does not: a table search
    /// loads no data).
    fn needs_data(&self) -> bool {
        true
    }
    /// Makes relative paths absolute against `base` (the config file's directory).
    fn rebase(&mut self, base: &Path) {
        let _ = base;
    }
    /// A copy, boxed (model cards keep the config a model was trained with).
    fn boxed_clone(&self) -> Box<dyn TrainerConfig>;
    /// The backend it runs on, for trainers that have one (shown in model cards).
    fn backend(&self) -> Option<String> {
        None
    }
    /// Runs on `backend` instead (`finalize --backend`, `predict --backend`); the name is
    /// checked like the config's own. Trainers without backends refuse.
    fn set_backend(&mut self, backend: &str) -> Result<(), ConfigError> {
        Err(ConfigError::new("backend", format!("this trainer has no backends (asked for {backend:?})")))
    }
    /// Fields added to this config after runs were first stored, each with the value (TOML
    /// text) that a run stored before the field existed was made with: a stored run config that
    /// lacks one is read with that value, so that it resumes and finalizes as it was made (the
    /// default of a new config may differ). Example: `[("gradients", "\"autodiff\"")]`.
    fn added_fields(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// Reads the weights of a model file written by an earlier release in this trainer's own
    /// format (before models were exported in the one weights format).
    fn import_legacy_model(&self, arch: &Architecture, path: &Path) -> Result<Vec<LayerWeights>, TrainerError> {
        let _ = arch;
        Err(TrainerError::Other(format!("{}: this trainer cannot read this model file", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metric;

    fn m(val_acc: f64) -> EpochMetrics {
        EpochMetrics { train_loss: 1.0, val_loss: 1.0, val_acc, metric: None }
    }

    #[test]
    fn reward_weights_later_epochs_more() {
        let by = |metric| Objective { metric, ..Objective::default() };
        let o = TrainOutcome {
            epochs: vec![m(0.0), m(0.5), m(1.0)],
            diverged: false,
            weights: vec![],
            measured: None,
            evaluations: Vec::new(),
        };
        // (1*0 + 2*0.5 + 3*1) / 6
        assert!((o.reward(&by(Metric::Accuracy)) - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(o.val_acc_last(), 1.0);
        let d = TrainOutcome { diverged: true, ..o.clone() };
        assert_eq!(d.reward(&by(Metric::Accuracy)), 0.0);
        assert_eq!(d.reward(&by(Metric::LogLoss)), Metric::LogLoss.worst_reward());
        // A diverged regression: predictions 10 training standard deviations off.
        let rmse = Objective { metric: Metric::Rmse, positive: 0, target_std: 3.0 };
        assert_eq!(d.reward(&rmse), -30.0);
        // A metric to minimise enters negated: log losses 2 then 1 give -(1*2 + 2*1) / 3.
        let ll = |v| EpochMetrics { metric: Some(MetricValue { name: Metric::LogLoss, value: v }), ..m(0.5) };
        let l = TrainOutcome { epochs: vec![ll(2.0), ll(1.0)], ..o };
        assert!((l.reward(&by(Metric::LogLoss)) + 4.0 / 3.0).abs() < 1e-12);
        assert_eq!(d.val_acc_last(), 0.0);
    }
}
