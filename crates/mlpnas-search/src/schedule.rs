//! [`Schedule`]: which trials of a controller epoch may start training now, on any number of
//! threads, without changing what any trial reads from the weight store.
//!
//! The search's semantics are those of `search.batch`: the trials of a batch read the store as
//! the earlier batches left it, and a batch's puts are applied after it, in trial order. A trial
//! needs nothing else from the trials before it (its seed is its index; the controller proposed
//! the whole epoch up front), so it may start as soon as every earlier trial whose puts it would
//! read is applied: the trials of earlier batches that write one of its bigram keys. Reading the
//! store then gives what it would give in order, so the journal does not depend on the number of
//! threads. A store that evicts (a capped one) can lose any key on any put: there a trial waits
//! for every earlier batch.

use std::collections::HashSet;

use mlpnas_core::BigramKey;

/// The start rule over one controller epoch's trials, by position in the epoch.
#[derive(Debug)]
pub(crate) struct Schedule {
    /// Bigram keys each trial reads before and writes after training (none without a store).
    keys: Vec<HashSet<BigramKey>>,
    batch: usize,
    /// Whether a put may remove other keys (every earlier batch must be applied).
    evicts: bool,
    started: Vec<bool>,
    /// Trials whose puts are applied to the store: positions `..applied`, whole batches.
    applied: usize,
}

impl Schedule {
    /// A schedule of trials with these `keys`, batches of `batch`, for a store that `evicts` or
    /// not; the first `done` trials (journaled before) count as started.
    pub(crate) fn new(keys: Vec<Vec<BigramKey>>, batch: usize, evicts: bool, done: usize) -> Self {
        let n = keys.len();
        let mut started = vec![false; n];
        started.iter_mut().take(done).for_each(|s| *s = true);
        Self {
            keys: keys.into_iter().map(|k| k.into_iter().collect()).collect(),
            batch: batch.max(1),
            evicts,
            started,
            applied: 0,
        }
    }

    /// Records that the puts of trials `..upto` (a batch boundary) are now in the store.
    pub(crate) fn applied(&mut self, upto: usize) {
        debug_assert!(upto.is_multiple_of(self.batch) || upto == self.keys.len());
        self.applied = upto;
    }

    /// Whether trial `pos` would read the store as it reads it in order, if it read it now.
    pub(crate) fn ready(&self, pos: usize) -> bool {
        let batch_start = pos - pos % self.batch;
        if self.applied >= batch_start {
            return true;
        }
        if self.evicts {
            return false;
        }
        let reads = &self.keys[pos];
        (self.applied..batch_start).all(|j| self.keys[j].is_disjoint(reads))
    }

    /// The first trial not started that is ready, marked started.
    pub(crate) fn next(&mut self) -> Option<usize> {
        let pos = (0..self.keys.len()).find(|&p| !self.started[p] && self.ready(p))?;
        self.started[pos] = true;
        Some(pos)
    }
}

#[cfg(test)]
mod tests {
    use mlpnas_core::{Activation, LayerKey};
    use proptest::prelude::*;

    use super::*;

    fn key(a: u32, b: u32) -> BigramKey {
        BigramKey {
            fold: 0,
            prev: LayerKey::Dense { units: a, activation: Activation::Relu },
            cur: LayerKey::Dense { units: b, activation: Activation::Relu },
        }
    }

    /// Replays a schedule the way the search does (start what is ready, finish in any order,
    /// commit in order, apply whole batches) and checks every start against the sequential
    /// order: the store's content for each key a trial reads is the one the sequential search
    /// would hand it, i.e. the last earlier-batch writer of that key is applied.
    fn replay(keys: &[Vec<BigramKey>], batch: usize, evicts: bool, threads: usize, finish: &[usize]) -> usize {
        let n = keys.len();
        let mut s = Schedule::new(keys.to_vec(), batch, evicts, 0);
        let (mut running, mut finished, mut committed) = (Vec::new(), vec![false; n], 0);
        let mut most_running = 0;
        let mut step = 0;
        while committed < n {
            while running.len() < threads {
                let Some(pos) = s.next() else { break };
                let batch_start = pos - pos % batch;
                for k in &keys[pos] {
                    if let Some(w) = (0..batch_start).rev().find(|&j| keys[j].contains(k)) {
                        assert!(w < s.applied, "trial {pos} started before trial {w}'s put of a key it reads");
                    }
                }
                if evicts {
                    assert!(s.applied >= batch_start, "an evicting store read ahead");
                }
                running.push(pos);
            }
            most_running = most_running.max(running.len());
            assert!(!running.is_empty(), "nothing runs and nothing can start: deadlock");
            let pick = finish[step % finish.len()] % running.len();
            step += 1;
            finished[running.swap_remove(pick)] = true;
            while committed < n && finished[committed] {
                committed += 1;
                if committed.is_multiple_of(batch) || committed == n {
                    s.applied(committed);
                }
            }
        }
        most_running
    }

    proptest! {
        #[test]
        fn no_trial_reads_ahead_of_a_put_it_depends_on(
            keys in prop::collection::vec(prop::collection::vec((0u32..4, 0u32..4), 0..4), 1..24),
            batch in 1usize..4,
            evicts: bool,
            threads in 1usize..5,
            finish in prop::collection::vec(0usize..8, 1..16),
        ) {
            let keys: Vec<Vec<BigramKey>> = keys.iter().map(|ks| ks.iter().map(|&(a, b)| key(a, b)).collect()).collect();
            let most = replay(&keys, batch, evicts, threads, &finish);
            prop_assert!(most <= threads);
        }
    }

    #[test]
    fn independent_trials_start_together_and_shared_bigrams_wait() {
        // Batch 1: trials 0 and 1 share no key, trial 2 reads what trial 0 writes.
        let keys = vec![vec![key(1, 2)], vec![key(3, 4)], vec![key(1, 2), key(5, 6)]];
        let mut s = Schedule::new(keys.clone(), 1, false, 0);
        assert_eq!(s.next(), Some(0));
        assert_eq!(s.next(), Some(1), "no shared bigram: starts beside trial 0");
        assert_eq!(s.next(), None, "trial 2 waits for trial 0's put");
        s.applied(1);
        assert_eq!(s.next(), Some(2));
        // The same with a store that evicts: strictly one batch after the other.
        let mut s = Schedule::new(keys, 1, true, 0);
        assert_eq!(s.next(), Some(0));
        assert_eq!(s.next(), None);
        s.applied(1);
        assert_eq!(s.next(), Some(1));
        // Journaled trials are not started again.
        let mut s = Schedule::new(vec![vec![], vec![], vec![]], 1, false, 2);
        assert_eq!(s.next(), Some(2));
        assert_eq!(s.next(), None);
    }
}
