//! The evolution controller: uniform random proposals until the population is full, then
//! tournament selection and mutation, with aging (the oldest member leaves).

use std::collections::{BTreeMap, HashSet, VecDeque};

use mlpnas_core::{Controller, ControllerContext, ControllerError, Proposal, TokenId, TrialRecord, UpdateReport};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::EvolutionControllerConfig;
use crate::mutation::{Catalog, Mutation, mutate_with};
use mlpnas_core::sampling::enumerate;
#[cfg(test)]
pub(crate) use mlpnas_core::sampling::sample_uniform;
#[cfg(not(test))]
use mlpnas_core::sampling::sample_uniform;

/// Largest space (in valid sequences) that the controller enumerates when neither mutation nor
/// rejection sampling finds an untried sequence; beyond it, it reports
/// [`ControllerError::NoUntried`].
pub const ENUMERATION_LIMIT: u128 = 1_000_000;

/// One evaluated architecture of the population.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Its sequence.
    pub tokens: Vec<TokenId>,
    /// Its reward (a non-finite reward is kept as 0, the reward of a diverged trial).
    pub reward: f64,
    /// A multi-objective search's values (`search.objectives`), turned so that larger is
    /// better ([`TrialRecord::oriented`]); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objectives: Vec<f64>,
}

/// How the proposals of the last batch were made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchCounts {
    /// Uniform random, while the population was filling.
    random: usize,
    /// Mutated from a tournament winner.
    mutated: usize,
    /// Uniform random because every mutation attempt failed.
    fallback: usize,
}

/// Aging-evolution controller (see the crate documentation).
#[derive(Debug, Clone)]
pub struct EvolutionController {
    cfg: EvolutionControllerConfig,
    rng: ChaCha8Rng,
    /// Oldest first.
    population: VecDeque<Member>,
    /// Trials received by `update` over the whole search.
    evaluated: usize,
    last_batch: BatchCounts,
}

/// What `save_state` writes (the config is not state).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedState {
    rng: ChaCha8Rng,
    population: VecDeque<Member>,
    evaluated: usize,
    last_batch: BatchCounts,
}

impl EvolutionController {
    /// A controller with settings `cfg` (assumed valid), its RNG seeded with `seed`.
    pub(crate) fn new(cfg: EvolutionControllerConfig, seed: u64) -> Self {
        let population = VecDeque::with_capacity(cfg.population + 1);
        Self { cfg, rng: ChaCha8Rng::seed_from_u64(seed), population, evaluated: 0, last_batch: BatchCounts::default() }
    }

    /// Its settings.
    pub fn config(&self) -> &EvolutionControllerConfig {
        &self.cfg
    }

    /// The population, oldest first.
    pub fn population(&self) -> impl ExactSizeIterator<Item = &Member> {
        self.population.iter()
    }

    /// A tournament: `sample_size` members (or all, if fewer) drawn uniformly without
    /// replacement; the first drawn among those with the best reward wins. In a multi-objective
    /// search the best is by NSGA-II's crowded comparison over the whole population (lower
    /// non-dominated front, then larger crowding distance: [`mlpnas_core::pareto::crowded_order`]).
    fn tournament(&mut self) -> Option<Vec<TokenId>> {
        let len = self.population.len();
        let drawn = rand::seq::index::sample(&mut self.rng, len, self.cfg.sample_size.min(len));
        let multi = self.population.iter().all(|m| !m.objectives.is_empty());
        let place: Vec<usize> = if multi {
            let points: Vec<Vec<f64>> = self.population.iter().map(|m| m.objectives.clone()).collect();
            let mut place = vec![0; len];
            for (p, i) in mlpnas_core::pareto::crowded_order(&points).into_iter().enumerate() {
                place[i] = p;
            }
            place
        } else {
            Vec::new()
        };
        let better = |b: usize, i: usize| {
            if multi { place[b] <= place[i] } else { self.population[b].reward >= self.population[i].reward }
        };
        let best = drawn.iter().fold(None::<usize>, |best, i| match best {
            Some(b) if better(b, i) => Some(b),
            _ => Some(i),
        })?;
        Some(self.population[best].tokens.clone())
    }

    /// One mutation, drawn by the configured weights among those that apply to the space's
    /// kind of sequence (so a space without training settings draws as before they existed).
    fn draw_mutation(&mut self, catalog: &Catalog) -> Mutation {
        let w = &self.cfg.mutation;
        let weight = |m: Mutation| if catalog.applies(m) { w.weight(m) } else { 0.0 };
        let total: f64 = Mutation::ALL.iter().map(|&m| weight(m)).sum();
        // A validated config has a positive finite total; anything else draws the first mutation.
        if !total.is_finite() || total <= 0.0 {
            return Mutation::Units;
        }
        let mut r = self.rng.random_range(0.0..total);
        let positive = Mutation::ALL.into_iter().filter(|&m| weight(m) > 0.0);
        let mut last = Mutation::Units;
        for m in positive {
            last = m;
            if r < weight(m) {
                return m;
            }
            r -= weight(m);
        }
        // Rounding left `r` past the end: the last positive weight.
        last
    }

    /// A child of a tournament winner that is valid, untried and not in `batch`, within
    /// `max_attempts` mutations of the same parent; `None` if they all fail.
    fn evolve(
        &mut self,
        ctx: &ControllerContext<'_>,
        catalog: &Catalog,
        batch: &HashSet<Vec<TokenId>>,
    ) -> Option<Vec<TokenId>> {
        let parent = self.tournament()?;
        for _ in 0..self.cfg.max_attempts {
            let m = self.draw_mutation(catalog);
            let Some(child) = mutate_with(ctx.space, catalog, &parent, m, &mut self.rng) else { continue };
            if ctx.space.validate(&child).is_ok() && !ctx.tried.contains(&child) && !batch.contains(&child) {
                return Some(child);
            }
        }
        None
    }

    /// A uniform random untried sequence not in `batch`: rejection sampling while the counts say
    /// some are left, then a draw from the enumerated untried sequences (`pool`, computed once
    /// per batch). `Ok(None)` when none is left.
    fn random_untried(
        &mut self,
        ctx: &ControllerContext<'_>,
        batch: &HashSet<Vec<TokenId>>,
        pool: &mut Option<Vec<Vec<TokenId>>>,
        maybe_left: bool,
    ) -> Result<Option<Vec<TokenId>>, ControllerError> {
        let space = ctx.space;
        if pool.is_none() && maybe_left {
            for _ in 0..self.cfg.max_attempts {
                let seq = sample_uniform(space, &mut self.rng)?;
                if !ctx.tried.contains(&seq) && !batch.contains(&seq) {
                    return Ok(Some(seq));
                }
            }
        }
        if space.size() > ENUMERATION_LIMIT {
            return Err(ControllerError::NoUntried { attempts: self.cfg.max_attempts, tried: ctx.tried.len() });
        }
        let pool =
            pool.get_or_insert_with(|| enumerate(space).into_iter().filter(|s| !ctx.tried.contains(s)).collect());
        // The pool is filtered against `tried` once; drop what this batch already took.
        pool.retain(|s| !batch.contains(s));
        if pool.is_empty() {
            return Ok(None);
        }
        let i = self.rng.random_range(0..pool.len());
        Ok(Some(pool.swap_remove(i)))
    }

    fn report(&self) -> UpdateReport {
        let rewards: Vec<f64> = self.population.iter().map(|m| m.reward).collect();
        let mut metrics = BTreeMap::new();
        metrics.insert("population_size".to_string(), rewards.len() as f64);
        if !rewards.is_empty() {
            metrics.insert("population_mean_reward".to_string(), rewards.iter().sum::<f64>() / rewards.len() as f64);
            metrics.insert("population_best_reward".to_string(), rewards.iter().copied().fold(f64::MIN, f64::max));
        }
        metrics.insert("evaluated".to_string(), self.evaluated as f64);
        metrics.insert("proposed_random".to_string(), self.last_batch.random as f64);
        metrics.insert("proposed_mutated".to_string(), self.last_batch.mutated as f64);
        metrics.insert("proposed_fallback".to_string(), self.last_batch.fallback as f64);
        UpdateReport { metrics }
    }
}

impl Controller for EvolutionController {
    fn propose(&mut self, ctx: &ControllerContext<'_>, n: usize) -> Result<Vec<Proposal>, ControllerError> {
        let space = ctx.space;
        let size = space.size();
        if size == 0 {
            return Err(ControllerError::Exhausted { size });
        }
        let catalog = Catalog::of(space);
        // Proposals that still fill the population (counting this batch's) are uniform random.
        let n_random = self.cfg.population.saturating_sub(self.population.len());
        let tried = ctx.tried.len() as u128;
        let mut counts = BatchCounts::default();
        let mut batch: HashSet<Vec<TokenId>> = HashSet::with_capacity(n);
        let mut out: Vec<Proposal> = Vec::with_capacity(n);
        // Untried sequences (in enumeration order), computed once when everything else fails.
        let mut pool: Option<Vec<Vec<TokenId>>> = None;
        while out.len() < n {
            // By the counts, everything may be excluded already: then skip straight to enumeration
            // rather than spending attempts that cannot succeed.
            let maybe_left = tried.saturating_add(out.len() as u128) < size;
            let evolving = out.len() >= n_random && !self.population.is_empty();
            let mut found = None;
            if evolving && maybe_left {
                found = self.evolve(ctx, &catalog, &batch);
            }
            if found.is_some() {
                counts.mutated += 1;
            } else {
                found = self.random_untried(ctx, &batch, &mut pool, maybe_left)?;
                if found.is_some() {
                    *(if evolving { &mut counts.fallback } else { &mut counts.random }) += 1;
                }
            }
            let Some(seq) = found else { break };
            space.validate(&seq).map_err(|e| ControllerError::Other(format!("proposed an invalid sequence: {e}")))?;
            batch.insert(seq.clone());
            out.push(Proposal { tokens: seq, predicted: None });
        }
        self.last_batch = counts;
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
        for t in trials {
            let reward = if t.reward.is_finite() { t.reward } else { 0.0 };
            // A diverged trial's non-finite values rank last.
            let objectives = t.oriented().into_iter().map(|v| if v.is_finite() { v } else { f64::MIN }).collect();
            self.population.push_back(Member { tokens: t.tokens.clone(), reward, objectives });
            if self.population.len() > self.cfg.population {
                self.population.pop_front();
            }
        }
        self.evaluated += trials.len();
        Ok(self.report())
    }

    fn save_state(&self) -> Result<Vec<u8>, ControllerError> {
        let saved = SavedState {
            rng: self.rng.clone(),
            population: self.population.clone(),
            evaluated: self.evaluated,
            last_batch: self.last_batch,
        };
        serde_json::to_vec(&saved)
            .map_err(|e| ControllerError::State(format!("cannot serialize the evolution controller's state: {e}")))
    }

    fn load_state(&mut self, state: &[u8]) -> Result<(), ControllerError> {
        let saved: SavedState = serde_json::from_slice(state).map_err(|e| {
            ControllerError::State(format!(
                "not an evolution controller state ({} bytes; expected the JSON written by save_state): {e}",
                state.len()
            ))
        })?;
        if saved.population.len() > self.cfg.population {
            return Err(ControllerError::State(format!(
                "the saved population has {} members, more than controller.population = {}",
                saved.population.len(),
                self.cfg.population
            )));
        }
        self.rng = saved.rng;
        self.population = saved.population;
        self.evaluated = saved.evaluated;
        self.last_batch = saved.last_batch;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use mlpnas_core::{Activation, MlpSpace, MlpSpaceConfig, SearchSpace, TrialStatus};

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn space(units: &[u32], activations: &[Activation], max_len: usize) -> Result<MlpSpace, mlpnas_core::ConfigError> {
        MlpSpaceConfig { units: units.to_vec(), activations: activations.to_vec(), max_len, ..Default::default() }
            .build()
    }

    fn controller(population: usize, sample_size: usize, seed: u64) -> EvolutionController {
        let cfg = EvolutionControllerConfig { population, sample_size, ..Default::default() };
        cfg.build(seed).expect("valid config")
    }

    fn record(trial: usize, tokens: &[TokenId], reward: f64) -> TrialRecord {
        TrialRecord {
            trial,
            epoch: 0,
            tokens: tokens.to_vec(),
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

    /// Reward: the sum of the token ids, scaled (any deterministic function will do).
    fn reward(tokens: &[TokenId]) -> f64 {
        f64::from(tokens.iter().sum::<u32>()) / 100.0
    }

    /// One epoch: propose `n`, check, add to `tried`, update; the proposals and the report.
    fn step(
        c: &mut EvolutionController,
        s: &MlpSpace,
        tried: &mut HashSet<Vec<TokenId>>,
        n: usize,
    ) -> Result<(Vec<Vec<TokenId>>, UpdateReport), ControllerError> {
        let ctx = ControllerContext { space: s, tried, epoch: 0 };
        let batch: Vec<Vec<TokenId>> = c.propose(&ctx, n)?.into_iter().map(|p| p.tokens).collect();
        let first = tried.len();
        for seq in &batch {
            s.validate(seq).map_err(|e| ControllerError::Other(e.to_string()))?;
            assert!(tried.insert(seq.clone()), "{seq:?} proposed twice");
        }
        let records: Vec<TrialRecord> =
            batch.iter().enumerate().map(|(i, t)| record(first + i, t, reward(t))).collect();
        let ctx = ControllerContext { space: s, tried, epoch: 0 };
        let report = c.update(&ctx, &records)?;
        Ok((batch, report))
    }

    #[test]
    fn fills_the_population_then_evolves_and_ages() -> TestResult {
        let s = space(&[8, 16, 32, 64], &Activation::ALL, 4)?;
        let mut c = controller(6, 3, 1);
        let mut tried = HashSet::new();
        let (_, r) = step(&mut c, &s, &mut tried, 4)?;
        assert_eq!(r.metrics["proposed_random"], 4.0);
        assert_eq!(r.metrics["population_size"], 4.0);
        // Two more fill the population; the other three are mutations.
        let (_, r) = step(&mut c, &s, &mut tried, 5)?;
        assert_eq!((r.metrics["proposed_random"], r.metrics["proposed_mutated"]), (2.0, 3.0), "{r:?}");
        assert_eq!(r.metrics["population_size"], 6.0);
        assert_eq!(r.metrics["evaluated"], 9.0);
        // The population is the last 6 trials, oldest first.
        let (batch, r) = step(&mut c, &s, &mut tried, 5)?;
        assert_eq!(r.metrics["proposed_mutated"], 5.0);
        let pop: Vec<Vec<TokenId>> = c.population().map(|m| m.tokens.clone()).collect();
        assert_eq!(pop[1..], batch[..]);
        let best = c.population().map(|m| m.reward).fold(f64::MIN, f64::max);
        assert_eq!(r.metrics["population_best_reward"], best);
        Ok(())
    }

    #[test]
    fn tournament_picks_the_best_of_the_sample() {
        let mut c = controller(3, 3, 0);
        for (i, r) in [0.2, 0.9, 0.5].into_iter().enumerate() {
            c.population.push_back(Member { tokens: vec![i as TokenId], reward: r, objectives: Vec::new() });
        }
        // Sample size = population: the winner is always the best.
        for _ in 0..20 {
            assert_eq!(c.tournament(), Some(vec![1]));
        }
        // Sample size 1: every member wins sometimes.
        c.cfg.sample_size = 1;
        let winners: HashSet<Vec<TokenId>> = (0..100).filter_map(|_| c.tournament()).collect();
        assert_eq!(winners.len(), 3);
    }

    #[test]
    fn a_multi_objective_tournament_prefers_the_front_and_its_extremes() {
        let mut c = controller(5, 5, 0);
        // (reward, -params): 0 is dominated by 1; 1, 2, 3 form the front, 2 in its middle;
        // 4 is dominated by 3. The best reward (1) loses nothing by being alone: an extreme.
        for (i, o) in [[0.5, -30.0], [0.9, -20.0], [0.8, -10.0], [0.6, -5.0], [0.55, -6.0]].into_iter().enumerate() {
            c.population.push_back(Member { tokens: vec![i as TokenId], reward: o[0], objectives: o.to_vec() });
        }
        // The whole population in the tournament: an extreme of the front wins (the first drawn
        // of the two with infinite crowding distance), never the middle or a dominated one.
        let winners: HashSet<Vec<TokenId>> = (0..50).filter_map(|_| c.tournament()).collect();
        assert!(winners.iter().all(|w| w == &vec![1] || w == &vec![3]), "{winners:?}");
        // Two drawn at a time: a dominated member never beats a front member it meets, so member
        // 0 (dominated by all of the front but 3's params) wins only against member 4 or alone.
        c.cfg.sample_size = 2;
        let mut wins = [0usize; 5];
        for _ in 0..400 {
            if let Some(w) = c.tournament() {
                wins[w[0] as usize] += 1;
            }
        }
        assert!(wins[1] > wins[2] && wins[3] > wins[2], "{wins:?}");
        assert!(wins[0] < wins[2] && wins[4] < wins[2], "{wins:?}");
    }

    #[test]
    fn mutation_draws_follow_the_weights() -> TestResult {
        let mut c = controller(3, 1, 0);
        c.cfg.mutation = crate::MutationWeights {
            units: 0.0,
            activation: 3.0,
            insert: 0.0,
            remove: 1.0,
            dropout: 0.0,
            training: 2.0,
        };
        // A space without training settings never draws the training mutation.
        let plain = Catalog::of(&space(&[8, 16], &[Activation::Relu], 3)?);
        let draws: Vec<Mutation> = (0..4000).map(|_| c.draw_mutation(&plain)).collect();
        let act = draws.iter().filter(|&&m| m == Mutation::Activation).count();
        assert!(draws.iter().all(|&m| m == Mutation::Activation || m == Mutation::Remove));
        // Expected 3000, standard deviation about 27.
        assert!((2850..=3150).contains(&act), "{act}");
        let tuned = MlpSpaceConfig { learning_rate: vec![0.1, 0.01], ..Default::default() }.build()?;
        let draws: Vec<Mutation> = (0..6000).map(|_| c.draw_mutation(&Catalog::of(&tuned))).collect();
        let training = draws.iter().filter(|&&m| m == Mutation::Training).count();
        // Expected 2000, standard deviation about 37.
        assert!((1850..=2150).contains(&training), "{training}");
        Ok(())
    }

    /// A 3-sequence space and a population of 1: after the first proposal, every proposal must
    /// come from mutation or the fallback, and the space still runs out exactly.
    #[test]
    fn exhausts_a_tiny_space() -> TestResult {
        let s = space(&[8], &[Activation::Relu], 3)?;
        assert_eq!(s.size(), 3);
        let mut c = controller(1, 1, 4);
        let mut tried = HashSet::new();
        assert_eq!(step(&mut c, &s, &mut tried, 1)?.0.len(), 1);
        assert_eq!(step(&mut c, &s, &mut tried, 1)?.0.len(), 1);
        // One left; asking for five gives it.
        assert_eq!(step(&mut c, &s, &mut tried, 5)?.0.len(), 1);
        assert_eq!(tried.len(), 3);
        let ctx = ControllerContext { space: &s, tried: &tried, epoch: 0 };
        assert!(matches!(c.propose(&ctx, 1), Err(ControllerError::Exhausted { size: 3 })));
        assert!(c.propose(&ctx, 0)?.is_empty());
        Ok(())
    }

    /// Driven to exhaustion in a space of 8 with a population of 2, every proposal is new.
    #[test]
    fn never_repeats_while_evolving() -> TestResult {
        let s = space(&[8, 16], &[Activation::Relu], 3)?;
        assert_eq!(s.size(), 8);
        let mut c = controller(2, 2, 9);
        let mut tried = HashSet::new();
        let mut sizes = Vec::new();
        while (tried.len() as u128) < s.size() {
            sizes.push(step(&mut c, &s, &mut tried, 3)?.0.len());
        }
        assert_eq!(sizes, [3, 3, 2]);
        Ok(())
    }

    #[test]
    fn state_round_trips_mid_evolution() -> TestResult {
        let s = space(&[8, 16, 32, 64], &Activation::ALL, 5)?;
        let mut a = controller(8, 3, 11);
        let mut tried = HashSet::new();
        for _ in 0..4 {
            step(&mut a, &s, &mut tried, 5)?;
        }
        let state = a.save_state()?;
        let mut b = controller(8, 3, 12);
        b.load_state(&state)?;
        assert_eq!(b.population, a.population);
        let mut tried_b = tried.clone();
        for _ in 0..3 {
            assert_eq!(step(&mut a, &s, &mut tried, 5)?, step(&mut b, &s, &mut tried_b, 5)?);
        }
        for garbage in [&b"not json"[..], b"", b"{\"rng\": 3}"] {
            match b.load_state(garbage) {
                Err(ControllerError::State(m)) => assert!(m.contains("not an evolution controller state"), "{m}"),
                other => panic!("expected a state error, got {other:?}"),
            }
        }
        // A population larger than the config allows is refused.
        let mut small = controller(2, 1, 0);
        assert!(matches!(small.load_state(&state), Err(ControllerError::State(m)) if m.contains("population")));
        Ok(())
    }

    #[test]
    fn non_finite_rewards_count_as_zero() -> TestResult {
        let s = space(&[8], &[Activation::Relu], 3)?;
        let mut c = controller(2, 1, 0);
        let tried = HashSet::new();
        let ctx = ControllerContext { space: &s, tried: &tried, epoch: 0 };
        let r = c.update(&ctx, &[record(0, &[1, 3], f64::NAN)])?;
        assert_eq!(r.metrics["population_best_reward"], 0.0);
        // ... so that the state (JSON) still round-trips.
        c.load_state(&c.save_state()?)?;
        Ok(())
    }
}
