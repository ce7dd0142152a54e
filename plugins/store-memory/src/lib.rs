//! store-memory: the in-memory [`WeightStore`](mlpnas_core::WeightStore) of mlpnas.
//!
//! [`MemoryStore`] keeps the trained weights of every dense layer in a
//! `HashMap<BigramKey, LayerWeights>`: `get` and `put` are O(1) on average and nothing touches the
//! disk. It is the default store and the reference the store conformance suite is written against.
//!
//! It is built from [`MemoryStoreConfig`] (`[store]` with `type = "memory"` in a config file). The
//! store is lost when the process ends; to checkpoint it (e.g. next to the search journal) take a
//! [`MemoryStore::snapshot`] or [`MemoryStore::to_bytes`] and restore it with
//! [`MemoryStore::from_snapshot`] or [`MemoryStore::from_bytes`].

pub mod config;
pub mod memory;

pub use config::MemoryStoreConfig;
pub use memory::MemoryStore;
