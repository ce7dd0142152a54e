//! The on-disk store: a redb file of checksummed values, puts buffered until `flush`.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use mlpnas_core::{BigramKey, LayerWeights, StoreError, WeightStore};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::codec;

/// Key text -> encoded value ([`codec::encode`]).
const WEIGHTS: TableDefinition<&str, &[u8]> = TableDefinition::new("weights");
/// Key text -> (last-use tick, value bytes counted against the cap).
const META: TableDefinition<&str, (u64, u64)> = TableDefinition::new("meta");
/// What the file is: `format` -> [`FORMAT`]; `id` -> the identity drawn when it was created.
const INFO: TableDefinition<&str, &str> = TableDefinition::new("info");
/// The `format` entry of a weight store file.
const FORMAT: &str = "mlpnas-weight-store/1";
/// redb's page cache (its default is 1 GiB): the search reads a few values per trial, and the
/// trainer next to it needs the memory more.
const CACHE_BYTES: usize = 64 << 20;

/// Size and last use of one stored key.
#[derive(Debug, Clone, Copy)]
struct Entry {
    tick: u64,
    bytes: u64,
}

/// Every live key (flushed or buffered) with its last use, oldest first for eviction.
#[derive(Debug, Default)]
struct Index {
    entries: HashMap<String, Entry>,
    by_use: BTreeMap<u64, String>,
    clock: u64,
    bytes: u64,
    /// Keys whose last use changed since the last flush.
    touched: HashSet<String>,
}

impl Index {
    /// Records a use of `key` (a get hit or a put) if it is stored.
    fn touch(&mut self, key: &str) {
        if let Some(e) = self.entries.get_mut(key) {
            self.by_use.remove(&e.tick);
            self.clock += 1;
            e.tick = self.clock;
            self.by_use.insert(self.clock, key.to_string());
            self.touched.insert(key.to_string());
        }
    }

    /// Stores `key` with `bytes` of values, as just used.
    fn insert(&mut self, key: &str, bytes: u64) {
        self.remove(key);
        self.clock += 1;
        self.entries.insert(key.to_string(), Entry { tick: self.clock, bytes });
        self.by_use.insert(self.clock, key.to_string());
        self.bytes += bytes;
        self.touched.insert(key.to_string());
    }

    fn remove(&mut self, key: &str) -> Option<Entry> {
        let e = self.entries.remove(key)?;
        self.by_use.remove(&e.tick);
        self.bytes = self.bytes.saturating_sub(e.bytes);
        self.touched.remove(key);
        Some(e)
    }

    /// Removes least recently used keys until the values fit `cap`; returns them.
    fn evict_to(&mut self, cap: u64) -> Vec<String> {
        let mut evicted = Vec::new();
        while self.bytes > cap {
            let Some((_, key)) = self.by_use.pop_first() else { break };
            if let Some(e) = self.entries.remove(&key) {
                self.bytes = self.bytes.saturating_sub(e.bytes);
            }
            self.touched.remove(&key);
            evicted.push(key);
        }
        evicted
    }
}

/// A [`WeightStore`] in a redb file: last write wins, puts are durable once flushed.
///
/// `put` checks the weights like the memory store (consistent, finite, fitting the key) and
/// buffers them; `get` reads the buffer, then the file, verifying each value's checksum, shapes
/// and fit. `flush` commits every buffered change in one transaction. The file stays locked
/// while the store is alive. See the [crate docs](crate) for the design.
pub struct DiskStore {
    path: PathBuf,
    db: Database,
    max_bytes: Option<u64>,
    index: RefCell<Index>,
    /// Puts not yet flushed, by key text.
    pending: HashMap<String, LayerWeights>,
    /// Keys evicted since the last flush, to delete from the file.
    removed: HashSet<String>,
    /// The identity drawn when the file was created (absent in files written before identities).
    id: Option<String>,
}

impl fmt::Debug for DiskStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskStore")
            .field("path", &self.path)
            .field("max_bytes", &self.max_bytes)
            .field("len", &self.len())
            .field("unflushed", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl DiskStore {
    /// Opens the store file at `path`, creating it (and its directory) if needed, with an
    /// optional cap on the stored bytes. Every page checksum is verified on opening; a file that
    /// is not a weight store, or is truncated or damaged, is [`StoreError::Corrupt`], and a file
    /// another store holds open is [`StoreError::Locked`].
    pub fn open(path: &Path, max_bytes: Option<u64>) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| StoreError::Io { path: dir.display().to_string(), source })?;
        }
        let db = redb::Builder::new()
            .set_check_integrity_on_open(true)
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| open_error(path, e.into()))?;
        let id = init_or_check_format(&db, path)?;
        let mut index = Index::default();
        {
            let txn = db.begin_read().at(path)?;
            let meta = txn.open_table(META).at(path)?;
            let weights = txn.open_table(WEIGHTS).at(path)?;
            for row in meta.iter().at(path)? {
                let (k, v) = row.at(path)?;
                let (tick, bytes) = v.value();
                let key = k.value().to_string();
                if index.by_use.insert(tick, key.clone()).is_some() {
                    return Err(corrupt(path, format!("two keys share the last-use time {tick}")));
                }
                index.entries.insert(key, Entry { tick, bytes });
                index.bytes = index.bytes.saturating_add(bytes);
                index.clock = index.clock.max(tick);
            }
            let n_values = weights.len().at(path)?;
            if n_values != index.entries.len() as u64 {
                return Err(corrupt(
                    path,
                    format!("{n_values} values but {} entries in the key index", index.entries.len()),
                ));
            }
        }
        let mut store = Self {
            path: path.to_path_buf(),
            db,
            max_bytes,
            index: RefCell::new(index),
            pending: HashMap::new(),
            removed: HashSet::new(),
            id,
        };
        // A smaller cap than the file was written with: evict now, delete at the next flush.
        store.enforce_cap();
        Ok(store)
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cap on stored bytes, if any.
    pub fn max_bytes(&self) -> Option<u64> {
        self.max_bytes
    }

    /// Bytes of the values stored (4 per f32), flushed or not: never more than the cap.
    pub fn stored_bytes(&self) -> u64 {
        self.index.borrow().bytes
    }

    /// Number of puts not yet flushed.
    pub fn unflushed(&self) -> usize {
        self.pending.len()
    }

    fn enforce_cap(&mut self) {
        if let Some(cap) = self.max_bytes {
            for key in self.index.get_mut().evict_to(cap) {
                self.pending.remove(&key);
                self.removed.insert(key);
            }
        }
    }

    fn read(&self, key: &BigramKey, text: &str) -> Result<Option<LayerWeights>, StoreError> {
        let path = &self.path;
        let txn = self.db.begin_read().at(path)?;
        let table = txn.open_table(WEIGHTS).at(path)?;
        let Some(guard) = table.get(text).at(path)? else {
            return Err(corrupt(&self.path, format!("the key index lists {key} but no value is stored for it")));
        };
        let weights = codec::decode(text, guard.value())
            .map_err(|reason| corrupt(&self.path, format!("value of {key}: {reason}")))?;
        if let Some(reason) = weights.refusal(key) {
            return Err(corrupt(&self.path, format!("value of {key}: {reason}")));
        }
        Ok(Some(weights))
    }
}

impl WeightStore for DiskStore {
    fn get(&self, key: &BigramKey) -> Result<Option<LayerWeights>, StoreError> {
        let text = codec::key_text(key);
        if let Some(w) = self.pending.get(&text) {
            self.index.borrow_mut().touch(&text);
            return Ok(Some(w.clone()));
        }
        if !self.index.borrow().entries.contains_key(&text) {
            return Ok(None);
        }
        let found = self.read(key, &text)?;
        self.index.borrow_mut().touch(&text);
        Ok(found)
    }

    fn put(&mut self, key: BigramKey, weights: LayerWeights) -> Result<(), StoreError> {
        if let Some(reason) = weights.refusal(&key) {
            return Err(StoreError::Invalid { key: key.to_string(), reason });
        }
        let text = codec::key_text(&key);
        self.index.get_mut().insert(&text, weights.byte_len() as u64);
        self.removed.remove(&text);
        self.pending.insert(text, weights);
        self.enforce_cap();
        Ok(())
    }

    fn len(&self) -> usize {
        self.index.borrow().entries.len()
    }

    fn evicts(&self) -> bool {
        self.max_bytes.is_some()
    }

    fn identity(&self) -> Option<String> {
        self.id.clone()
    }

    /// Commits every buffered put, eviction and last use in one write transaction (with an
    /// fsync). On error nothing is committed and the buffer is kept, so a later flush retries.
    fn flush(&mut self) -> Result<(), StoreError> {
        let index = self.index.get_mut();
        if self.pending.is_empty() && self.removed.is_empty() && index.touched.is_empty() {
            return Ok(());
        }
        let path = &self.path;
        let txn = self.db.begin_write().at(path)?;
        {
            let mut weights = txn.open_table(WEIGHTS).at(path)?;
            let mut meta = txn.open_table(META).at(path)?;
            for key in &self.removed {
                weights.remove(key.as_str()).at(path)?;
                meta.remove(key.as_str()).at(path)?;
            }
            for (key, w) in &self.pending {
                let bytes = codec::encode(key, w).map_err(|reason| StoreError::Invalid { key: key.clone(), reason })?;
                weights.insert(key.as_str(), bytes.as_slice()).at(path)?;
            }
            for key in index.touched.iter().chain(self.pending.keys()) {
                if let Some(e) = index.entries.get(key) {
                    meta.insert(key.as_str(), (e.tick, e.bytes)).at(path)?;
                }
            }
        }
        txn.commit().at(path)?;
        self.pending.clear();
        self.removed.clear();
        index.touched.clear();
        Ok(())
    }

    /// `None`: the file is the checkpoint (see [`WeightStore::snapshot`]).
    fn snapshot(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }
}

/// Maps redb results to store errors naming the file.
trait At<T> {
    /// The error as a [`StoreError`] naming `path`.
    fn at(self, path: &Path) -> Result<T, StoreError>;
}

impl<T, E: Into<redb::Error>> At<T> for Result<T, E> {
    fn at(self, path: &Path) -> Result<T, StoreError> {
        self.map_err(|e| db_error(path, e.into()))
    }
}

/// Creates the tables of an empty file with a new identity, or checks that a file holding
/// tables is a weight store; returns the file's identity (none in files older than identities).
fn init_or_check_format(db: &Database, path: &Path) -> Result<Option<String>, StoreError> {
    {
        let txn = db.begin_read().at(path)?;
        match txn.open_table(INFO) {
            Ok(info) => {
                return match info.get("format").at(path)? {
                    Some(f) if f.value() == FORMAT => Ok(info.get("id").at(path)?.map(|v| v.value().to_string())),
                    Some(f) => {
                        Err(corrupt(path, format!("unsupported format {:?} (this build reads {FORMAT:?})", f.value())))
                    }
                    None => Err(corrupt(path, "not an mlpnas weight store (no format entry)")),
                };
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {
                if txn.list_tables().at(path)?.next().is_some() {
                    return Err(corrupt(path, "a redb file, but not an mlpnas weight store"));
                }
            }
            Err(redb::TableError::TableTypeMismatch { .. }) => {
                return Err(corrupt(path, "a redb file, but not an mlpnas weight store"));
            }
            Err(e) => return Err(db_error(path, e.into())),
        }
    }
    let id = new_identity(path);
    let txn = db.begin_write().at(path)?;
    {
        let mut info = txn.open_table(INFO).at(path)?;
        info.insert("format", FORMAT).at(path)?;
        info.insert("id", id.as_str()).at(path)?;
        txn.open_table(WEIGHTS).at(path)?;
        txn.open_table(META).at(path)?;
    }
    txn.commit().at(path)?;
    Ok(Some(id))
}

/// A name no other store file gets: the digest of the creation time, the process, the path and
/// the address of a fresh allocation (not a secret; it only tells stores apart).
fn new_identity(path: &Path) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let probe = Box::new(0u8);
    let seed = format!("{nanos}/{}/{}/{:p}", std::process::id(), path.display(), &*probe);
    mlpnas_core::digest::sha256_hex(seed.as_bytes())[..32].to_string()
}

fn corrupt(path: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt { path: path.display().to_string(), reason: reason.into() }
}

/// A redb error as a store error naming the file.
fn db_error(path: &Path, e: redb::Error) -> StoreError {
    let p = path.display().to_string();
    match e {
        redb::Error::DatabaseAlreadyOpen | redb::Error::LockProtocolMismatch => StoreError::Locked { path: p },
        redb::Error::Io(source) => StoreError::Io { path: p, source },
        redb::Error::Corrupted(reason) => StoreError::Corrupt { path: p, reason },
        redb::Error::TableTypeMismatch { .. } | redb::Error::TableIsMultimap(_) => {
            StoreError::Corrupt { path: p, reason: "a redb file, but not an mlpnas weight store".into() }
        }
        other => StoreError::Other(format!("{p}: weight store: {other}")),
    }
}

/// An error opening the file: as [`db_error`], with damage to the file's structure reported as such.
fn open_error(path: &Path, e: redb::Error) -> StoreError {
    match e {
        redb::Error::Io(source)
            if matches!(source.kind(), std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData) =>
        {
            corrupt(path, format!("the file is truncated or not a weight store ({source})"))
        }
        redb::Error::UpgradeRequired(v) => {
            corrupt(path, format!("written in redb file format {v}, which this build cannot read"))
        }
        other => db_error(path, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_evicts_least_recently_used() {
        let mut ix = Index::default();
        ix.insert("a", 10);
        ix.insert("b", 10);
        ix.touch("a");
        ix.insert("c", 10);
        assert_eq!(ix.evict_to(20), vec!["b".to_string()]);
        assert_eq!(ix.bytes, 20);
        ix.insert("a", 5);
        assert_eq!(ix.bytes, 15);
        assert_eq!(ix.evict_to(0), vec!["c".to_string(), "a".to_string()]);
        assert!(ix.entries.is_empty() && ix.by_use.is_empty());
    }
}
