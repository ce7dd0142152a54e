//! The saved state of a [`ReinforceController`](crate::ReinforceController), in the one weights
//! format of mlpnas (`mlpnas_core::codec`, safetensors): exact (every `f32` bit is kept) and
//! compact (about 12 bytes per parameter: value and Adam's two moments).
//!
//! Layout: the metadata `format` = [`FORMAT`] and `header` = JSON ([`Header`]: sizes, counters,
//! baseline, the exact RNG position, the parameter shapes); tensors `param.NAME`, `adam_m.NAME`
//! and `adam_v.NAME` for every parameter. States of release 0.1.0 (the magic line
//! `mlpnas-reinforce\n`, a `u32` version, a `u32` header length, the JSON header, then the raw
//! `f32`s of every parameter, first moment and second moment) are still read. Anything else
//! (wrong format, sizes, missing or extra tensors) is a [`ControllerError::State`].

use mlpnas_core::codec::Tensors;
use mlpnas_core::{ControllerError, HostTensor};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::adam::Adam;
use crate::policy::{Dims, HostParam, Params, idx};

/// `format` of a state.
pub(crate) const FORMAT: &str = "mlpnas/reinforce-state/1";
/// First bytes of every state of release 0.1.0.
const MAGIC: &[u8] = b"mlpnas-reinforce\n";
/// Format version of the 0.1.0 layout.
const VERSION: u32 = 1;

/// Everything but the float arrays.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    vocab: usize,
    embedding: usize,
    hidden: usize,
    /// `(name, shape)` of each parameter tensor.
    params: Vec<(String, [usize; 2])>,
    adam_step: u64,
    updates: u64,
    baseline: Option<f64>,
    rng: ChaCha8Rng,
}

/// The learned and random state of the controller (its config is not state).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct State {
    /// The policy's weights.
    pub params: Params,
    /// The optimizer.
    pub adam: Adam,
    /// Controller updates done.
    pub updates: u64,
    /// The moving-average baseline, once set.
    pub baseline: Option<f64>,
    /// The sampling RNG.
    pub rng: ChaCha8Rng,
}

fn bad(reason: impl std::fmt::Display) -> ControllerError {
    ControllerError::State(format!("not a valid REINFORCE controller state: {reason}"))
}

/// Reads `n` little-endian `f32`s from `bytes` at `*pos`.
fn floats(bytes: &[u8], pos: &mut usize, n: usize) -> Result<Vec<f32>, ControllerError> {
    let end = n.checked_mul(4).and_then(|len| pos.checked_add(len)).filter(|&e| e <= bytes.len());
    let Some(end) = end else {
        return Err(bad(format!("truncated ({} bytes, {n} more floats expected at byte {})", bytes.len(), *pos)));
    };
    let out = bytes[*pos..end].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    *pos = end;
    Ok(out)
}

/// The parts of a state of the 0.1.0 layout.
type Parts = (Header, Vec<Vec<f32>>, Vec<Vec<f32>>, Vec<Vec<f32>>);

/// Reads a state of the 0.1.0 layout.
fn legacy(bytes: &[u8]) -> Result<Parts, ControllerError> {
    if !bytes.starts_with(MAGIC) {
        return Err(bad(format!(
            "{} bytes that are neither a {FORMAT} buffer nor start with {:?}",
            bytes.len(),
            String::from_utf8_lossy(MAGIC).trim()
        )));
    }
    let mut pos = MAGIC.len();
    let version = u32_at(bytes, pos)?;
    if version != VERSION {
        return Err(bad(format!("format version {version}, this build reads version {VERSION}")));
    }
    let len = u32_at(bytes, pos + 4)? as usize;
    pos += 8;
    let json = bytes.get(pos..pos + len).ok_or_else(|| bad("truncated header"))?;
    pos += len;
    let h: Header = serde_json::from_slice(json).map_err(|e| bad(format!("header: {e}")))?;
    let sizes: Vec<usize> = h.params.iter().map(|(_, s)| s[0] * s[1]).collect();
    let read_all = |pos: &mut usize| -> Result<Vec<Vec<f32>>, ControllerError> {
        sizes.iter().map(|&n| floats(bytes, pos, n)).collect()
    };
    let values = read_all(&mut pos)?;
    let m = read_all(&mut pos)?;
    let v = read_all(&mut pos)?;
    if pos != bytes.len() {
        return Err(bad(format!("{} trailing bytes", bytes.len() - pos)));
    }
    Ok((h, values, m, v))
}

fn u32_at(bytes: &[u8], pos: usize) -> Result<u32, ControllerError> {
    match bytes.get(pos..pos + 4) {
        Some(&[a, b, c, d]) => Ok(u32::from_le_bytes([a, b, c, d])),
        _ => Err(bad(format!("truncated header ({} bytes)", bytes.len()))),
    }
}

impl State {
    /// Serializes the state.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ControllerError> {
        let d = self.params.dims;
        let header = Header {
            vocab: d.vocab,
            embedding: d.embedding,
            hidden: d.hidden,
            params: self.params.tensors.iter().zip(idx::NAMES).map(|(p, n)| (n.to_string(), p.shape)).collect(),
            adam_step: self.adam.step,
            updates: self.updates,
            baseline: self.baseline,
            rng: self.rng.clone(),
        };
        let json =
            serde_json::to_string(&header).map_err(|e| ControllerError::State(format!("cannot serialize: {e}")))?;
        let mut t = Tensors::new(FORMAT);
        t.metadata.insert("header".into(), json);
        for (i, (p, name)) in self.params.tensors.iter().zip(idx::NAMES).enumerate() {
            let shape = p.shape.to_vec();
            t.tensors.insert(format!("param.{name}"), HostTensor { shape: shape.clone(), data: p.data.clone() });
            t.tensors
                .insert(format!("adam_m.{name}"), HostTensor { shape: shape.clone(), data: self.adam.m[i].clone() });
            t.tensors.insert(format!("adam_v.{name}"), HostTensor { shape, data: self.adam.v[i].clone() });
        }
        t.encode().map_err(|e| ControllerError::State(format!("cannot serialize: {e}")))
    }

    /// Parses a state written by [`State::to_bytes`] (or by release 0.1.0) for a policy of
    /// sizes `expect`.
    pub fn from_bytes(bytes: &[u8], expect: Dims) -> Result<Self, ControllerError> {
        let (h, values, m, v) = if mlpnas_core::codec::is_safetensors(bytes) {
            let mut t = Tensors::decode(bytes).map_err(bad)?;
            t.expect_format(FORMAT).map_err(bad)?;
            let h: Header =
                serde_json::from_str(t.meta("header").map_err(bad)?).map_err(|e| bad(format!("header: {e}")))?;
            let mut take = |prefix: &str| -> Result<Vec<Vec<f32>>, ControllerError> {
                h.params
                    .iter()
                    .map(|(name, shape)| {
                        let x = t.take(&format!("{prefix}.{name}")).map_err(bad)?;
                        if x.shape != shape.to_vec() {
                            return Err(bad(format!("{prefix}.{name} has shape {:?}, expected {shape:?}", x.shape)));
                        }
                        Ok(x.data)
                    })
                    .collect()
            };
            let (values, m, v) = (take("param")?, take("adam_m")?, take("adam_v")?);
            if let Some(extra) = t.tensors.keys().next() {
                return Err(bad(format!("unexpected tensor {extra:?}")));
            }
            (h, values, m, v)
        } else {
            legacy(bytes)?
        };
        let got = Dims { vocab: h.vocab, embedding: h.embedding, hidden: h.hidden };
        if got != expect {
            return Err(ControllerError::State(format!(
                "the state is for a policy with vocabulary {}, embedding {}, hidden {}; this controller has {}, {}, {}",
                got.vocab, got.embedding, got.hidden, expect.vocab, expect.embedding, expect.hidden
            )));
        }
        let shapes = expect.shapes();
        let expected: Vec<(String, [usize; 2])> =
            idx::NAMES.iter().zip(shapes).map(|(n, s)| (n.to_string(), s)).collect();
        if h.params != expected {
            return Err(bad(format!("parameters {:?}, expected {expected:?}", h.params)));
        }
        if values.iter().chain(&m).chain(&v).flatten().any(|x| !x.is_finite()) {
            return Err(bad("non-finite weights"));
        }
        let tensors = values.into_iter().zip(shapes).map(|(data, shape)| HostParam { shape, data }).collect();
        Ok(Self {
            params: Params { dims: expect, tensors },
            adam: Adam { step: h.adam_step, m, v },
            updates: h.updates,
            baseline: h.baseline,
            rng: h.rng,
        })
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    /// `s` as release 0.1.0 wrote it.
    fn legacy_bytes(s: &State) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let d = s.params.dims;
        let header = Header {
            vocab: d.vocab,
            embedding: d.embedding,
            hidden: d.hidden,
            params: s.params.tensors.iter().zip(idx::NAMES).map(|(p, n)| (n.to_string(), p.shape)).collect(),
            adam_step: s.adam.step,
            updates: s.updates,
            baseline: s.baseline,
            rng: s.rng.clone(),
        };
        let json = serde_json::to_vec(&header)?;
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&u32::try_from(json.len())?.to_le_bytes());
        out.extend_from_slice(&json);
        for a in s.params.tensors.iter().map(|p| &p.data).chain(&s.adam.m).chain(&s.adam.v) {
            for x in a {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        Ok(out)
    }

    #[test]
    fn round_trips_and_refuses_garbage() -> Result<(), Box<dyn std::error::Error>> {
        let dims = Dims { vocab: 7, embedding: 3, hidden: 5 };
        let params = Params::init(dims, &mut ChaCha8Rng::seed_from_u64(1));
        let mut adam = Adam::new(&params.tensors);
        adam.step = 3;
        adam.m[2][1] = 0.25;
        let s = State { params, adam, updates: 2, baseline: Some(0.4), rng: ChaCha8Rng::seed_from_u64(5) };
        let bytes = s.to_bytes()?;
        assert_eq!(State::from_bytes(&bytes, dims)?, s);

        let mut wrong = Vec::new();
        let mut truncated = bytes.clone();
        truncated.pop();
        wrong.push(truncated);
        let mut trailing = bytes.clone();
        trailing.push(0);
        wrong.push(trailing);
        // A state of release 0.1.0 still loads; its version is checked.
        let old = legacy_bytes(&s)?;
        assert_eq!(State::from_bytes(&old, dims)?, s);
        let mut version = old.clone();
        version[MAGIC.len()] = 9;
        wrong.push(version);
        let mut old_trailing = old;
        old_trailing.push(0);
        wrong.push(old_trailing);
        wrong.push(b"mlpnas-reinforce\n".to_vec());
        wrong.push(b"{\"rng\": 17}".to_vec());
        wrong.push(Vec::new());
        for w in &wrong {
            assert!(matches!(State::from_bytes(w, dims), Err(ControllerError::State(_))), "{} bytes accepted", w.len());
        }
        let e = State::from_bytes(&bytes, Dims { hidden: 6, ..dims }).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("hidden 5") && e.contains("6"), "{e}");
        Ok(())
    }
}
