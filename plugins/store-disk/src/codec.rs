//! The byte forms of keys and values in the store file, and the value checksum.
//!
//! A key is a short text that names both layers, e.g. `in11>dense64:relu` or
//! `dense64:relu>out3:softmax` (unlike [`BigramKey`]'s display form, it tells a hidden sigmoid
//! layer from a sigmoid output layer).
//!
//! A value is the weights in the one weights format of mlpnas (`mlpnas_core::codec`, safetensors,
//! one layer, the key text in its metadata) followed by a checksum, little-endian:
//!
//! ```text
//! safetensors bytes | FNV-1a 64 of (key, 0xFF, the safetensors bytes) u64
//! ```
//!
//! Stores written by release 0.1.0 hold values of an older layout, still read:
//!
//! ```text
//! b"MLPW" | version u8 (1) | dtype length u8 | dtype ("f32")
//! | kernel rank u8 | kernel dims u64... | bias rank u8 | bias dims u64...
//! | kernel data f32... | bias data f32... | FNV-1a 64 of (key, 0xFF, every byte before it) u64
//! ```
//!
//! The checksum covers the key, so a value found under another key is caught too. FNV-1a
//! detects every change confined to one byte: each step (xor a byte, multiply by an odd prime)
//! is a bijection of the state, so two inputs that differ in one byte differ in every state after it.

use mlpnas_core::{BigramKey, HostTensor, LayerKey, LayerWeights, codec};

/// First bytes of every value of the 0.1.0 layout.
pub const MAGIC: &[u8; 4] = b"MLPW";
/// Version of the value layout.
pub const VERSION: u8 = 1;
/// The one element type stored.
pub const DTYPE: &str = "f32";
/// Most dimensions a stored tensor may claim (weights are rank 1 or 2; this bounds a corrupt header).
const MAX_RANK: u8 = 8;

/// FNV-1a, 64-bit, over `parts` one after the other.
pub fn fnv1a64(parts: &[&[u8]]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    }
    h
}

fn layer_text(layer: &LayerKey) -> String {
    match layer {
        LayerKey::Input(d) => format!("in{d}"),
        LayerKey::Dense { units, activation } => format!("dense{units}:{activation}"),
        LayerKey::Output { units, output } => format!("out{units}:{}", output.name()),
    }
}

/// The key text of `key` in the file (one-to-one: distinct keys give distinct texts).
pub fn key_text(key: &BigramKey) -> String {
    let bigram = format!("{}>{}", layer_text(&key.prev), layer_text(&key.cur));
    // A resampled evaluation's namespace (none without resampling: the texts of before).
    if key.fold > 0 { format!("fold{}:{bigram}", key.fold) } else { bigram }
}

fn checksum(key: &str, body: &[u8]) -> u64 {
    fnv1a64(&[key.as_bytes(), &[0xFF], body])
}

/// The stored form of `weights` under the key text `key`.
pub fn encode(key: &str, weights: &LayerWeights) -> Result<Vec<u8>, String> {
    let mut out =
        codec::encode_layers(std::slice::from_ref(weights), &[("key", key.to_string())]).map_err(|e| e.to_string())?;
    let sum = checksum(key, &out);
    out.extend_from_slice(&sum.to_le_bytes());
    Ok(out)
}

/// Reads bytes off the front of a value, with the reason when it runs out.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.rest.len() < n {
            return Err(format!("value ends inside its {what}"));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }

    fn shape(&mut self, what: &str) -> Result<Vec<usize>, String> {
        let rank = self.u8(what)?;
        if rank > MAX_RANK {
            return Err(format!("{what} claims rank {rank}"));
        }
        (0..rank)
            .map(|_| {
                let mut b = [0u8; 8];
                b.copy_from_slice(self.take(8, what)?);
                usize::try_from(u64::from_le_bytes(b)).map_err(|_| format!("{what} has a dimension too large"))
            })
            .collect()
    }

    fn f32s(&mut self, shape: &[usize], what: &str) -> Result<Vec<f32>, String> {
        let n = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .and_then(|n| n.checked_mul(4).map(|bytes| (n, bytes)))
            .ok_or_else(|| format!("{what} shape {shape:?} is too large"))?;
        let bytes = self.take(n.1, what)?;
        Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }
}

/// The weights stored under the key text `key`, or why `bytes` are not a sound value for it.
pub fn decode(key: &str, bytes: &[u8]) -> Result<LayerWeights, String> {
    if bytes.len() < MAGIC.len() + 8 {
        return Err(format!("value of {} bytes is too short", bytes.len()));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    let mut stored = [0u8; 8];
    stored.copy_from_slice(sum);
    let stored = u64::from_le_bytes(stored);
    let computed = checksum(key, body);
    if stored != computed {
        return Err(format!("checksum mismatch (stored {stored:016x}, computed {computed:016x})"));
    }
    if !body.starts_with(MAGIC) {
        // Parsed once: this runs for every dense layer of every trial.
        let t = codec::Tensors::decode(body).map_err(|e| e.to_string())?;
        let stored_key = t.meta("key").map_err(|e| e.to_string())?;
        if stored_key != key {
            return Err(format!("value of key {stored_key:?} found under {key:?}"));
        }
        return match <[LayerWeights; 1]>::try_from(t.into_layers().map_err(|e| e.to_string())?) {
            Ok([w]) => Ok(w),
            Err(v) => Err(format!("value holds {} layers, expected 1", v.len())),
        };
    }
    legacy(body)
}

/// A value body of the 0.1.0 layout (after its checksum was verified).
fn legacy(body: &[u8]) -> Result<LayerWeights, String> {
    let mut r = Reader { rest: body };
    if r.take(MAGIC.len(), "header")? != MAGIC {
        return Err("value does not start with the weight-value marker".into());
    }
    let version = r.u8("header")?;
    if version != VERSION {
        return Err(format!("value layout version {version} is not supported (expected {VERSION})"));
    }
    let dtype_len = usize::from(r.u8("header")?);
    let dtype = r.take(dtype_len, "dtype")?;
    if dtype != DTYPE.as_bytes() {
        return Err(format!("dtype {:?} is not supported (expected {DTYPE})", String::from_utf8_lossy(dtype)));
    }
    let kernel_shape = r.shape("kernel shape")?;
    let bias_shape = r.shape("bias shape")?;
    let kernel = r.f32s(&kernel_shape, "kernel data")?;
    let bias = r.f32s(&bias_shape, "bias data")?;
    if !r.rest.is_empty() {
        return Err(format!("{} unexpected bytes after the data", r.rest.len()));
    }
    Ok(LayerWeights {
        kernel: HostTensor { shape: kernel_shape, data: kernel },
        bias: HostTensor { shape: bias_shape, data: bias },
    })
}

#[cfg(test)]
mod tests {
    use mlpnas_core::{Activation, OutputKind};

    use super::*;

    fn weights() -> LayerWeights {
        LayerWeights {
            kernel: HostTensor {
                shape: vec![2, 3],
                data: vec![-0.0, 1.0e-40, f32::MIN_POSITIVE, f32::MAX, f32::MIN, 1.0 / 3.0],
            },
            bias: HostTensor { shape: vec![3], data: vec![0.0, -1.5, 7.0] },
        }
    }

    fn bits(w: &LayerWeights) -> Vec<u32> {
        w.kernel.data.iter().chain(&w.bias.data).map(|v| v.to_bits()).collect()
    }

    #[test]
    fn fnv1a64_matches_reference_vectors() {
        // From the FNV reference test suite.
        assert_eq!(fnv1a64(&[b""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(&[b"foobar"]), 0x8594_4171_f739_67e8);
        assert_eq!(fnv1a64(&[b"foo", b"bar"]), fnv1a64(&[b"foobar"]));
    }

    /// A value of the 0.1.0 layout, as that release wrote it.
    fn encode_legacy(key: &str, w: &LayerWeights) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.push(VERSION);
        out.push(DTYPE.len() as u8);
        out.extend_from_slice(DTYPE.as_bytes());
        for t in [&w.kernel, &w.bias] {
            out.push(t.shape.len() as u8);
            for &d in &t.shape {
                out.extend_from_slice(&(d as u64).to_le_bytes());
            }
        }
        for v in w.kernel.data.iter().chain(&w.bias.data) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let sum = checksum(key, &out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    #[test]
    fn values_of_release_0_1_0_still_decode() -> Result<(), String> {
        let w = weights();
        let back = decode("k", &encode_legacy("k", &w))?;
        assert_eq!(bits(&back), bits(&w));
        assert!(decode("other", &encode_legacy("k", &w)).is_err());
        Ok(())
    }

    #[test]
    fn values_are_safetensors_with_a_checksum() -> Result<(), String> {
        let bytes = encode("k", &weights())?;
        let body = &bytes[..bytes.len() - 8];
        assert!(codec::is_safetensors(body));
        assert_eq!(codec::decode_layers(body).map_err(|e| e.to_string())?.len(), 1);
        Ok(())
    }

    #[test]
    fn round_trips_bit_for_bit() -> Result<(), String> {
        let w = weights();
        let back = decode("k", &encode("k", &w)?)?;
        assert_eq!(back.kernel.shape, w.kernel.shape);
        assert_eq!(back.bias.shape, w.bias.shape);
        assert_eq!(bits(&back), bits(&w));
        Ok(())
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let bytes = encode("k", &weights()).expect("encode");
        for i in 0..bytes.len() {
            for mask in [0x01u8, 0x80, 0xFF] {
                let mut bad = bytes.clone();
                bad[i] ^= mask;
                let err = decode("k", &bad).expect_err("a flipped byte must not decode");
                assert!(err.contains("checksum mismatch"), "byte {i}: {err}");
            }
        }
    }

    #[test]
    fn truncation_and_other_keys_are_caught() {
        let bytes = encode("k", &weights()).expect("encode");
        for n in [0, 5, 11, bytes.len() - 1] {
            assert!(decode("k", &bytes[..n]).is_err(), "{n} bytes decoded");
        }
        let err = decode("other", &bytes).expect_err("the checksum covers the key");
        assert!(err.contains("checksum mismatch"), "{err}");
    }

    #[test]
    fn key_texts_are_distinct() {
        let hidden = LayerKey::Dense { units: 1, activation: Activation::Sigmoid };
        let output = LayerKey::Output { units: 1, output: OutputKind::Sigmoid };
        let a = BigramKey { fold: 0, prev: LayerKey::Input(4), cur: hidden };
        let b = BigramKey { fold: 0, prev: LayerKey::Input(4), cur: output };
        assert_eq!(key_text(&a), "in4>dense1:sigmoid");
        assert_eq!(key_text(&b), "in4>out1:sigmoid");
        assert_ne!(
            key_text(&BigramKey { fold: 0, prev: hidden, cur: output }),
            key_text(&BigramKey { fold: 0, prev: output, cur: hidden })
        );
        assert_eq!(key_text(&BigramKey { fold: 2, ..a }), "fold2:in4>dense1:sigmoid");
    }
}
