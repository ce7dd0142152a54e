//! [`ReinforceController`]: proposes by sampling the LSTM policy, learns with REINFORCE.

use std::collections::{HashMap, HashSet};
use std::fmt;

use burn::tensor::Device;
use mlpnas_core::{
    Controller, ControllerContext, ControllerError, Proposal, SearchSpace, TokenId, TrialRecord, UpdateReport,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::adam::{Adam, AdamSettings};
use crate::config::{Advantage, BaselineKind, ReinforceConfig};
use crate::policy::{Dims, LossInput, LossParts, Params, Sample};
use crate::state::State;

/// The REINFORCE controller (see the crate documentation).
pub struct ReinforceController {
    cfg: ReinforceConfig,
    state: State,
}

impl fmt::Debug for ReinforceController {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReinforceController")
            .field("cfg", &self.cfg)
            .field("dims", &self.state.params.dims)
            .field("updates", &self.state.updates)
            .field("adam_step", &self.state.adam.step)
            .field("baseline", &self.state.baseline)
            .finish_non_exhaustive()
    }
}

/// How many excluded (tried or already proposed) sequences start with each prefix, so that
/// `completions(prefix) - count` is the number of untried sequences below it.
#[derive(Debug, Default)]
struct PrefixCounts(HashMap<Vec<TokenId>, u128>);

impl PrefixCounts {
    fn add(&mut self, seq: &[TokenId]) {
        for k in 0..=seq.len() {
            *self.0.entry(seq[..k].to_vec()).or_default() += 1;
        }
    }

    fn untried(&self, space: &dyn SearchSpace, prefix: &[TokenId]) -> u128 {
        space.completions(prefix).saturating_sub(self.0.get(prefix).copied().unwrap_or(0))
    }
}

/// The seed's discount over a batch: `out[t] = sum_k alpha^k * r[t + k]`.
fn discounted(r: &[f64], alpha: f64) -> Vec<f64> {
    let mut out = vec![0.0; r.len()];
    let mut acc = 0.0;
    for t in (0..r.len()).rev() {
        acc = r[t] + alpha * acc;
        out[t] = acc;
    }
    out
}

fn mean(x: &[f64]) -> f64 {
    if x.is_empty() { 0.0 } else { x.iter().sum::<f64>() / x.len() as f64 }
}

impl ReinforceController {
    /// A controller with settings `cfg` (assumed valid) for `space`: weights drawn from a stream
    /// derived from `seed`, the sampling RNG seeded with `seed`.
    pub(crate) fn new(cfg: ReinforceConfig, space: &dyn SearchSpace, seed: u64) -> Result<Self, ControllerError> {
        let dims = Dims { vocab: space.vocab_size(), embedding: cfg.embedding, hidden: cfg.hidden };
        if dims.vocab < 2 {
            return Err(ControllerError::Other(format!("a vocabulary of {} tokens is too small", dims.vocab)));
        }
        let mut init = ChaCha8Rng::seed_from_u64(mlpnas_core::seed::derive(seed, "reinforce/init", 0));
        let params = Params::init(dims, &mut init);
        let adam = Adam::new(&params.tensors);
        let state = State { params, adam, updates: 0, baseline: None, rng: ChaCha8Rng::seed_from_u64(seed) };
        Ok(Self { cfg, state })
    }

    /// Its settings.
    pub fn config(&self) -> &ReinforceConfig {
        &self.cfg
    }

    /// Controller updates done so far.
    pub fn updates(&self) -> u64 {
        self.state.updates
    }

    /// The moving-average baseline (`None` before the first update or with a constant baseline).
    pub fn baseline(&self) -> Option<f64> {
        self.state.baseline
    }

    /// The policy's distribution of the first token: `(token, probability)` for every token that
    /// `space` allows first. Meant for tests and diagnostics.
    pub fn first_token_probs(&self, space: &dyn SearchSpace) -> Result<Vec<(TokenId, f64)>, ControllerError> {
        self.check_space(space)?;
        self.state.params.first_token_probs(&self.device()?, space)
    }

    /// The configured backend's device (checked again: a config validated on another machine or
    /// build could name a backend this one lacks).
    fn device(&self) -> Result<Device, ControllerError> {
        self.cfg.backend.device().map_err(ControllerError::Other)
    }

    fn check_space(&self, space: &dyn SearchSpace) -> Result<(), ControllerError> {
        let v = self.state.params.dims.vocab;
        if space.vocab_size() != v {
            return Err(ControllerError::Other(format!(
                "this controller was built for a vocabulary of {v} tokens; the search space has {}",
                space.vocab_size()
            )));
        }
        Ok(())
    }

    fn proposal(&self, s: Sample) -> Proposal {
        Proposal { tokens: s.tokens, predicted: self.cfg.use_predictor.then_some(s.predicted) }
    }
}

impl Controller for ReinforceController {
    /// Samples batches of `n` from the policy, keeping the untried ones; after `max_attempts`
    /// consecutive rejected samples it samples from the policy restricted, at each position, to
    /// the tokens below which untried sequences remain (one sequence at a time), which cannot
    /// fail. Fewer than `n` only when fewer remain; `Exhausted` when none does.
    fn propose(&mut self, ctx: &ControllerContext<'_>, n: usize) -> Result<Vec<Proposal>, ControllerError> {
        let space = ctx.space;
        self.check_space(space)?;
        let size = space.size();
        if size == 0 {
            return Err(ControllerError::Exhausted { size });
        }
        // Only the tried sequences of this space count towards exhaustion.
        let tried: Vec<&Vec<TokenId>> = ctx.tried.iter().filter(|s| space.validate(s).is_ok()).collect();
        let remaining = size.saturating_sub(tried.len() as u128);
        if n == 0 {
            return Ok(Vec::new());
        }
        if remaining == 0 {
            return Err(ControllerError::Exhausted { size });
        }
        let want = usize::try_from(remaining).map_or(n, |r| r.min(n));
        let device = self.device()?;
        let mut batch: HashSet<Vec<TokenId>> = HashSet::with_capacity(want);
        let mut out: Vec<Proposal> = Vec::with_capacity(want);
        let mut failures = 0usize;
        'sampling: while out.len() < want {
            let rows = want - out.len();
            let samples =
                self.state.params.sample(&device, space, rows, &mut self.state.rng, &mut |s| space.allowed_next(s))?;
            for s in samples {
                if ctx.tried.contains(&s.tokens) || batch.contains(&s.tokens) {
                    failures += 1;
                    if failures >= self.cfg.max_attempts {
                        break 'sampling;
                    }
                } else {
                    failures = 0;
                    batch.insert(s.tokens.clone());
                    out.push(self.proposal(s));
                    if out.len() == want {
                        break 'sampling;
                    }
                }
            }
        }
        if out.len() < want {
            let mut excluded = PrefixCounts::default();
            for s in tried.into_iter().chain(&batch) {
                excluded.add(s);
            }
            while out.len() < want {
                let mut allowed = |prefix: &[TokenId]| -> Vec<TokenId> {
                    let mut p = prefix.to_vec();
                    space
                        .allowed_next(prefix)
                        .into_iter()
                        .filter(|&t| {
                            p.push(t);
                            let keep = excluded.untried(space, &p) > 0;
                            p.pop();
                            keep
                        })
                        .collect()
                };
                let mut drawn = self.state.params.sample(&device, space, 1, &mut self.state.rng, &mut allowed)?;
                let Some(s) = drawn.pop() else { break };
                if ctx.tried.contains(&s.tokens) || !batch.insert(s.tokens.clone()) {
                    return Err(ControllerError::Other(format!(
                        "restricted sampling drew {:?}, which was already tried",
                        s.tokens
                    )));
                }
                excluded.add(&s.tokens);
                out.push(self.proposal(s));
            }
        }
        for p in &out {
            space
                .validate(&p.tokens)
                .map_err(|e| ControllerError::Other(format!("sampled an invalid sequence: {e}")))?;
        }
        Ok(out)
    }

    /// `train_epochs` Adam steps on `-(R - b) * sum_t log pi(a_t | a_<t)` averaged over the batch,
    /// minus the entropy bonus, plus the predictor's weighted MSE; then the moving-average
    /// baseline moves towards the batch mean. The state changes only if every step succeeds.
    fn update(&mut self, ctx: &ControllerContext<'_>, trials: &[TrialRecord]) -> Result<UpdateReport, ControllerError> {
        let space = ctx.space;
        self.check_space(space)?;
        if trials.is_empty() {
            return Ok(UpdateReport::default());
        }
        for t in trials {
            space.validate(&t.tokens).map_err(|e| ControllerError::Other(format!("trial {}: {e}", t.trial)))?;
        }
        let cfg = &self.cfg;
        let seqs: Vec<Vec<TokenId>> = trials.iter().map(|t| t.tokens.clone()).collect();
        let rewards: Vec<f64> = trials.iter().map(|t| if t.reward.is_finite() { t.reward } else { 0.0 }).collect();
        let returns = match cfg.alpha {
            Some(a) => discounted(&rewards, a),
            None => rewards.clone(),
        };
        let batch_mean = mean(&returns);
        let baseline = match cfg.baseline {
            BaselineKind::Ema => self.state.baseline.unwrap_or(batch_mean),
            BaselineKind::Constant => cfg.baseline_value,
        };
        let mut advantages: Vec<f64> = match cfg.advantage {
            Advantage::Baseline => returns.iter().map(|r| r - baseline).collect(),
            Advantage::Rank => centred_ranks(&returns),
        };
        if cfg.normalize_advantage {
            let m = mean(&advantages);
            let sd = (advantages.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / advantages.len() as f64).sqrt();
            for a in &mut advantages {
                *a = (*a - m) / (sd + 1e-8);
            }
        }
        let input = LossInput {
            seqs: &seqs,
            advantages: &advantages,
            rewards: &rewards,
            entropy_weight: cfg.entropy_weight,
            predictor_weight: if cfg.use_predictor { cfg.predictor_weight } else { 0.0 },
        };
        let settings = AdamSettings { learning_rate: cfg.learning_rate, decay: cfg.decay, clip_norm: cfg.clip_norm };
        let device = self.device()?;
        let mut params = self.state.params.clone();
        let mut adam = self.state.adam.clone();
        let mut first: Option<(LossParts, f64)> = None;
        let mut last: Option<LossParts> = None;
        for _ in 0..cfg.train_epochs {
            let (grads, parts) = params.gradients(&device, space, &input)?;
            if !parts.total.is_finite() {
                return Err(ControllerError::Other(format!("the controller's loss is not finite: {parts:?}")));
            }
            let norm = adam.step(&settings, &mut params.tensors, &grads);
            first.get_or_insert((parts, norm));
            last = Some(parts);
        }
        let (Some((first, grad_norm)), Some(last)) = (first, last) else {
            return Err(ControllerError::Other("no training pass was run".into()));
        };
        self.state.params = params;
        self.state.adam = adam;
        if cfg.baseline == BaselineKind::Ema {
            self.state.baseline = Some(cfg.ema_decay * baseline + (1.0 - cfg.ema_decay) * batch_mean);
        }
        self.state.updates += 1;
        let mut metrics = std::collections::BTreeMap::new();
        metrics.insert("entropy".to_string(), first.entropy);
        metrics.insert("policy_loss".to_string(), first.policy);
        metrics.insert("policy_loss_after".to_string(), last.policy);
        if cfg.use_predictor {
            metrics.insert("predictor_loss".to_string(), first.predictor);
            metrics.insert("predictor_loss_after".to_string(), last.predictor);
        }
        metrics.insert("baseline".to_string(), baseline);
        metrics.insert("mean_return".to_string(), batch_mean);
        metrics.insert("grad_norm".to_string(), grad_norm);
        metrics.insert("learning_rate".to_string(), settings.rate_at(self.state.adam.step));
        Ok(UpdateReport { metrics })
    }

    fn save_state(&self) -> Result<Vec<u8>, ControllerError> {
        self.state.to_bytes()
    }

    fn load_state(&mut self, state: &[u8]) -> Result<(), ControllerError> {
        self.state = State::from_bytes(state, self.state.params.dims)?;
        Ok(())
    }
}

/// Each value's rank among `xs` (ties share their mean rank), mapped linearly onto `[-1, 1]`
/// (all 0 for fewer than two values).
fn centred_ranks(xs: &[f64]) -> Vec<f64> {
    let n = xs.len();
    if n < 2 {
        return vec![0.0; n];
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut ranks = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && xs[order[j + 1]] == xs[order[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0;
        for &k in &order[i..=j] {
            ranks[k] = 2.0 * mean / (n - 1) as f64 - 1.0;
        }
        i = j + 1;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centred_ranks_ignore_scale_and_share_ties() {
        assert_eq!(centred_ranks(&[-1000.0, 0.5, 0.2]), [-1.0, 1.0, 0.0]);
        assert_eq!(centred_ranks(&[3.0, 1.0, 3.0, 2.0, 0.0]), [0.75, -0.5, 0.75, 0.0, -1.0]);
        assert_eq!(centred_ranks(&[7.0]), [0.0]);
        let a = centred_ranks(&[1e-4, 2e-4, 5e-5]);
        assert_eq!(a, centred_ranks(&[1.0, 2.0, 0.5]), "only the order counts");
    }

    #[test]
    fn discount_matches_the_seed() {
        let d = discounted(&[1.0, 0.0, 1.0], 0.5);
        assert_eq!(d, vec![1.25, 0.5, 1.0]);
        let d = discounted(&[0.3, 0.4], 1.0);
        assert!((d[0] - 0.7).abs() < 1e-12 && d[1] == 0.4, "{d:?}");
    }
}
