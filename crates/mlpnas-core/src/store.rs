//! The weight store extension point: one-shot weight sharing keyed by layer bigrams.

use std::fmt;
use std::path::Path;

use crate::arch::BigramKey;
use crate::error::{ConfigError, StoreError};
use crate::tensor::LayerWeights;

/// Keeps trained dense-layer weights keyed by [`BigramKey`] and hands them to later architectures.
///
/// # Design
///
/// The store sees plain [`LayerWeights`] (shape + f32 data), never a framework tensor, so any
/// store works with any trainer and backend. It is a map with last-write-wins semantics: `put`
/// replaces, `get` returns a copy of what was last put (or `None`). Both are expected to be O(1)
/// on average; the search calls `get` for every dense layer before a trial and `put` for every
/// dense layer after it, so their cost is paid on every trial. The search loop, not the trainer,
/// talks to the store: that keeps the read-before / write-after order of a batch of trials in
/// one place. `flush` makes every `put` so far durable for stores that persist.
///
/// Contract (checked by the conformance suite in `tests/`): `put` refuses, with
/// [`StoreError::Invalid`], weights that are inconsistent (shape and data disagree, or a value is
/// not finite) or that do not fit the key (kernel `[prev.units(), cur.units()]`, bias
/// `[cur.units()]`), so a `get` hit always fits the layer it is handed to.
///
/// Checkpoints: an in-memory store returns its content from `snapshot` and the search writes it
/// into the run directory at each controller-epoch boundary; a persistent store returns `None`.
/// Either way a resumed search replays the puts of the trials journaled since the checkpoint
/// (last write wins, so replaying puts a persistent store already holds changes nothing).
pub trait WeightStore: Send + fmt::Debug {
    /// The weights last put under `key`, if any.
    fn get(&self, key: &BigramKey) -> Result<Option<LayerWeights>, StoreError>;
    /// Stores `weights` under `key`, replacing what was there.
    fn put(&mut self, key: BigramKey, weights: LayerWeights) -> Result<(), StoreError>;
    /// Number of keys stored.
    fn len(&self) -> usize;
    /// A name telling this store's files apart from every other store's (drawn when a store
    /// that persists itself is created); a checkpoint records it, so a resume refuses a store
    /// copied in from another run. `None` for stores without files (and files written before
    /// identities, which are trusted).
    fn identity(&self) -> Option<String> {
        None
    }
    /// Whether a `put` may remove other keys (a store with a size cap): then what a `get`
    /// returns depends on every put before it, and the search lets no trial read ahead of an
    /// earlier put; otherwise only on the puts of the same key.
    fn evicts(&self) -> bool {
        false
    }
    /// Whether nothing is stored.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Makes every `put` so far durable (no-op for in-memory stores).
    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// The whole content as bytes for the search's checkpoint, or `None` for a store that
    /// persists itself (its `flush` makes puts durable and reopening it restores them).
    fn snapshot(&self) -> Result<Option<Vec<u8>>, StoreError>;
    /// Replaces the content with a `snapshot` of a store of the same kind.
    fn restore(&mut self, _snapshot: &[u8]) -> Result<(), StoreError> {
        Err(StoreError::Other("this store persists itself and restores no snapshot".into()))
    }
}

/// Serializable settings that build a [`WeightStore`] (`[store]` in a config, `type = "..."`).
#[typetag::serde(tag = "type")]
pub trait StoreConfig: fmt::Debug + Send + Sync {
    /// Checks every field (called once, when the config is loaded; fields are named relative to
    /// the section, the host adds `store.`).
    fn validate(&self) -> Result<(), ConfigError>;
    /// Builds the store from a validated config; `run_dir` is the search's run directory, where a
    /// persistent store may keep relative paths.
    fn build(&self, run_dir: &Path) -> Result<Box<dyn WeightStore>, StoreError>;
    /// Whether the store keeps files of its own in the run directory (and so needs a run
    /// storage with a local directory; a run in a database has none). Stores that checkpoint
    /// through [`WeightStore::snapshot`] alone say `false`.
    fn needs_files(&self) -> bool {
        true
    }
}
