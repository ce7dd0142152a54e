//! Final training and export: early stopping stops on a plateau and keeps the best epoch, a model
//! trained to convergence on separable data predicts it perfectly, and a Burn record (what
//! earlier releases exported) loads back to bit-identical probabilities (and refuses an
//! architecture it does not fit).

use std::sync::Arc;

use mlpnas_core::{Architecture, ArchitectureTrainer, DataSplit, Dataset, EarlyStopping, Model, Score};
use trainer_burn::{Backend, BurnModel, BurnTrainer, BurnTrainerConfig};

/// `classes` well-separated blobs in 2-D, `n` rows each.
fn blobs(classes: usize, n: usize) -> Dataset {
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
        class_names: (0..classes).map(|c| format!("c{c}")).collect(),
        feature_names: vec!["x".into(), "y".into()],
    }
}

/// The backend under test: `MLPNAS_TEST_BACKEND` (`.ci/run` sets `tch-cpu` for its LibTorch
/// pass), else the default (`flex`).
fn test_backend() -> Backend {
    Backend::under_test().unwrap_or_default()
}

/// A final trainer on the backend under test over `classes` blobs.
fn trainer(classes: usize, cfg: &str) -> (BurnTrainer, Dataset) {
    let d = blobs(classes, 40);
    let split = DataSplit { train: d.clone(), valid: d.clone(), test: None };
    let mut cfg: BurnTrainerConfig = toml::from_str(cfg).expect("config");
    cfg.backend = test_backend();
    (BurnTrainer::new(cfg, Arc::new(split)).expect("trainer"), d)
}

fn arch(text: &str, t: &BurnTrainer) -> Architecture {
    Architecture::parse(text, t.input_dim(), t.n_classes(), 0.2).expect("arch")
}

#[test]
fn early_stopping_stops_on_a_plateau() {
    // A learning rate of 1e-12 moves no weight measurably: the validation loss is flat from the
    // first epoch, so training must stop after exactly 1 + patience epochs and keep epoch 1.
    let (t, _) = trainer(3, "learning_rate = 1e-12");
    let a = arch("16:relu", &t);
    let f = t.fit(&a, &[], 7, EarlyStopping { max_epochs: 200, patience: 4 }).expect("train");
    assert!(f.stopped_early);
    assert_eq!(f.epochs.len(), 5, "{:?}", f.epochs);
    assert_eq!(f.best_epoch, 1);
    // Without a plateau (a real learning rate) it keeps improving past 1 + patience epochs.
    let (t, _) = trainer(3, "learning_rate = 0.01");
    let f = t.fit(&a, &[], 7, EarlyStopping { max_epochs: 12, patience: 4 }).expect("train");
    assert!(f.epochs.len() > 5);
    assert!(f.best_epoch > 1);
}

#[test]
fn kept_weights_are_the_best_epochs() {
    let (t, d) = trainer(3, "learning_rate = 0.05");
    let a = arch("32:tanh,dropout,16:relu", &t);
    let f = t.fit(&a, &[], 3, EarlyStopping { max_epochs: 25, patience: 3 }).expect("train");
    let best = f.best().copied().expect("an epoch");
    let min = f.epochs.iter().map(|e| e.val_loss).fold(f64::INFINITY, f64::min);
    // The kept epoch is the lowest loss, up to the 1e-6 that counts as no improvement.
    assert!(best.val_loss <= min + 1e-6, "{} vs {min}", best.val_loss);
    let Score { loss, accuracy: acc } = t.score(&a, &f.weights, &d).expect("score");
    assert!((loss - best.val_loss).abs() < 1e-5, "{loss} vs {}", best.val_loss);
    assert!((acc - best.val_acc).abs() < 1e-12);
}

#[test]
fn converged_model_predicts_separable_data_perfectly() {
    for (classes, text) in [(3, "32:relu"), (2, "16:tanh")] {
        let (t, d) = trainer(classes, "learning_rate = 0.01");
        let a = arch(text, &t);
        let f = t.fit(&a, &[], 11, EarlyStopping { max_epochs: 60, patience: 10 }).expect("train");
        let m = BurnModel::new(&a, &f.weights, test_backend()).expect("model");
        assert_eq!(m.n_classes(), classes);
        let p = m.predict_proba(&d.features, d.n_rows()).expect("predict");
        assert_eq!(p.len(), d.n_rows() * classes);
        for (row, (probs, &label)) in p.chunks_exact(classes).zip(&d.labels).enumerate() {
            let sum: f32 = probs.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5, "row {row} sums to {sum}");
            let argmax = (0..classes).max_by(|&i, &j| probs[i].total_cmp(&probs[j])).expect("classes");
            assert_eq!(argmax as u32, label, "{classes} classes, row {row}: {probs:?}");
        }
    }
}

#[test]
fn saved_record_loads_to_identical_probabilities() {
    let (t, d) = trainer(3, "learning_rate = 0.01");
    let a = arch("64:elu,dropout,8:sigmoid", &t);
    let f = t.fit(&a, &[], 5, EarlyStopping { max_epochs: 5, patience: 2 }).expect("train");
    let dir = std::env::temp_dir().join(format!("mlpnas-burn-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("model.bpk");
    let mut backends = vec![Backend::Flex, Backend::Ndarray];
    if !backends.contains(&test_backend()) {
        backends.push(test_backend());
    }
    for &backend in &backends {
        let m = BurnModel::new(&a, &f.weights, backend).expect("model");
        m.save(&path).expect("save");
        let loaded = BurnModel::load(&a, &path, backend).expect("load");
        assert_eq!(loaded.weights().expect("weights"), f.weights);
        let before = m.predict_proba(&d.features, d.n_rows()).expect("predict");
        let after = loaded.predict_proba(&d.features, d.n_rows()).expect("predict");
        assert_eq!(before, after, "{backend}");
        // The record holds host values, not a backend: it loads on every other backend to the
        // same weights, and probabilities that differ only by float rounding.
        for &other in backends.iter().filter(|&&o| o != backend) {
            let there = BurnModel::load(&a, &path, other).expect("load on another backend");
            assert_eq!(there.weights().expect("weights"), f.weights, "{backend} -> {other}");
            let p = there.predict_proba(&d.features, d.n_rows()).expect("predict");
            let gap = p.iter().zip(&before).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
            assert!(gap < 1e-5, "{backend} -> {other}: probabilities differ by {gap}");
        }
    }
    // A record does not load into an architecture of other shapes.
    let other = arch("32:elu,dropout,8:sigmoid", &t);
    let e = BurnModel::load(&other, &path, Backend::Flex).expect_err("shape mismatch");
    assert!(e.to_string().contains("model.bpk"), "{e}");
    let fewer = arch("64:elu", &t);
    assert!(BurnModel::load(&fewer, &path, Backend::Flex).is_err());
    // Nor does a file that is not a record.
    std::fs::write(&path, b"not a record").expect("write");
    assert!(BurnModel::load(&a, &path, Backend::Flex).is_err());
    std::fs::remove_dir_all(&dir).ok();
}
