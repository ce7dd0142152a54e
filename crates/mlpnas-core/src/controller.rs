//! The controller extension point: what proposes the architectures to try.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, ControllerError};
use crate::space::{SearchSpace, TokenId};
use crate::trial::TrialRecord;

/// What a controller sees when asked for proposals or updated.
#[derive(Clone, Copy)]
pub struct ControllerContext<'a> {
    /// The search space; every proposal must be valid in it.
    pub space: &'a dyn SearchSpace,
    /// Every sequence tried so far in this search.
    pub tried: &'a HashSet<Vec<TokenId>>,
    /// Current controller epoch (0-based).
    pub epoch: usize,
}

/// One proposed architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// A valid sequence of the space.
    pub tokens: Vec<TokenId>,
    /// Predicted reward, for controllers with an accuracy predictor.
    pub predicted: Option<f64>,
}

/// What a controller reports after [`Controller::update`]: named diagnostics (for example the
/// policy's entropy or its loss) that the search writes, per controller epoch, into
/// `controller.jsonl` beside the journal. Empty for controllers with nothing to report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateReport {
    /// Metric name -> value.
    pub metrics: BTreeMap<String, f64>,
}

/// Proposes architectures and learns from their rewards.
///
/// # Design
///
/// The search runs in controller epochs: `propose` is asked for a batch, the search trains every
/// proposal, then `update` receives the finished trials of that batch in order. A batch API (not
/// one sequence at a time) matches policy-gradient controllers, which update on a whole batch,
/// and lets the search train a batch's proposals in parallel. Proposals must be valid sequences
/// of `ctx.space`, distinct from each other and, unless the controller is configured to allow
/// repeats, from `ctx.tried`; a controller may return fewer than asked only when the space has
/// fewer untried sequences left, and errors with [`ControllerError::Exhausted`] when none is left.
/// The search, not the controller, owns the history (`ctx.tried`), so controllers stay small.
/// `save_state` / `load_state` round-trip everything a controller needs to continue (weights,
/// optimizer, RNG), so a search can be resumed and a trained controller reused: the search saves
/// the state at every controller-epoch boundary and, on resume, loads it and asks `propose` again,
/// so `propose` must depend only on the state, `ctx` and `n`.
pub trait Controller: Send + fmt::Debug {
    /// Up to `n` new proposals.
    fn propose(&mut self, ctx: &ControllerContext<'_>, n: usize) -> Result<Vec<Proposal>, ControllerError>;
    /// Learns from the finished trials of the last batch (in proposal order); must be
    /// deterministic given the state and `trials` (a resumed search replays it).
    fn update(&mut self, ctx: &ControllerContext<'_>, trials: &[TrialRecord]) -> Result<UpdateReport, ControllerError>;
    /// Serializes the controller's state.
    fn save_state(&self) -> Result<Vec<u8>, ControllerError>;
    /// Restores a state written by `save_state` of the same controller and config.
    fn load_state(&mut self, state: &[u8]) -> Result<(), ControllerError>;
}

/// Serializable settings that build a [`Controller`] (`[controller]` in a config, `type = "..."`).
#[typetag::serde(tag = "type")]
pub trait ControllerConfig: fmt::Debug + Send + Sync {
    /// Checks every field (called once, when the config is loaded; fields are named relative to
    /// the section, the host adds `controller.`).
    fn validate(&self) -> Result<(), ConfigError>;
    /// Builds the controller for `space`, seeded with `seed`, from a validated config. `space`
    /// holds at least one sequence: hosts build through [`build_controller`], which refuses an
    /// empty space once for every controller.
    fn build(&self, space: &dyn SearchSpace, seed: u64) -> Result<Box<dyn Controller>, ControllerError>;
    /// The backend it runs on, for controllers that have one (the REINFORCE policy's).
    fn backend(&self) -> Option<String> {
        None
    }
    /// Runs on `backend` instead (`finalize --backend` on a run made elsewhere). Controllers
    /// without backends refuse.
    fn set_backend(&mut self, backend: &str) -> Result<(), ConfigError> {
        Err(ConfigError::new("backend", format!("this controller has no backends (asked for {backend:?})")))
    }
    /// Fields added since release 0.1.0 and the value (TOML text) a run stored before a field
    /// existed was made with, as [`crate::TrainerConfig::added_fields`]: a stored run config
    /// that lacks one is read with that value, so it resumes as it was made. A field of a
    /// sub-table is named by its dotted path (`mutation.training`).
    fn added_fields(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
}

/// Builds the controller of `config` for `space`, seeded with `seed`: how every host builds one.
/// A space without a single valid sequence is refused here, for every controller alike
/// ([`ControllerError::Exhausted`] with size 0).
pub fn build_controller(
    config: &dyn ControllerConfig,
    space: &dyn SearchSpace,
    seed: u64,
) -> Result<Box<dyn Controller>, ControllerError> {
    if space.size() == 0 {
        return Err(ControllerError::Exhausted { size: 0 });
    }
    config.build(space, seed)
}
