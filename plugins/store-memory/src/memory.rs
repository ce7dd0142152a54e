//! The in-memory store: a hash map from bigram key to layer weights.

use std::collections::HashMap;

use mlpnas_core::{BigramKey, HostTensor, LayerWeights, StoreError, WeightStore, codec};

/// What [`MemoryStore::from_bytes`] reports as the path of a corrupt snapshot.
const SNAPSHOT_PATH: &str = "<memory store snapshot>";

/// An in-memory [`WeightStore`]: last write wins, nothing is persisted.
///
/// `put` refuses weights that are inconsistent (shape and data length disagree, or a value is
/// NaN or infinite) or whose shapes do not fit the key (kernel `[prev.units(), cur.units()]`,
/// bias `[cur.units()]`), so a hit from `get` always fits the layer it is handed to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryStore {
    map: HashMap<BigramKey, LayerWeights>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every entry, sorted by key (a deterministic order, whatever the hash map's).
    pub fn snapshot(&self) -> Vec<(BigramKey, LayerWeights)> {
        let mut entries: Vec<(BigramKey, LayerWeights)> = self.map.iter().map(|(k, w)| (*k, w.clone())).collect();
        entries.sort_unstable_by_key(|e| e.0);
        entries
    }

    /// A store holding `entries`, checked like `put`; when a key repeats, the last entry wins.
    pub fn from_snapshot(entries: Vec<(BigramKey, LayerWeights)>) -> Result<Self, StoreError> {
        let mut store = Self::new();
        for (key, weights) in entries {
            store.put(key, weights)?;
        }
        Ok(store)
    }

    /// The snapshot as bytes, in the one weights format (safetensors, `mlpnas_core::codec`),
    /// keys sorted so that equal stores give equal bytes: 4 bytes per weight, encoded straight
    /// from the map one tensor at a time (the checkpoint's peak memory is the store plus one
    /// buffer of its size).
    pub fn to_bytes(&self) -> Result<Vec<u8>, StoreError> {
        let mut keys: Vec<&BigramKey> = self.map.keys().collect();
        keys.sort_unstable();
        codec::encode_puts(keys.into_iter().map(|k| (k, &self.map[k])))
            .map_err(|e| StoreError::Other(format!("cannot encode the snapshot: {e}")))
    }

    /// Restores a store written by [`MemoryStore::to_bytes`] (or by earlier versions: their
    /// binary format after [`MAGIC`], or JSON); malformed bytes or entries that `put` would
    /// refuse give [`StoreError::Corrupt`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt { path: SNAPSHOT_PATH.to_string(), reason };
        let entries: Vec<(BigramKey, LayerWeights)> = if codec::is_safetensors(bytes) {
            codec::decode_puts(bytes).map_err(|r| corrupt(format!("not a memory store snapshot: {r}")))?
        } else {
            match bytes.strip_prefix(MAGIC) {
                Some(body) => decode(body).map_err(|r| corrupt(format!("not a memory store snapshot: {r}")))?,
                None => {
                    serde_json::from_slice(bytes).map_err(|e| corrupt(format!("not a memory store snapshot: {e}")))?
                }
            }
        };
        Self::from_snapshot(entries).map_err(|e| corrupt(e.to_string()))
    }
}

/// First bytes of a binary snapshot of earlier releases (still read).
const MAGIC: &[u8] = b"mlpnas-memory-store/2\n";

/// Reads the entries of a binary snapshot (after [`MAGIC`]).
fn decode(mut b: &[u8]) -> Result<Vec<(BigramKey, LayerWeights)>, String> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if b.len() < n {
            return Err("truncated".into());
        }
        let (head, rest) = b.split_at(n);
        *b = rest;
        Ok(head)
    }
    fn u32_(b: &mut &[u8]) -> Result<u32, String> {
        let mut a = [0u8; 4];
        a.copy_from_slice(take(b, 4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn u64_(b: &mut &[u8]) -> Result<u64, String> {
        let mut a = [0u8; 8];
        a.copy_from_slice(take(b, 8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn tensor(b: &mut &[u8]) -> Result<HostTensor, String> {
        let ndim = u32_(b)? as usize;
        if ndim > 8 {
            return Err(format!("a tensor of rank {ndim}"));
        }
        let shape = (0..ndim).map(|_| u64_(b).map(|d| d as usize)).collect::<Result<Vec<_>, _>>()?;
        let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or("shape overflows")?;
        let raw = take(b, n.checked_mul(4).ok_or("shape overflows")?)?;
        let data = raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        Ok(HostTensor { shape, data })
    }
    let count = u64_(&mut b)?;
    let mut entries = Vec::new();
    for _ in 0..count {
        let len = u32_(&mut b)? as usize;
        let key: BigramKey = serde_json::from_slice(take(&mut b, len)?).map_err(|e| format!("bad key: {e}"))?;
        let kernel = tensor(&mut b)?;
        let bias = tensor(&mut b)?;
        entries.push((key, LayerWeights { kernel, bias }));
    }
    if !b.is_empty() {
        return Err(format!("{} bytes after the last entry", b.len()));
    }
    Ok(entries)
}

impl WeightStore for MemoryStore {
    fn get(&self, key: &BigramKey) -> Result<Option<LayerWeights>, StoreError> {
        Ok(self.map.get(key).cloned())
    }

    fn put(&mut self, key: BigramKey, weights: LayerWeights) -> Result<(), StoreError> {
        if let Some(reason) = weights.refusal(&key) {
            return Err(StoreError::Invalid { key: key.to_string(), reason });
        }
        self.map.insert(key, weights);
        Ok(())
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    fn snapshot(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.to_bytes().map(Some)
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), StoreError> {
        *self = Self::from_bytes(snapshot)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use mlpnas_core::{Activation, HostTensor, LayerKey, OutputKind};

    use super::*;

    fn key(input: u32, units: u32) -> BigramKey {
        BigramKey {
            fold: 0,
            prev: LayerKey::Input(input),
            cur: LayerKey::Dense { units, activation: Activation::Relu },
        }
    }

    fn weights(input: usize, output: usize, fill: f32) -> LayerWeights {
        LayerWeights {
            kernel: HostTensor { shape: vec![input, output], data: vec![fill; input * output] },
            bias: HostTensor { shape: vec![output], data: vec![fill; output] },
        }
    }

    #[test]
    fn put_get_replace() -> Result<(), StoreError> {
        let mut s = MemoryStore::new();
        assert!(s.is_empty());
        assert_eq!(s.get(&key(3, 2))?, None);
        s.put(key(3, 2), weights(3, 2, 1.0))?;
        s.put(key(3, 2), weights(3, 2, 2.0))?;
        assert_eq!(s.get(&key(3, 2))?, Some(weights(3, 2, 2.0)));
        assert_eq!(s.len(), 1);
        s.flush()?;
        Ok(())
    }

    #[test]
    fn refuses_bad_weights() {
        let mut s = MemoryStore::new();
        let mut short = weights(3, 2, 1.0);
        short.kernel.data.pop();
        let mut nan = weights(3, 2, 1.0);
        nan.bias.data[1] = f32::NAN;
        let mut inf = weights(3, 2, 1.0);
        inf.kernel.data[0] = f32::NEG_INFINITY;
        for (w, needle) in [
            (short, "holds 6 values but 5"),
            (nan, "bias holds a NaN"),
            (inf, "kernel holds a NaN"),
            (weights(2, 3, 1.0), "do not fit"),
        ] {
            match s.put(key(3, 2), w) {
                Err(StoreError::Invalid { key, reason }) => {
                    assert_eq!(key, "input3>2:relu");
                    assert!(reason.contains(needle), "{reason}");
                }
                other => panic!("expected Invalid, got {other:?}"),
            }
        }
        assert!(s.is_empty());
    }

    #[test]
    fn snapshot_is_sorted_and_round_trips() -> Result<(), StoreError> {
        let mut s = MemoryStore::new();
        let out = BigramKey {
            fold: 0,
            prev: LayerKey::Dense { units: 2, activation: Activation::Relu },
            cur: LayerKey::Output { units: 1, output: OutputKind::Sigmoid },
        };
        s.put(out, weights(2, 1, -0.25))?;
        s.put(key(5, 2), weights(5, 2, 0.1))?;
        s.put(key(3, 2), weights(3, 2, 1.0e-7))?;
        let snap = s.snapshot();
        let keys: Vec<BigramKey> = snap.iter().map(|(k, _)| *k).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(MemoryStore::from_snapshot(snap)?, s);
        let bytes = s.to_bytes()?;
        let back = MemoryStore::from_bytes(&bytes)?;
        assert_eq!(back, s);
        assert_eq!(back.to_bytes()?, bytes);
        Ok(())
    }

    #[test]
    fn from_bytes_reports_corruption() -> Result<(), StoreError> {
        assert!(matches!(MemoryStore::from_bytes(b"not json"), Err(StoreError::Corrupt { .. })));
        let mut s = MemoryStore::new();
        s.put(key(3, 2), weights(3, 2, 1.0))?;
        let bytes = s.to_bytes()?;
        // Truncated anywhere, or with bytes appended: refused.
        for cut in [3, bytes.len() / 2, bytes.len() - 1] {
            assert!(matches!(MemoryStore::from_bytes(&bytes[..cut]), Err(StoreError::Corrupt { .. })), "cut {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(MemoryStore::from_bytes(&longer), Err(StoreError::Corrupt { .. })));
        // The earlier JSON format still loads, and a shape that does not fit is refused like a bad put.
        let json = serde_json::to_string(&s.snapshot()).map_err(|e| StoreError::Other(e.to_string()))?;
        assert_eq!(MemoryStore::from_bytes(json.as_bytes())?, s);
        let bad = json.replacen("[3,2]", "[4,2]", 1);
        match MemoryStore::from_bytes(bad.as_bytes()) {
            Err(StoreError::Corrupt { reason, .. }) => assert!(reason.contains("holds 8 values"), "{reason}"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn binary_snapshot_is_four_bytes_per_weight() -> Result<(), StoreError> {
        let mut s = MemoryStore::new();
        s.put(key(64, 32), weights(64, 32, 0.123_456_78))?;
        let bytes = s.to_bytes()?;
        let weights_bytes = 4 * (64 * 32 + 32);
        assert!(bytes.len() < weights_bytes + 512, "{} bytes for {weights_bytes} bytes of weights", bytes.len());
        assert_eq!(MemoryStore::from_bytes(&bytes)?, s);
        Ok(())
    }
}
