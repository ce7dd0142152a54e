//! Decoded architectures: layers and the training hyperparameters a candidate carries, their
//! text form (`64:relu,dropout,32:elu,3:softmax|lr=0.003,bs=64`) and the one-shot bigram keys of
//! their dense layers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::SpaceError;
use crate::hyper::Training;

/// Activation of a hidden dense layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// Logistic sigmoid.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// Rectified linear unit.
    Relu,
    /// Exponential linear unit (alpha = 1).
    Elu,
}

impl Activation {
    /// Every activation, in vocabulary order.
    pub const ALL: [Activation; 4] = [Self::Sigmoid, Self::Tanh, Self::Relu, Self::Elu];

    /// The lowercase name used in configs and architecture strings.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sigmoid => "sigmoid",
            Self::Tanh => "tanh",
            Self::Relu => "relu",
            Self::Elu => "elu",
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("unknown activation {s:?} (known: sigmoid, tanh, relu, elu)"))
    }
}

/// The final layer's kind: softmax over 3+ classes, one sigmoid unit for 2 classes, or one
/// linear unit for a regression (a task of "0 classes", as [`Dataset`](crate::Dataset) and
/// trainers count it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// `classes` units, softmax, categorical cross-entropy.
    Softmax,
    /// One unit, sigmoid, binary cross-entropy.
    Sigmoid,
    /// One unit, no activation, squared error (or Huber) on the standardized target.
    Linear,
}

impl OutputKind {
    /// The output layer for a task with `n_classes` classes (0: a regression): (units, kind).
    pub fn for_classes(n_classes: usize) -> (u32, OutputKind) {
        match n_classes {
            0 => (1, OutputKind::Linear),
            1 | 2 => (1, OutputKind::Sigmoid),
            n => (n as u32, OutputKind::Softmax),
        }
    }

    /// Its name in architecture texts (`3:softmax`, `1:sigmoid`, `1:linear`).
    pub fn name(self) -> &'static str {
        match self {
            OutputKind::Softmax => "softmax",
            OutputKind::Sigmoid => "sigmoid",
            OutputKind::Linear => "linear",
        }
    }
}

/// One layer of a decoded architecture.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Layer {
    /// Hidden dense layer.
    Dense {
        /// Width.
        units: u32,
        /// Activation.
        activation: Activation,
    },
    /// Dropout with the given drop probability.
    Dropout {
        /// Probability of zeroing a unit during training.
        rate: f64,
    },
    /// The final layer.
    Output {
        /// Width (number of classes, or 1 for binary).
        units: u32,
        /// Softmax or sigmoid.
        output: OutputKind,
    },
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layer::Dense { units, activation } => write!(f, "{units}:{activation}"),
            Layer::Dropout { .. } => f.write_str("dropout"),
            Layer::Output { units, output } => write!(f, "{units}:{}", output.name()),
        }
    }
}

/// A decoded architecture: hidden layers then exactly one output layer, for a given input width,
/// and the training hyperparameters the candidate carries (none: the trainer's settings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Architecture {
    /// Width of the (flattened) input.
    pub input_dim: usize,
    /// Layers in order; the last is [`Layer::Output`].
    pub layers: Vec<Layer>,
    /// Training hyperparameters chosen by the search (its dropout rate is already that of every
    /// [`Layer::Dropout`]); not part of any bigram key.
    #[serde(default, skip_serializing_if = "Training::is_empty")]
    pub training: Training,
}

impl Architecture {
    /// The dense layers (hidden and output) in order, with their input width:
    /// `(in, out, layer)`. Dropout layers are skipped.
    pub fn dense_shapes(&self) -> Vec<(usize, usize, Layer)> {
        let mut prev = self.input_dim;
        let mut out = Vec::new();
        for l in &self.layers {
            let units = match *l {
                Layer::Dense { units, .. } | Layer::Output { units, .. } => units as usize,
                Layer::Dropout { .. } => continue,
            };
            out.push((prev, units, *l));
            prev = units;
        }
        out
    }

    /// The one-shot key of each dense layer, in order (see [`BigramKey`]).
    pub fn bigram_keys(&self) -> Vec<BigramKey> {
        self.bigram_keys_in(0)
    }

    /// The keys of a search that scores each candidate on `evaluations` resampled splits (folds
    /// or repeated holdouts): each evaluation's keys in their own namespace (`fold` 1, 2, ...;
    /// one evaluation: [`Architecture::bigram_keys`]), evaluation after evaluation, so that an
    /// evaluation only ever reads weights trained on its own training rows.
    pub fn resampled_keys(&self, evaluations: usize) -> Vec<BigramKey> {
        if evaluations <= 1 {
            return self.bigram_keys();
        }
        (1..=evaluations as u32).flat_map(|e| self.bigram_keys_in(e)).collect()
    }

    /// [`Architecture::bigram_keys`] in namespace `fold` (0: a search without resampling).
    pub fn bigram_keys_in(&self, fold: u32) -> Vec<BigramKey> {
        let mut prev = LayerKey::Input(self.input_dim as u32);
        let mut keys = Vec::new();
        for l in &self.layers {
            let cur = match *l {
                Layer::Dense { units, activation } => LayerKey::Dense { units, activation },
                Layer::Output { units, output } => LayerKey::Output { units, output },
                Layer::Dropout { .. } => continue,
            };
            keys.push(BigramKey { fold, prev, cur });
            prev = cur;
        }
        keys
    }

    /// The number of classes its output layer is for (2 for one sigmoid unit; 0 for a linear
    /// unit (a regression) or without an output layer).
    pub fn n_classes(&self) -> usize {
        match self.layers.last() {
            Some(Layer::Output { units: 1, output: OutputKind::Sigmoid }) => 2,
            Some(Layer::Output { output: OutputKind::Linear, .. }) => 0,
            Some(Layer::Output { units, .. }) => *units as usize,
            _ => 0,
        }
    }

    /// Number of trainable parameters (kernels and biases of every dense layer).
    pub fn param_count(&self) -> usize {
        self.dense_shapes().iter().map(|(i, o, _)| i * o + o).sum()
    }

    /// Parses an architecture as the journal writes it, output layer included (`...,3:softmax`,
    /// `...,1:sigmoid` for two classes, `...,1:linear` for a regression), training settings
    /// too (`|lr=0.003`): the number of classes is read from that layer.
    /// Dropout rates are not part of the layers' text (0 here, unless `dropout=` is given).
    pub fn parse_journaled(text: &str, input_dim: usize) -> Result<Self, SpaceError> {
        let layers = text.split_once('|').map_or(text, |(l, _)| l);
        let last = layers.rsplit(',').next().unwrap_or_default().trim();
        let n_classes = match last.split_once(':') {
            Some(("1", "sigmoid")) => Some(2),
            Some(("1", "linear")) => Some(0),
            Some((units, "softmax")) => units.parse().ok().filter(|&n: &usize| n > 2),
            _ => None,
        }
        .map_or_else(
            || Err(SpaceError::Parse { text: text.to_string(), reason: format!("{last:?} is not an output layer") }),
            Ok,
        )?;
        Self::parse(text, input_dim, n_classes, 0.0)
    }

    /// Parses `64:relu,dropout,32:elu[,3:softmax][|lr=0.003,bs=64]`. Without an explicit output
    /// layer the one for `n_classes` is appended; `dropout_rate` is the rate of every `dropout`
    /// token, unless the training settings name one (`dropout=0.3`).
    pub fn parse(text: &str, input_dim: usize, n_classes: usize, dropout_rate: f64) -> Result<Self, SpaceError> {
        let err = |reason: String| SpaceError::Parse { text: text.to_string(), reason };
        let (layers_text, training) = match text.split_once('|') {
            Some((l, t)) => (l, Training::parse(t).map_err(err)?),
            None => (text, Training::default()),
        };
        let dropout_rate = training.dropout.unwrap_or(dropout_rate);
        let (out_units, out_kind) = OutputKind::for_classes(n_classes);
        let mut layers = Vec::new();
        let parts: Vec<&str> = layers_text.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
        for (i, part) in parts.iter().enumerate() {
            if *part == "dropout" {
                layers.push(Layer::Dropout { rate: dropout_rate });
                continue;
            }
            let (u, a) = part
                .split_once(':')
                .ok_or_else(|| err(format!("layer {part:?} is neither `dropout` nor `UNITS:ACTIVATION`")))?;
            let units: u32 = u.parse().map_err(|_| err(format!("{u:?} is not a number of units")))?;
            if units == 0 {
                return Err(err("a layer needs at least one unit".into()));
            }
            let is_last = i + 1 == parts.len();
            if a == "softmax"
                || a == "linear"
                || (a == "sigmoid" && is_last && units == out_units && out_kind == OutputKind::Sigmoid)
            {
                if !is_last {
                    return Err(err(format!("output layer {part:?} must be last")));
                }
                let kind = match a {
                    "softmax" => OutputKind::Softmax,
                    "linear" => OutputKind::Linear,
                    _ => OutputKind::Sigmoid,
                };
                if units != out_units || kind != out_kind {
                    let task = if n_classes == 0 { "a regression".to_string() } else { format!("{n_classes} classes") };
                    return Err(err(format!(
                        "output layer {part:?} does not fit {task} (expected {out_units}:{})",
                        out_kind.name()
                    )));
                }
                layers.push(Layer::Output { units, output: kind });
                continue;
            }
            let activation: Activation = a.parse().map_err(err)?;
            layers.push(Layer::Dense { units, activation });
        }
        if !matches!(layers.last(), Some(Layer::Output { .. })) {
            layers.push(Layer::Output { units: out_units, output: out_kind });
        }
        if matches!(layers.first(), Some(Layer::Dropout { .. })) {
            return Err(err("dropout cannot be the first layer".into()));
        }
        if layers.windows(2).any(|w| matches!((w[0], w[1]), (Layer::Dropout { .. }, Layer::Dropout { .. }))) {
            return Err(err("dropout cannot follow dropout".into()));
        }
        Ok(Self { input_dim, layers, training })
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.layers.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{l}")?;
        }
        if !self.training.is_empty() {
            write!(f, "|{}", self.training)?;
        }
        Ok(())
    }
}

/// One side of a bigram key: what a dense layer is, or the network input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LayerKey {
    /// The network input, with its (flattened) width.
    Input(u32),
    /// A hidden dense layer.
    Dense {
        /// Width.
        units: u32,
        /// Activation.
        activation: Activation,
    },
    /// The output layer.
    Output {
        /// Width.
        units: u32,
        /// Softmax or sigmoid.
        output: OutputKind,
    },
}

impl LayerKey {
    /// Output width of the layer (input width for [`LayerKey::Input`]).
    pub fn units(&self) -> usize {
        match *self {
            LayerKey::Input(d) => d as usize,
            LayerKey::Dense { units, .. } | LayerKey::Output { units, .. } => units as usize,
        }
    }
}

impl fmt::Display for LayerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerKey::Input(d) => write!(f, "input{d}"),
            LayerKey::Dense { units, activation } => write!(f, "{units}:{activation}"),
            LayerKey::Output { units, output } => {
                write!(f, "{units}:{}", if *output == OutputKind::Softmax { "softmax" } else { "sigmoid" })
            }
        }
    }
}

/// The one-shot sharing key of a dense layer: (previous dense layer or input, this layer).
///
/// Dropout is skipped when looking for the previous layer. A stored kernel for a key always has
/// shape `[prev.units(), cur.units()]`, so a hit always fits the layer it is handed to. A search
/// that scores candidates on resampled splits keeps each split's weights apart (`fold`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BigramKey {
    /// The resampled evaluation (fold or repeat, from 1) whose training rows the weights were
    /// trained on; 0 without resampling (not written then: keys read as before).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fold: u32,
    /// The previous dense layer, or the input.
    pub prev: LayerKey,
    /// This layer.
    pub cur: LayerKey,
}

impl BigramKey {
    /// Kernel shape `[in, out]` of a layer with this key.
    pub fn kernel_shape(&self) -> [usize; 2] {
        [self.prev.units(), self.cur.units()]
    }
}

impl fmt::Display for BigramKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.fold > 0 {
            write!(f, "fold{}:", self.fold)?;
        }
        write!(f, "{}>{}", self.prev, self.cur)
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_display_round_trip() {
        let a = Architecture::parse("64:relu,dropout,32:elu", 11, 3, 0.2).expect("parses");
        assert_eq!(a.to_string(), "64:relu,dropout,32:elu,3:softmax");
        let b = Architecture::parse(&a.to_string(), 11, 3, 0.2).expect("parses");
        assert_eq!(a, b);
        assert_eq!(a.param_count(), 11 * 64 + 64 + 64 * 32 + 32 + 32 * 3 + 3);
    }

    #[test]
    fn training_settings_round_trip_and_set_dropout_rates() {
        let a = Architecture::parse("64:relu,dropout,3:softmax|lr=0.003,bs=64,dropout=0.4", 5, 3, 0.2).expect("parses");
        assert_eq!(a.to_string(), "64:relu,dropout,3:softmax|lr=0.003,bs=64,dropout=0.4");
        assert_eq!(a.layers[1], Layer::Dropout { rate: 0.4 });
        assert_eq!(a.training.batch_size, Some(64));
        let b = Architecture::parse_journaled(&a.to_string(), 5).expect("parses");
        assert_eq!(a, b);
        assert_eq!(a.bigram_keys(), Architecture::parse("64:relu,dropout", 5, 3, 0.2).expect("plain").bigram_keys());
        let e = Architecture::parse("8:relu|lr=0", 4, 3, 0.2).expect_err("bad setting").to_string();
        assert!(e.contains("positive"), "{e}");
    }

    #[test]
    fn binary_output_is_one_sigmoid() {
        let a = Architecture::parse("8:tanh", 4, 2, 0.2).expect("parses");
        assert_eq!(a.to_string(), "8:tanh,1:sigmoid");
        // A trailing sigmoid hidden layer of another width is a hidden layer.
        let b = Architecture::parse("8:sigmoid", 4, 2, 0.2).expect("parses");
        assert_eq!(b.to_string(), "8:sigmoid,1:sigmoid");
    }

    #[test]
    fn parse_errors_say_why() {
        for (text, needle) in [
            ("dropout,8:relu", "first"),
            ("8:relu,dropout,dropout", "follow"),
            ("8:swish", "unknown activation"),
            ("x:relu", "number of units"),
            ("3:softmax,8:relu", "must be last"),
            ("4:softmax", "does not fit"),
        ] {
            let e = Architecture::parse(text, 4, 3, 0.2).expect_err(text).to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn journaled_text_gives_the_same_keys() {
        let a = Architecture::parse("64:relu,dropout,32:elu", 11, 3, 0.2).expect("parses");
        let b = Architecture::parse_journaled(&a.to_string(), 11).expect("parses");
        assert_eq!(a.bigram_keys(), b.bigram_keys());
        assert_eq!(b.n_classes(), 3);
        let two = Architecture::parse_journaled("8:tanh,1:sigmoid", 4).expect("binary");
        assert_eq!(two.n_classes(), 2);
        assert_eq!(two.bigram_keys()[1].to_string(), "8:tanh>1:sigmoid");
        assert!(Architecture::parse_journaled("8:tanh", 4).is_err());
        assert!(Architecture::parse_journaled("8:tanh,2:softmax", 4).is_err());
    }

    #[test]
    fn bigram_keys_skip_dropout() {
        let a = Architecture::parse("64:relu,dropout,32:elu", 11, 3, 0.2).expect("parses");
        let keys: Vec<String> = a.bigram_keys().iter().map(ToString::to_string).collect();
        assert_eq!(keys, ["input11>64:relu", "64:relu>32:elu", "32:elu>3:softmax"]);
        assert_eq!(a.bigram_keys()[1].kernel_shape(), [64, 32]);
    }
}
