//! [`Partial`]: where a search trial trained in rungs stands between them (the trainer's
//! [`mlpnas_core::Continuation`]), and its bytes ([`Partial::save`], [`Saved`]) for a rung that
//! another process trains (a multi-fidelity search with PostgreSQL workers).
//!
//! The bytes are one codec buffer (safetensors, `mlpnas/burn-continuation/1`): the learner's
//! parameters and optimizer state as tensors (checksummed by the codec), and in its metadata the
//! random streams, batch order, step counter and epochs so far as JSON with their own SHA-256,
//! so an altered byte anywhere is an error, never a silently different trial.

use mlpnas_core::codec::Tensors;
use mlpnas_core::digest::sha256_hex;
use mlpnas_core::seed::SeedRng;
use mlpnas_core::{Architecture, EpochMetrics};
use serde::{Deserialize, Serialize};

use crate::closed_form::ClosedFormLearner;
use crate::config::{BurnTrainerConfig, Gradients};
use crate::learner::{AUTODIFF_STAYS, Learner};
use crate::model::Plan;

/// `format` of a continuation's bytes.
const FORMAT: &str = "mlpnas/burn-continuation/1";
/// Metadata keys of the streams' JSON and its checksum.
const STREAMS: &str = "streams";
const STREAMS_SHA256: &str = "streams_sha256";

/// Where a search trial trained in rungs stands between them ([`mlpnas_core::Continuation`]):
/// its parameters and optimizer state, both random streams where they stopped, the batch order
/// (shuffled again each epoch from the last), the optimizer step (the learning-rate decay's
/// clock) and the epochs so far. Continuing it runs exactly the epochs a longer trial runs.
pub(crate) struct Partial {
    pub(crate) learner: Box<dyn Learner>,
    pub(crate) streams: Streams,
}

/// Everything of a [`Partial`] but the learner.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Streams {
    /// Initial weights and batch order.
    pub(crate) rng: SeedRng,
    /// Dropout masks.
    pub(crate) masks: SeedRng,
    pub(crate) order: Vec<i64>,
    pub(crate) step: u64,
    pub(crate) epochs: Vec<EpochMetrics>,
}

impl Partial {
    /// Its bytes, for [`Saved::load`] in another process.
    pub(crate) fn save(&self) -> Result<Vec<u8>, String> {
        let mut t = Tensors::new(FORMAT);
        self.learner.save(&mut t)?;
        let json = serde_json::to_string(&self.streams).map_err(|e| e.to_string())?;
        t.metadata.insert(STREAMS_SHA256.into(), sha256_hex(json.as_bytes()));
        t.metadata.insert(STREAMS.into(), json);
        t.encode().map_err(|e| e.to_string())
    }
}

/// A [`Partial`] read from its bytes, before it meets its architecture ([`Saved::restore`]).
pub(crate) struct Saved {
    tensors: Tensors,
    streams: Streams,
}

impl Saved {
    /// Reads [`Partial::save`]'s bytes, checking both checksums.
    pub(crate) fn load(bytes: &[u8]) -> Result<Self, String> {
        let tensors = Tensors::decode(bytes).map_err(|e| e.to_string())?;
        tensors.expect_format(FORMAT).map_err(|e| e.to_string())?;
        let json = tensors.meta(STREAMS).map_err(|e| e.to_string())?;
        if tensors.meta(STREAMS_SHA256).map_err(|e| e.to_string())? != sha256_hex(json.as_bytes()) {
            return Err("its random streams do not match their checksum (altered or damaged)".into());
        }
        let streams = serde_json::from_str(json).map_err(|e| format!("random streams: {e}"))?;
        Ok(Self { tensors, streams })
    }

    /// The [`Partial`] for `arch` (its plan `plan`, trained with `cfg`) on the plain `device`.
    pub(crate) fn restore(
        mut self,
        cfg: &BurnTrainerConfig,
        plan: Plan,
        arch: &Architecture,
        device: &burn::tensor::Device,
    ) -> Result<Partial, String> {
        if cfg.gradients == Gradients::Autodiff {
            return Err(AUTODIFF_STAYS.into());
        }
        let learner = ClosedFormLearner::restore(cfg, plan, arch, &mut self.tensors, device)?;
        Ok(Partial { learner: Box::new(learner), streams: self.streams })
    }
}
