//! The seed streams are pinned: [`mlpnas_core::seed::SeedRng`] draws what rand 0.9's standard
//! generator drew (runs made before the switch resume exactly), and the first draw of seed 0 is
//! a fixed number (a change of algorithm by any dependency fails here).

#![allow(clippy::disallowed_types)] // the one place that names rand's standard generator

use mlpnas_core::seed::rng;
use rand::{Rng, SeedableRng};

#[test]
fn seed_rng_draws_what_the_standard_generator_of_rand_0_9_drew() {
    let mut a = rng(42);
    let mut b = rand::rngs::StdRng::seed_from_u64(42);
    for _ in 0..64 {
        assert_eq!(a.random::<u64>(), b.random::<u64>());
    }
}

#[test]
fn the_first_draw_of_seed_0_is_pinned() {
    assert_eq!(rng(0).random::<u64>(), 13_486_662_071_293_341_567);
}
