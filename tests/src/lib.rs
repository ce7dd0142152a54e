//! tests: the cross-plugin test suites of mlpnas.
//!
//! The library holds reusable conformance suites, plain functions over the core traits that any
//! implementation must pass:
//!
//! * [`store_conformance`] for every [`WeightStore`](mlpnas_core::WeightStore);
//! * [`controller_conformance`] for every [`Controller`](mlpnas_core::Controller);
//! * [`trainer_conformance`] for every trainer ([`TrainerConfig`](mlpnas_core::TrainerConfig),
//!   its [`ArchitectureTrainer`](mlpnas_core::ArchitectureTrainer) and
//!   [`Model`](mlpnas_core::Model)), on every backend of the build.
//!
//! The integration tests of this package (`conformance.rs`, `space.rs`) run them against every
//! implementation, built only through its typetag config after `mlpnas_link::link_all()`, so they
//! also prove that each plugin is registered and linked. Adding an implementation is one line
//! in `conformance.rs`; adding a check is a function here plus one line in the matching
//! `*_conformance_tests!` macro.

pub mod controller_conformance;
pub mod store_conformance;
pub mod trainer_conformance;

/// The error type of every check (`anyhow`), re-exported for the test macros.
pub use anyhow::Error;
