//! [`Resampled`]: scores a candidate on resampled splits of the search's rows (`search.folds`,
//! `search.repeats`) by training it once per split with the run's trainer; and
//! [`build_trainer`], the one way the search, its workers, replay and `eval` build the trainer
//! of a run.

use std::sync::Arc;

use mlpnas_core::seed::derive;
use mlpnas_core::{
    Architecture, ArchitectureTrainer, ConfigError, DataSplit, Dataset, EarlyStopping, EpochMetrics, FitOutcome,
    LayerWeights, MetricValue, Objective, Resampling, Score, SearchSpace, TrainOutcome, TrainerError,
};

use crate::config::SearchConfig;
use crate::error::SearchError;

/// The trainer of a run over `split`: the config's trainer, or with `search.folds` /
/// `search.repeats` one per resampled split of the search's rows ([`Resampled`], the splits
/// drawn from the split seed).
pub fn build_trainer(
    cfg: &SearchConfig,
    split: Arc<DataSplit>,
    objective: &Objective,
) -> Result<Box<dyn ArchitectureTrainer>, SearchError> {
    let how = cfg.search.resampling();
    if how == Resampling::Holdout {
        return Ok(cfg.trainer.build(split, objective)?);
    }
    let seed = derive(cfg.split_seed(), "resample", 0);
    let field = if cfg.search.folds.is_some() { "search.folds" } else { "search.repeats" };
    let splits = mlpnas_data::resample(&split, how, cfg.data.valid_fraction, seed)
        .map_err(|e| SearchError::Config { path: cfg.origin.clone(), source: ConfigError::new(field, e) })?;
    let trainers =
        splits.into_iter().map(|s| cfg.trainer.build(Arc::new(s), objective)).collect::<Result<Vec<_>, _>>()?;
    Ok(Box::new(Resampled { trainers }))
}

/// A candidate trained once per resampled split, each from its own seed
/// (`derive(seed, "evaluation", e)`) and its own initial weights.
///
/// # Design
///
/// The search sees one trainer whose networks have `E` times the dense layers: the initial
/// weights it hands over are evaluation after evaluation (`E x L`, read from the store under
/// each evaluation's own keys, [`Architecture::resampled_keys`]), and the weights it returns
/// are laid out the same way, so each evaluation's trained weights go back under its own keys.
/// An evaluation therefore only ever starts from weights trained on its own training rows,
/// never on the rows it scores. The epochs are the evaluations' per-epoch means and the
/// outcome keeps each evaluation's epochs (`evaluations`), whose rewards the journal records.
/// Final training (`fit`, `score`) is the first evaluation's: `finalize` uses the run's own
/// split and trainer instead.
#[derive(Debug)]
pub struct Resampled {
    trainers: Vec<Box<dyn ArchitectureTrainer>>,
}

impl Resampled {
    /// Why it neither fits nor scores one model: it has one split per evaluation, none of
    /// them the run's; `finalize` trains on the run's own split with the run's trainer.
    const ONLY_SCORES: &str = "a resampled trainer scores candidates over its folds or repeats; a final model is \
                               trained on the run's own split (finalize)";

    /// The trainer of each evaluation, in order.
    pub fn trainers(&self) -> &[Box<dyn ArchitectureTrainer>] {
        &self.trainers
    }
}

/// The mean of `parts`, epoch by epoch, over the epochs they all have.
fn mean_epochs(parts: &[Vec<EpochMetrics>]) -> Vec<EpochMetrics> {
    let n = parts.iter().map(Vec::len).min().unwrap_or(0);
    let k = parts.len() as f64;
    (0..n)
        .map(|i| {
            let at = |f: fn(&EpochMetrics) -> f64| parts.iter().map(|p| f(&p[i])).sum::<f64>() / k;
            let metric = parts[0][i].metric.map(|m| MetricValue {
                name: m.name,
                value: parts.iter().map(|p| p[i].metric.map_or(0.0, |v| v.value)).sum::<f64>() / k,
            });
            EpochMetrics {
                train_loss: at(|e| e.train_loss),
                val_loss: at(|e| e.val_loss),
                val_acc: at(|e| e.val_acc),
                metric,
            }
        })
        .collect()
}

impl ArchitectureTrainer for Resampled {
    fn train(
        &self,
        arch: &Architecture,
        init: &[Option<LayerWeights>],
        seed: u64,
    ) -> Result<TrainOutcome, TrainerError> {
        let layers = arch.dense_shapes().len();
        let e = self.trainers.len();
        if !init.is_empty() && init.len() != e * layers {
            return Err(TrainerError::Mismatch(format!(
                "{} initial weights for {e} evaluations of {layers} dense layers",
                init.len()
            )));
        }
        let mut evaluations = Vec::with_capacity(e);
        let mut weights = Vec::with_capacity(e * layers);
        let mut diverged = false;
        for (i, t) in self.trainers.iter().enumerate() {
            let own = if init.is_empty() { &[][..] } else { &init[i * layers..(i + 1) * layers] };
            let o = t.train(arch, own, derive(seed, "evaluation", i as u64))?;
            diverged |= o.diverged;
            weights.extend(o.weights);
            evaluations.push(o.epochs);
        }
        Ok(TrainOutcome {
            epochs: mean_epochs(&evaluations),
            diverged,
            weights: if diverged { Vec::new() } else { weights },
            measured: None,
            evaluations,
        })
    }

    fn fit(
        &self,
        arch: &Architecture,
        init: &[Option<LayerWeights>],
        seed: u64,
        stop: EarlyStopping,
    ) -> Result<FitOutcome, TrainerError> {
        let _ = (arch, init, seed, stop);
        Err(TrainerError::Other(Self::ONLY_SCORES.into()))
    }

    fn score(&self, arch: &Architecture, weights: &[LayerWeights], part: &Dataset) -> Result<Score, TrainerError> {
        let _ = (arch, weights, part);
        Err(TrainerError::Other(Self::ONLY_SCORES.into()))
    }

    fn check_space(&self, space: &dyn SearchSpace) -> Result<(), TrainerError> {
        self.trainers[0].check_space(space)
    }

    fn input_dim(&self) -> usize {
        self.trainers[0].input_dim()
    }

    fn n_classes(&self) -> usize {
        self.trainers[0].n_classes()
    }
}

#[cfg(test)]
mod tests {
    use mlpnas_core::{HostTensor, Layer, OutputKind};

    use super::*;

    /// Evaluation `id`'s trainer: refuses initial weights not marked with its id (trained by
    /// another evaluation), returns weights marked with its id and epochs that say who it is.
    #[derive(Debug)]
    struct Marked(usize);

    fn marked(id: usize) -> LayerWeights {
        LayerWeights {
            kernel: HostTensor::new(vec![1, 1], vec![id as f32]).expect("tensor"),
            bias: HostTensor::new(vec![1], vec![id as f32]).expect("tensor"),
        }
    }

    impl ArchitectureTrainer for Marked {
        fn train(
            &self,
            arch: &Architecture,
            init: &[Option<LayerWeights>],
            _: u64,
        ) -> Result<TrainOutcome, TrainerError> {
            for w in init.iter().flatten() {
                if w.bias.data[0] != self.0 as f32 {
                    return Err(TrainerError::Other(format!(
                        "evaluation {} got weights of evaluation {}",
                        self.0, w.bias.data[0]
                    )));
                }
            }
            let e = EpochMetrics { train_loss: 1.0, val_loss: 1.0, val_acc: self.0 as f64 / 10.0, metric: None };
            Ok(TrainOutcome {
                epochs: vec![e, e],
                diverged: false,
                weights: arch.dense_shapes().iter().map(|_| marked(self.0)).collect(),
                measured: None,
                evaluations: Vec::new(),
            })
        }
        fn fit(
            &self,
            _: &Architecture,
            _: &[Option<LayerWeights>],
            _: u64,
            _: EarlyStopping,
        ) -> Result<FitOutcome, TrainerError> {
            Err(TrainerError::Other("not used".into()))
        }
        fn score(&self, _: &Architecture, _: &[LayerWeights], _: &Dataset) -> Result<Score, TrainerError> {
            Err(TrainerError::Other("not used".into()))
        }
        fn input_dim(&self) -> usize {
            1
        }
        fn n_classes(&self) -> usize {
            3
        }
    }

    #[test]
    fn each_evaluation_starts_from_its_own_weights_and_returns_them_in_place() {
        let r = Resampled { trainers: (0..3).map(|i| Box::new(Marked(i)) as Box<dyn ArchitectureTrainer>).collect() };
        let arch = Architecture {
            input_dim: 1,
            layers: vec![
                Layer::Dense { units: 1, activation: mlpnas_core::Activation::Relu },
                Layer::Output { units: 3, output: OutputKind::Softmax },
            ],
            training: Default::default(),
        };
        // Two dense layers x three evaluations, evaluation after evaluation (some fresh).
        let init: Vec<Option<LayerWeights>> =
            (0..3).flat_map(|e| [Some(marked(e)), if e == 1 { None } else { Some(marked(e)) }]).collect();
        let o = r.train(&arch, &init, 5).expect("each evaluation got its own weights");
        let ids: Vec<f32> = o.weights.iter().map(|w| w.bias.data[0]).collect();
        assert_eq!(ids, [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]);
        assert_eq!(o.evaluations.len(), 3);
        let scores = o.scores(&Objective::default());
        assert!(scores.iter().zip([0.0, 0.1, 0.2]).all(|(a, b)| (a - b).abs() < 1e-12), "{scores:?}");
        assert!((o.reward(&Objective::default()) - 0.1).abs() < 1e-12);
        assert!((o.epochs[0].val_acc - 0.1).abs() < 1e-12, "the epochs are the evaluations' mean");
        // Weights of another evaluation are refused (what the keys keep from happening).
        let mut swapped = init.clone();
        swapped.swap(0, 2);
        assert!(r.train(&arch, &swapped, 5).is_err());
        assert!(r.train(&arch, &init[..4], 5).is_err(), "a wrong number of initial weights");
        assert!(r.train(&arch, &[], 5).is_ok(), "no store: every evaluation starts fresh");
    }
}
