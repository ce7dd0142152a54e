//! table: benchmark tables for mlpnas, a search space and a trainer over precomputed results.
//!
//! A benchmark table is every configuration of a search space trained once per seed, with the
//! results stored ([`format`]): `table.toml` names the dimensions and their ordered values,
//! `table.csv` holds one row per evaluation. Searching against a table instead of training
//! makes a trial cost microseconds, so controllers are compared exactly, over hundreds of seeds,
//! against the known optimum (NAS-Bench, HPOBench and the FCNet tables work this way).
//!
//! Two plugins read the same table directory:
//! * [`TableSpaceConfig`] (`[space] type = "table"`, [`TableSpace`]): a sequence has one token per
//!   dimension, in order; only prefixes of configurations present in the table are allowed;
//! * [`TableTrainerConfig`] (`[trainer] type = "table"`, [`TableTrainer`]): the reward of a
//!   configuration is the metric of one of its seeds drawn from the trial's random stream
//!   (`noise = "seed"`) or the mean over its seeds (`"mean"`), negated for a metric to minimise.
//!
//! Both live in one crate because plugins never depend on each other. The format itself is
//! `mlpnas_data::table` (read here, written by `mlpnas tabulate`): one implementation.

pub mod space;
pub mod trainer;

pub use space::{TableSpace, TableSpaceConfig};
pub use trainer::{Noise, TableTrainer, TableTrainerConfig};
