//! store-disk: the on-disk [`WeightStore`](mlpnas_core::WeightStore) of mlpnas.
//!
//! [`DiskStore`] keeps the trained weights of every dense layer in a [redb] file (a pure-Rust,
//! ACID, copy-on-write B-tree store), so that one-shot weights outlive the process: a resumed or
//! later search reopens the file and finds every weight flushed before.
//!
//! It is built from [`DiskStoreConfig`] (`[store]` with `type = "disk"`, an optional `path`,
//! default `weights.redb` in the run directory, and an optional `max_bytes` cap).
//!
//! # Design
//!
//! - **Buffered writes, one transaction per flush.** `put` only updates memory (a buffer that
//!   `get` reads first); `flush` writes every buffered put, eviction and last-use time in one
//!   write transaction, committed with an fsync. Dropping the store without `flush` loses the
//!   buffered puts and nothing else: redb never exposes a half-written transaction.
//! - **Checksummed values.** Each value records its dtype (`f32`), both shapes, the data and an
//!   FNV-1a 64 checksum over the key and all of that ([`codec`]). A value that does not match is
//!   [`StoreError::Corrupt`](mlpnas_core::StoreError::Corrupt) naming the file, never a panic and
//!   never wrong weights; every page checksum of the file is also verified when it is opened.
//! - **One writer.** redb locks the whole file while it is open; a second opener, in this
//!   process or another, gets [`StoreError::Locked`](mlpnas_core::StoreError::Locked).
//! - **Optional LRU cap.** With `max_bytes`, the values (4 bytes per f32) never add up to more
//!   than the cap: a `put` evicts the least recently used keys (a use is a `get` hit or a `put`).
//!   Last-use times are stored with each key, so the order and the evictions survive a reopen.

pub mod codec;
pub mod config;
pub mod disk;

pub use config::DiskStoreConfig;
pub use disk::DiskStore;
