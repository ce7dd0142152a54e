//! controller-random: the random-search baseline [`Controller`](mlpnas_core::Controller) of mlpnas.
//!
//! [`RandomController`] draws architectures uniformly among the valid sequences of the search
//! space, not token by token: each next token is chosen with probability proportional to the
//! number of valid sequences that continue with it ([`SearchSpace::completions`]), so every
//! complete sequence has the same probability `1 / space.size()`, however long. By default it
//! never proposes a sequence tried before nor the same one twice in a batch (rejection sampling,
//! with an exact enumeration fallback for nearly exhausted spaces). It learns nothing: `update`
//! is a no-op and its state is just its RNG.
//!
//! It is built from [`RandomControllerConfig`] (`[controller]` with `type = "random"`).
//!
//! [`SearchSpace::completions`]: mlpnas_core::SearchSpace::completions

pub mod config;
pub mod random;

pub use config::RandomControllerConfig;
pub use random::{ENUMERATION_LIMIT, RandomController};
