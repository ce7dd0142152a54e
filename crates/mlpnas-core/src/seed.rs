//! Deterministic seed derivation: every random stream of a search comes from its one seed.
//!
//! Streams are separated by a label and an index through SplitMix64, so that adding a new stream
//! never shifts the others (the split, the controller and each trial draw independently).
//!
//! Every stream is a [`SeedRng`]: ChaCha with 12 rounds from `rand_chacha`, named explicitly
//! because rand's standard generator does not promise to keep its algorithm across releases (an
//! upgrade would silently change every split, initial weight and dropout mask, and a resume
//! across it would mix two splits; `clippy.toml` forbids it). ChaCha12 is what that generator
//! was in rand 0.9, so runs made before the switch draw the same numbers and still resume
//! exactly (`tests/seed_stream.rs`). The pinned-seed tests (`mlpnas-data`'s
//! `pinned_seed_0_draws`, `trainer-burn`'s `pinned_seed_0_initial_weights`) fail loudly if a
//! dependency changes the stream.

use rand::SeedableRng;

/// The one random number generator of mlpnas: ChaCha12, seeded by [`rng`].
pub type SeedRng = rand_chacha::ChaCha12Rng;

/// The stream seeded by `seed` (usually a [`derive`]d one).
pub fn rng(seed: u64) -> SeedRng {
    SeedRng::seed_from_u64(seed)
}

/// One SplitMix64 step: a well-mixed 64-bit function of `x`.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Derives the seed of stream `label` number `index` from the search seed `base`.
pub fn derive(base: u64, label: &str, index: u64) -> u64 {
    let mut h = splitmix64(base);
    for b in label.bytes() {
        h = splitmix64(h ^ u64::from(b));
    }
    splitmix64(h ^ index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_and_are_stable() {
        assert_eq!(derive(1, "trial", 0), derive(1, "trial", 0));
        assert_ne!(derive(1, "trial", 0), derive(1, "trial", 1));
        assert_ne!(derive(1, "trial", 0), derive(1, "split", 0));
        assert_ne!(derive(1, "trial", 0), derive(2, "trial", 0));
    }
}
