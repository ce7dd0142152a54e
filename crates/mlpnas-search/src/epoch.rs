//! [`EpochTrials`]: one controller epoch's trials from proposal to journal. Decoded once, started
//! in the order [`Schedule`] allows with what they read from the weight store, committed in trial
//! order, and each batch's puts applied to the store after it, in trial order. The search drives
//! it on threads of its own or through a run's queue; either way the journal is the one a single
//! thread writes.

use std::collections::HashSet;

use mlpnas_core::{
    BigramKey, Candidate, Criterion, LayerWeights, Objective, Proposal, RunStorage, Rung, SearchSpace, TokenId,
    TrialRecord, WeightStore, pareto::scores, top_n,
};

use crate::error::SearchError;
use crate::observer::Observer;
use crate::schedule::Schedule;
use crate::training::{Trained, record};

/// A trained trial waiting for its turn to be committed, with the initial weights it got.
type Finished = (Trained, Vec<Option<LayerWeights>>);

/// A trial that may start: its position and the initial weights it reads.
pub(crate) type Started = (usize, Vec<Option<LayerWeights>>);

/// One controller epoch's trials, by position in the epoch (trial index = first + position).
pub(crate) struct EpochTrials<'a> {
    epoch: usize,
    indexed: &'a [(usize, Proposal)],
    candidates: Vec<Candidate>,
    /// Bigram keys each trial reads and writes (none without a store; a table point has none).
    keys: Vec<Vec<BigramKey>>,
    schedule: Schedule,
    finished: Vec<Option<Finished>>,
    /// Positions journaled before this session (read back, not trained).
    journaled: usize,
    committed: usize,
    batch: usize,
    /// Puts of the current batch's committed trials, in trial order.
    puts: Vec<(BigramKey, LayerWeights)>,
    /// What the trials' rewards are made of (`search.metric`).
    objective: Objective,
    /// A multi-objective search's criteria (`search.objectives`), recorded with each trial.
    criteria: Vec<Criterion>,
    /// Re-scoring (`search.rescore_top`): the trial each position evaluates again; empty for a
    /// controller epoch.
    rescore_of: Vec<usize>,
    /// Whether the trials share weights (built with a store): the store the search hands
    /// [`Self::start_next`] and [`Self::commit_ready`] is ignored otherwise (re-evaluations).
    shares: bool,
    /// Under a multi-fidelity scheduler: the rungs each position reached (recorded with it).
    rungs: Vec<Vec<Rung>>,
}

/// Where commits go: the run's storage and trials, its weight store, the epoch's tried set and
/// whoever watches.
pub(crate) struct Sinks<'s> {
    pub(crate) storage: &'s mut dyn RunStorage,
    pub(crate) records: &'s mut Vec<TrialRecord>,
    pub(crate) store: Option<&'s mut Box<dyn WeightStore>>,
    pub(crate) tried: &'s mut HashSet<Vec<TokenId>>,
    pub(crate) observer: &'s mut dyn Observer,
}

impl<'a> EpochTrials<'a> {
    /// The trials `indexed` of controller epoch `epoch`, decoded in `space`; `journaled` trials
    /// of the run are committed already (a resumed epoch); batches of `batch`; the run shares
    /// weights through a store when `store` is given, each of its `evaluations` resampled
    /// splits under its own keys ([`mlpnas_core::Architecture::resampled_keys`]).
    pub(crate) fn new(
        epoch: usize,
        indexed: &'a [(usize, Proposal)],
        space: &dyn SearchSpace,
        (input_dim, n_classes, evaluations): (usize, usize, usize),
        journaled: usize,
        batch: usize,
        store: Option<&dyn WeightStore>,
    ) -> Result<Self, SearchError> {
        let n = indexed.len();
        let first = indexed.first().map_or(0, |(i, _)| *i);
        let journaled = journaled.saturating_sub(first).min(n);
        let mut candidates = Vec::with_capacity(n);
        let mut keys = Vec::with_capacity(n);
        for (_, p) in indexed {
            let c = space.candidate(&p.tokens, input_dim, n_classes)?;
            keys.push(match &c {
                Candidate::Network(arch) if store.is_some() => arch.resampled_keys(evaluations),
                _ => Vec::new(),
            });
            candidates.push(c);
        }
        let batch = batch.max(1);
        let evicts = store.is_some_and(|s| s.evicts());
        Ok(Self {
            epoch,
            indexed,
            schedule: Schedule::new(keys.clone(), batch, evicts, journaled),
            candidates,
            keys,
            finished: (0..n).map(|_| None).collect(),
            journaled,
            committed: 0,
            batch,
            puts: Vec::new(),
            objective: Objective::default(),
            criteria: Vec::new(),
            rescore_of: Vec::new(),
            shares: store.is_some(),
            rungs: vec![Vec::new(); n],
        })
    }

    /// The same trials, rewarded by `objective` (default: accuracy), recording their values of
    /// `criteria` (default: none, a single-objective run).
    pub(crate) fn rewarded_by(mut self, objective: Objective, criteria: &[Criterion]) -> Self {
        self.objective = objective;
        self.criteria = criteria.to_vec();
        self
    }

    /// The same trials as re-evaluations of the trials `of` (one per position), recorded so;
    /// built without a store, they read and write no shared weights.
    pub(crate) fn rescoring(mut self, of: Vec<usize>) -> Self {
        self.rescore_of = of;
        self
    }

    /// Trials this session trains (those not journaled before).
    pub(crate) fn to_train(&self) -> usize {
        self.indexed.len() - self.journaled
    }

    /// Trials of the epoch (journaled ones included).
    pub(crate) fn len(&self) -> usize {
        self.indexed.len()
    }

    /// Records the rungs position `pos` reached ([`crate::bracket`]), journaled with it.
    pub(crate) fn set_rungs(&mut self, pos: usize, rungs: Vec<Rung>) {
        self.rungs[pos] = rungs;
    }

    /// Whether every trial is committed.
    pub(crate) fn done(&self) -> bool {
        self.committed == self.indexed.len()
    }

    /// Trial index and tokens of position `pos`.
    pub(crate) fn trial(&self, pos: usize) -> (usize, &[TokenId]) {
        let (index, p) = &self.indexed[pos];
        (*index, &p.tokens)
    }

    /// What position `pos` trains.
    pub(crate) fn candidate(&self, pos: usize) -> &Candidate {
        &self.candidates[pos]
    }

    /// The next trial that may start now ([`Schedule`]), with its initial weights read from
    /// `store` (each dense layer's bigram, when it fits).
    pub(crate) fn start_next(&mut self, store: Option<&dyn WeightStore>) -> Result<Option<Started>, SearchError> {
        let Some(pos) = self.schedule.next() else { return Ok(None) };
        let init = match (&self.candidates[pos], store.filter(|_| self.shares)) {
            (Candidate::Network(arch), Some(s)) => {
                let mut init = Vec::with_capacity(self.keys[pos].len());
                // Evaluation after evaluation: the shapes repeat.
                for (k, &(i, o, _)) in self.keys[pos].iter().zip(arch.dense_shapes().iter().cycle()) {
                    init.push(s.get(k)?.filter(|w| w.fits(i, o)));
                }
                init
            }
            _ => Vec::new(),
        };
        Ok(Some((pos, init)))
    }

    /// Records that position `pos` was trained, from `init`.
    pub(crate) fn finish(&mut self, pos: usize, trained: Trained, init: Vec<Option<LayerWeights>>) {
        self.finished[pos] = Some((trained, init));
    }

    /// Commits, in trial order, every trial from the first uncommitted one that is journaled or
    /// trained: journal record (with its puts, durable first), the tried set, the observer; after
    /// each whole batch, its puts into the store in trial order (made durable at the epoch's
    /// checkpoint; until then `pending/` holds them). Returns the trial indices committed.
    pub(crate) fn commit_ready(&mut self, sinks: Sinks<'_>) -> Result<Vec<usize>, SearchError> {
        let Sinks { storage, records, store, tried, observer } = sinks;
        let mut store = store.filter(|_| self.shares);
        let n = self.indexed.len();
        let mut committed = Vec::new();
        while self.committed < n {
            let pos = self.committed;
            let (index, p) = &self.indexed[pos];
            let puts = if pos < self.journaled {
                if store.is_some() { storage.read_puts(*index)? } else { Vec::new() }
            } else {
                let Some(((outcome, seconds), init)) = self.finished[pos].take() else { break };
                let outcome = outcome?;
                let transfers = init.iter().filter(|w| w.is_some()).count();
                let mut r = record(
                    *index,
                    self.epoch,
                    p.clone(),
                    &self.candidates[pos],
                    (&outcome, seconds),
                    transfers,
                    &self.objective,
                );
                r.rescore_of = self.rescore_of.get(pos).copied();
                r.rungs = std::mem::take(&mut self.rungs[pos]);
                r.objectives = scores(&self.criteria, &r, outcome.measured.and_then(|m| m.seconds));
                let puts: Vec<(BigramKey, LayerWeights)> = if store.is_some() && r.status.stores_weights() {
                    self.keys[pos].iter().copied().zip(outcome.weights.iter().cloned()).collect()
                } else {
                    Vec::new()
                };
                storage.append_trial(&r, store.is_some().then_some(&puts[..]))?;
                records.push(r);
                puts
            };
            tried.insert(p.tokens.clone());
            observer.trial(&records[*index], top_n(records, 1)[0]);
            self.puts.extend(puts);
            self.committed += 1;
            committed.push(*index);
            if self.committed.is_multiple_of(self.batch) || self.committed == n {
                if let Some(s) = store.as_mut() {
                    for (k, w) in self.puts.drain(..) {
                        s.put(k, w)?;
                    }
                }
                self.schedule.applied(self.committed);
            }
        }
        Ok(committed)
    }
}
