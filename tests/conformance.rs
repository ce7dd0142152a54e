//! Runs the conformance suites against every store, controller and trainer, each built only from
//! its typetag config (a TOML string) after `mlpnas_link::link_all()`: this also proves that every
//! plugin is registered and linked. Trainers run on every backend of the build, or on the one
//! `MLPNAS_TEST_BACKEND` names (`Backend::for_suites`, the one place tests choose backends).
//!
//! Adding an implementation is one line: `store_suite!(name, "type = \"...\"");`,
//! `controller_suite!(name, "type = \"...\"");` or `trainer_suite!(name, "type = \"...\"");` at
//! the bottom.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use mlpnas_backend::Backend;
use mlpnas_core::{Controller, ControllerConfig, SearchSpace, StoreConfig, TrainerConfig, WeightStore};

/// A fresh run directory for a store under cargo's per-target temporary directory.
fn fresh_run_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("conformance").join(format!("{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a run directory");
    dir
}

/// A fresh store built from its typetag config.
fn store_from_toml(config: &str) -> Box<dyn WeightStore> {
    mlpnas_link::link_all();
    let cfg: Box<dyn StoreConfig> = toml::from_str(config).expect("store config deserializes");
    cfg.validate().expect("store config is valid");
    cfg.build(&fresh_run_dir()).expect("store builds")
}

/// A fresh controller built from its typetag config, on the backend under test
/// (`Backend::under_test`) for the controllers that run on one (`reinforce`). Stores hold host
/// tensors only: they have no backend.
fn controller_from_toml(config: &str, space: &dyn SearchSpace, seed: u64) -> Box<dyn Controller> {
    mlpnas_link::link_all();
    let mut cfg: Box<dyn ControllerConfig> = toml::from_str(config).expect("controller config deserializes");
    if let Some(b) = Backend::under_test()
        && cfg.backend().is_some()
    {
        cfg.set_backend(&b.to_string()).expect("the backend under test is available");
    }
    cfg.validate().expect("controller config is valid");
    mlpnas_core::build_controller(cfg.as_ref(), space, seed).expect("controller builds")
}

/// `store_suite!(module_name, "toml config");` runs the store suite on that store.
macro_rules! store_suite {
    ($name:ident, $config:expr) => {
        mod $name {
            fn factory() -> Box<dyn mlpnas_core::WeightStore> {
                super::store_from_toml($config)
            }
            tests::store_conformance_tests!(factory);
        }
    };
}

/// `controller_suite!(module_name, "toml config");` runs the controller suite on that controller.
macro_rules! controller_suite {
    ($name:ident, $config:expr) => {
        mod $name {
            fn factory(space: &dyn mlpnas_core::SearchSpace, seed: u64) -> Box<dyn mlpnas_core::Controller> {
                super::controller_from_toml($config, space, seed)
            }
            tests::controller_conformance_tests!(factory);
        }
    };
}

/// A trainer config from its typetag TOML, validated.
fn trainer_from_toml(config: &str) -> Box<dyn TrainerConfig> {
    mlpnas_link::link_all();
    let cfg: Box<dyn TrainerConfig> = toml::from_str(config).expect("trainer config deserializes");
    cfg.validate().expect("trainer config is valid");
    cfg
}

/// The backends trainers run the suite on.
fn suite_backends() -> Vec<String> {
    Backend::for_suites().iter().map(Backend::to_string).collect()
}

/// `trainer_suite!(module_name, "toml config");` runs the trainer suite on that trainer.
macro_rules! trainer_suite {
    ($name:ident, $config:expr) => {
        mod $name {
            fn config() -> Box<dyn mlpnas_core::TrainerConfig> {
                super::trainer_from_toml($config)
            }
            tests::trainer_conformance_tests!(config, super::suite_backends);
        }
    };
}

// Every trainer (small epochs: the suite trains a few dozen tiny nets per backend).
trainer_suite!(burn, "type = \"burn\"\nepochs = 8\nbatch_size = 16\n");
// The same trainer on its reference gradient path (Burn's autodiff).
trainer_suite!(burn_autodiff, "type = \"burn\"\ngradients = \"autodiff\"\nepochs = 8\nbatch_size = 16\n");

// Every store.
store_suite!(memory, r#"type = "memory""#);
store_suite!(disk, r#"type = "disk""#);

// Every controller.
controller_suite!(random, r#"type = "random""#);
controller_suite!(reinforce, r#"type = "reinforce""#);
controller_suite!(evolution, r#"type = "evolution""#);
controller_suite!(tpe, "type = \"tpe\"\nn_startup = 3");
