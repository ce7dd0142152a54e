//! controller-evolution: regularized (aging) evolution, a [`Controller`](mlpnas_core::Controller)
//! of mlpnas after Real et al., "Regularized Evolution for Image Classifier Architecture Search"
//! (AAAI 2019), adapted to the batch API.
//!
//! [`EvolutionController`] keeps a population of the last `population` evaluated architectures
//! (sequence and reward) in age order. Until the population is full, it proposes sequences drawn
//! uniformly among the untried valid sequences of the space (as the random controller does).
//! After that, each proposal is a tournament: `sample_size` members are drawn uniformly without
//! replacement, the one with the best reward is the parent, and the child is a random
//! [`Mutation`] of it (change one hidden layer's units or activation, insert or remove a hidden
//! layer, toggle dropout after a hidden layer), retried until it is valid, untried and not already
//! in the batch; when `max_attempts` mutations all fail, it falls back to a uniform untried
//! sequence. `update` appends the finished trials to the population and removes the oldest
//! members beyond `population` (aging: the best architecture does not live forever, which is the
//! regularization). Its state (population, RNG, counters) is JSON.
//!
//! It is built from [`EvolutionControllerConfig`] (`[controller]` with `type = "evolution"`).

pub mod config;
pub mod evolution;
pub mod mutation;

pub use config::{EvolutionControllerConfig, MutationWeights};
pub use evolution::{ENUMERATION_LIMIT, EvolutionController, Member};
pub use mutation::{Mutation, mutate, mutate_position};
