//! The one weights format of mlpnas: [safetensors](https://github.com/huggingface/safetensors).
//!
//! Everything that writes weights goes through this module: the pending puts of a trial, the
//! in-memory store's checkpoint snapshot, each disk-store value, the REINFORCE policy's state
//! and an exported model. A file is a safetensors buffer
//! of little-endian `f32` tensors whose metadata holds `format` (what the file is, with a
//! version, e.g. `mlpnas/puts/1`) and whatever the kind needs besides tensors (bigram keys).
//! Any safetensors reader (Python's `safetensors`, PyTorch, NumPy) opens them.
//!
//! The metadata is stored as one safetensors metadata entry, [`META`], holding a JSON object
//! with sorted keys: safetensors keeps metadata in a hash map, whose order would make equal
//! contents give different bytes.
//!
//! Tensor names are zero-padded indices (`0000.kernel`), so the file's name order is the
//! sequence order.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use safetensors::tensor::{Dtype, SafeTensors, View};

use crate::arch::BigramKey;
use crate::data::{DataSplit, Dataset};
use crate::error::CodecError;
use crate::tensor::{HostTensor, LayerWeights};

/// The one safetensors metadata entry: a JSON object of this module's metadata.
pub const META: &str = "mlpnas";
/// Metadata key naming what a buffer holds.
pub const FORMAT: &str = "format";
/// `format` of a list of dense layers ([`encode_layers`]).
pub const LAYERS_FORMAT: &str = "mlpnas/layers/1";
/// `format` of a list of (bigram key, weights) pairs ([`encode_puts`]).
pub const PUTS_FORMAT: &str = "mlpnas/puts/1";

/// The metadata key of the checksum of a buffer's tensors (set on encode, checked and removed
/// on decode).
pub const SHA256: &str = "sha256";

/// A decoded buffer: its metadata and its tensors by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tensors {
    /// String metadata (always holds [`FORMAT`] for buffers written by mlpnas).
    pub metadata: BTreeMap<String, String>,
    /// Tensors by name.
    pub tensors: BTreeMap<String, HostTensor>,
}

impl Tensors {
    /// An empty set of kind `format`.
    pub fn new(format: &str) -> Self {
        let mut metadata = BTreeMap::new();
        metadata.insert(FORMAT.to_string(), format.to_string());
        Self { metadata, tensors: BTreeMap::new() }
    }

    /// The `format` metadata, if any.
    pub fn format(&self) -> Option<&str> {
        self.metadata.get(FORMAT).map(String::as_str)
    }

    /// Fails unless the buffer is of kind `format`.
    pub fn expect_format(&self, format: &str) -> Result<(), CodecError> {
        match self.format() {
            Some(f) if f == format => Ok(()),
            Some(f) => Err(CodecError(format!("holds {f:?}, expected {format:?}"))),
            None => Err(CodecError(format!("has no format tag, expected {format:?}"))),
        }
    }

    /// The tensor `name`, removed from the set.
    pub fn take(&mut self, name: &str) -> Result<HostTensor, CodecError> {
        self.tensors.remove(name).ok_or_else(|| CodecError(format!("tensor {name:?} is missing")))
    }

    /// The metadata entry `key`.
    pub fn meta(&self, key: &str) -> Result<&str, CodecError> {
        self.metadata.get(key).map(String::as_str).ok_or_else(|| CodecError(format!("metadata {key:?} is missing")))
    }

    /// The safetensors bytes.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        encode_views(self.tensors.iter().map(|(n, t)| (n.clone(), t)), &self.metadata)
    }

    /// Parses safetensors bytes (every tensor must be `f32`). A buffer that carries a checksum of
    /// its tensors ([`SHA256`], written by every mlpnas that has it) is checked against it, so an
    /// altered value is an error, never a silently different weight; one without (written
    /// before) is trusted.
    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let st = SafeTensors::deserialize(bytes).map_err(err)?;
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(err)?;
        let raw: BTreeMap<String, String> = header.metadata().clone().unwrap_or_default().into_iter().collect();
        let metadata = match raw.get(META) {
            Some(json) => serde_json::from_str(json).map_err(|e| CodecError(format!("metadata: {e}")))?,
            None => raw,
        };
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(CodecError(format!("tensor {name:?} is {:?}, expected F32", view.dtype())));
            }
            let data = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            tensors.insert(name, HostTensor { shape: view.shape().to_vec(), data });
        }
        let mut metadata = metadata;
        if let Some(expected) = metadata.remove(SHA256)
            && expected != tensors_digest(tensors.iter().map(|(n, t)| (n.as_str(), t)))
        {
            return Err(CodecError("its tensors do not match their checksum (the file was altered or damaged)".into()));
        }
        Ok(Self { metadata, tensors })
    }
}

/// A borrowed `f32` tensor as safetensors sees it: its bytes are made when the serializer asks
/// for them, one tensor at a time, so encoding holds the output buffer and one tensor's bytes,
/// never a second copy of everything.
struct F32View<'a>(&'a HostTensor);

impl View for F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.0.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.0.data.iter().flat_map(|v| v.to_le_bytes()).collect())
    }
    fn data_len(&self) -> usize {
        self.0.data.len() * 4
    }
}

/// Encodes borrowed tensors with `metadata`; each tensor must be consistent (shape and data
/// agree).
fn encode_views<'a>(
    tensors: impl IntoIterator<Item = (String, &'a HostTensor)>,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, CodecError> {
    let views = tensors
        .into_iter()
        .map(|(name, t)| {
            if t.shape.iter().product::<usize>() != t.data.len() {
                return Err(CodecError(format!(
                    "tensor {name:?}: shape {:?} and {} values disagree",
                    t.shape,
                    t.len()
                )));
            }
            Ok((name, F32View(t)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut metadata = metadata.clone();
    metadata.insert(SHA256.to_string(), tensors_digest(views.iter().map(|(n, v)| (n.as_str(), v.0))));
    let json = serde_json::to_string(&metadata).map_err(|e| CodecError(e.to_string()))?;
    let meta: HashMap<String, String> = HashMap::from([(META.to_string(), json)]);
    safetensors::serialize(views, Some(meta)).map_err(err)
}

/// The checksum of a buffer's tensors, in name order: each name, its shape and its values
/// (little-endian `f32`), SHA-256 as hex.
fn tensors_digest<'a>(tensors: impl IntoIterator<Item = (&'a str, &'a HostTensor)>) -> String {
    let mut sorted: Vec<(&str, &HostTensor)> = tensors.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    // Fed tensor by tensor, a block of values at a time: no second copy of the weights.
    let mut h = crate::digest::Hasher::default();
    let mut block = Vec::with_capacity(4096);
    for (name, t) in sorted {
        h.update(format!("{}:{}:{:?};", name.len(), name, t.shape).as_bytes());
        for chunk in t.data.chunks(1024) {
            block.clear();
            block.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
            h.update(&block);
        }
    }
    h.hex()
}

fn err(e: impl std::fmt::Display) -> CodecError {
    CodecError(format!("not a valid safetensors buffer: {e}"))
}

/// Whether `bytes` look like a safetensors buffer (8-byte little-endian header length, then a
/// JSON object): tells the current format from the older ones when reading old run directories.
pub fn is_safetensors(bytes: &[u8]) -> bool {
    if bytes.len() < 10 {
        return false;
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&bytes[..8]);
    let n = u64::from_le_bytes(n);
    n >= 2 && n <= (bytes.len() - 8) as u64 && bytes[8] == b'{'
}

fn index(i: usize) -> String {
    format!("{i:04}")
}

fn take_layer(t: &mut Tensors, prefix: &str) -> Result<LayerWeights, CodecError> {
    let w = LayerWeights { kernel: t.take(&format!("{prefix}.kernel"))?, bias: t.take(&format!("{prefix}.bias"))? };
    if !w.is_consistent() {
        return Err(CodecError(format!("layer {prefix}: inconsistent or non-finite weights")));
    }
    Ok(w)
}

/// The dense layers of one model, in order (format [`LAYERS_FORMAT`]; `extra` metadata beside).
pub fn encode_layers(layers: &[LayerWeights], extra: &[(&str, String)]) -> Result<Vec<u8>, CodecError> {
    let mut meta = Tensors::new(LAYERS_FORMAT).metadata;
    meta.insert("layers".into(), layers.len().to_string());
    for (k, v) in extra {
        meta.insert((*k).to_string(), v.clone());
    }
    let tensors = layers
        .iter()
        .enumerate()
        .flat_map(|(i, w)| [(format!("{}.kernel", index(i)), &w.kernel), (format!("{}.bias", index(i)), &w.bias)]);
    encode_views(tensors, &meta)
}

/// Reads what [`encode_layers`] wrote.
pub fn decode_layers(bytes: &[u8]) -> Result<Vec<LayerWeights>, CodecError> {
    Tensors::decode(bytes)?.into_layers()
}

impl Tensors {
    /// The layers of a buffer [`encode_layers`] wrote, once its metadata has been looked at
    /// (e.g. a store's key), so that it is parsed once.
    pub fn into_layers(mut self) -> Result<Vec<LayerWeights>, CodecError> {
        self.expect_format(LAYERS_FORMAT)?;
        let n: usize =
            self.meta("layers")?.parse().map_err(|_| CodecError("metadata \"layers\" is not a count".into()))?;
        let layers = (0..n).map(|i| take_layer(&mut self, &index(i))).collect::<Result<Vec<_>, _>>()?;
        if let Some(extra) = self.tensors.keys().next() {
            return Err(CodecError(format!("unexpected tensor {extra:?}")));
        }
        Ok(layers)
    }
}

/// Weights keyed by bigram, in order (format [`PUTS_FORMAT`]): a trial's store puts, or a
/// whole in-memory store. Each key is kept as JSON in the metadata under its index.
pub fn encode_puts<'a>(
    puts: impl IntoIterator<Item = (&'a BigramKey, &'a LayerWeights)>,
) -> Result<Vec<u8>, CodecError> {
    let puts: Vec<(&BigramKey, &LayerWeights)> = puts.into_iter().collect();
    let mut meta = Tensors::new(PUTS_FORMAT).metadata;
    meta.insert("puts".into(), puts.len().to_string());
    for (i, (k, _)) in puts.iter().enumerate() {
        let key = serde_json::to_string(k).map_err(|e| CodecError(e.to_string()))?;
        meta.insert(format!("key.{}", index(i)), key);
    }
    let tensors = puts
        .iter()
        .enumerate()
        .flat_map(|(i, (_, w))| [(format!("{}.kernel", index(i)), &w.kernel), (format!("{}.bias", index(i)), &w.bias)]);
    encode_views(tensors, &meta)
}

/// Reads what [`encode_puts`] wrote.
pub fn decode_puts(bytes: &[u8]) -> Result<Vec<(BigramKey, LayerWeights)>, CodecError> {
    let mut t = Tensors::decode(bytes)?;
    t.expect_format(PUTS_FORMAT)?;
    let n: usize = t.meta("puts")?.parse().map_err(|_| CodecError("metadata \"puts\" is not a count".into()))?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let key: BigramKey = serde_json::from_str(t.meta(&format!("key.{}", index(i)))?)
            .map_err(|e| CodecError(format!("key {i}: {e}")))?;
        out.push((key, take_layer(&mut t, &index(i))?));
    }
    Ok(out)
}

/// `format` of a trial's initial weights, some layers absent ([`encode_init`]).
pub const INIT_FORMAT: &str = "mlpnas/init/1";
/// `format` of a prepared data split ([`encode_split`]).
pub const SPLIT_FORMAT: &str = "mlpnas/split/1";

/// A trial's initial weights, one entry per dense layer, `None` where the layer starts fresh
/// (format [`INIT_FORMAT`]: the present layers as in [`encode_layers`], plus which they are).
pub fn encode_init(init: &[Option<LayerWeights>]) -> Result<Vec<u8>, CodecError> {
    let mut meta = Tensors::new(INIT_FORMAT).metadata;
    let present: Vec<&str> = init.iter().map(|w| if w.is_some() { "1" } else { "0" }).collect();
    meta.insert("present".into(), present.join(""));
    let tensors = init
        .iter()
        .enumerate()
        .filter_map(|(i, w)| w.as_ref().map(|w| (i, w)))
        .flat_map(|(i, w)| [(format!("{}.kernel", index(i)), &w.kernel), (format!("{}.bias", index(i)), &w.bias)]);
    encode_views(tensors, &meta)
}

/// Reads what [`encode_init`] wrote.
pub fn decode_init(bytes: &[u8]) -> Result<Vec<Option<LayerWeights>>, CodecError> {
    let mut t = Tensors::decode(bytes)?;
    t.expect_format(INIT_FORMAT)?;
    let present = t.meta("present")?.to_string();
    let out = present
        .chars()
        .enumerate()
        .map(|(i, c)| match c {
            '1' => take_layer(&mut t, &index(i)).map(Some),
            '0' => Ok(None),
            _ => Err(CodecError(format!("metadata \"present\" holds {c:?}"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(extra) = t.tensors.keys().next() {
        return Err(CodecError(format!("unexpected tensor {extra:?}")));
    }
    Ok(out)
}

/// A prepared data split (format [`SPLIT_FORMAT`]): per part, `PART.x` (`[rows, features]`) and
/// `PART.y` (labels as `f32`, exact below 2^24; a regression's targets as they are, with no
/// class names); the names and the sample shape as JSON
/// metadata. Bit-exact, so a worker trains on exactly what the coordinator prepared.
pub fn encode_split(split: &DataSplit) -> Result<Vec<u8>, CodecError> {
    let mut meta = Tensors::new(SPLIT_FORMAT).metadata;
    meta.insert("sample_shape".into(), json(&split.train.sample_shape)?);
    meta.insert("class_names".into(), json(&split.train.class_names)?);
    meta.insert("feature_names".into(), json(&split.train.feature_names)?);
    let mut parts = vec![("train", &split.train), ("valid", &split.valid)];
    if let Some(t) = &split.test {
        parts.push(("test", t));
    }
    let mut owned = Vec::new();
    for (name, d) in parts {
        if d.sample_shape != split.train.sample_shape || d.class_names != split.train.class_names {
            return Err(CodecError(format!("part {name} differs from the training part in shape or classes")));
        }
        owned.push((
            format!("{name}.x"),
            HostTensor { shape: vec![d.n_rows(), d.n_features()], data: d.features.clone() },
        ));
        owned.push((
            format!("{name}.y"),
            HostTensor {
                shape: vec![d.n_rows()],
                data: if d.is_regression() { d.targets.clone() } else { d.labels.iter().map(|&l| l as f32).collect() },
            },
        ));
    }
    encode_views(owned.iter().map(|(n, t)| (n.clone(), t)), &meta)
}

/// Reads what [`encode_split`] wrote.
pub fn decode_split(bytes: &[u8]) -> Result<DataSplit, CodecError> {
    let mut t = Tensors::decode(bytes)?;
    t.expect_format(SPLIT_FORMAT)?;
    fn parse<T: serde::de::DeserializeOwned>(t: &Tensors, key: &str) -> Result<T, CodecError> {
        serde_json::from_str(t.meta(key)?).map_err(|e| CodecError(format!("metadata {key:?}: {e}")))
    }
    let sample_shape: Vec<usize> = parse(&t, "sample_shape")?;
    let class_names: Vec<String> = parse(&t, "class_names")?;
    let feature_names: Vec<String> = parse(&t, "feature_names")?;
    let mut part = |name: &str| -> Result<Option<Dataset>, CodecError> {
        if !t.tensors.contains_key(&format!("{name}.x")) {
            return Ok(None);
        }
        let x = t.take(&format!("{name}.x"))?;
        let y = t.take(&format!("{name}.y"))?;
        let regression = class_names.is_empty();
        let d = Dataset {
            features: x.data,
            sample_shape: sample_shape.clone(),
            labels: if regression { Vec::new() } else { y.data.iter().map(|&v| v as u32).collect() },
            targets: if regression { y.data } else { Vec::new() },
            class_names: class_names.clone(),
            feature_names: feature_names.clone(),
        };
        d.check().map_err(|e| CodecError(format!("part {name}: {e}")))?;
        Ok(Some(d))
    };
    let train = part("train")?.ok_or_else(|| CodecError("tensor \"train.x\" is missing".into()))?;
    let valid = part("valid")?.ok_or_else(|| CodecError("tensor \"valid.x\" is missing".into()))?;
    let test = part("test")?;
    Ok(DataSplit { train, valid, test })
}

/// A metadata value as JSON.
fn json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String, CodecError> {
    serde_json::to_string(v).map_err(|e| CodecError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::{Activation, LayerKey, OutputKind};

    fn w(i: usize, o: usize, v: f32) -> LayerWeights {
        LayerWeights {
            kernel: HostTensor { shape: vec![i, o], data: (0..i * o).map(|k| v + k as f32 * 0.5).collect() },
            bias: HostTensor { shape: vec![o], data: vec![-v; o] },
        }
    }

    #[test]
    fn an_altered_value_fails_its_checksum_and_old_buffers_are_trusted() {
        let layers = vec![w(3, 2, 1.0), w(2, 1, -0.5)];
        let bytes = encode_layers(&layers, &[]).expect("encode");
        assert_eq!(decode_layers(&bytes).expect("decode"), layers);
        // One value changed in place (the data follow the header): refused.
        let mut bad = bytes.clone();
        let at = bad.len() - 2;
        bad[at] ^= 0x40;
        let e = decode_layers(&bad).expect_err("altered").to_string();
        assert!(e.contains("checksum"), "{e}");
        // The checksum is not part of what callers see.
        let b = Tensors::decode(&bytes).expect("decode");
        assert!(!b.metadata.contains_key(SHA256), "{:?}", b.metadata);
        // Written before checksums (no `sha256`): read as it is, altered or not.
        let mut old = Tensors::new("x");
        old.tensors.insert("t".into(), HostTensor { shape: vec![2], data: vec![1.0, 2.0] });
        let views = vec![("t".to_string(), F32View(&old.tensors["t"]))];
        let json = serde_json::to_string(&old.metadata).expect("json");
        let raw = safetensors::serialize(views, Some(HashMap::from([(META.to_string(), json)]))).expect("raw");
        assert_eq!(Tensors::decode(&raw).expect("old").tensors["t"].data, vec![1.0, 2.0]);
    }

    #[test]
    fn init_and_split_round_trip_bit_exactly() {
        let init = vec![None, Some(w(3, 4, 0.25)), None, Some(w(4, 2, -1e-9))];
        assert_eq!(decode_init(&encode_init(&init).expect("encode")).expect("decode"), init);
        assert_eq!(decode_init(&encode_init(&[]).expect("encode")).expect("decode"), Vec::new());
        fn part(rows: usize, v: f32) -> Dataset {
            Dataset {
                features: (0..rows * 2).map(|k| v + k as f32 * 1e-7).collect(),
                sample_shape: vec![2],
                labels: (0..rows as u32).map(|r| r % 3).collect(),
                targets: Vec::new(),
                class_names: vec!["a".into(), "b,\"c".into(), "z".into()],
                feature_names: vec!["f1".into(), "f2".into()],
            }
        }
        // A regression: its targets as they are, no class names.
        fn values(rows: usize, v: f32) -> Dataset {
            Dataset {
                labels: Vec::new(),
                targets: (0..rows).map(|r| v * 1e3 + r as f32 * 0.1).collect(),
                class_names: Vec::new(),
                ..part(rows, v)
            }
        }
        for part in [part as fn(usize, f32) -> Dataset, values] {
            for test in [None, Some(part(4, -3.0))] {
                let split = DataSplit { train: part(7, 0.1), valid: part(3, 1.5), test };
                assert_eq!(decode_split(&encode_split(&split).expect("encode")).expect("decode"), split);
            }
        }
        // A buffer of another kind is refused, naming both kinds.
        let e = decode_split(&encode_init(&init).expect("encode")).expect_err("wrong kind");
        assert!(e.to_string().contains("mlpnas/init/1"), "{e}");
    }

    #[test]
    fn layers_round_trip_bit_exactly_in_order() {
        // More than 10 layers: the order must not be the text order of "10" < "2".
        let layers: Vec<LayerWeights> = (0..12).map(|i| w(i + 1, 3, i as f32 * 1e-7 + 0.1)).collect();
        let bytes = encode_layers(&layers, &[("architecture", "x".into())]).expect("encode");
        assert!(is_safetensors(&bytes));
        assert_eq!(decode_layers(&bytes).expect("decode"), layers);
        let t = Tensors::decode(&bytes).expect("decode");
        assert_eq!(t.meta("architecture").expect("meta"), "x");
    }

    #[test]
    fn puts_round_trip_with_their_keys() {
        let k = |u| BigramKey {
            fold: 0,
            prev: LayerKey::Input(4),
            cur: LayerKey::Dense { units: u, activation: Activation::Relu },
        };
        let out = BigramKey {
            fold: 0,
            prev: LayerKey::Dense { units: 8, activation: Activation::Elu },
            cur: LayerKey::Output { units: 3, output: OutputKind::Softmax },
        };
        let puts = vec![(k(8), w(4, 8, 1.0)), (out, w(8, 3, 2.0)), (k(16), w(4, 16, f32::MIN_POSITIVE))];
        let bytes = encode_puts(puts.iter().map(|(k, w)| (k, w))).expect("encode");
        assert_eq!(decode_puts(&bytes).expect("decode"), puts);
        // Equal contents, equal bytes (the metadata order is fixed).
        for _ in 0..8 {
            assert_eq!(encode_puts(puts.iter().map(|(k, w)| (k, w))).expect("encode"), bytes);
        }
        assert_eq!(decode_puts(&encode_puts([]).expect("encode")).expect("decode"), vec![]);
    }

    #[test]
    fn wrong_kind_truncation_and_garbage_are_errors() {
        let bytes = encode_layers(&[w(2, 2, 1.0)], &[]).expect("encode");
        assert!(decode_puts(&bytes).expect_err("kind").to_string().contains("mlpnas/layers/1"));
        assert!(decode_layers(&bytes[..bytes.len() - 3]).is_err());
        assert!(decode_layers(b"[{\"not\": 1}]").is_err());
        assert!(!is_safetensors(b"[{\"not\": 1}]"));
    }
}
