//! The TPE controller: good and bad token models from the finished trials, proposals drawn from
//! the good one and ranked by the likelihood ratio.

use std::collections::HashSet;

use mlpnas_core::sampling::{enumerate, sample_uniform};
use mlpnas_core::{
    Controller, ControllerContext, ControllerError, Proposal, SearchSpace, TokenId, TrialRecord, UpdateReport,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::TpeControllerConfig;

/// Largest space (in valid sequences) enumerated when drawing finds no untried sequence.
pub const ENUMERATION_LIMIT: u128 = 1_000_000;

/// TPE controller (see the crate documentation).
#[derive(Debug, Clone)]
pub struct TpeController {
    cfg: TpeControllerConfig,
    rng: ChaCha8Rng,
    /// Every finished trial it was shown, in order.
    history: Vec<Seen>,
}

/// A finished trial as TPE models it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Seen {
    tokens: Vec<TokenId>,
    reward: f64,
    /// A multi-objective search's values, larger is better ([`TrialRecord::oriented`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    objectives: Vec<f64>,
}

/// What `save_state` writes: the RNG position and the history (the config is not state).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedState {
    rng: ChaCha8Rng,
    history: Vec<Seen>,
}

/// One set's token model: the sequences it counts.
struct Model<'a> {
    seqs: Vec<&'a [TokenId]>,
    prior: f64,
}

impl Model<'_> {
    /// The probability of each of `allowed` at position `pos`: its count among the set's
    /// sequences there plus the prior spread evenly over `allowed`, normalized.
    fn probabilities(&self, pos: usize, allowed: &[TokenId]) -> Vec<f64> {
        let even = self.prior / allowed.len() as f64;
        let weights: Vec<f64> = allowed
            .iter()
            .map(|&t| even + self.seqs.iter().filter(|s| s.get(pos) == Some(&t)).count() as f64)
            .collect();
        let total: f64 = weights.iter().sum();
        weights.into_iter().map(|w| w / total).collect()
    }
}

/// The tokens allowed after `prefix` that some valid sequence continues.
fn continuable(space: &dyn SearchSpace, prefix: &mut Vec<TokenId>) -> Vec<TokenId> {
    let mut out = Vec::new();
    for t in space.allowed_next(prefix) {
        prefix.push(t);
        if space.completions(prefix) > 0 {
            out.push(t);
        }
        prefix.pop();
    }
    out
}

impl TpeController {
    /// A controller with settings `cfg` (assumed valid), its RNG seeded with `seed`.
    pub(crate) fn new(cfg: TpeControllerConfig, seed: u64) -> Self {
        Self { cfg, rng: ChaCha8Rng::seed_from_u64(seed), history: Vec::new() }
    }

    /// Its settings.
    pub fn config(&self) -> &TpeControllerConfig {
        &self.cfg
    }

    /// The good and bad sets: the best `ceil(gamma * n)` (at least one) and the rest. Best by
    /// reward (NaN rewards last, ties to the earlier trial); in a multi-objective search, by
    /// non-dominated sorting with crowding distance within a front (NSGA-II's order; Optuna's
    /// MOTPE splits by the same fronts and breaks the last one by hypervolume contribution).
    fn split(&self) -> (Model<'_>, Model<'_>) {
        let multi = !self.history.is_empty() && self.history.iter().all(|h| !h.objectives.is_empty());
        let order: Vec<usize> = if multi {
            let finite = |v: f64| if v.is_finite() { v } else { f64::MIN };
            let points: Vec<Vec<f64>> =
                self.history.iter().map(|h| h.objectives.iter().copied().map(finite).collect()).collect();
            mlpnas_core::pareto::crowded_order(&points)
        } else {
            let key = |i: usize| {
                let r = self.history[i].reward;
                if r.is_nan() { f64::NEG_INFINITY } else { r }
            };
            let mut order: Vec<usize> = (0..self.history.len()).collect();
            order.sort_by(|&a, &b| key(b).total_cmp(&key(a)).then(a.cmp(&b)));
            order
        };
        let n_good = ((self.cfg.gamma * order.len() as f64).ceil() as usize).max(1).min(order.len());
        let seqs = |ids: &[usize]| ids.iter().map(|&i| self.history[i].tokens.as_slice()).collect();
        let prior = self.cfg.prior_weight;
        (Model { seqs: seqs(&order[..n_good]), prior }, Model { seqs: seqs(&order[n_good..]), prior })
    }

    /// One sequence drawn from `good`, token by token among the continuable tokens, with its log
    /// likelihood ratio against `bad`.
    fn draw(&mut self, space: &dyn SearchSpace, good: &Model<'_>, bad: &Model<'_>) -> (Vec<TokenId>, f64) {
        let mut prefix: Vec<TokenId> = Vec::with_capacity(space.max_len());
        let mut ratio = 0.0;
        while !space.is_complete(&prefix) {
            let allowed = continuable(space, &mut prefix);
            if allowed.is_empty() {
                break;
            }
            let pos = prefix.len();
            let l = good.probabilities(pos, &allowed);
            let g = bad.probabilities(pos, &allowed);
            let mut u: f64 = self.rng.random_range(0.0..1.0);
            let mut pick = allowed.len() - 1;
            for (i, p) in l.iter().enumerate() {
                if u < *p {
                    pick = i;
                    break;
                }
                u -= p;
            }
            ratio += l[pick].ln() - g[pick].ln();
            prefix.push(allowed[pick]);
        }
        (prefix, ratio)
    }

    /// One untried sequence drawn uniformly, or from the enumeration of the untried ones when
    /// drawing keeps finding tried ones; `None` when none is left.
    fn uniform(
        &mut self,
        ctx: &ControllerContext<'_>,
        excluded: &dyn Fn(&Vec<TokenId>) -> bool,
    ) -> Result<Option<Vec<TokenId>>, ControllerError> {
        for _ in 0..self.cfg.max_attempts {
            let seq = sample_uniform(ctx.space, &mut self.rng)?;
            if !excluded(&seq) {
                return Ok(Some(seq));
            }
        }
        if ctx.space.size() > ENUMERATION_LIMIT {
            return Err(ControllerError::NoUntried { attempts: self.cfg.max_attempts, tried: ctx.tried.len() });
        }
        let pool: Vec<Vec<TokenId>> = enumerate(ctx.space).into_iter().filter(|s| !excluded(s)).collect();
        if pool.is_empty() {
            return Ok(None);
        }
        let i = self.rng.random_range(0..pool.len());
        Ok(pool.into_iter().nth(i))
    }
}

impl Controller for TpeController {
    fn propose(&mut self, ctx: &ControllerContext<'_>, n: usize) -> Result<Vec<Proposal>, ControllerError> {
        let space = ctx.space;
        let size = space.size();
        if size == 0 {
            return Err(ControllerError::Exhausted { size });
        }
        let mut batch: HashSet<Vec<TokenId>> = HashSet::with_capacity(n);
        let mut out: Vec<Proposal> = Vec::with_capacity(n);
        let modelled = self.history.len() >= self.cfg.n_startup;
        // The models are fixed for the whole batch (the batch's results come in `update`).
        let this = self.clone();
        let (good, bad) = this.split();
        while out.len() < n {
            let excluded = |s: &Vec<TokenId>| batch.contains(s) || ctx.tried.contains(s);
            let mut best: Option<(Vec<TokenId>, f64)> = None;
            if modelled {
                let mut drawn = 0;
                for _ in 0..self.cfg.max_attempts {
                    if drawn == self.cfg.n_candidates {
                        break;
                    }
                    let (seq, ratio) = self.draw(space, &good, &bad);
                    if excluded(&seq) {
                        continue;
                    }
                    drawn += 1;
                    if best.as_ref().is_none_or(|(_, r)| ratio > *r) {
                        best = Some((seq, ratio));
                    }
                }
            }
            let seq = match best {
                Some((seq, _)) => seq,
                None => match self.uniform(ctx, &excluded)? {
                    Some(seq) => seq,
                    None => break,
                },
            };
            space.validate(&seq).map_err(|e| ControllerError::Other(format!("drew an invalid sequence: {e}")))?;
            batch.insert(seq.clone());
            out.push(Proposal { tokens: seq, predicted: None });
        }
        if out.is_empty() && n > 0 {
            return Err(ControllerError::Exhausted { size });
        }
        Ok(out)
    }

    fn update(
        &mut self,
        _ctx: &ControllerContext<'_>,
        trials: &[TrialRecord],
    ) -> Result<UpdateReport, ControllerError> {
        self.history.extend(trials.iter().map(|t| Seen {
            tokens: t.tokens.clone(),
            reward: t.reward,
            objectives: t.oriented(),
        }));
        let mut report = UpdateReport::default();
        report.metrics.insert("history".into(), self.history.len() as f64);
        Ok(report)
    }

    fn save_state(&self) -> Result<Vec<u8>, ControllerError> {
        serde_json::to_vec(&SavedState { rng: self.rng.clone(), history: self.history.clone() })
            .map_err(|e| ControllerError::State(format!("cannot serialize the TPE controller's state: {e}")))
    }

    fn load_state(&mut self, state: &[u8]) -> Result<(), ControllerError> {
        let saved: SavedState = serde_json::from_slice(state).map_err(|e| {
            ControllerError::State(format!(
                "not a TPE controller state ({} bytes; expected the JSON written by save_state): {e}",
                state.len()
            ))
        })?;
        self.rng = saved.rng;
        self.history = saved.history;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use mlpnas_core::{Activation, MlpSpace, MlpSpaceConfig, TrialStatus};

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn space() -> Result<MlpSpace, mlpnas_core::ConfigError> {
        let units: Vec<u32> = (1..=14).map(|i| 8 * i).collect();
        MlpSpaceConfig { units, activations: Activation::ALL.to_vec(), max_len: 3, ..Default::default() }.build()
    }

    fn record(trial: usize, tokens: Vec<TokenId>, reward: f64) -> TrialRecord {
        TrialRecord {
            trial,
            epoch: 0,
            tokens,
            architecture: String::new(),
            reward,
            val_acc_last: reward,
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
        }
    }

    /// Runs `epochs` batches of `n` where a sequence scores 1 per hidden layer equal to the
    /// target's at its position; returns the trial that first proposed the target itself.
    fn first_hit(c: &mut dyn Controller, s: &MlpSpace, target: &[TokenId], epochs: usize, n: usize) -> Option<usize> {
        let mut tried = HashSet::new();
        let mut trial = 0;
        for epoch in 0..epochs {
            let ctx = ControllerContext { space: s, tried: &tried, epoch };
            let batch = c.propose(&ctx, n).ok()?;
            let mut records = Vec::new();
            for p in &batch {
                if p.tokens == target {
                    return Some(trial);
                }
                let hits = target[..2].iter().enumerate().filter(|&(i, t)| p.tokens.get(i) == Some(t)).count();
                records.push(record(trial, p.tokens.clone(), hits as f64));
                trial += 1;
            }
            tried.extend(batch.into_iter().map(|p| p.tokens));
            let ctx = ControllerContext { space: s, tried: &tried, epoch };
            c.update(&ctx, &records).ok()?;
        }
        None
    }

    #[test]
    fn same_seed_same_proposals_and_state_round_trips() -> TestResult {
        let s = space()?;
        let cfg = TpeControllerConfig { n_startup: 3, ..Default::default() };
        let mut a = cfg.build(5)?;
        let tried = HashSet::new();
        let ctx = ControllerContext { space: &s, tried: &tried, epoch: 0 };
        let first = a.propose(&ctx, 4)?;
        let records: Vec<TrialRecord> =
            first.iter().enumerate().map(|(i, p)| record(i, p.tokens.clone(), i as f64)).collect();
        a.update(&ctx, &records)?;
        let mut b = cfg.build(6)?;
        b.load_state(&a.save_state()?)?;
        assert_eq!(a.propose(&ctx, 6)?, b.propose(&ctx, 6)?, "a restored controller proposes the same");
        let mut c = cfg.build(5)?;
        assert_eq!(c.propose(&ctx, 4)?, first, "same seed, same proposals");
        assert!(matches!(b.load_state(b"{}"), Err(ControllerError::State(_))));
        Ok(())
    }

    /// Where each position's token earns reward on its own, the good model concentrates on the
    /// rewarded tokens: over 10 seeds TPE proposes the target (2 hidden layers of 56 tokens each,
    /// one of 3,248 sequences) in under a quarter of the trials uniform draws need on average
    /// (about 1,600 without repeats). Measured when written: TPE 110 on average; the same
    /// controller never leaving its uniform start-up, 780 (most seeds not within 800).
    #[test]
    fn the_good_model_finds_the_target_far_sooner_than_uniform_draws() -> TestResult {
        let s = space()?;
        let first = s.allowed_next(&[])[37];
        let second = s.allowed_next(&[first])[11];
        let out = *s.allowed_next(&[first, second]).last().ok_or("an output token")?;
        let target = [first, second, out];
        s.validate(&target)?;
        let mut total = 0;
        for seed in 0..10 {
            let mut c = TpeControllerConfig::default().build(seed)?;
            total += first_hit(&mut c, &s, &target, 80, 10).unwrap_or(800);
        }
        let mean = total as f64 / 10.0;
        assert!(mean < 400.0, "TPE took {mean} trials on average to propose the target");
        Ok(())
    }
}
