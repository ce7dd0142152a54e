//! The search loop's mechanics with a fake trainer (no Burn): one-shot reads before and writes
//! after each trial, transfers are counted, diverged trials share nothing and score 0, the journal
//! matches what the loop returns.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use mlpnas_core::{
    Architecture, ArchitectureTrainer, BigramKey, ConfigError, DataSplit, Dataset, EarlyStopping, EpochMetrics,
    FitOutcome, HostTensor, Layer, LayerWeights, Model, Objective, Score, TrainOutcome, TrainerConfig, TrainerError,
    TrialStatus,
};
use mlpnas_runs::{RunDir, read_journal};
use mlpnas_search::{CheckedConfig, Run, Search, SearchConfig, prepare_data};
use serde::{Deserialize, Serialize};

/// Scores an architecture by its width; "diverges" on any tanh layer. Its trained kernels are
/// filled with the trial seed's low bits so that what the store hands out can be traced; its
/// biases with a mark of the validation rows it scores on, and it refuses initial weights
/// carrying another mark: weights trained by a trainer that validates on other rows (and so
/// trains on some of its own validation rows).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FakeConfig {}

#[derive(Debug)]
struct Fake {
    input_dim: usize,
    n_classes: usize,
    mark: f32,
}

#[typetag::serde(name = "fake")]
impl TrainerConfig for FakeConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
    fn build(&self, data: Arc<DataSplit>, _: &Objective) -> Result<Box<dyn ArchitectureTrainer>, TrainerError> {
        // The mark: the sum of the validation rows' features (distinct for distinct folds).
        let mark = data.valid.features.iter().map(|&x| f64::from(x)).sum::<f64>() as f32;
        Ok(Box::new(Fake { input_dim: data.train.n_features(), n_classes: data.train.n_classes(), mark }))
    }
    fn model(&self, _: &Architecture, _: &[LayerWeights]) -> Result<Box<dyn Model>, TrainerError> {
        Err(TrainerError::Other("the fake trainer predicts nothing".into()))
    }
    fn boxed_clone(&self) -> Box<dyn TrainerConfig> {
        Box::new(self.clone())
    }
}

impl ArchitectureTrainer for Fake {
    fn train(
        &self,
        arch: &Architecture,
        init: &[Option<LayerWeights>],
        seed: u64,
    ) -> Result<TrainOutcome, TrainerError> {
        let diverged =
            arch.layers.iter().any(|l| matches!(l, Layer::Dense { activation: mlpnas_core::Activation::Tanh, .. }));
        let acc = 1.0 - 1.0 / (1.0 + arch.param_count() as f64 / 100.0);
        // Initial weights must fit their layer.
        for (w, (i, o, _)) in init.iter().zip(arch.dense_shapes()) {
            if let Some(w) = w {
                assert!(w.fits(i, o));
                if w.bias.data[0] != self.mark {
                    return Err(TrainerError::Other(format!(
                        "started from weights trained for validation rows {} while scoring rows {}",
                        w.bias.data[0], self.mark
                    )));
                }
            }
        }
        let v = (seed % 1000) as f32;
        let weights = arch
            .dense_shapes()
            .iter()
            .map(|&(i, o, _)| LayerWeights {
                kernel: HostTensor { shape: vec![i, o], data: vec![v; i * o] },
                bias: HostTensor { shape: vec![o], data: vec![self.mark; o] },
            })
            .collect();
        let m = EpochMetrics { train_loss: 1.0, val_loss: 1.0, val_acc: acc, metric: None };
        Ok(if diverged {
            TrainOutcome { epochs: vec![], diverged, weights: vec![], measured: None, evaluations: Vec::new() }
        } else {
            TrainOutcome { epochs: vec![m, m], diverged, weights, measured: None, evaluations: Vec::new() }
        })
    }
    fn fit(
        &self,
        _: &Architecture,
        _: &[Option<LayerWeights>],
        _: u64,
        _: EarlyStopping,
    ) -> Result<FitOutcome, TrainerError> {
        Err(TrainerError::Other("the fake trainer does not fit".into()))
    }
    fn score(&self, _: &Architecture, _: &[LayerWeights], _: &Dataset) -> Result<Score, TrainerError> {
        Err(TrainerError::Other("the fake trainer does not score".into()))
    }
    fn input_dim(&self) -> usize {
        self.input_dim
    }
    fn n_classes(&self) -> usize {
        self.n_classes
    }
}

fn config(one_shot: bool) -> CheckedConfig {
    mlpnas_link::link_all();
    let text = format!(
        r#"
seed = 3
[data]
source = "builtin:iris"
[space]
units = [8, 16]
max_len = 4
[search]
controller_epochs = 4
samples_per_epoch = 5
one_shot = {one_shot}
[controller]
type = "random"
[trainer]
type = "fake"
[store]
type = "memory"
"#
    );
    SearchConfig::from_toml(&text, "test", Path::new("."), &[]).and_then(SearchConfig::check).expect("config")
}

fn search(cfg: CheckedConfig, data: &mlpnas_search::Prepared, dir: &Path) -> Search {
    let run = Run::create(Box::new(RunDir::new(dir)), cfg).expect("run");
    Search::new(run, data).expect("search")
}

fn run_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("mlpnas-loop-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn one_shot_transfers_follow_the_store_history() {
    let cfg = config(true);
    let data = prepare_data(&cfg).expect("data");
    let dir = run_dir("oneshot");
    let summary = search(cfg, &data, &dir).run(&mut ()).expect("run");
    assert_eq!(summary.records.len(), 20);
    let (journal, warnings) = read_journal(&dir.join("journal.jsonl")).expect("journal");
    assert!(warnings.is_empty());
    assert_eq!(journal, summary.records);

    // Replay: a layer transfers iff an earlier non-diverged trial had the same bigram.
    let mut stored: HashSet<BigramKey> = HashSet::new();
    let mut any_transfer = false;
    let mut any_diverged = false;
    for r in &summary.records {
        let arch = Architecture::parse(&r.architecture, 4, 3, 0.2).expect("arch");
        let keys = arch.bigram_keys();
        let expected = keys.iter().filter(|k| stored.contains(k)).count();
        assert_eq!(r.transfers, expected, "trial {}: {}", r.trial, r.architecture);
        any_transfer |= expected > 0;
        if r.status == TrialStatus::Diverged {
            any_diverged = true;
            assert_eq!(r.reward, 0.0);
        } else {
            stored.extend(keys);
            assert!(r.reward > 0.0);
        }
    }
    assert!(any_transfer && any_diverged, "the budget exercises both paths");
}

/// `data.split_seed` moves the split apart from the search seed; absent, the split is the run's
/// seed's (as before the setting existed).
#[test]
fn the_split_follows_the_split_seed() {
    let with = |seed: u64, split_seed: Option<u64>| {
        let mut cfg = config(true).into_unchecked();
        cfg.seed = seed;
        cfg.data.split_seed = split_seed;
        prepare_data(&cfg.check().expect("valid")).expect("data").split
    };
    assert_eq!(with(1, Some(7)), with(2, Some(7)), "one split seed, one split");
    assert_eq!(with(7, None), with(3, Some(7)));
    assert_ne!(with(1, None), with(2, None), "the seed moves the split without a split seed");
}

/// K-fold with one-shot sharing: each fold's weights go under its own keys, so no fold ever
/// starts from weights trained on its own validation rows (the fake trainer refuses them, and
/// it would get them if the folds shared keys: every bigram recurs); every trial is scored K
/// times, and its reward is the mean; transfers count per fold.
#[test]
fn folds_never_start_from_weights_trained_on_their_validation_rows() {
    let mut c = config(true).into_unchecked();
    c.search.folds = Some(3);
    let cfg = c.check().expect("valid");
    let data = prepare_data(&cfg).expect("data");
    let dir = run_dir("folds");
    let summary = search(cfg, &data, &dir).run(&mut ()).expect("no fold got another fold's weights");
    let run = Run::open(Box::new(RunDir::new(&dir)), None).expect("open");
    let store = run
        .weight_store(run.checkpoint().expect("checkpoint").as_ref(), summary.records.len())
        .expect("store")
        .expect("a store");
    // Fold -> the mark of the validation rows its stored weights were trained for.
    let mut marks: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
    let mut stored: HashSet<BigramKey> = HashSet::new();
    let mut any_transfer = false;
    for r in &summary.records {
        let arch = Architecture::parse_journaled(&r.architecture, 4).expect("arch");
        let keys = arch.resampled_keys(3);
        let expected = keys.iter().filter(|k| stored.contains(k)).count();
        assert_eq!(r.transfers, expected, "trial {}: {}", r.trial, r.architecture);
        any_transfer |= expected > 0;
        if r.status == TrialStatus::Ok {
            assert_eq!(r.scores.len(), 3, "trial {}", r.trial);
            let mean = r.scores.iter().sum::<f64>() / 3.0;
            assert!((r.reward - mean).abs() < 1e-12, "trial {}: reward {} vs mean {mean}", r.trial, r.reward);
            for k in &keys {
                let w = store.get(k).expect("get").expect("every fold's weights are stored");
                let mark = *marks.entry(k.fold).or_insert(w.bias.data[0].to_bits());
                assert_eq!(w.bias.data[0].to_bits(), mark, "fold {} holds weights of another fold", k.fold);
            }
            stored.extend(keys);
        }
    }
    assert!(any_transfer, "the case shares weights");
    assert_eq!(marks.len(), 3);
    assert_eq!(marks.values().collect::<HashSet<_>>().len(), 3, "three folds, three validation parts");
}

#[test]
fn without_one_shot_nothing_transfers() {
    let cfg = config(false);
    let data = prepare_data(&cfg).expect("data");
    let summary = search(cfg, &data, &run_dir("off")).run(&mut ()).expect("run");
    assert!(summary.records.iter().all(|r| r.transfers == 0));
}
