//! Evolution against the random baseline on a synthetic reward with a known optimum: the reward
//! of a sequence is its closeness to a fixed target sequence (computed, nothing is trained). Both
//! controllers are built from their typetag configs (after `mlpnas_link::link_all()`, so no
//! plugin depends on another, even in its tests) and driven through `propose` / `update` in
//! batches with the same budget; evolution should reach the target in fewer evaluations on most
//! seeds.

use std::collections::HashSet;

use mlpnas_core::{
    Activation, Controller, ControllerConfig, ControllerContext, MlpSpace, MlpSpaceConfig, SearchSpace, Token, TokenId,
    TrialRecord, TrialStatus, build_controller,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// 14 widths x 4 activations, max_len 3: 56 + 56 * 56 + 56 = 3248 sequences.
fn space() -> Result<MlpSpace, mlpnas_core::ConfigError> {
    let units: Vec<u32> = (1..=14).map(|i| 8 * i).collect();
    MlpSpaceConfig {
        units,
        activations: Activation::ALL.to_vec(),
        max_len: 3,
        dropout: 0.2.into(),
        ..Default::default()
    }
    .build()
}

/// (width index, activation index) of each hidden layer, and the number of dropouts.
fn layers(s: &MlpSpace, tokens: &[TokenId]) -> (Vec<(usize, usize)>, usize) {
    let cfg = s.config();
    let mut hidden = Vec::new();
    let mut dropouts = 0;
    for &t in tokens {
        match s.token(t) {
            Some(Token::Hidden { units, activation }) => hidden.push((
                cfg.units.iter().position(|&u| u == units).unwrap_or(0),
                cfg.activations.iter().position(|&a| a == activation).unwrap_or(0),
            )),
            Some(Token::Dropout) => dropouts += 1,
            _ => {}
        }
    }
    (hidden, dropouts)
}

/// The target: two hidden layers (width index 10, relu), (width index 3, tanh), no dropout.
const TARGET: [(usize, usize); 2] = [(10, 2), (3, 1)];

/// 1 at the target, less the farther a sequence is: per target layer, the width distance (in
/// index steps, scaled to at most 1) plus 1 for another activation, 2 for a missing layer; 0.5 per
/// dropout.
fn reward(s: &MlpSpace, tokens: &[TokenId]) -> f64 {
    let (hidden, dropouts) = layers(s, tokens);
    let span = (s.config().units.len() - 1) as f64;
    let mut d = 0.5 * dropouts as f64;
    for (i, &(tu, ta)) in TARGET.iter().enumerate() {
        d += match hidden.get(i) {
            Some(&(u, a)) => u.abs_diff(tu) as f64 / span + f64::from(u8::from(a != ta)),
            None => 2.0,
        };
    }
    1.0 / (1.0 + d)
}

/// Drives `c` in batches of `batch` until it proposes the target or about `budget` evaluations
/// are spent; the 1-based number of the evaluation that found it.
fn evaluations_to_optimum(
    c: &mut dyn Controller,
    s: &MlpSpace,
    target: &[TokenId],
    budget: usize,
    batch: usize,
) -> Result<Option<usize>, Box<dyn std::error::Error>> {
    let mut tried: HashSet<Vec<TokenId>> = HashSet::new();
    for epoch in 0..budget.div_ceil(batch) {
        let ctx = ControllerContext { space: s, tried: &tried, epoch };
        let proposals = c.propose(&ctx, batch)?;
        let first = tried.len();
        let mut records = Vec::with_capacity(proposals.len());
        for (i, p) in proposals.iter().enumerate() {
            if p.tokens == target {
                return Ok(Some(first + i + 1));
            }
            let r = reward(s, &p.tokens);
            records.push(TrialRecord {
                trial: first + i,
                epoch,
                tokens: p.tokens.clone(),
                architecture: String::new(),
                reward: r,
                val_acc_last: r,
                predicted: None,
                transfers: 0,
                params: 0,
                seconds: 0.0,
                status: TrialStatus::Ok,
                epochs: Vec::new(),
                metric: None,
                scores: Vec::new(),
                rescore_of: None,
                rungs: Vec::new(),
                objectives: Vec::new(),
            });
            assert!(tried.insert(p.tokens.clone()), "{:?} proposed twice", p.tokens);
        }
        let ctx = ControllerContext { space: s, tried: &tried, epoch };
        c.update(&ctx, &records)?;
    }
    Ok(None)
}

#[test]
fn evolution_finds_a_known_optimum_sooner_than_random_search() -> TestResult {
    let s = space()?;
    assert_eq!(s.size(), 3248);
    let target: Vec<TokenId> = TARGET
        .iter()
        .map(|&(u, a)| s.hidden_id(s.config().units[u], s.config().activations[a]).ok_or("target not in space"))
        .chain([Ok(s.output_id())])
        .collect::<Result<_, _>>()?;
    assert_eq!(reward(&s, &target), 1.0);
    // Enough to exhaust the space, so that both always find it and the counts compare.
    let (budget, batch) = (s.size() as usize, 10);
    mlpnas_link::link_all();
    let evolution: Box<dyn ControllerConfig> = toml::from_str("type = \"evolution\"")?;
    let random: Box<dyn ControllerConfig> = toml::from_str("type = \"random\"")?;
    let mut wins = 0;
    let mut rows = Vec::new();
    for seed in 0..10u64 {
        let mut evo = build_controller(evolution.as_ref(), &s, seed)?;
        let mut rnd = build_controller(random.as_ref(), &s, seed)?;
        let e = evaluations_to_optimum(evo.as_mut(), &s, &target, budget, batch)?;
        let r = evaluations_to_optimum(rnd.as_mut(), &s, &target, budget, batch)?;
        let (Some(e), Some(r)) = (e, r) else {
            return Err(format!("seed {seed}: the target was not found by exhausting the space").into());
        };
        wins += usize::from(e < r);
        rows.push(format!("seed {seed}: evolution {e:>4}, random {r:>4}"));
    }
    let table = rows.join("\n");
    println!("evaluations to the optimum (budget {budget}, batches of {batch}):\n{table}\nevolution wins {wins}/10");
    assert!(wins >= 8, "evolution was faster on only {wins} of 10 seeds:\n{table}");
    Ok(())
}
