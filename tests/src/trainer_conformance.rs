//! Conformance suite of trainers ([`TrainerConfig`] -> [`ArchitectureTrainer`] -> [`Model`]), the
//! whole model lifecycle: a search trial, a fit with early stopping, scoring, and a model
//! exported in the one weights format and loaded back.
//!
//! Each check takes a factory that returns the trainer's config (already on the backend under
//! test) and trains on small synthetic blobs. [`trainer_conformance_tests!`](crate::trainer_conformance_tests)
//! turns the whole suite into `#[test]` functions.

use std::sync::Arc;

use anyhow::{Context, Result, ensure};
use mlpnas_core::{
    Architecture, ArchitectureTrainer, Candidate, DataSplit, Dataset, EarlyStopping, METRICS, Metric, Objective,
    TargetScale, Task, TrainerConfig, codec,
};

/// Builds a fresh trainer config (validated, on the backend under test).
pub type TrainerFactory<'a> = &'a dyn Fn() -> Box<dyn TrainerConfig>;

/// `classes` well-separated blobs in 2-D, `n` rows each (deterministic jitter).
pub fn blobs(classes: usize, n: usize) -> Dataset {
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for c in 0..classes {
        let angle = c as f32 * std::f32::consts::TAU / classes as f32;
        for i in 0..n {
            let jitter = ((i * 7919 + c * 104_729) % 100) as f32 / 100.0 - 0.5;
            features.push(3.0 * angle.cos() + 0.3 * jitter);
            features.push(3.0 * angle.sin() - 0.3 * jitter);
            labels.push(c as u32);
        }
    }
    Dataset {
        features,
        sample_shape: vec![2],
        labels,
        targets: Vec::new(),
        class_names: (0..classes).map(|c| format!("c{c}")).collect(),
        feature_names: vec!["x".into(), "y".into()],
    }
}

fn trainer(factory: TrainerFactory<'_>, classes: usize) -> Result<(Box<dyn ArchitectureTrainer>, Dataset)> {
    trainer_for(factory, classes, Objective::default())
}

fn trainer_for(
    factory: TrainerFactory<'_>,
    classes: usize,
    objective: Objective,
) -> Result<(Box<dyn ArchitectureTrainer>, Dataset)> {
    let d = blobs(classes, 30);
    let split = DataSplit { train: d.clone(), valid: d.clone(), test: None };
    let t = factory().build(Arc::new(split), &objective).context("build")?;
    ensure!(t.input_dim() == 2 && t.n_classes() == classes, "input_dim / n_classes do not describe the data");
    Ok((t, d))
}

fn arch(text: &str, t: &dyn ArchitectureTrainer) -> Result<Architecture> {
    Architecture::parse(text, t.input_dim(), t.n_classes(), 0.2).with_context(|| format!("architecture {text}"))
}

/// A search trial learns separable blobs (softmax and sigmoid outputs), reports one metric
/// entry per configured epoch and one weight pair of the right shape per dense layer.
pub fn trial_learns_and_returns_fitting_weights(factory: TrainerFactory<'_>) -> Result<()> {
    for (classes, text) in [(3, "16:relu,dropout,8:tanh"), (2, "8:elu")] {
        let (t, _) = trainer(factory, classes)?;
        let a = arch(text, t.as_ref())?;
        let o = t.train(&a, &[], 1).context("train")?;
        ensure!(!o.diverged, "{text} diverged on separable data");
        ensure!(!o.epochs.is_empty(), "no epoch reported");
        ensure!(o.val_acc_last() > 0.9, "{text}: val acc {} on separable data", o.val_acc_last());
        let shapes = a.dense_shapes();
        ensure!(o.weights.len() == shapes.len(), "{} weight layers for {} dense layers", o.weights.len(), shapes.len());
        for (w, &(i, out, _)) in o.weights.iter().zip(&shapes) {
            ensure!(w.fits(i, out), "weights {:?} do not fit [{i}, {out}]", w.kernel.shape);
        }
    }
    Ok(())
}

/// The same seed, architecture and initial weights give the same outcome; another seed another.
pub fn same_seed_same_outcome(factory: TrainerFactory<'_>) -> Result<()> {
    let (t, _) = trainer(factory, 3)?;
    let a = arch("8:sigmoid,dropout,8:relu", t.as_ref())?;
    let x = t.train(&a, &[], 5)?;
    let y = t.train(&a, &[], 5)?;
    ensure!(x == y, "the same seed gave two outcomes");
    let z = t.train(&a, &[], 6)?;
    ensure!(x.weights != z.weights, "another seed gave the same weights");
    Ok(())
}

/// Initial weights are used: handing a trial's trained weights to the same architecture starts
/// it where the first one ended (its first-epoch loss is lower than from scratch).
pub fn initial_weights_are_used(factory: TrainerFactory<'_>) -> Result<()> {
    let (t, _) = trainer(factory, 3)?;
    let a = arch("16:relu", t.as_ref())?;
    let trained = t.train(&a, &[], 2)?;
    let init: Vec<_> = trained.weights.iter().cloned().map(Some).collect();
    let warm = t.train(&a, &init, 2)?;
    let cold = t.train(&a, &[], 2)?;
    ensure!(
        warm.epochs[0].train_loss < cold.epochs[0].train_loss,
        "warm start loss {} is not below cold start {}",
        warm.epochs[0].train_loss,
        cold.epochs[0].train_loss
    );
    Ok(())
}

/// An architecture for other data, or initial weights of the wrong shape, are errors.
pub fn misfits_are_errors(factory: TrainerFactory<'_>) -> Result<()> {
    let (t, _) = trainer(factory, 3)?;
    let wrong_input = Architecture::parse("8:relu", 5, 3, 0.2)?;
    ensure!(t.train(&wrong_input, &[], 1).is_err(), "an architecture with 5 inputs trained on 2");
    let a = arch("8:relu", t.as_ref())?;
    let other = arch("4:relu", t.as_ref())?;
    let w = t.train(&other, &[], 1)?.weights;
    ensure!(t.train(&a, &[Some(w[0].clone())], 1).is_err(), "weights of a 4-unit layer went into an 8-unit one");
    Ok(())
}

/// A fit keeps the best epoch's weights, whose score on the validation rows is that epoch's.
pub fn fit_keeps_the_best_epoch_and_scores_it(factory: TrainerFactory<'_>) -> Result<()> {
    let (t, d) = trainer(factory, 3)?;
    let a = arch("16:tanh,dropout,8:relu", t.as_ref())?;
    let f = t.fit(&a, &[], 3, EarlyStopping { max_epochs: 12, patience: 3 })?;
    let best = f.best().copied().context("no epoch kept")?;
    ensure!(f.epochs.len() <= 12, "{} epochs for a maximum of 12", f.epochs.len());
    let min = f.epochs.iter().map(|e| e.val_loss).fold(f64::INFINITY, f64::min);
    ensure!(best.val_loss <= min + 1e-6, "kept epoch loss {} is not the lowest {min}", best.val_loss);
    let s = t.score(&a, &f.weights, &d)?;
    ensure!((s.loss - best.val_loss).abs() < 1e-4, "score loss {} vs the kept epoch's {}", s.loss, best.val_loss);
    ensure!((s.accuracy - best.val_acc).abs() < 1e-9, "score accuracy {} vs {}", s.accuracy, best.val_acc);
    Ok(())
}

/// A model exported in the one weights format and loaded back predicts the same probabilities
/// (rows sum to 1), and its argmax agrees with the scored accuracy.
pub fn exported_model_predicts_the_same(factory: TrainerFactory<'_>) -> Result<()> {
    for classes in [3, 2] {
        let (t, d) = trainer(factory, classes)?;
        let a = arch("16:relu,dropout,8:elu", t.as_ref())?;
        let f = t.fit(&a, &[], 4, EarlyStopping { max_epochs: 10, patience: 3 })?;
        let cfg = factory();
        let m = cfg.model(&a, &f.weights)?;
        ensure!(m.n_classes() == classes, "model predicts {} classes, not {classes}", m.n_classes());
        ensure!(m.architecture() == &a, "model architecture differs");
        let p = m.predict_proba(&d.features, d.n_rows())?;
        ensure!(p.len() == d.n_rows() * classes, "{} probabilities", p.len());
        let mut hits = 0;
        for (probs, &label) in p.chunks_exact(classes).zip(&d.labels) {
            let sum: f32 = probs.iter().sum();
            ensure!((sum - 1.0).abs() < 1e-4, "a row's probabilities sum to {sum}");
            let argmax = (0..classes).fold(0, |b, j| if probs[j] > probs[b] { j } else { b });
            hits += usize::from(argmax as u32 == label);
        }
        let acc = hits as f64 / d.n_rows() as f64;
        let s = t.score(&a, &f.weights, &d)?;
        ensure!((acc - s.accuracy).abs() < 0.02, "model accuracy {acc} vs scored {}", s.accuracy);
        let bytes = codec::encode_layers(&f.weights, &[])?;
        let back = codec::decode_layers(&bytes)?;
        ensure!(back == f.weights, "the weights did not round-trip bit-exactly");
        let loaded = factory().model(&a, &back)?;
        ensure!(loaded.predict_proba(&d.features, d.n_rows())? == p, "a reloaded model predicts otherwise");
        ensure!(cfg.model(&arch("4:relu", t.as_ref())?, &f.weights).is_err(), "weights of other shapes made a model");
    }
    Ok(())
}

/// Every epoch of a trial and every score report the objective's metric by name (none beside
/// the accuracy when the accuracy is the metric), with the value the metric gives the exported
/// model's probabilities; the reward is made of it.
pub fn the_objective_metric_is_reported(factory: TrainerFactory<'_>) -> Result<()> {
    for classes in [2, 3] {
        for metric in METRICS {
            if metric.check_classes(classes).is_err() || metric.task() != Task::Classification {
                continue;
            }
            let objective = Objective { metric, positive: 1, target_std: 0.0 };
            let (t, d) = trainer_for(factory, classes, objective)?;
            let a = arch("8:tanh", t.as_ref())?;
            let o = t.train(&a, &[], 3)?;
            for (i, e) in o.epochs.iter().enumerate() {
                match (metric, e.metric) {
                    (Metric::Accuracy, None) => {}
                    (_, Some(m)) if m.name == metric && m.value.is_finite() => {}
                    (_, other) => anyhow::bail!("{metric} on {classes} classes, epoch {}: reported {other:?}", i + 1),
                }
            }
            let weighted = o.epochs.iter().enumerate().map(|(i, e)| (i + 1) as f64 * e.reward()).sum::<f64>();
            let n = o.epochs.len() as f64;
            let want = weighted / (n * (n + 1.0) / 2.0);
            let reward = o.reward(&objective);
            ensure!((reward - want).abs() < 1e-12, "{metric}: reward {reward} is not {want}");
            let s = t.score(&a, &o.weights, &d)?;
            ensure!(s.metric.name == metric, "{metric}: the score names {}", s.metric.name);
            let p = factory().model(&a, &o.weights)?.predict_proba(&d.features, d.n_rows())?;
            let from_model = objective.evaluate(&p, classes, &d.labels).value;
            ensure!(
                (s.metric.value - from_model).abs() < 1e-4,
                "{metric} on {classes} classes: scored {} but the model's probabilities give {from_model}",
                s.metric.value
            );
            if let Some(last) = o.epochs.last().and_then(|e| e.metric) {
                ensure!(
                    (last.value - s.metric.value).abs() < 1e-4,
                    "{metric}: last epoch {} vs score {}",
                    last.value,
                    s.metric.value
                );
            }
        }
    }
    Ok(())
}

/// A smooth function of two inputs in the label's units (mean about 500, spread about 100):
/// `n` rows on a grid.
pub fn curve(n: usize) -> Dataset {
    let mut features = Vec::new();
    let mut targets = Vec::new();
    for i in 0..n {
        let (x, y) = ((i % 10) as f32 / 3.0 - 1.5, (i / 10) as f32 / (n as f32 / 10.0) * 3.0 - 1.5);
        features.extend([x, y]);
        targets.push(500.0 + 80.0 * x + 40.0 * y * y);
    }
    Dataset {
        features,
        sample_shape: vec![2],
        labels: Vec::new(),
        targets,
        class_names: Vec::new(),
        feature_names: vec!["x".into(), "y".into()],
    }
}

/// A regression (0 classes: one linear output) learns a smooth function: every epoch reports
/// the metric in the label's units, the reward is the negated RMSE (MAE) or the R², the
/// score equals the metric of the exported model's predictions once the target scale is
/// folded into its weights, and a diverged-free fit beats predicting the mean.
pub fn a_regression_is_learned_and_reported_in_label_units(factory: TrainerFactory<'_>) -> Result<()> {
    let d = curve(120);
    let scale = TargetScale::of(&d).context("a regression has a target scale")?;
    for metric in [Metric::Rmse, Metric::Mae, Metric::R2] {
        let split = DataSplit { train: d.clone(), valid: d.clone(), test: None };
        let objective = Objective::resolve(metric, None, &d).map_err(anyhow::Error::msg)?;
        let t = factory().build(Arc::new(split), &objective).context("build")?;
        ensure!(t.n_classes() == 0, "a regression trainer reports {} classes", t.n_classes());
        let a = Architecture::parse("16:tanh", 2, 0, 0.0)?;
        ensure!(a.to_string() == "16:tanh,1:linear", "the output layer of a regression is {a}");
        let o = t.train(&a, &[], 5).context("train")?;
        ensure!(!o.diverged && !o.epochs.is_empty(), "{metric}: diverged");
        for e in &o.epochs {
            ensure!(e.metric.is_some_and(|m| m.name == metric && m.value.is_finite()), "{metric}: epoch reports {e:?}");
        }
        let last = o.epochs.last().and_then(|e| e.metric).map(|m| m.value).unwrap_or(f64::NAN);
        match metric {
            Metric::Rmse | Metric::Mae => {
                ensure!(last < 0.5 * scale.std, "{metric} {last}: not learned (std {})", scale.std)
            }
            _ => ensure!(last > 0.75, "r2 {last}: not learned"),
        }
        let weighted = o.epochs.iter().enumerate().map(|(i, e)| (i + 1) as f64 * e.reward()).sum::<f64>();
        let n = o.epochs.len() as f64;
        ensure!((o.reward(&objective) - weighted / (n * (n + 1.0) / 2.0)).abs() < 1e-9, "{metric}: reward");
        ensure!((o.reward(&objective) < 0.0) == metric.minimize(), "{metric}: the reward's sign");
        let s = t.score(&a, &o.weights, &d)?;
        ensure!(
            (s.metric.value - last).abs() <= 1e-3 * last.abs().max(1.0),
            "{metric}: score {} vs last epoch {last}",
            s.metric.value
        );
        let mut folded = o.weights.clone();
        scale.fold(&mut folded);
        let model = factory().model(&a, &folded)?;
        ensure!(model.n_classes() == 0, "a regression model reports {} classes", model.n_classes());
        let pred = model.predict_proba(&d.features, d.n_rows())?;
        ensure!(pred.len() == d.n_rows(), "{} predictions for {} rows", pred.len(), d.n_rows());
        let from_model = metric.evaluate_values(&pred, &d.targets);
        ensure!(
            (s.metric.value - from_model).abs() <= 1e-3 * from_model.abs().max(1.0),
            "{metric}: scored {} but the folded model's predictions give {from_model}",
            s.metric.value
        );
    }
    Ok(())
}

/// A trainer that trains in rungs ([`ArchitectureTrainer::fidelity`]) continues a trial exactly:
/// 2 epochs, then on to 5, then to its full epochs, gives the metrics and weights of one trial
/// trained that long in one go (the same seed, initial weights, batches and dropout masks), and
/// of `train` at the full epochs. Trainers that cannot are skipped.
pub fn a_trial_continued_rung_by_rung_equals_one_trained_in_one_go(factory: TrainerFactory<'_>) -> Result<()> {
    let (t, _) = trainer(factory, 3)?;
    let Ok(full) = t.fidelity() else { return Ok(()) };
    ensure!(full > 5, "the suite's trainer trains {full} epochs; the check needs more than 5");
    let net = arch("16:relu,dropout,8:tanh", t.as_ref())?;
    let a = Candidate::Network(net.clone());
    let init_from = t.train(&arch("16:relu", t.as_ref())?, &[], 9)?.weights;
    let init = vec![Some(init_from[0].clone()), None, None];
    let (two, from) = t.train_to(&a, &init, 4, 2, None).context("rung 1")?;
    ensure!(two.epochs.len() == 2, "a trial trained to 2 epochs reported {}", two.epochs.len());
    let from = from.context("a trial that did not diverge can go on")?;
    let (five, from) = t.train_to(&a, &init, 4, 5, Some(from)).context("rung 2")?;
    let (last, _) = t.train_to(&a, &init, 4, full, from).context("rung 3")?;
    let (five_at_once, _) = t.train_to(&a, &init, 4, 5, None)?;
    ensure!(five == five_at_once, "5 epochs continued from 2 differ from 5 in one go");
    ensure!(five.epochs[..2] == two.epochs[..], "a continued trial's first epochs changed");
    let whole = t.train(&net, &init, 4)?;
    ensure!(last == whole, "{full} epochs continued from 2 and 5 differ from a whole trial");
    Ok(())
}

/// A trainer whose continuations travel ([`ArchitectureTrainer::continuations_travel`]: rungs
/// trained by PostgreSQL workers) continues from the bytes of a continuation exactly as from the
/// continuation itself, in another trainer built from the same config (another process); the
/// bytes are the same each time, and an altered byte is an error, never another trial. A trainer
/// that cannot says so through `save_continuation` as well.
pub fn a_continuation_travels_as_bytes(factory: TrainerFactory<'_>) -> Result<()> {
    let (t, _) = trainer(factory, 3)?;
    if t.fidelity().is_err() {
        return Ok(());
    }
    let a = Candidate::Network(arch("16:relu,dropout,8:tanh", t.as_ref())?);
    let (_, from) = t.train_to(&a, &[], 6, 2, None).context("rung 1")?;
    let from = from.context("a trial that did not diverge can go on")?;
    if let Err(why) = t.continuations_travel() {
        ensure!(t.save_continuation(&from).is_err(), "saved a continuation it says cannot travel ({why})");
        return Ok(());
    }
    let bytes = t.save_continuation(&from)?;
    ensure!(bytes == t.save_continuation(&from)?, "the same continuation saved twice gave other bytes");
    let (there, _) = trainer(factory, 3)?;
    let loaded = there.load_continuation(&bytes).context("loading the bytes in another trainer")?;
    let (five, again) = there.train_to(&a, &[], 6, 5, Some(loaded)).context("rung 2 from the bytes")?;
    let (five_here, _) = t.train_to(&a, &[], 6, 5, Some(from)).context("rung 2")?;
    ensure!(five == five_here, "5 epochs continued from the bytes differ from 5 continued in memory");
    let again = again.context("a trial that did not diverge can go on")?;
    if !bytes.is_empty() {
        let mut altered = there.save_continuation(&again)?;
        let at = altered.len() - 3;
        altered[at] ^= 0x10;
        let refused = match there.load_continuation(&altered) {
            Err(_) => true,
            Ok(c) => there.train_to(&a, &[], 6, 8, Some(c)).is_err(),
        };
        ensure!(refused, "a continuation with an altered byte was continued");
    }
    Ok(())
}

/// One check of the suite.
pub type Check = fn(TrainerFactory<'_>) -> Result<()>;

/// Runs `check` on the trainer `config` builds, once per backend in `backends` for a trainer
/// that runs on backends (each a fresh config switched with `set_backend`), once otherwise.
pub fn on_backends(config: fn() -> Box<dyn TrainerConfig>, backends: &[String], check: Check) -> Result<()> {
    if config().backend().is_none() {
        return check(&config);
    }
    for b in backends {
        let factory = || {
            let mut c = config();
            c.set_backend(b).unwrap_or_else(|e| panic!("backend {b}: {e}"));
            c
        };
        check(&factory).with_context(|| format!("on backend {b}"))?;
    }
    Ok(())
}

/// `mod`-level `#[test]` functions running each check against `$config`, a path to a
/// `fn() -> Box<dyn TrainerConfig>`, on every backend `$backends` (a `fn() -> Vec<String>`) lists.
#[macro_export]
macro_rules! trainer_conformance_tests {
    ($config:path, $backends:path) => {
        $crate::trainer_conformance_tests!(@tests $config, $backends;
            trial_learns_and_returns_fitting_weights, same_seed_same_outcome, initial_weights_are_used,
            misfits_are_errors, fit_keeps_the_best_epoch_and_scores_it, exported_model_predicts_the_same,
            the_objective_metric_is_reported, a_regression_is_learned_and_reported_in_label_units,
            a_trial_continued_rung_by_rung_equals_one_trained_in_one_go, a_continuation_travels_as_bytes);
    };
    (@tests $config:path, $backends:path; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() -> ::std::result::Result<(), $crate::Error> {
                $crate::trainer_conformance::on_backends($config, &$backends(), $crate::trainer_conformance::$check)
            }
        )*
    };
}
