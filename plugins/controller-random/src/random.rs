//! The random controller: uniform sampling over whole valid sequences.

use std::collections::HashSet;

use mlpnas_core::{Controller, ControllerContext, ControllerError, Proposal, TokenId, TrialRecord, UpdateReport};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::RandomControllerConfig;
use mlpnas_core::sampling::{enumerate, sample_uniform};

/// Largest space (in valid sequences) that the controller enumerates when rejection sampling
/// cannot find an untried sequence; beyond it, it reports [`ControllerError::NoUntried`].
pub const ENUMERATION_LIMIT: u128 = 1_000_000;

/// Random-search controller (see the crate documentation).
#[derive(Debug, Clone)]
pub struct RandomController {
    cfg: RandomControllerConfig,
    rng: ChaCha8Rng,
}

/// What `save_state` writes: the exact RNG position (the config is not state).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedState {
    rng: ChaCha8Rng,
}

impl RandomController {
    /// A controller with settings `cfg` (assumed valid), its RNG seeded with `seed`.
    pub(crate) fn new(cfg: RandomControllerConfig, seed: u64) -> Self {
        Self { cfg, rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// Its settings.
    pub fn config(&self) -> &RandomControllerConfig {
        &self.cfg
    }
}

impl Controller for RandomController {
    fn propose(&mut self, ctx: &ControllerContext<'_>, n: usize) -> Result<Vec<Proposal>, ControllerError> {
        let space = ctx.space;
        let size = space.size();
        if size == 0 {
            return Err(ControllerError::Exhausted { size });
        }
        let excluded = |seq: &Vec<TokenId>, batch: &HashSet<Vec<TokenId>>| {
            batch.contains(seq) || (!self.cfg.allow_repeats && ctx.tried.contains(seq))
        };
        // Everything excluded so far may cover the whole space: then go straight to enumeration
        // rather than spending the attempt budget on draws that cannot succeed.
        let tried = if self.cfg.allow_repeats { 0 } else { ctx.tried.len() as u128 };
        let mut batch: HashSet<Vec<TokenId>> = HashSet::with_capacity(n);
        let mut out: Vec<Proposal> = Vec::with_capacity(n);
        // Untried sequences (in enumeration order), computed once when rejection sampling fails.
        let mut untried: Option<Vec<Vec<TokenId>>> = None;
        while out.len() < n {
            let mut found = None;
            if untried.is_none() && tried.saturating_add(out.len() as u128) < size {
                for _ in 0..self.cfg.max_attempts {
                    let seq = sample_uniform(space, &mut self.rng)?;
                    if !excluded(&seq, &batch) {
                        found = Some(seq);
                        break;
                    }
                }
            }
            if found.is_none() {
                if size > ENUMERATION_LIMIT {
                    return Err(ControllerError::NoUntried { attempts: self.cfg.max_attempts, tried: ctx.tried.len() });
                }
                let pool = untried.get_or_insert_with(|| {
                    enumerate(space).into_iter().filter(|s| !excluded(s, &HashSet::new())).collect()
                });
                // The pool is filtered against `tried` once; drop what this batch already took.
                pool.retain(|s| !batch.contains(s));
                if pool.is_empty() {
                    break;
                }
                let i = self.rng.random_range(0..pool.len());
                found = Some(pool.swap_remove(i));
            }
            if let Some(seq) = found {
                space
                    .validate(&seq)
                    .map_err(|e| ControllerError::Other(format!("sampled an invalid sequence: {e}")))?;
                batch.insert(seq.clone());
                out.push(Proposal { tokens: seq, predicted: None });
            }
        }
        if out.is_empty() && n > 0 {
            return Err(ControllerError::Exhausted { size });
        }
        Ok(out)
    }

    fn update(
        &mut self,
        _ctx: &ControllerContext<'_>,
        _trials: &[TrialRecord],
    ) -> Result<UpdateReport, ControllerError> {
        Ok(UpdateReport::default())
    }

    fn save_state(&self) -> Result<Vec<u8>, ControllerError> {
        serde_json::to_vec(&SavedState { rng: self.rng.clone() })
            .map_err(|e| ControllerError::State(format!("cannot serialize the random controller's RNG: {e}")))
    }

    fn load_state(&mut self, state: &[u8]) -> Result<(), ControllerError> {
        let saved: SavedState = serde_json::from_slice(state).map_err(|e| {
            ControllerError::State(format!(
                "not a random controller state ({} bytes; expected the JSON written by save_state): {e}",
                state.len()
            ))
        })?;
        self.rng = saved.rng;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use mlpnas_core::sampling::enumerate;
    use mlpnas_core::{Activation, MlpSpace, MlpSpaceConfig, SearchSpace};

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn space(units: &[u32], activations: &[Activation], max_len: usize) -> Result<MlpSpace, mlpnas_core::ConfigError> {
        MlpSpaceConfig { units: units.to_vec(), activations: activations.to_vec(), max_len, ..Default::default() }
            .build()
    }

    fn controller(seed: u64) -> RandomController {
        RandomController::new(RandomControllerConfig::default(), seed)
    }

    fn propose(
        c: &mut RandomController,
        s: &MlpSpace,
        tried: &HashSet<Vec<TokenId>>,
        n: usize,
    ) -> Result<Vec<Vec<TokenId>>, ControllerError> {
        let ctx = ControllerContext { space: s, tried, epoch: 0 };
        Ok(c.propose(&ctx, n)?.into_iter().map(|p| p.tokens).collect())
    }

    /// One hidden token, max_len 4: 6 sequences, of which `[h, out]` has probability 1/3 when
    /// sampled token by token but 1/6 when sampled uniformly.
    #[test]
    fn samples_whole_sequences_uniformly() -> TestResult {
        let s = space(&[8], &[Activation::Relu], 4)?;
        assert_eq!(s.size(), 6);
        let mut counts: HashMap<Vec<TokenId>, usize> = HashMap::new();
        let mut c = controller(7);
        let draws = 6000;
        for _ in 0..draws {
            *counts.entry(sample_uniform(&s, &mut c.rng)?).or_default() += 1;
        }
        assert_eq!(counts.len(), 6);
        for (seq, k) in &counts {
            // Expected 1000, standard deviation about 29.
            assert!((850..=1150).contains(k), "{seq:?} drawn {k} times out of {draws}: {counts:?}");
        }
        Ok(())
    }

    #[test]
    fn same_seed_same_proposals() -> TestResult {
        let s = space(&[8, 16, 32], &Activation::ALL, 4)?;
        let tried = HashSet::new();
        let a = propose(&mut controller(1), &s, &tried, 20)?;
        assert_eq!(a, propose(&mut controller(1), &s, &tried, 20)?);
        assert_ne!(a, propose(&mut controller(2), &s, &tried, 20)?);
        Ok(())
    }

    #[test]
    fn never_repeats_and_exhausts() -> TestResult {
        let s = space(&[8, 16], &[Activation::Relu], 3)?;
        let size = s.size();
        assert_eq!(size, 2 + 4 + 2);
        let mut c = RandomController::new(RandomControllerConfig { max_attempts: 3, ..Default::default() }, 3);
        let mut tried = HashSet::new();
        for _ in 0..2 {
            let batch = propose(&mut c, &s, &tried, 3)?;
            assert_eq!(batch.len(), 3);
            for seq in batch {
                s.validate(&seq)?;
                assert!(tried.insert(seq));
            }
        }
        // Two left; asking for five gives both.
        assert_eq!(tried.len(), 6);
        let last = propose(&mut c, &s, &tried, 5)?;
        assert_eq!(last.len(), 2);
        tried.extend(last);
        assert_eq!(tried.len() as u128, size);
        assert!(matches!(propose(&mut c, &s, &tried, 1), Err(ControllerError::Exhausted { size: 8 })));
        // n = 0 is not an error even then.
        assert!(propose(&mut c, &s, &tried, 0)?.is_empty());
        Ok(())
    }

    #[test]
    fn allow_repeats_ignores_tried_but_not_the_batch() -> TestResult {
        let s = space(&[8], &[Activation::Relu], 3)?;
        let all: HashSet<Vec<TokenId>> = enumerate(&s).into_iter().collect();
        assert_eq!(all.len(), 3);
        let cfg = RandomControllerConfig { allow_repeats: true, ..Default::default() };
        let mut c = RandomController::new(cfg, 0);
        let batch = propose(&mut c, &s, &all, 10)?;
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.iter().cloned().collect::<HashSet<_>>(), all);
        Ok(())
    }

    #[test]
    fn state_round_trips_the_rng() -> TestResult {
        let s = space(&[8, 16, 32, 64], &Activation::ALL, 5)?;
        let tried = HashSet::new();
        let mut a = controller(11);
        propose(&mut a, &s, &tried, 5)?;
        let state = a.save_state()?;
        let mut b = controller(12);
        b.load_state(&state)?;
        assert_eq!(propose(&mut a, &s, &tried, 10)?, propose(&mut b, &s, &tried, 10)?);
        match b.load_state(b"{\"rng\": 3}") {
            Err(ControllerError::State(m)) => assert!(m.contains("not a random controller state"), "{m}"),
            other => panic!("expected a state error, got {other:?}"),
        }
        Ok(())
    }
}
