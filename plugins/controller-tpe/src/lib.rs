//! controller-tpe: a Tree-structured Parzen Estimator [`Controller`](mlpnas_core::Controller)
//! of mlpnas (`[controller] type = "tpe"`; Bergstra et al. 2011, Optuna's default sampler).
//!
//! [`TpeController`] keeps every finished trial (sequence, reward). After `n_startup` trials
//! drawn uniformly among the valid sequences, it splits them at the quantile `gamma` into good
//! (the best `ceil(gamma * n)`) and bad, and models each set token by token: at position `i`,
//! among the tokens the space allows after the prefix, a token's weight is the number of the
//! set's sequences with that token at `i`, plus a prior of `prior_weight` spread evenly over the
//! allowed tokens. It draws `n_candidates` untried sequences from the good model and proposes
//! the one with the highest ratio of good to bad likelihood. Validity comes from the space
//! (`allowed_next`), so it runs on every space: MLP layers, training-setting tokens, benchmark
//! tables. Its state (RNG position and the history) round-trips for bit-exact resume.

pub mod config;
pub mod tpe;

pub use config::TpeControllerConfig;
pub use tpe::TpeController;
