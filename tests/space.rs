//! Property tests of the default search space ([`MlpSpace`]) and of the random controller on it,
//! plus the error of an unknown typetag name.

use std::collections::HashMap;

use mlpnas_core::space::DropoutRates;
use mlpnas_core::{
    Activation, Architecture, ControllerConfig, ControllerContext, MlpSpace, MlpSpaceConfig, Optimizer, SearchSpace,
    StoreConfig, TokenId,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32, seed: u64) -> Config {
    Config { cases, failure_persistence: None, rng_seed: RngSeed::Fixed(seed), ..Config::default() }
}

/// Random valid space configs: 1..=`max_units` widths from a pool (1 included, to meet the
/// binary output `1:sigmoid`), 1..=`max_acts` activations in any order, `max_len` 2..=5, and
/// none, some or all of the training settings, each with one or two values in any order.
fn space_config(max_units: usize, max_acts: usize) -> impl Strategy<Value = MlpSpaceConfig> {
    let units = proptest::sample::subsequence(vec![1u32, 3, 8, 16, 64, 512], 1..=max_units).prop_shuffle();
    let activations = proptest::sample::subsequence(Activation::ALL.to_vec(), 1..=max_acts).prop_shuffle();
    let dropout = prop_oneof![
        (0.0f64..0.9).prop_map(DropoutRates::One),
        proptest::sample::subsequence(vec![0.0, 0.25, 0.5], 1..=2).prop_shuffle().prop_map(DropoutRates::Searched),
    ];
    let training = (
        proptest::sample::subsequence(vec![0.1, 0.003], 0..=2).prop_shuffle(),
        proptest::sample::subsequence(vec![16u32, 128], 0..=2).prop_shuffle(),
        proptest::sample::subsequence(vec![0.0, 1e-4], 0..=2),
        proptest::sample::subsequence(Optimizer::ALL.to_vec(), 0..=2).prop_shuffle(),
        proptest::sample::subsequence(vec![3u32, 20], 0..=2),
    );
    (units, activations, dropout, 2usize..=5, training).prop_map(
        |(units, activations, dropout, max_len, (learning_rate, batch_size, weight_decay, optimizer, epochs))| {
            MlpSpaceConfig {
                units,
                activations,
                dropout,
                max_len,
                learning_rate,
                batch_size,
                weight_decay,
                optimizer,
                epochs,
            }
        },
    )
}

fn build(cfg: &MlpSpaceConfig) -> Result<MlpSpace, TestCaseError> {
    cfg.build().map_err(|e| TestCaseError::fail(format!("{cfg:?} does not build: {e}")))
}

/// A sequence drawn token by token: at each step, `choices[i] % allowed.len()` picks among
/// `allowed_next`.
fn sample_tokens(space: &dyn SearchSpace, choices: &[u32]) -> Vec<TokenId> {
    let mut seq = Vec::new();
    for &c in choices {
        let allowed = space.allowed_next(&seq);
        if allowed.is_empty() {
            break;
        }
        seq.push(allowed[c as usize % allowed.len()]);
    }
    seq
}

/// Every valid sequence, by brute force over `allowed_next`.
fn enumerate(space: &dyn SearchSpace, prefix: &mut Vec<TokenId>, out: &mut Vec<Vec<TokenId>>) {
    if space.is_complete(prefix) {
        out.push(prefix.clone());
        return;
    }
    for t in space.allowed_next(prefix) {
        prefix.push(t);
        enumerate(space, prefix, out);
        prefix.pop();
    }
}

proptest! {
    #![proptest_config(config(256, 0x5ace))]

    /// Picking only allowed tokens always ends in a valid sequence (no dead ends), and then
    /// `decode` / `encode` and `Display` / `Architecture::parse` round-trip.
    #[test]
    fn allowed_tokens_give_valid_sequences_that_round_trip(
        cfg in space_config(4, 4),
        choices in proptest::collection::vec(any::<u32>(), 11),
        input_dim in 1usize..100,
        n_classes in 2usize..10,
    ) {
        let space = build(&cfg)?;
        let seq = sample_tokens(&space, &choices);
        prop_assert!(space.validate(&seq).is_ok(), "{:?}: {:?}", seq, space.validate(&seq));

        let arch = space.decode(&seq, input_dim, n_classes)?;
        prop_assert_eq!(&space.encode(&arch)?, &seq);

        let text = arch.to_string();
        let parsed = Architecture::parse(&text, input_dim, n_classes, space.dropout_rate())?;
        prop_assert_eq!(&parsed, &arch, "text {}", text);
    }

    /// The random controller, built through typetag, proposes only valid, distinct sequences.
    #[test]
    fn random_controller_proposals_are_valid(cfg in space_config(3, 4), seed in any::<u64>(), n in 1usize..12) {
        mlpnas_link::link_all();
        let space = build(&cfg)?;
        let controller_cfg: Box<dyn ControllerConfig> = toml::from_str(r#"type = "random""#)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut c = controller_cfg.build(&space, seed).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let tried = Default::default();
        let ctx = ControllerContext { space: &space, tried: &tried, epoch: 0 };
        let proposals = c.propose(&ctx, n).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(proposals.len() as u128, space.size().min(n as u128));
        let mut seen = std::collections::HashSet::new();
        for p in proposals {
            prop_assert!(space.validate(&p.tokens).is_ok(), "{:?}", p.tokens);
            prop_assert!(p.predicted.is_none());
            prop_assert!(seen.insert(p.tokens));
        }
    }
}

proptest! {
    #![proptest_config(config(64, 0xc0de))]

    /// `completions` of every prefix equals the number of enumerated sequences starting with it.
    #[test]
    fn completions_match_brute_force(cfg in space_config(2, 3)) {
        let space = build(&cfg)?;
        // Enumeration stays quick.
        prop_assume!(space.size() <= 20_000);
        let mut all = Vec::new();
        enumerate(&space, &mut Vec::new(), &mut all);
        prop_assert_eq!(all.len() as u128, space.size());
        let mut counts: HashMap<&[TokenId], u128> = HashMap::new();
        for seq in &all {
            prop_assert!(space.validate(seq).is_ok(), "{:?}", seq);
            for k in 0..=seq.len() {
                *counts.entry(&seq[..k]).or_default() += 1;
            }
        }
        for (prefix, n) in counts {
            prop_assert_eq!(space.completions(prefix), n, "prefix {:?}", prefix);
        }
    }
}

#[test]
fn unknown_type_lists_the_known_ones() {
    mlpnas_link::link_all();
    let e =
        toml::from_str::<Box<dyn ControllerConfig>>(r#"type = "nope""#).expect_err("unknown controller").to_string();
    assert!(e.contains("nope") && e.contains("random"), "{e}");
    let e = toml::from_str::<Box<dyn StoreConfig>>(r#"type = "nope""#).expect_err("unknown store").to_string();
    assert!(e.contains("nope") && e.contains("memory"), "{e}");
}

#[test]
fn default_space_size() -> Result<(), mlpnas_core::ConfigError> {
    assert_eq!(MlpSpaceConfig::default().build()?.size(), 840);
    Ok(())
}
