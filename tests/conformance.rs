//! Runs the conformance suites against every store and controller, each built only from its
//! typetag config (a TOML string) after `mlpnas_link::link_all()`: this also proves that every
//! plugin is registered and linked.
//!
//! Adding an implementation is one line: `store_suite!(name, "type = \"...\"");` or
//! `controller_suite!(name, "type = \"...\"");` at the bottom.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use mlpnas_core::{Controller, ControllerConfig, SearchSpace, StoreConfig, WeightStore};

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

/// `config` on the backend under test: `MLPNAS_TEST_BACKEND` (`.ci/run` sets `tch-cpu` for its
/// LibTorch pass) becomes the `backend` of the controllers that run on Burn (`reinforce`).
/// Stores hold host tensors only: they have no backend.
fn on_test_backend(config: &str) -> String {
    let mut table: toml::Table = toml::from_str(config).expect("controller config is TOML");
    if let Ok(backend) = std::env::var("MLPNAS_TEST_BACKEND")
        && table.get("type").and_then(toml::Value::as_str) == Some("reinforce")
    {
        table.insert("backend".into(), toml::Value::String(backend));
    }
    toml::to_string(&table).expect("TOML")
}

/// A fresh controller built from its typetag config (on the backend under test, if any).
fn controller_from_toml(config: &str, space: &dyn SearchSpace, seed: u64) -> Box<dyn Controller> {
    mlpnas_link::link_all();
    let cfg: Box<dyn ControllerConfig> =
        toml::from_str(&on_test_backend(config)).expect("controller config deserializes");
    cfg.validate().expect("controller config is valid");
    cfg.build(space, seed).expect("controller builds")
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

// Every store.
store_suite!(memory, r#"type = "memory""#);
store_suite!(disk, r#"type = "disk""#);

// Every controller.
controller_suite!(random, r#"type = "random""#);
controller_suite!(reinforce, r#"type = "reinforce""#);
controller_suite!(evolution, r#"type = "evolution""#);
