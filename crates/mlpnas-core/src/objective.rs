//! What a search optimizes: the [`Task`] (classes or a number), the validation [`Metric`] a
//! trial's reward is made of, and the
//! [`ClassWeight`]s a trainer's loss gives each class (both settings of the run's config,
//! resolved against the data into an [`Objective`] once, before anything is written).
//!
//! Metrics are computed here, once, from class probabilities and labels (or predicted and true
//! values) on the host, so every trainer reports the same numbers for the same predictions.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::data::Dataset;

/// What the label is (`search.task`): classes to tell apart, or a number to predict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Classes (the default): softmax or sigmoid output, cross-entropy.
    #[default]
    Classification,
    /// A number: one linear output unit, squared error on the standardized target.
    Regression,
}

impl Task {
    /// Its name in configs (`regression`).
    pub fn name(self) -> &'static str {
        match self {
            Task::Classification => "classification",
            Task::Regression => "regression",
        }
    }

    /// The metric of `search.metric` when it is not set: accuracy, or RMSE.
    pub fn default_metric(self) -> Metric {
        match self {
            Task::Classification => Metric::Accuracy,
            Task::Regression => Metric::Rmse,
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A validation metric (`search.metric`): of classification, or of regression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Share of rows classified correctly (the default, and the original MLPNAS reward).
    #[default]
    Accuracy,
    /// Mean of the per-class recalls (0.5 for a model that always answers one of two classes).
    BalancedAccuracy,
    /// Mean negative log-likelihood of the true class (probabilities clipped at
    /// [`LOG_LOSS_EPS`]); smaller is better.
    LogLoss,
    /// Area under the ROC curve: of the positive class for two classes, else the macro mean of
    /// one-vs-rest AUCs.
    Auc,
    /// F1 score of the positive class (two classes only).
    F1,
    /// Root mean squared error, in the label's units (regression; smaller is better).
    Rmse,
    /// Mean absolute error, in the label's units (regression; smaller is better).
    Mae,
    /// Coefficient of determination, `1 - SSE / SST` over the scored rows (regression; 1 is a
    /// perfect fit, 0 the rows' mean, negative worse than that).
    R2,
}

/// Every metric, in the order the docs list them.
pub const METRICS: [Metric; 8] = [
    Metric::Accuracy,
    Metric::BalancedAccuracy,
    Metric::LogLoss,
    Metric::Auc,
    Metric::F1,
    Metric::Rmse,
    Metric::Mae,
    Metric::R2,
];

/// A regression trial that diverged is rewarded as a model whose predictions are this many
/// training standard deviations off ([`Objective::worst_reward`]).
pub const DIVERGED_STDS: f64 = 10.0;

/// Probabilities are clipped to `[LOG_LOSS_EPS, 1]` before their log: a log loss is at most
/// `-ln(LOG_LOSS_EPS)` (about 16.1), which is also the reward's floor ([`Metric::worst_reward`]).
pub const LOG_LOSS_EPS: f64 = 1e-7;

impl Metric {
    /// Its name in configs and reports (`balanced_accuracy`).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::BalancedAccuracy => "balanced_accuracy",
            Metric::LogLoss => "log_loss",
            Metric::Auc => "auc",
            Metric::F1 => "f1",
            Metric::Rmse => "rmse",
            Metric::Mae => "mae",
            Metric::R2 => "r2",
        }
    }

    /// The task it scores.
    pub fn task(self) -> Task {
        match self {
            Metric::Rmse | Metric::Mae | Metric::R2 => Task::Regression,
            _ => Task::Classification,
        }
    }

    /// Whether smaller values are better (the reward is then the negated metric).
    pub fn minimize(self) -> bool {
        matches!(self, Metric::LogLoss | Metric::Rmse | Metric::Mae)
    }

    /// What controllers maximise for a value of this metric.
    pub fn reward(self, value: f64) -> f64 {
        if self.minimize() { -value } else { value }
    }

    /// The reward of a classification trial that diverged: no trained model does worse (0 for
    /// the metrics in [0, 1]; minus the largest clipped log loss). Regression metrics have no
    /// such bound: their floor depends on the target's scale ([`Objective::worst_reward`]).
    pub fn worst_reward(self) -> f64 {
        match self {
            Metric::LogLoss => LOG_LOSS_EPS.ln(),
            Metric::Rmse | Metric::Mae => -DIVERGED_STDS,
            Metric::R2 => 1.0 - (1.0 + DIVERGED_STDS * DIVERGED_STDS),
            _ => 0.0,
        }
    }

    /// Why this metric does not score `task`, if it does not.
    pub fn check_task(self, task: Task) -> Result<(), String> {
        if self.task() == task {
            return Ok(());
        }
        let others: Vec<&str> = METRICS.iter().filter(|m| m.task() == task).map(|m| m.name()).collect();
        Err(format!(
            "{self} is a {} metric and this search is a {task} (search.task); use {}",
            self.task(),
            others.join(", ")
        ))
    }

    /// The regression metric of predictions `pred` against the true values `truth` (both in
    /// the label's units); NaN for a classification metric or no rows.
    pub fn evaluate_values(self, pred: &[f32], truth: &[f32]) -> f64 {
        let rows = truth.len();
        if rows == 0 || pred.len() != rows {
            return f64::NAN;
        }
        let n = rows as f64;
        let errors = pred.iter().zip(truth).map(|(&p, &t)| f64::from(p) - f64::from(t));
        match self {
            Metric::Rmse => (errors.map(|e| e * e).sum::<f64>() / n).sqrt(),
            Metric::Mae => errors.map(f64::abs).sum::<f64>() / n,
            Metric::R2 => {
                let mean = truth.iter().map(|&t| f64::from(t)).sum::<f64>() / n;
                let sst: f64 = truth.iter().map(|&t| (f64::from(t) - mean).powi(2)).sum();
                let sse: f64 = errors.map(|e| e * e).sum();
                if sst > 0.0 {
                    1.0 - sse / sst
                } else if sse == 0.0 {
                    1.0
                } else {
                    f64::NEG_INFINITY
                }
            }
            _ => f64::NAN,
        }
    }

    /// Why this metric does not apply to a task of `n_classes` classes, if it does not.
    pub fn check_classes(self, n_classes: usize) -> Result<(), String> {
        if self == Metric::F1 && n_classes != 2 {
            return Err(format!(
                "f1 scores one positive class against the other, and this data has {n_classes} classes; use balanced_accuracy or auc"
            ));
        }
        Ok(())
    }

    /// The metric of class probabilities `probs` (`labels.len() * n_classes` values, row-major)
    /// against `labels`; `positive` is the class F1 and binary AUC score.
    pub fn evaluate(self, probs: &[f32], n_classes: usize, labels: &[u32], positive: u32) -> f64 {
        let rows = labels.len();
        if rows == 0 || n_classes == 0 || probs.len() != rows * n_classes {
            return f64::NAN;
        }
        let row = |r: usize| &probs[r * n_classes..(r + 1) * n_classes];
        let predicted = |r: usize| argmax(row(r));
        match self {
            Metric::Accuracy => (0..rows).filter(|&r| predicted(r) == labels[r] as usize).count() as f64 / rows as f64,
            Metric::BalancedAccuracy => {
                let (mut hits, mut seen) = (vec![0usize; n_classes], vec![0usize; n_classes]);
                for (r, &l) in labels.iter().enumerate() {
                    seen[l as usize] += 1;
                    hits[l as usize] += usize::from(predicted(r) == l as usize);
                }
                let recalls: Vec<f64> =
                    seen.iter().zip(&hits).filter(|(s, _)| **s > 0).map(|(&s, &h)| h as f64 / s as f64).collect();
                recalls.iter().sum::<f64>() / recalls.len() as f64
            }
            Metric::LogLoss => {
                let sum: f64 = labels
                    .iter()
                    .enumerate()
                    .map(|(r, &l)| -f64::from(row(r)[l as usize]).clamp(LOG_LOSS_EPS, 1.0).ln())
                    .sum();
                sum / rows as f64
            }
            Metric::Auc if n_classes == 2 => {
                let scores: Vec<f64> = (0..rows).map(|r| f64::from(row(r)[positive as usize])).collect();
                let truth: Vec<bool> = labels.iter().map(|&l| l == positive).collect();
                auc(&scores, &truth)
            }
            Metric::Auc => {
                let aucs: Vec<f64> = (0..n_classes)
                    .map(|c| {
                        let scores: Vec<f64> = (0..rows).map(|r| f64::from(row(r)[c])).collect();
                        let truth: Vec<bool> = labels.iter().map(|&l| l as usize == c).collect();
                        auc(&scores, &truth)
                    })
                    .filter(|a| !a.is_nan())
                    .collect();
                aucs.iter().sum::<f64>() / aucs.len() as f64
            }
            Metric::F1 => {
                let (mut tp, mut fp, mut fal) = (0usize, 0usize, 0usize);
                for (r, &l) in labels.iter().enumerate() {
                    match (predicted(r) == positive as usize, l == positive) {
                        (true, true) => tp += 1,
                        (true, false) => fp += 1,
                        (false, true) => fal += 1,
                        (false, false) => {}
                    }
                }
                if tp == 0 { 0.0 } else { 2.0 * tp as f64 / (2 * tp + fp + fal) as f64 }
            }
            Metric::Rmse | Metric::Mae | Metric::R2 => f64::NAN,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The first index of the largest value (`argmax` of a probability row).
fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// Area under the ROC curve of `scores` for the rows where `truth` holds: the probability that
/// a positive row scores above a negative one, ties counting half (Mann-Whitney U with mid
/// ranks); NaN when one side has no rows.
fn auc(scores: &[f64], truth: &[bool]) -> f64 {
    let ranks = crate::stats::ranks(scores);
    let (rank_sum, positives) =
        ranks.iter().zip(truth).filter(|(_, t)| **t).fold((0.0f64, 0usize), |(s, n), (r, _)| (s + r, n + 1));
    let negatives = scores.len() - positives;
    if positives == 0 || negatives == 0 {
        return f64::NAN;
    }
    let p = positives as f64;
    (rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64)
}

/// A metric's value in a trial's epoch or a model's score, named (the journal keeps the name
/// beside the value).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricValue {
    /// Which metric.
    pub name: Metric,
    /// Its value.
    pub value: f64,
}

impl MetricValue {
    /// What controllers maximise for it.
    pub fn reward(self) -> f64 {
        self.name.reward(self.value)
    }
}

/// How a trainer's loss weighs the rows of each class (`trainer.class_weight`): `"none"` (the
/// default), `"balanced"`, or a table `{ CLASS = weight, ... }` (classes not named weigh 1).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ClassWeight {
    /// Every class weighs 1.
    #[default]
    None,
    /// Each class weighs `rows / (classes * rows of the class)` over the training rows
    /// (scikit-learn's `"balanced"`): every class carries the same total weight.
    Balanced,
    /// These classes weigh this much; the others 1.
    Map(BTreeMap<String, f64>),
}

impl Serialize for ClassWeight {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ClassWeight::None => s.serialize_str("none"),
            ClassWeight::Balanced => s.serialize_str("balanced"),
            ClassWeight::Map(m) => m.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ClassWeight {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ClassWeight;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"none\", \"balanced\" or a table { CLASS = weight, ... }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ClassWeight, E> {
                match v {
                    "none" => Ok(ClassWeight::None),
                    "balanced" => Ok(ClassWeight::Balanced),
                    other => Err(E::custom(format!(
                        "{other:?} is not \"none\", \"balanced\" or a table {{ CLASS = weight, ... }}"
                    ))),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<ClassWeight, A::Error> {
                let mut m = BTreeMap::new();
                while let Some((k, v)) = a.next_entry::<String, f64>()? {
                    m.insert(k, v);
                }
                Ok(ClassWeight::Map(m))
            }
        }
        d.deserialize_any(V)
    }
}

impl ClassWeight {
    /// Checks what can be checked without data: every weight positive and finite.
    pub fn validate(&self) -> Result<(), String> {
        if let ClassWeight::Map(m) = self {
            if m.is_empty() {
                return Err("names no class; give { CLASS = weight, ... }, \"balanced\" or \"none\"".into());
            }
            for (class, w) in m {
                if !(w.is_finite() && *w > 0.0) {
                    return Err(format!("the weight of class {class:?} is {w}; weights must be positive"));
                }
            }
        }
        Ok(())
    }

    /// One weight per class of `train` (its class order), or `None` when every class weighs 1;
    /// a class name the data lacks is an error that lists the data's classes, and a regression
    /// has no classes to weigh.
    pub fn resolve(&self, train: &Dataset) -> Result<Option<Vec<f32>>, String> {
        let n = train.n_classes();
        if train.is_regression() && *self != ClassWeight::None {
            return Err("weighs classes, and a regression has none; leave it \"none\"".into());
        }
        match self {
            ClassWeight::None => Ok(None),
            ClassWeight::Balanced => {
                let mut counts = vec![0usize; n];
                for &l in &train.labels {
                    counts[l as usize] += 1;
                }
                let rows = train.labels.len() as f64;
                // A class without training rows is never a target: its weight does not matter.
                Ok(Some(
                    counts.iter().map(|&c| if c == 0 { 1.0 } else { (rows / (n as f64 * c as f64)) as f32 }).collect(),
                ))
            }
            ClassWeight::Map(m) => {
                let mut w = vec![1.0f32; n];
                for (class, &weight) in m {
                    let Some(i) = train.class_names.iter().position(|c| c == class) else {
                        return Err(format!(
                            "no class {class:?} in the data (its classes: {})",
                            train.class_names.join(", ")
                        ));
                    };
                    w[i] = weight as f32;
                }
                Ok(Some(w))
            }
        }
    }
}

/// `search.metric` and its positive class, resolved against the data: what a trainer reports
/// for every epoch and the reward is made of.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Objective {
    /// The validation metric.
    pub metric: Metric,
    /// Index of the class F1 and binary AUC score.
    pub positive: u32,
    /// The standard deviation of a regression's training targets (the unit of its diverged
    /// reward); 0 for classification.
    pub target_std: f64,
}

impl Objective {
    /// `metric` on `train`'s classes, with the positive class `positive` (a class name) or, by
    /// default, the class with the fewest training rows (the rarer outcome, usually the one of
    /// interest: the defaulted loan, the fraud); ties go to the later class.
    /// A regression's metric is checked against its task, and has no positive class.
    pub fn resolve(metric: Metric, positive: Option<&str>, train: &Dataset) -> Result<Self, String> {
        let task = if train.is_regression() { Task::Regression } else { Task::Classification };
        metric.check_task(task)?;
        if let Some(scale) = crate::data::TargetScale::of(train) {
            if positive.is_some() {
                return Err("a regression has no positive class; leave search.positive_class out".into());
            }
            return Ok(Self { metric, positive: 0, target_std: scale.std });
        }
        metric.check_classes(train.n_classes())?;
        let positive = match positive {
            Some(name) => train.class_names.iter().position(|c| c == name).ok_or_else(|| {
                format!("no class {name:?} in the data (its classes: {})", train.class_names.join(", "))
            })?,
            None => {
                let mut counts = vec![0usize; train.n_classes()];
                for &l in &train.labels {
                    counts[l as usize] += 1;
                }
                (0..counts.len()).rev().min_by_key(|&c| counts[c]).unwrap_or(0)
            }
        };
        Ok(Self { metric, positive: positive as u32, target_std: 0.0 })
    }

    /// The metric of `probs` against `labels` (see [`Metric::evaluate`]), named.
    pub fn evaluate(&self, probs: &[f32], n_classes: usize, labels: &[u32]) -> MetricValue {
        MetricValue { name: self.metric, value: self.metric.evaluate(probs, n_classes, labels, self.positive) }
    }

    /// The metric of predicted values `pred` against `truth` (see [`Metric::evaluate_values`]),
    /// named.
    pub fn evaluate_values(&self, pred: &[f32], truth: &[f32]) -> MetricValue {
        MetricValue { name: self.metric, value: self.metric.evaluate_values(pred, truth) }
    }

    /// Whether trainers report the metric beside the accuracy (any metric but accuracy, which
    /// every epoch carries already).
    pub fn reported(&self) -> bool {
        self.metric != Metric::Accuracy
    }

    /// The reward of a trial that diverged: [`Metric::worst_reward`], which for RMSE and MAE is
    /// in training standard deviations, here in the label's units (predictions
    /// [`DIVERGED_STDS`] standard deviations off).
    pub fn worst_reward(&self) -> f64 {
        match self.metric {
            Metric::Rmse | Metric::Mae => self.metric.worst_reward() * self.target_std.max(f64::MIN_POSITIVE),
            m => m.worst_reward(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probs(rows: &[[f32; 2]]) -> Vec<f32> {
        rows.iter().flatten().copied().collect()
    }

    #[test]
    fn an_always_majority_model_has_balanced_accuracy_one_half() {
        // 19 of class 0, 1 of class 1: accuracy 0.95, balanced accuracy 0.5.
        let labels: Vec<u32> = (0..20).map(|i| u32::from(i == 7)).collect();
        let p = probs(&[[0.9, 0.1]; 20]);
        assert_eq!(Metric::Accuracy.evaluate(&p, 2, &labels, 1), 0.95);
        assert_eq!(Metric::BalancedAccuracy.evaluate(&p, 2, &labels, 1), 0.5);
        assert_eq!(Metric::F1.evaluate(&p, 2, &labels, 1), 0.0, "the positive class is never predicted");
        assert_eq!(Metric::Auc.evaluate(&p, 2, &labels, 1), 0.5, "one score for every row: a coin");
    }

    #[test]
    fn values_match_hand_computations() {
        let labels = [0u32, 1, 1, 0];
        let p = probs(&[[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.4, 0.6]]);
        // Predicted 0, 1, 0, 1: tp 1, fp 1, fn 1.
        assert_eq!(Metric::F1.evaluate(&p, 2, &labels, 1), 0.5);
        assert_eq!(Metric::BalancedAccuracy.evaluate(&p, 2, &labels, 1), 0.5);
        let ll = -(0.8f64.ln() + 0.7f64.ln() + 0.4f64.ln() + 0.4f64.ln()) / 4.0;
        assert!((Metric::LogLoss.evaluate(&p, 2, &labels, 1) - ll).abs() < 1e-6);
        // Positive scores 0.7, 0.4 against negative 0.2, 0.6: pairs won 0.7>0.2, 0.7>0.6, 0.4>0.2.
        assert_eq!(Metric::Auc.evaluate(&p, 2, &labels, 1), 0.75);
        // Scoring class 0 instead mirrors the AUC.
        assert_eq!(Metric::Auc.evaluate(&p, 2, &labels, 0), 0.75);
    }

    #[test]
    fn log_loss_is_clipped_and_its_reward_floor_is_below_every_model() {
        let p = probs(&[[1.0, 0.0]]);
        let worst = Metric::LogLoss.evaluate(&p, 2, &[1], 1);
        assert!((worst + LOG_LOSS_EPS.ln()).abs() < 1e-9, "{worst}");
        assert!(Metric::LogLoss.worst_reward() <= Metric::LogLoss.reward(worst));
        assert!(Metric::LogLoss.minimize() && !Metric::Auc.minimize());
    }

    #[test]
    fn multiclass_auc_is_the_mean_of_one_vs_rest() {
        // Perfectly ranked three classes.
        let labels = [0u32, 1, 2];
        let p = vec![0.8, 0.1, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.8];
        assert_eq!(Metric::Auc.evaluate(&p, 3, &labels, 0), 1.0);
        assert!(Metric::F1.check_classes(3).is_err() && Metric::F1.check_classes(2).is_ok());
    }

    fn data(labels: &[u32], names: &[&str]) -> Dataset {
        Dataset {
            features: vec![0.0; labels.len()],
            sample_shape: vec![1],
            labels: labels.to_vec(),
            targets: Vec::new(),
            class_names: names.iter().map(|s| s.to_string()).collect(),
            feature_names: vec!["x".into()],
        }
    }

    #[test]
    fn regression_metrics_match_hand_computations() {
        let truth = [1.0f32, 2.0, 3.0, 4.0];
        let pred = [1.0f32, 2.0, 2.0, 6.0];
        // Errors 0, 0, -1, 2.
        assert!((Metric::Rmse.evaluate_values(&pred, &truth) - (5.0f64 / 4.0).sqrt()).abs() < 1e-12);
        assert_eq!(Metric::Mae.evaluate_values(&pred, &truth), 0.75);
        // SST 5 around the mean 2.5, SSE 5.
        assert_eq!(Metric::R2.evaluate_values(&pred, &truth), 0.0);
        assert_eq!(Metric::R2.evaluate_values(&truth, &truth), 1.0);
        assert!(Metric::Rmse.minimize() && Metric::Mae.minimize() && !Metric::R2.minimize());
        assert!(Metric::Rmse.evaluate_values(&pred, &truth[..3]).is_nan(), "lengths differ");
    }

    #[test]
    fn metrics_are_checked_against_the_task() {
        let r = Dataset { labels: Vec::new(), targets: vec![1.0, 3.0], class_names: Vec::new(), ..data(&[0, 1], &[]) };
        let o = Objective::resolve(Metric::Rmse, None, &r).expect("rmse scores a regression");
        assert_eq!(o.target_std, 1.0);
        assert_eq!(o.worst_reward(), -10.0);
        let auc = Objective::resolve(Metric::Auc, None, &r).expect_err("auc needs classes");
        assert!(auc.contains("auc is a classification metric and this search is a regression"), "{auc}");
        assert!(Objective::resolve(Metric::Rmse, Some("a"), &r).is_err(), "no positive class");
        let c = data(&[0, 1], &["a", "b"]);
        let rmse = Objective::resolve(Metric::Rmse, None, &c).expect_err("rmse needs a number");
        assert!(rmse.contains("use accuracy, balanced_accuracy, log_loss, auc, f1"), "{rmse}");
        assert!(ClassWeight::Balanced.resolve(&r).is_err() && ClassWeight::None.resolve(&r) == Ok(None));
    }

    #[test]
    fn balanced_weights_give_every_class_the_same_total() {
        let d = data(&[0, 0, 0, 1], &["good", "bad"]);
        let w = ClassWeight::Balanced.resolve(&d).expect("resolves").expect("weights");
        assert_eq!(w, vec![4.0 / 6.0, 2.0]);
        assert_eq!(ClassWeight::None.resolve(&d), Ok(None));
        let m = ClassWeight::Map(BTreeMap::from([("bad".to_string(), 5.0)]));
        assert_eq!(m.resolve(&d), Ok(Some(vec![1.0, 5.0])));
        let unknown = ClassWeight::Map(BTreeMap::from([("ugly".to_string(), 5.0)]));
        assert!(
            unknown
                .resolve(&d)
                .expect_err("refused")
                .contains("no class \"ugly\" in the data (its classes: good, bad)")
        );
        let zero = ClassWeight::Map(BTreeMap::from([("bad".to_string(), 0.0)]));
        assert!(zero.validate().expect_err("refused").contains("must be positive"));
    }

    #[test]
    fn the_default_positive_class_is_the_rarest() {
        let d = data(&[0, 0, 0, 1], &["good", "bad"]);
        assert_eq!(Objective::resolve(Metric::F1, None, &d).expect("ok").positive, 1);
        assert_eq!(Objective::resolve(Metric::F1, Some("good"), &d).expect("ok").positive, 0);
        assert!(Objective::resolve(Metric::F1, Some("meh"), &d).is_err());
    }

    #[test]
    fn class_weights_read_and_write_as_text() {
        for (text, w) in [
            ("\"balanced\"", ClassWeight::Balanced),
            ("\"none\"", ClassWeight::None),
            ("{\"bad\":3.5}", ClassWeight::Map(BTreeMap::from([("bad".to_string(), 3.5)]))),
        ] {
            assert_eq!(serde_json::from_str::<ClassWeight>(text).expect("reads"), w);
            assert_eq!(serde_json::to_string(&w).expect("writes"), text);
        }
        let e = serde_json::from_str::<ClassWeight>("\"heavy\"").expect_err("refused").to_string();
        assert!(e.contains("\"heavy\" is not \"none\", \"balanced\""), "{e}");
    }
}
