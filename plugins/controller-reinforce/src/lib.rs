//! controller-reinforce: a policy-gradient [`Controller`](mlpnas_core::Controller) of mlpnas, the
//! seed implementation's LSTM controller with its accuracy predictor ("hybrid" model).
//!
//! [`ReinforceController`] samples each architecture token by token from an LSTM policy (hidden
//! size 100 by default) whose input at each step is an embedding of the previous token (a start
//! token first) and whose output is a softmax over the vocabulary masked by the search space's
//! validity rules ([`SearchSpace::allowed_next`]): every sample is valid by construction. A
//! second head (dense, sigmoid) on the LSTM's final state predicts the architecture's reward; the
//! prediction is returned in [`Proposal::predicted`] before the architecture is trained.
//!
//! After each controller epoch, [`Controller::update`] runs `train_epochs` Adam steps on the
//! batch: REINFORCE, `-(R - b) * sum_t log pi(a_t | a_<t)` (`R` the reward, optionally the seed's
//! discounted sum over the batch, `b` a moving-average or constant baseline, optionally normalized
//! within the batch), minus an optional entropy bonus, plus the predictor's weighted mean squared
//! error against the rewards. Adam follows Keras 2 (`lr / (1 + decay * t)`, per-tensor `clipnorm`).
//!
//! Proposals are never already tried nor repeated within a batch: rejected samples are redrawn,
//! and after `max_attempts` rejections in a row the policy is sampled restricted to prefixes that
//! still have untried completions ([`SearchSpace::completions`] minus the tried ones), which always
//! succeeds while anything is left; [`ControllerError::Exhausted`] once nothing is.
//!
//! Design choices:
//! * The LSTM cell is written out from matrix products (gates i, f, g, o) rather than taken from
//!   `burn::nn::Lstm`, so that sampling and training run the very same code on a batch of
//!   sequences of different lengths, and every parameter is one plain tensor.
//! * The parameters, and Adam's moments, live on the host as `f32` vectors; each forward pass
//!   copies them (about 50k values) to the configured Burn backend ([`ReinforceConfig::backend`]),
//!   and gradients come back from Burn's autodiff. The whole state therefore serializes exactly,
//!   and `update` is deterministic given the state and the trials.
//! * Sampling draws from a [`ChaCha8Rng`](rand_chacha::ChaCha8Rng) seeded by the search, never from
//!   Burn's global RNG; the initial weights come from a stream derived from the same seed.
//!
//! [`SearchSpace::allowed_next`]: mlpnas_core::SearchSpace::allowed_next
//! [`SearchSpace::completions`]: mlpnas_core::SearchSpace::completions
//! [`Proposal::predicted`]: mlpnas_core::Proposal::predicted
//! [`Controller::update`]: mlpnas_core::Controller::update
//! [`ControllerError::Exhausted`]: mlpnas_core::ControllerError::Exhausted

mod adam;
pub mod config;
pub mod controller;
mod policy;
mod state;

pub use config::{Advantage, BaselineKind, ReinforceConfig};
pub use controller::ReinforceController;
