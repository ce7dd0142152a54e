//! [`BurnTrainer`]: trains one architecture per call on the search's fixed data split.

use std::sync::Arc;

use burn::tensor::{Device, Int, Tensor, TensorData};
use mlpnas_core::seed::rng;
use mlpnas_core::{
    Architecture, ArchitectureTrainer, Candidate, Continuation, DataSplit, Dataset, EarlyStopping, EpochMetrics,
    FitOutcome, LayerWeights, Objective, OutputKind, Score, TargetScale, TrainOutcome, TrainerError,
};
use rand::seq::SliceRandom;

use crate::closed_form::ClosedFormLearner;
use crate::config::{BurnTrainerConfig, Gradients};
use crate::continuation::{Partial, Saved, Streams};
use crate::learner::{AUTODIFF_STAYS, AutodiffLearner, Learner};
use crate::model::{Plan, build_layers};

/// Trains architectures with Burn on one data split (see [`BurnTrainerConfig`]).
#[derive(Debug)]
pub struct BurnTrainer {
    cfg: BurnTrainerConfig,
    data: Arc<DataSplit>,
    /// What every epoch and score reports beside the accuracy.
    objective: Objective,
    /// The loss weight of each class (`trainer.class_weight`), `None` when all weigh 1.
    class_weights: Option<Vec<f32>>,
    /// A regression's target standardization (of the training rows): the loss sees
    /// standardized targets, every reported metric is in the label's units.
    target: Option<TargetScale>,
}

/// One part of the data on a device: flattened features, loss targets (standardized for a
/// regression), labels (zeros for a regression) and the rows' class weights.
struct DeviceData {
    x: Tensor<2>,
    targets: Tensor<2>,
    labels: Tensor<1, Int>,
    /// `[rows, 1]`: each row's class weight, when classes are weighted.
    weights: Option<Tensor<2>>,
    rows: usize,
}

impl DeviceData {
    fn new(
        d: &Dataset,
        output: OutputKind,
        n_classes: usize,
        (class_weights, target): (Option<&[f32]>, Option<TargetScale>),
        device: &Device,
    ) -> Self {
        let rows = d.n_rows();
        let x = Tensor::<2>::from_data(TensorData::new(d.features.clone(), [rows, d.n_features()]), device);
        let targets = match output {
            OutputKind::Linear => {
                let scale = target.unwrap_or(TargetScale { mean: 0.0, std: 1.0 });
                let y: Vec<f32> = d.targets.iter().map(|&v| scale.scale(v)).collect();
                Tensor::<2>::from_data(TensorData::new(y, [rows, 1]), device)
            }
            OutputKind::Softmax => {
                let mut onehot = vec![0.0f32; rows * n_classes];
                for (r, &l) in d.labels.iter().enumerate() {
                    onehot[r * n_classes + l as usize] = 1.0;
                }
                Tensor::<2>::from_data(TensorData::new(onehot, [rows, n_classes]), device)
            }
            OutputKind::Sigmoid => {
                let y: Vec<f32> = d.labels.iter().map(|&l| l as f32).collect();
                Tensor::<2>::from_data(TensorData::new(y, [rows, 1]), device)
            }
        };
        let labels: Vec<i64> =
            if d.is_regression() { vec![0; rows] } else { d.labels.iter().map(|&l| i64::from(l)).collect() };
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [rows]), device);
        let weights = class_weights.filter(|_| !d.is_regression()).map(|w| {
            let per_row: Vec<f32> = d.labels.iter().map(|&l| w[l as usize]).collect();
            Tensor::<2>::from_data(TensorData::new(per_row, [rows, 1]), device)
        });
        Self { x, targets, labels, weights, rows }
    }
}

impl BurnTrainer {
    /// A trainer over `data` (checked for consistency, and against the class weights) reporting
    /// `objective`'s metric.
    pub fn new(cfg: BurnTrainerConfig, data: Arc<DataSplit>, objective: Objective) -> Result<Self, TrainerError> {
        for (name, part) in [("training", &data.train), ("validation", &data.valid)] {
            part.check().map_err(|e| TrainerError::Mismatch(format!("{name} rows: {e}")))?;
        }
        if data.train.n_features() != data.valid.n_features()
            || data.train.n_classes() != data.valid.n_classes()
            || data.train.is_regression() != data.valid.is_regression()
        {
            return Err(TrainerError::Mismatch("training and validation parts differ in shape".into()));
        }
        let task =
            if data.train.is_regression() { mlpnas_core::Task::Regression } else { mlpnas_core::Task::Classification };
        objective.metric.check_task(task).map_err(TrainerError::Mismatch)?;
        let class_weights =
            cfg.class_weight.resolve(&data.train).map_err(|e| TrainerError::Other(format!("class_weight: {e}")))?;
        let target = TargetScale::of(&data.train);
        Ok(Self { cfg, data, objective, class_weights, target })
    }

    /// The objective's metric of `logits` against `part`'s labels (or target values, the
    /// outputs un-standardized first), when the objective reports one beside the accuracy.
    fn metric(
        &self,
        plan: &Plan,
        logits: Tensor<2>,
        part: &Dataset,
    ) -> Result<Option<mlpnas_core::MetricValue>, TrainerError> {
        if !self.objective.reported() {
            return Ok(None);
        }
        let outputs = plan.probabilities(logits).map_err(TrainerError::Other)?;
        if let Some(scale) = self.target {
            let pred: Vec<f32> = outputs.iter().map(|&z| scale.unscale(z)).collect();
            return Ok(Some(self.objective.evaluate_values(&pred, &part.targets)));
        }
        Ok(Some(self.objective.evaluate(&outputs, self.n_classes(), &part.labels)))
    }

    /// The forward plan of `arch` with this trainer's regression loss.
    fn plan(&self, arch: &Architecture) -> Plan {
        Plan::new(arch).with_regression_loss(self.cfg.loss)
    }

    /// Its settings.
    pub fn config(&self) -> &BurnTrainerConfig {
        &self.cfg
    }

    fn check_arch(&self, arch: &Architecture, init: &[Option<LayerWeights>]) -> Result<(), TrainerError> {
        if arch.input_dim != self.input_dim() {
            return Err(TrainerError::Mismatch(format!(
                "architecture expects {} inputs, the data has {}",
                arch.input_dim,
                self.input_dim()
            )));
        }
        let (units, kind) = OutputKind::for_classes(self.n_classes());
        match arch.layers.last() {
            Some(mlpnas_core::Layer::Output { units: u, output }) if *u == units && *output == kind => {}
            _ => {
                return Err(TrainerError::Mismatch(format!(
                    "architecture {arch} does not end with the output layer for {} classes",
                    self.n_classes()
                )));
            }
        }
        for (i, (w, &(inp, out, _))) in init.iter().zip(arch.dense_shapes().iter()).enumerate() {
            if let Some(w) = w
                && !w.fits(inp, out)
            {
                return Err(TrainerError::WeightShape {
                    layer: i,
                    got: w.kernel.shape.clone(),
                    expected: vec![inp, out],
                });
            }
        }
        Ok(())
    }
}

/// When to stop a training run.
#[derive(Debug, Clone, Copy)]
struct Stop {
    /// Epochs at most.
    max_epochs: usize,
    /// Stop after this many epochs without a lower validation loss, and keep the best epoch's
    /// weights; `None`: run every epoch and keep the last weights (the search's protocol).
    patience: Option<usize>,
}

/// A validation loss counts as an improvement when it is lower than the best so far by more
/// than this (absolute), so float noise on a plateau does not keep training alive.
const MIN_DELTA: f64 = 1e-6;

/// What [`BurnTrainer::run_epochs`] returns.
struct Fit {
    epochs: Vec<EpochMetrics>,
    diverged: bool,
    stopped_early: bool,
    best_epoch: usize,
    weights: Vec<LayerWeights>,
}

impl BurnTrainer {
    /// The training loop shared by search trials and final training, over either gradient path
    /// ([`Learner`]). The batch losses stay on the device until the epoch ends: they are read
    /// back, and checked for NaN, once per epoch (a diverged epoch is not recorded either way).
    fn run_epochs(
        &self,
        arch: &Architecture,
        init: &[Option<LayerWeights>],
        seed: u64,
        stop: Stop,
        from: Option<Partial>,
    ) -> Result<(Fit, Option<Partial>), TrainerError> {
        let cfg = &self.cfg.for_candidate(&arch.training);
        let plain = cfg.backend.device().map_err(TrainerError::Other)?;
        let plan = self.plan(arch);
        let n_classes = self.n_classes();
        let Partial { mut learner, streams } = match from {
            Some(p) => p,
            None => {
                // Initial weights and batch order from one stream, dropout masks from another.
                let mut rng = rng(seed);
                let masks = mlpnas_core::seed::rng(mlpnas_core::seed::derive(seed, "dropout", 0));
                let learner: Box<dyn Learner> = match cfg.gradients {
                    Gradients::ClosedForm => {
                        Box::new(ClosedFormLearner::new(cfg, plan.clone(), arch, init, &mut rng, &plain))
                    }
                    Gradients::Autodiff => {
                        Box::new(AutodiffLearner::new(cfg, plan.clone(), arch, init, &mut rng, &plain))
                    }
                };
                let rows = self.data.train.n_rows() as i64;
                let epochs = Vec::with_capacity(stop.max_epochs.min(1024));
                Partial { learner, streams: Streams { rng, masks, order: (0..rows).collect(), step: 0, epochs } }
            }
        };
        let Streams { mut rng, mut masks, mut order, mut step, mut epochs } = streams;
        let device = learner.train_device();
        let weights = (self.class_weights.as_deref(), self.target);
        let train = DeviceData::new(&self.data.train, plan.output, n_classes, weights, &device);
        let valid = DeviceData::new(&self.data.valid, plan.output, n_classes, weights, &plain);

        let mut diverged = false;
        let mut stopped_early = false;
        let (mut best_loss, mut best_epoch, mut best_weights) = (f64::INFINITY, 0usize, Vec::new());
        for epoch in epochs.len() + 1..=stop.max_epochs {
            order.shuffle(&mut rng);
            let perm = Tensor::<1, Int>::from_data(TensorData::new(order.clone(), [train.rows]), &device);
            let mut losses: Vec<Tensor<1>> = Vec::with_capacity(train.rows.div_ceil(cfg.batch_size));
            for start in (0..train.rows).step_by(cfg.batch_size) {
                let end = (start + cfg.batch_size).min(train.rows);
                let idx = perm.clone().slice(start..end);
                let xb = train.x.clone().select(0, idx.clone());
                let wb = train.weights.as_ref().map(|w| w.clone().select(0, idx.clone()));
                let yb = train.targets.clone().select(0, idx);
                let lr = cfg.learning_rate / (1.0 + cfg.decay * step as f64);
                let loss = learner.step(xb, yb, wb, &mut masks, lr).map_err(TrainerError::Other)?;
                losses.push(loss);
                step += 1;
            }
            // One read per epoch; summed on the host in f64, batch by batch, as when each batch's
            // loss was read at once (same bits as before).
            let batches = losses.len();
            let train_loss = if losses.is_empty() {
                0.0
            } else {
                let read = |e| TrainerError::Other(format!("training losses: {e:?}"));
                let values = Tensor::cat(losses, 0).into_data().try_cast_as::<f32>().map_err(read)?;
                let values = values.as_slice::<f32>().map_err(read)?;
                values.iter().fold(0.0f64, |sum, &l| sum + f64::from(l)) / batches as f64
            };
            if !train_loss.is_finite() {
                diverged = true;
                break;
            }
            let logits = learner.logits(valid.x.clone());
            let val_loss =
                f64::from(plan.loss(logits.clone(), valid.targets.clone(), valid.weights.clone()).into_scalar::<f32>());
            let val_acc = plan.correct(logits.clone(), valid.labels.clone()) as f64 / valid.rows as f64;
            if !val_loss.is_finite() {
                diverged = true;
                break;
            }
            let metric = self.metric(&plan, logits, &self.data.valid)?;
            epochs.push(EpochMetrics { train_loss, val_loss, val_acc, metric });
            if let Some(patience) = stop.patience {
                if val_loss < best_loss - MIN_DELTA {
                    best_loss = val_loss;
                    best_epoch = epoch;
                    best_weights = learner.weights().map_err(TrainerError::Other)?;
                } else if epoch - best_epoch >= patience {
                    stopped_early = true;
                    break;
                }
            }
        }
        let weights = match stop.patience {
            Some(_) => best_weights,
            None if diverged => Vec::new(),
            None => {
                best_epoch = epochs.len();
                learner.weights().map_err(TrainerError::Other)?
            }
        };
        // A search trial that can go on: where it stands (early stopping keeps an earlier epoch's
        // weights, so a fit never continues).
        let partial = (stop.patience.is_none() && !diverged)
            .then(|| Partial { learner, streams: Streams { rng, masks, order, step, epochs: epochs.clone() } });
        Ok((Fit { epochs, diverged, stopped_early, best_epoch, weights }, partial))
    }
}

impl ArchitectureTrainer for BurnTrainer {
    fn train(
        &self,
        arch: &Architecture,
        init: &[Option<LayerWeights>],
        seed: u64,
    ) -> Result<TrainOutcome, TrainerError> {
        self.check_arch(arch, init)?;
        let epochs = self.cfg.for_candidate(&arch.training).epochs;
        let (fit, _) = self.run_epochs(arch, init, seed, Stop { max_epochs: epochs, patience: None }, None)?;
        Ok(TrainOutcome {
            epochs: fit.epochs,
            diverged: fit.diverged,
            weights: fit.weights,
            measured: None,
            evaluations: Vec::new(),
        })
    }

    fn fit(
        &self,
        arch: &Architecture,
        init: &[Option<LayerWeights>],
        seed: u64,
        stop: EarlyStopping,
    ) -> Result<FitOutcome, TrainerError> {
        if stop.max_epochs == 0 {
            return Err(TrainerError::Other("final training needs at least 1 epoch".into()));
        }
        self.check_arch(arch, init)?;
        let (fit, _) = self.run_epochs(
            arch,
            init,
            seed,
            Stop { max_epochs: stop.max_epochs, patience: Some(stop.patience.max(1)) },
            None,
        )?;
        Ok(FitOutcome {
            epochs: fit.epochs,
            best_epoch: fit.best_epoch,
            stopped_early: fit.stopped_early,
            diverged: fit.diverged,
            weights: fit.weights,
        })
    }

    fn fidelity(&self) -> Result<usize, TrainerError> {
        Ok(self.cfg.epochs)
    }

    fn train_to(
        &self,
        candidate: &Candidate,
        init: &[Option<LayerWeights>],
        seed: u64,
        epochs: usize,
        from: Option<Continuation>,
    ) -> Result<(TrainOutcome, Option<Continuation>), TrainerError> {
        let Candidate::Network(arch) = candidate else {
            return Err(TrainerError::Other(
                "this trainer trains networks; it cannot measure a point of a table space".into(),
            ));
        };
        let from = match from {
            None => {
                self.check_arch(arch, init)?;
                None
            }
            Some(c) => match c.downcast::<Partial>() {
                Ok(p) => Some(*p),
                // Bytes another process saved ([`Self::load_continuation`]).
                Err(c) => {
                    let saved = c.downcast::<Saved>().map_err(|_| {
                        TrainerError::Other(
                            "a trial continued from another trainer's state (a bug: please report it)".into(),
                        )
                    })?;
                    let cfg = self.cfg.for_candidate(&arch.training);
                    let device = cfg.backend.device().map_err(TrainerError::Other)?;
                    let restored = saved.restore(&cfg, self.plan(arch), arch, &device);
                    Some(restored.map_err(|e| TrainerError::Other(format!("a continued trial: {e}")))?)
                }
            },
        };
        if from.as_ref().is_some_and(|p| p.streams.epochs.len() >= epochs) {
            return Err(TrainerError::Other(format!("a trial continued to {epochs} epochs has trained them already")));
        }
        let (fit, partial) = self.run_epochs(arch, init, seed, Stop { max_epochs: epochs, patience: None }, from)?;
        let outcome = TrainOutcome {
            epochs: fit.epochs,
            diverged: fit.diverged,
            weights: fit.weights,
            measured: None,
            evaluations: Vec::new(),
        };
        Ok((outcome, partial.map(|p| Box::new(p) as Continuation)))
    }

    fn continuations_travel(&self) -> Result<(), TrainerError> {
        match self.cfg.gradients {
            Gradients::ClosedForm => Ok(()),
            Gradients::Autodiff => Err(TrainerError::Other(AUTODIFF_STAYS.into())),
        }
    }

    fn save_continuation(&self, from: &Continuation) -> Result<Vec<u8>, TrainerError> {
        let p = from
            .downcast_ref::<Partial>()
            .ok_or_else(|| TrainerError::Other("a continuation of another trainer (a bug: please report it)".into()))?;
        p.save().map_err(|e| TrainerError::Other(format!("saving a continued trial: {e}")))
    }

    fn load_continuation(&self, bytes: &[u8]) -> Result<Continuation, TrainerError> {
        let saved = Saved::load(bytes).map_err(|e| TrainerError::Other(format!("a continued trial's state: {e}")))?;
        Ok(Box::new(saved))
    }

    fn score(&self, arch: &Architecture, weights: &[LayerWeights], part: &Dataset) -> Result<Score, TrainerError> {
        let init: Vec<Option<LayerWeights>> = weights.iter().cloned().map(Some).collect();
        self.check_arch(arch, &init)?;
        if weights.len() != arch.dense_shapes().len() {
            return Err(TrainerError::Mismatch(format!(
                "{} weight layers for {} dense layers",
                weights.len(),
                arch.dense_shapes().len()
            )));
        }
        part.check().map_err(TrainerError::Mismatch)?;
        if part.n_features() != self.input_dim()
            || part.n_classes() != self.n_classes()
            || part.is_regression() != self.data.train.is_regression()
        {
            return Err(TrainerError::Mismatch("the scored part differs in shape from the training part".into()));
        }
        let device = self.cfg.backend.device().map_err(TrainerError::Other)?;
        let plan = self.plan(arch);
        let data =
            DeviceData::new(part, plan.output, self.n_classes(), (self.class_weights.as_deref(), self.target), &device);
        let model = build_layers(arch, &init, &mut rng(0), &device);
        let logits = plan.forward(&model, data.x.clone(), None);
        let loss =
            f64::from(plan.loss(logits.clone(), data.targets.clone(), data.weights.clone()).into_scalar::<f32>());
        let accuracy = plan.correct(logits.clone(), data.labels.clone()) as f64 / data.rows as f64;
        let metric = self
            .metric(&plan, logits, part)?
            .unwrap_or(mlpnas_core::MetricValue { name: mlpnas_core::Metric::Accuracy, value: accuracy });
        Ok(Score { loss, accuracy, metric })
    }

    fn input_dim(&self) -> usize {
        self.data.train.n_features()
    }

    fn n_classes(&self) -> usize {
        self.data.train.n_classes()
    }
}
