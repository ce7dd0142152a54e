//! The Burn trainer on tiny synthetic data: it learns, it is reproducible, it uses the initial
//! weights it is given, it reports divergence, and it rejects architectures that do not fit.

use std::sync::Arc;

use mlpnas_burn::BurnTrainerConfig;
use mlpnas_core::{Architecture, ArchitectureTrainer, DataSplit, Dataset, TrainerConfig, TrainerError};

/// Two well-separated blobs per class in 2-D (`classes` classes), `n` rows per class.
fn blobs(classes: usize, n: usize, scale: f32) -> Dataset {
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for c in 0..classes {
        let angle = c as f32 * std::f32::consts::TAU / classes as f32;
        for i in 0..n {
            let jitter = ((i * 7919 + c * 104_729) % 100) as f32 / 100.0 - 0.5;
            features.push(scale * (3.0 * angle.cos() + 0.3 * jitter));
            features.push(scale * (3.0 * angle.sin() - 0.3 * jitter));
            labels.push(c as u32);
        }
    }
    Dataset {
        features,
        sample_shape: vec![2],
        labels,
        class_names: (0..classes).map(|c| c.to_string()).collect(),
        feature_names: vec!["x".into(), "y".into()],
    }
}

fn trainer(classes: usize, cfg: &str) -> Box<dyn ArchitectureTrainer> {
    let d = blobs(classes, 40, 1.0);
    let split = DataSplit { train: d.clone(), valid: d, test: None };
    let cfg: BurnTrainerConfig = toml::from_str(cfg).expect("config");
    cfg.build(Arc::new(split)).expect("trainer")
}

fn arch(text: &str, t: &dyn ArchitectureTrainer) -> Architecture {
    Architecture::parse(text, t.input_dim(), t.n_classes(), 0.2).expect("arch")
}

#[test]
fn learns_separable_classes_softmax_and_sigmoid() {
    for (classes, text) in [(3, "16:relu,dropout,16:tanh"), (2, "8:elu"), (4, "32:sigmoid")] {
        let t = trainer(classes, "epochs = 15\nbatch_size = 16");
        let a = arch(text, t.as_ref());
        let o = t.train(&a, &[], 1).expect("train");
        assert!(!o.diverged);
        assert_eq!(o.epochs.len(), 15);
        assert!(o.val_acc_last() > 0.95, "{classes} classes {text}: {:?}", o.epochs.last());
        assert!(o.epochs.last().expect("epoch").train_loss < o.epochs[0].train_loss);
        assert_eq!(o.weights.len(), a.dense_shapes().len());
        for (w, (i, out, _)) in o.weights.iter().zip(a.dense_shapes()) {
            assert!(w.fits(i, out));
        }
    }
}

#[test]
fn same_seed_same_outcome_other_seed_differs() {
    let t = trainer(3, "epochs = 3");
    let a = arch("16:relu,dropout,8:elu", t.as_ref());
    let x = t.train(&a, &[], 5).expect("train");
    let y = t.train(&a, &[], 5).expect("train");
    let z = t.train(&a, &[], 6).expect("train");
    assert_eq!(x, y);
    assert_ne!(x.weights, z.weights);
}

#[test]
fn initial_weights_are_used_and_keep_training() {
    let t = trainer(3, "epochs = 10");
    let a = arch("16:tanh", t.as_ref());
    let trained = t.train(&a, &[], 1).expect("train");
    // Restarting from trained weights: accurate from the first epoch on, unlike a fresh start.
    let init: Vec<_> = trained.weights.iter().cloned().map(Some).collect();
    let t1 = trainer(3, "epochs = 1\nlearning_rate = 0.0001");
    let warm = t1.train(&a, &init, 2).expect("train");
    let cold = t1.train(&a, &[], 2).expect("train");
    assert!(warm.epochs[0].val_acc > 0.95, "{:?}", warm.epochs);
    assert!(warm.epochs[0].val_loss < cold.epochs[0].val_loss);
    // And the parameters still move (they were set as trainable, not frozen).
    assert_ne!(warm.weights, trained.weights);
}

#[test]
fn sgd_with_momentum_and_decay_learns() {
    let t = trainer(3, "epochs = 15\noptimizer = \"sgd\"\nmomentum = 0.9\nlearning_rate = 0.05\ndecay = 0.001");
    let o = t.train(&arch("16:relu", t.as_ref()), &[], 3).expect("train");
    assert!(o.val_acc_last() > 0.9, "{:?}", o.epochs.last());
}

#[test]
fn overflowing_loss_is_reported_as_diverged() {
    // A learning rate of 1e30 blows the weights up after one Adam step: the next loss overflows.
    let t = trainer(3, "epochs = 2\nlearning_rate = 1e30");
    let o = t.train(&arch("64:relu,64:relu", t.as_ref()), &[], 1).expect("train");
    assert!(o.diverged);
    assert_eq!(o.reward(), 0.0);
    assert!(o.weights.is_empty());
}

#[test]
fn misfits_are_errors() {
    let t = trainer(3, "");
    let wrong_input = Architecture::parse("8:relu", 5, 3, 0.2).expect("arch");
    assert!(matches!(t.train(&wrong_input, &[], 1), Err(TrainerError::Mismatch(_))));
    let a = arch("8:relu", t.as_ref());
    let other = arch("4:relu", t.as_ref());
    let w = t.train(&other, &[], 1).expect("train").weights;
    assert!(matches!(t.train(&a, &[Some(w[0].clone())], 1), Err(TrainerError::WeightShape { layer: 0, .. })));
}

#[test]
fn bad_settings_are_rejected() {
    for (text, field) in [
        ("epochs = 0", "trainer.epochs"),
        ("batch_size = 0", "trainer.batch_size"),
        ("learning_rate = -1.0", "trainer.learning_rate"),
        ("momentum = 0.9", "trainer.momentum"),
    ] {
        let cfg: BurnTrainerConfig = toml::from_str(text).expect("parses");
        let e = cfg.validate().expect_err(text);
        assert_eq!(e.field, field);
    }
    assert!(toml::from_str::<BurnTrainerConfig>("backend = \"cuda\"").is_err());
}

/// Large raw inputs (unstandardized data such as sulfur dioxide in mg/l) drive ELU pre-activations
/// far above 88, where exp overflows. Burn's own `elu` turns that into NaN gradients and the net
/// "diverges"; ours must train like relu does (PyTorch and Keras train these nets normally).
#[test]
fn elu_on_large_raw_inputs_does_not_diverge() {
    for backend in ["flex", "ndarray"] {
        let d = blobs(3, 40, 200.0);
        let split = DataSplit { train: d.clone(), valid: d, test: None };
        let cfg: BurnTrainerConfig =
            toml::from_str(&format!("epochs = 5\nbatch_size = 16\nbackend = \"{backend}\"")).expect("config");
        let t = cfg.build(Arc::new(split)).expect("trainer");
        for text in ["64:elu", "64:relu,32:elu"] {
            let a = arch(text, t.as_ref());
            let o = t.train(&a, &[], 3).expect("train");
            assert!(!o.diverged, "{backend} {text} diverged: {:?}", o.epochs);
            assert!(o.val_acc_last() > 0.6, "{backend} {text}: {:?}", o.epochs.last());
        }
    }
}
