//! Training hyperparameters a candidate carries beside its layers ([`Training`]): the values an
//! MLP space searches after the output layer (`[space] learning_rate = [...]`, ...), one
//! [`Hyper`] dimension each, and their text form in architecture texts
//! (`64:relu,3:softmax|lr=0.003,bs=64`).
//!
//! A value a candidate does not carry is the trainer's own setting (`[trainer] learning_rate`,
//! ...), so a space without these dimensions trains exactly as before.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// An optimizer of architecture training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// Adam (beta 0.9 / 0.999, epsilon 1e-7 as Keras); with a weight decay, AdamW (decoupled).
    Adam,
    /// Stochastic gradient descent (with the trainer's momentum, if any).
    Sgd,
}

impl Optimizer {
    /// Every optimizer, in vocabulary order.
    pub const ALL: [Optimizer; 2] = [Optimizer::Adam, Optimizer::Sgd];

    /// Its name in configs and architecture texts.
    pub fn name(self) -> &'static str {
        match self {
            Optimizer::Adam => "adam",
            Optimizer::Sgd => "sgd",
        }
    }
}

impl fmt::Display for Optimizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Optimizer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|o| o.name() == s)
            .ok_or_else(|| format!("unknown optimizer {s:?} (known: adam, sgd)"))
    }
}

/// One searchable training hyperparameter: a dimension of the MLP space after its layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hyper {
    /// Initial learning rate.
    LearningRate,
    /// Rows per gradient step.
    BatchSize,
    /// Decoupled weight decay (AdamW-style: every parameter shrinks by `lr * weight_decay` a
    /// step, apart from the gradient's update).
    WeightDecay,
    /// Adam or SGD.
    Optimizer,
    /// The drop probability of the network's dropout layers.
    Dropout,
    /// Passes over the training rows.
    Epochs,
}

impl Hyper {
    /// Every dimension, in sequence order (the order of the tokens after the output layer and of
    /// the `key=value` pairs of the text form).
    pub const ALL: [Hyper; 6] =
        [Hyper::LearningRate, Hyper::BatchSize, Hyper::WeightDecay, Hyper::Optimizer, Hyper::Dropout, Hyper::Epochs];

    /// Its key in architecture texts (`lr=0.003`).
    pub fn key(self) -> &'static str {
        match self {
            Hyper::LearningRate => "lr",
            Hyper::BatchSize => "bs",
            Hyper::WeightDecay => "wd",
            Hyper::Optimizer => "opt",
            Hyper::Dropout => "dropout",
            Hyper::Epochs => "epochs",
        }
    }

    /// Its field in `[space]` (and `[trainer]`).
    pub fn field(self) -> &'static str {
        match self {
            Hyper::LearningRate => "learning_rate",
            Hyper::BatchSize => "batch_size",
            Hyper::WeightDecay => "weight_decay",
            Hyper::Optimizer => "optimizer",
            Hyper::Dropout => "dropout",
            Hyper::Epochs => "epochs",
        }
    }

    /// Parses `text` as a value of this dimension, checked as [`Hyper::check`] does.
    pub fn parse(self, text: &str) -> Result<HyperValue, String> {
        let value = match self {
            Hyper::LearningRate | Hyper::WeightDecay | Hyper::Dropout => {
                HyperValue::Number(text.parse().map_err(|_| format!("{text:?} is not a number"))?)
            }
            Hyper::BatchSize | Hyper::Epochs => {
                HyperValue::Count(text.parse().map_err(|_| format!("{text:?} is not a whole number"))?)
            }
            Hyper::Optimizer => HyperValue::Optimizer(text.parse()?),
        };
        self.check(value)?;
        Ok(value)
    }

    /// Why `value` is not a value of this dimension (its kind, and the range a trainer accepts).
    pub fn check(self, value: HyperValue) -> Result<(), String> {
        match (self, value) {
            (Hyper::LearningRate, HyperValue::Number(v)) if v.is_finite() && v > 0.0 => Ok(()),
            (Hyper::LearningRate, HyperValue::Number(v)) => Err(format!("{v} is not a positive number")),
            (Hyper::WeightDecay, HyperValue::Number(v)) if v.is_finite() && v >= 0.0 => Ok(()),
            (Hyper::WeightDecay, HyperValue::Number(v)) => Err(format!("{v} is not a non-negative number")),
            (Hyper::Dropout, HyperValue::Number(v)) if (0.0..1.0).contains(&v) => Ok(()),
            (Hyper::Dropout, HyperValue::Number(v)) => Err(format!("{v} is not in [0, 1)")),
            (Hyper::BatchSize | Hyper::Epochs, HyperValue::Count(0)) => Err("0 is not allowed (at least 1)".into()),
            (Hyper::BatchSize | Hyper::Epochs, HyperValue::Count(_)) | (Hyper::Optimizer, HyperValue::Optimizer(_)) => {
                Ok(())
            }
            (_, v) => Err(format!("{v} is not a value of {}", self.field())),
        }
    }
}

/// A value of one [`Hyper`] dimension.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HyperValue {
    /// A learning rate, weight decay or dropout rate.
    Number(f64),
    /// A batch size or number of epochs.
    Count(u32),
    /// An optimizer.
    Optimizer(Optimizer),
}

impl fmt::Display for HyperValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Rust's shortest round-trip form: `0.003`, `0.0001`, `1e-7`.
            HyperValue::Number(v) => write!(f, "{v}"),
            HyperValue::Count(n) => write!(f, "{n}"),
            HyperValue::Optimizer(o) => write!(f, "{o}"),
        }
    }
}

/// The training hyperparameters one candidate carries; `None`: the trainer's setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Training {
    /// Initial learning rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f64>,
    /// Rows per gradient step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u32>,
    /// Decoupled weight decay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    /// Optimizer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optimizer: Option<Optimizer>,
    /// Drop probability of every dropout layer (already applied to the architecture's layers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropout: Option<f64>,
    /// Passes over the training rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<u32>,
}

impl Training {
    /// Whether it carries no value (the trainer's settings throughout).
    pub fn is_empty(&self) -> bool {
        Hyper::ALL.iter().all(|&h| self.get(h).is_none())
    }

    /// The value of dimension `h`, if carried.
    pub fn get(&self, h: Hyper) -> Option<HyperValue> {
        match h {
            Hyper::LearningRate => self.learning_rate.map(HyperValue::Number),
            Hyper::BatchSize => self.batch_size.map(HyperValue::Count),
            Hyper::WeightDecay => self.weight_decay.map(HyperValue::Number),
            Hyper::Optimizer => self.optimizer.map(HyperValue::Optimizer),
            Hyper::Dropout => self.dropout.map(HyperValue::Number),
            Hyper::Epochs => self.epochs.map(HyperValue::Count),
        }
    }

    /// Sets dimension `h` to `value` (checked: [`Hyper::check`]).
    pub fn set(&mut self, h: Hyper, value: HyperValue) -> Result<(), String> {
        h.check(value)?;
        match (h, value) {
            (Hyper::LearningRate, HyperValue::Number(v)) => self.learning_rate = Some(v),
            (Hyper::BatchSize, HyperValue::Count(n)) => self.batch_size = Some(n),
            (Hyper::WeightDecay, HyperValue::Number(v)) => self.weight_decay = Some(v),
            (Hyper::Optimizer, HyperValue::Optimizer(o)) => self.optimizer = Some(o),
            (Hyper::Dropout, HyperValue::Number(v)) => self.dropout = Some(v),
            (Hyper::Epochs, HyperValue::Count(n)) => self.epochs = Some(n),
            _ => unreachable!("checked above"),
        }
        Ok(())
    }

    /// Parses the text form (`lr=0.003,bs=64`; empty: nothing carried). Keys may come in any
    /// order, each once.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut t = Training::default();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| format!("{pair:?} is not KEY=VALUE"))?;
            let h = Hyper::ALL.into_iter().find(|h| h.key() == key.trim()).ok_or_else(|| {
                let known: Vec<&str> = Hyper::ALL.iter().map(|h| h.key()).collect();
                format!("unknown training setting {key:?} (known: {})", known.join(", "))
            })?;
            if t.get(h).is_some() {
                return Err(format!("{key} is given twice"));
            }
            let v = h.parse(value.trim()).map_err(|e| format!("{key}: {e}"))?;
            t.set(h, v)?;
        }
        Ok(t)
    }

    /// Every carried value checked again (for values that were deserialized, not parsed).
    pub fn validate(&self) -> Result<(), ConfigError> {
        for h in Hyper::ALL {
            if let Some(v) = self.get(h) {
                h.check(v).map_err(|e| ConfigError::new(h.field(), e))?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Training {
    /// `lr=0.003,bs=64` in [`Hyper::ALL`] order; empty when nothing is carried.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for h in Hyper::ALL {
            if let Some(v) = self.get(h) {
                if !first {
                    f.write_str(",")?;
                }
                first = false;
                write!(f, "{}={v}", h.key())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_orders_keys() {
        let t = Training::parse("bs=64, lr=0.003,opt=sgd,wd=0.0001,dropout=0.25,epochs=20").expect("parses");
        assert_eq!(t.to_string(), "lr=0.003,bs=64,wd=0.0001,opt=sgd,dropout=0.25,epochs=20");
        assert_eq!(Training::parse(&t.to_string()), Ok(t));
        assert_eq!(Training::parse(""), Ok(Training::default()));
        assert!(Training::default().is_empty() && Training::default().to_string().is_empty());
        // Tiny and odd values keep their bits.
        let lr = 1.0e-7 + 3.0e-9;
        let t = Training { learning_rate: Some(lr), ..Default::default() };
        assert_eq!(Training::parse(&t.to_string()).expect("parses").learning_rate, Some(lr));
    }

    #[test]
    fn bad_text_says_why() {
        for (text, needle) in [
            ("lr", "KEY=VALUE"),
            ("lr=-0.1", "positive"),
            ("bs=0", "at least 1"),
            ("bs=1.5", "whole number"),
            ("opt=rmsprop", "unknown optimizer"),
            ("dropout=1", "[0, 1)"),
            ("wd=-1", "non-negative"),
            ("momentum=0.9", "unknown training setting"),
            ("lr=0.1,lr=0.2", "twice"),
        ] {
            let e = Training::parse(text).expect_err(text);
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
