//! The search space: the [`SearchSpace`] trait over token sequences, its config
//! ([`SpaceConfig`], a plugin chosen by `[space] type`), what a sequence stands for
//! ([`Candidate`]), and the default MLP space ([`MlpSpace`], `type = "mlp"`): layer tokens and
//! the rules that make a sequence a valid MLP.
//!
//! Default vocabulary (units `[8,16,32,64,128,256,512]` x activations `[sigmoid,tanh,relu,elu]`):
//! ids `1..=28` are hidden layers with `id = 4*i + j + 1` (unit index `i`, activation index `j`),
//! `29` is dropout, `30` is the output layer and `0` is padding. A space that searches training
//! settings (`[space] learning_rate = [...]`, ...) numbers their values from `31` on, dimension by
//! dimension in [`Hyper::ALL`] order, and a sequence carries one value of each after its output
//! token.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::arch::{Activation, Architecture, Layer, OutputKind};
use crate::error::{ConfigError, SpaceError};
use crate::hyper::{Hyper, HyperValue, Optimizer, Training};

/// A token id; `0` is padding and never part of a valid sequence.
pub type TokenId = u32;

/// What a token id stands for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Token {
    /// A hidden dense layer.
    Hidden {
        /// Width.
        units: u32,
        /// Activation.
        activation: Activation,
    },
    /// A dropout layer (rate set by the space).
    Dropout,
    /// The output layer (its width is set by the task).
    Output,
    /// A training setting, after the output layer.
    Training {
        /// Which setting.
        dim: Hyper,
        /// Its value.
        value: HyperValue,
    },
}

/// What a complete sequence stands for: what a trial trains or measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Candidate {
    /// A network of an MLP space, trained by a network trainer.
    Network(Architecture),
    /// A point of a space over named dimensions (a benchmark table): one value index per
    /// dimension, and its text form (`name=value` pairs joined by `,`).
    Point {
        /// Index of each dimension's value, in dimension order.
        values: Vec<u32>,
        /// Text form, e.g. `alpha=1e-08,batch_size=4`.
        text: String,
    },
}

impl Candidate {
    /// The text a journal records as `architecture`.
    pub fn text(&self) -> String {
        match self {
            Candidate::Network(a) => a.to_string(),
            Candidate::Point { text, .. } => text.clone(),
        }
    }
    /// Trainable parameters (0 for a point).
    pub fn params(&self) -> usize {
        match self {
            Candidate::Network(a) => a.param_count(),
            Candidate::Point { .. } => 0,
        }
    }
}

/// What the trials of a space that is not a space of networks are scored on
/// ([`SearchSpace::measurement`]): e.g. a benchmark table and its metric column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measurement {
    /// What is measured, e.g. `table fcnet-protein`.
    pub source: String,
    /// The metric's name; a trial record's `metric` holds its value.
    pub metric: String,
    /// Whether smaller values are better (the reward is then the negated metric).
    pub minimize: bool,
}

/// A search space over token sequences.
///
/// # Design
///
/// Validity is defined in one place, [`SearchSpace::allowed_next`]: a sequence is valid when each
/// token was allowed after its prefix and it is complete ([`SearchSpace::is_complete`]).
/// Everything else (checking, counting, sampling with a mask, uniform sampling) is derived from
/// it, so a controller that only ever picks allowed tokens produces valid sequences by
/// construction, with no rejection loop. [`SearchSpace::completions`] counts the valid sequences
/// that extend a prefix; it lets a controller sample uniformly over whole sequences rather than
/// token by token, and tells when the space is exhausted. The trait speaks of token ids only, so
/// every controller runs on every space; what a sequence means is the space's
/// ([`SearchSpace::candidate`]), and a controller that knows MLP layers (evolution's layer
/// mutations) asks for them through [`SearchSpace::as_mlp`]. Spaces are plugins: a
/// [`SpaceConfig`] chosen by `[space] type = "..."` builds one. The trait is object safe:
/// controllers hold a `&dyn SearchSpace`.
pub trait SearchSpace: Send + Sync + fmt::Debug {
    /// One more than the largest token id (id `0` is padding).
    fn vocab_size(&self) -> usize;
    /// Maximum sequence length (for the MLP space, counting the output token).
    fn max_len(&self) -> usize;
    /// The token ids allowed after `prefix` (assumed a valid prefix), in increasing order;
    /// empty once the prefix is complete.
    fn allowed_next(&self, prefix: &[TokenId]) -> Vec<TokenId>;
    /// Number of valid complete sequences that start with `prefix` (1 for a complete one;
    /// saturates at `u128::MAX`).
    fn completions(&self, prefix: &[TokenId]) -> u128;
    /// Whether a valid prefix is a whole sequence (the MLP space: it ends with the output token).
    fn is_complete(&self, prefix: &[TokenId]) -> bool;
    /// What `id` stands for, as text (`64:relu`, `dropout`, `batch_size=16`), or `None` outside
    /// the vocabulary (and for padding).
    fn token_text(&self, id: TokenId) -> Option<String>;
    /// What the complete valid sequence `seq` stands for, for a task with `input_dim` inputs and
    /// `n_classes` classes (spaces that are not networks ignore both).
    fn candidate(&self, seq: &[TokenId], input_dim: usize, n_classes: usize) -> Result<Candidate, SpaceError>;
    /// The MLP space, when this is one (for what only makes sense for layers: layer mutations,
    /// architectures given as text).
    fn as_mlp(&self) -> Option<&MlpSpace> {
        None
    }
    /// What its trials are scored on when that is not the run's data (a benchmark table's name
    /// and metric), so that what shows a run names it; `None` for spaces of networks.
    fn measurement(&self) -> Option<Measurement> {
        None
    }
    /// Why `seq[pos]` may not follow `seq[..pos]` (it is in the vocabulary), for error messages.
    fn why_not_allowed(&self, seq: &[TokenId], pos: usize) -> String {
        format!("token {} is not allowed at position {pos}", seq[pos])
    }

    /// Number of valid sequences in the space.
    fn size(&self) -> u128 {
        self.completions(&[])
    }

    /// Checks that `seq` is a complete valid sequence, saying why not.
    fn validate(&self, seq: &[TokenId]) -> Result<(), SpaceError> {
        let max = self.vocab_size().saturating_sub(1) as u32;
        let invalid = |reason: String| SpaceError::Invalid { seq: seq.to_vec(), reason };
        if seq.is_empty() {
            return Err(invalid("empty sequence".into()));
        }
        if seq.len() > self.max_len() {
            return Err(invalid(format!("length {} exceeds the maximum of {}", seq.len(), self.max_len())));
        }
        for (pos, &id) in seq.iter().enumerate() {
            if id == 0 || self.token_text(id).is_none() {
                return Err(SpaceError::UnknownToken { id, pos, max });
            }
            if !self.allowed_next(&seq[..pos]).contains(&id) {
                return Err(invalid(self.why_not_allowed(seq, pos)));
            }
        }
        if !self.is_complete(seq) {
            return Err(invalid(match self.as_mlp() {
                Some(_) => "the sequence must end with the output layer".into(),
                None => format!("the sequence is incomplete ({} of {} tokens)", seq.len(), self.max_len()),
            }));
        }
        Ok(())
    }
}

/// Serializable settings that build a [`SearchSpace`] (`[space]`, `type = "..."`; a `[space]`
/// without `type` is the MLP space, `"mlp"`).
///
/// Errors name fields relative to the section (`max_len`, not `space.max_len`): the host adds
/// its path ([`ConfigError::within`]).
#[typetag::serde(tag = "type")]
pub trait SpaceConfig: fmt::Debug + Send + Sync {
    /// Checks every field (called once, when the config is loaded).
    fn validate(&self) -> Result<(), ConfigError>;
    /// Builds the space from a validated config.
    fn build(&self) -> Result<Box<dyn SearchSpace>, ConfigError>;
    /// Whether its candidates are networks: trained by a network trainer, their layers shared
    /// one-shot through a weight store, read from text by `eval`, finalized and exported.
    fn networks(&self) -> bool {
        false
    }
    /// Makes relative paths absolute against `base` (the config file's directory), so that the
    /// config a run stores means the same from anywhere.
    fn rebase(&mut self, base: &Path) {
        let _ = base;
    }
    /// A copy, boxed.
    fn boxed_clone(&self) -> Box<dyn SpaceConfig>;
}

/// Settings of the default MLP space (`[space]` in a config file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MlpSpaceConfig {
    /// Widths a hidden layer may take.
    pub units: Vec<u32>,
    /// Activations a hidden layer may take.
    pub activations: Vec<Activation>,
    /// Drop probability of the dropout token: one rate, or a list of rates to search
    /// ([`Hyper::Dropout`]).
    pub dropout: DropoutRates,
    /// Maximum number of layer tokens, counting the output layer (training settings come after).
    pub max_len: usize,
    /// Learning rates to search (empty: the trainer's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub learning_rate: Vec<f64>,
    /// Batch sizes to search (empty: the trainer's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub batch_size: Vec<u32>,
    /// Decoupled weight decays to search (empty: the trainer's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub weight_decay: Vec<f64>,
    /// Optimizers to search (empty: the trainer's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub optimizer: Vec<Optimizer>,
    /// Numbers of epochs to search (empty: the trainer's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub epochs: Vec<u32>,
}

/// `[space] dropout`: one rate (`0.2`), or rates to search (`[0.0, 0.1, 0.3]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DropoutRates {
    /// The rate of every dropout token.
    One(f64),
    /// A dimension of the space: each candidate carries one of these rates.
    Searched(Vec<f64>),
}

impl From<f64> for DropoutRates {
    fn from(rate: f64) -> Self {
        DropoutRates::One(rate)
    }
}

impl Default for MlpSpaceConfig {
    fn default() -> Self {
        Self {
            units: vec![8, 16, 32, 64, 128, 256, 512],
            activations: Activation::ALL.to_vec(),
            dropout: DropoutRates::One(0.2),
            max_len: 3,
            learning_rate: Vec::new(),
            batch_size: Vec::new(),
            weight_decay: Vec::new(),
            optimizer: Vec::new(),
            epochs: Vec::new(),
        }
    }
}

/// Largest `max_len` accepted (keeps counts far from overflow and nets sensible).
pub const MAX_LEN_LIMIT: usize = 16;

/// Most values one training dimension may list.
pub const MAX_HYPER_VALUES: usize = 64;

impl MlpSpaceConfig {
    /// The training dimensions this space searches, in sequence order ([`Hyper::ALL`]), each with
    /// its values as configured.
    pub fn dimensions(&self) -> Vec<(Hyper, Vec<HyperValue>)> {
        let numbers = |v: &[f64]| v.iter().map(|&x| HyperValue::Number(x)).collect::<Vec<_>>();
        let counts = |v: &[u32]| v.iter().map(|&x| HyperValue::Count(x)).collect::<Vec<_>>();
        Hyper::ALL
            .into_iter()
            .map(|h| {
                let values = match h {
                    Hyper::LearningRate => numbers(&self.learning_rate),
                    Hyper::BatchSize => counts(&self.batch_size),
                    Hyper::WeightDecay => numbers(&self.weight_decay),
                    Hyper::Optimizer => self.optimizer.iter().map(|&o| HyperValue::Optimizer(o)).collect(),
                    Hyper::Dropout => match &self.dropout {
                        DropoutRates::One(_) => Vec::new(),
                        DropoutRates::Searched(r) => numbers(r),
                    },
                    Hyper::Epochs => counts(&self.epochs),
                };
                (h, values)
            })
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.units.is_empty() {
            return Err(ConfigError::new("units", "needs at least one width"));
        }
        if self.units.contains(&0) {
            return Err(ConfigError::new("units", "widths must be positive"));
        }
        let mut u = self.units.clone();
        u.sort_unstable();
        u.dedup();
        if u.len() != self.units.len() {
            return Err(ConfigError::new("units", "widths must be distinct"));
        }
        if self.activations.is_empty() {
            return Err(ConfigError::new("activations", "needs at least one activation"));
        }
        let mut a = self.activations.clone();
        a.sort_unstable();
        a.dedup();
        if a.len() != self.activations.len() {
            return Err(ConfigError::new("activations", "activations must be distinct"));
        }
        match &self.dropout {
            DropoutRates::One(rate) if !(0.0..1.0).contains(rate) => {
                return Err(ConfigError::new("dropout", format!("{rate} is not in [0, 1)")));
            }
            DropoutRates::Searched(rates) if rates.is_empty() => {
                return Err(ConfigError::new("dropout", "a list of rates needs at least one (or give one number)"));
            }
            _ => {}
        }
        for (h, values) in self.dimensions() {
            if values.len() > MAX_HYPER_VALUES {
                return Err(ConfigError::new(
                    h.field(),
                    format!("{} values (at most {MAX_HYPER_VALUES})", values.len()),
                ));
            }
            for (i, &v) in values.iter().enumerate() {
                h.check(v).map_err(|e| ConfigError::new(h.field(), e))?;
                if values[..i].contains(&v) {
                    return Err(ConfigError::new(h.field(), format!("{v} is listed twice (values must be distinct)")));
                }
            }
        }
        if !(2..=MAX_LEN_LIMIT).contains(&self.max_len) {
            return Err(ConfigError::new(
                "max_len",
                format!(
                    "{} is not in 2..={MAX_LEN_LIMIT} (one hidden layer plus the output layer at least)",
                    self.max_len
                ),
            ));
        }
        Ok(())
    }

    /// Validates, then builds the space.
    pub fn build(&self) -> Result<MlpSpace, ConfigError> {
        self.validate()?;
        let dims = self.dimensions();
        let hyper_product = dims.iter().fold(1u128, |n, (_, v)| n.saturating_mul(v.len() as u128));
        Ok(MlpSpace { cfg: self.clone(), dims, hyper_product })
    }
}

#[typetag::serde(name = "mlp")]
impl SpaceConfig for MlpSpaceConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        MlpSpaceConfig::validate(self)
    }
    fn build(&self) -> Result<Box<dyn SearchSpace>, ConfigError> {
        Ok(Box::new(MlpSpaceConfig::build(self)?))
    }
    fn networks(&self) -> bool {
        true
    }
    fn boxed_clone(&self) -> Box<dyn SpaceConfig> {
        Box::new(self.clone())
    }
}

/// The default MLP space: hidden (units, activation) tokens, one dropout token, one output token,
/// then one token per training dimension the config lists ([`MlpSpaceConfig::dimensions`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MlpSpace {
    cfg: MlpSpaceConfig,
    /// The training dimensions, in sequence order, with their values (token ids follow the
    /// output token's in this order).
    dims: Vec<(Hyper, Vec<HyperValue>)>,
    /// Number of ways to choose the training tokens (1 without dimensions).
    hyper_product: u128,
}

/// How far a valid prefix has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// Still in its layers; the state of its last token.
    Layers(State),
    /// Past the output layer, with this many training tokens.
    Training(usize),
}

impl MlpSpace {
    /// Its settings.
    pub fn config(&self) -> &MlpSpaceConfig {
        &self.cfg
    }
    /// The training dimensions it searches, in sequence order, with their values.
    pub fn dimensions(&self) -> &[(Hyper, Vec<HyperValue>)] {
        &self.dims
    }
    fn n_hidden(&self) -> u32 {
        (self.cfg.units.len() * self.cfg.activations.len()) as u32
    }
    fn class_of(&self, id: TokenId) -> Option<Token> {
        self.token(id)
    }
    /// Completions from a state: `r` slots left (output included), `state` of the last token;
    /// layer sequences only (the training tokens multiply it).
    fn count(&self, r: usize, state: State) -> u128 {
        if r == 0 {
            return 0;
        }
        let h = u128::from(self.n_hidden());
        let mut n: u128 = if state == State::Start { 0 } else { 1 };
        if r >= 2 {
            n = n.saturating_add(h.saturating_mul(self.count(r - 1, State::Hidden)));
            if state == State::Hidden {
                n = n.saturating_add(self.count(r - 1, State::Dropout));
            }
        }
        n
    }
    fn progress(&self, prefix: &[TokenId]) -> Option<Progress> {
        if let Some(p) = prefix.iter().position(|&id| self.class_of(id) == Some(Token::Output)) {
            return Some(Progress::Training(prefix.len() - p - 1));
        }
        match prefix.last() {
            None => Some(Progress::Layers(State::Start)),
            Some(&id) => match self.class_of(id)? {
                Token::Hidden { .. } => Some(Progress::Layers(State::Hidden)),
                Token::Dropout => Some(Progress::Layers(State::Dropout)),
                Token::Output | Token::Training { .. } => None,
            },
        }
    }
    /// The first token id of training dimension `k` (in [`MlpSpace::dimensions`] order).
    fn dim_base(&self, k: usize) -> TokenId {
        self.n_hidden() + 3 + self.dims[..k].iter().map(|(_, v)| v.len() as TokenId).sum::<TokenId>()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Hidden,
    Dropout,
}

impl MlpSpace {
    /// What `id` stands for, or `None` outside the vocabulary (and for padding).
    pub fn token(&self, id: TokenId) -> Option<Token> {
        let h = self.n_hidden();
        let na = self.cfg.activations.len() as u32;
        match id {
            0 => None,
            i if i <= h => {
                let k = i - 1;
                Some(Token::Hidden {
                    units: self.cfg.units[(k / na) as usize],
                    activation: self.cfg.activations[(k % na) as usize],
                })
            }
            i if i == h + 1 => Some(Token::Dropout),
            i if i == h + 2 => Some(Token::Output),
            i => {
                let mut j = (i - h - 3) as usize;
                for &(dim, ref values) in &self.dims {
                    if j < values.len() {
                        return Some(Token::Training { dim, value: values[j] });
                    }
                    j -= values.len();
                }
                None
            }
        }
    }
    /// Drop probability of a dropout token: the space's rate, or the first of its searched
    /// rates (what an architecture text without `dropout=` gets).
    pub fn dropout_rate(&self) -> f64 {
        match &self.cfg.dropout {
            DropoutRates::One(rate) => *rate,
            DropoutRates::Searched(rates) => rates[0],
        }
    }
    /// The token id of a hidden layer, if the space has it.
    pub fn hidden_id(&self, units: u32, activation: Activation) -> Option<TokenId> {
        let i = self.cfg.units.iter().position(|&u| u == units)?;
        let j = self.cfg.activations.iter().position(|&a| a == activation)?;
        Some((i * self.cfg.activations.len() + j + 1) as TokenId)
    }
    /// The dropout token id.
    pub fn dropout_id(&self) -> TokenId {
        self.n_hidden() + 1
    }
    /// The output token id.
    pub fn output_id(&self) -> TokenId {
        self.n_hidden() + 2
    }
    /// The token ids of training dimension `dim` (empty when the space does not search it).
    pub fn training_ids(&self, dim: Hyper) -> Vec<TokenId> {
        match self.dims.iter().position(|(h, _)| *h == dim) {
            Some(k) => {
                let base = self.dim_base(k);
                (base..base + self.dims[k].1.len() as TokenId).collect()
            }
            None => Vec::new(),
        }
    }

    /// Decodes a valid sequence into an architecture for `input_dim` inputs and `n_classes` classes.
    pub fn decode(&self, seq: &[TokenId], input_dim: usize, n_classes: usize) -> Result<Architecture, SpaceError> {
        self.validate(seq)?;
        let (out_units, output) = OutputKind::for_classes(n_classes);
        let mut training = Training::default();
        for t in seq.iter().filter_map(|&id| self.token(id)) {
            if let Token::Training { dim, value } = t {
                training.set(dim, value).map_err(|reason| SpaceError::Invalid { seq: seq.to_vec(), reason })?;
            }
        }
        let rate = training.dropout.unwrap_or(self.dropout_rate());
        let layers = seq
            .iter()
            .filter_map(|&id| self.token(id))
            .filter_map(|t| match t {
                Token::Hidden { units, activation } => Some(Layer::Dense { units, activation }),
                Token::Dropout => Some(Layer::Dropout { rate }),
                Token::Output => Some(Layer::Output { units: out_units, output }),
                Token::Training { .. } => None,
            })
            .collect();
        Ok(Architecture { input_dim, layers, training })
    }

    /// Encodes an architecture back into a valid sequence of this space (its training settings
    /// too: one for each dimension the space searches, and none other).
    pub fn encode(&self, arch: &Architecture) -> Result<Vec<TokenId>, SpaceError> {
        let mut seq = Vec::with_capacity(arch.layers.len() + self.dims.len());
        for l in &arch.layers {
            seq.push(match *l {
                Layer::Dense { units, activation } => {
                    self.hidden_id(units, activation).ok_or_else(|| SpaceError::NotInSpace {
                        layer: l.to_string(),
                        reason: "units or activation not in the space".into(),
                    })?
                }
                Layer::Dropout { .. } => self.dropout_id(),
                Layer::Output { .. } => self.output_id(),
            });
        }
        for h in Hyper::ALL {
            let value = arch.training.get(h);
            let Some(k) = self.dims.iter().position(|(d, _)| *d == h) else {
                if let Some(v) = value {
                    return Err(SpaceError::NotInSpace {
                        layer: format!("{}={v}", h.key()),
                        reason: format!("the space does not search {}", h.field()),
                    });
                }
                continue;
            };
            let not_in = |reason: String| SpaceError::NotInSpace { layer: h.key().to_string(), reason };
            let v = value.ok_or_else(|| not_in(format!("the space searches {} and none is given", h.field())))?;
            let j = self.dims[k]
                .1
                .iter()
                .position(|&x| x == v)
                .ok_or_else(|| not_in(format!("{v} is not one of its values")))?;
            seq.push(self.dim_base(k) + j as TokenId);
        }
        self.validate(&seq)?;
        Ok(seq)
    }
}

impl SearchSpace for MlpSpace {
    fn vocab_size(&self) -> usize {
        self.n_hidden() as usize + 3 + self.dims.iter().map(|(_, v)| v.len()).sum::<usize>()
    }
    fn max_len(&self) -> usize {
        self.cfg.max_len + self.dims.len()
    }
    fn allowed_next(&self, prefix: &[TokenId]) -> Vec<TokenId> {
        let state = match self.progress(prefix) {
            None => return Vec::new(),
            Some(Progress::Training(k)) if k < self.dims.len() => {
                let base = self.dim_base(k);
                return (base..base + self.dims[k].1.len() as TokenId).collect();
            }
            Some(Progress::Training(_)) => return Vec::new(),
            Some(Progress::Layers(state)) => state,
        };
        let h = self.n_hidden();
        let left = self.cfg.max_len.saturating_sub(prefix.len());
        if left == 0 {
            return Vec::new();
        }
        let mut v = Vec::new();
        if left >= 2 {
            v.extend(1..=h);
            if state == State::Hidden {
                v.push(h + 1);
            }
        }
        if state != State::Start {
            v.push(h + 2);
        }
        v
    }
    fn completions(&self, prefix: &[TokenId]) -> u128 {
        match self.progress(prefix) {
            None => 0,
            Some(Progress::Training(k)) => {
                self.dims.iter().skip(k).fold(1u128, |n, (_, v)| n.saturating_mul(v.len() as u128))
            }
            Some(Progress::Layers(state)) => {
                self.count(self.cfg.max_len.saturating_sub(prefix.len()), state).saturating_mul(self.hyper_product)
            }
        }
    }
    fn is_complete(&self, prefix: &[TokenId]) -> bool {
        self.progress(prefix) == Some(Progress::Training(self.dims.len()))
    }
    fn token_text(&self, id: TokenId) -> Option<String> {
        Some(match self.token(id)? {
            Token::Hidden { units, activation } => format!("{units}:{activation}"),
            Token::Dropout => match &self.cfg.dropout {
                DropoutRates::One(rate) => format!("dropout({rate})"),
                DropoutRates::Searched(_) => "dropout".to_string(),
            },
            Token::Output => "output".to_string(),
            Token::Training { dim, value } => format!("{}={value}", dim.key()),
        })
    }
    fn candidate(&self, seq: &[TokenId], input_dim: usize, n_classes: usize) -> Result<Candidate, SpaceError> {
        self.decode(seq, input_dim, n_classes).map(Candidate::Network)
    }
    fn as_mlp(&self) -> Option<&MlpSpace> {
        Some(self)
    }
    fn why_not_allowed(&self, seq: &[TokenId], pos: usize) -> String {
        let id = seq[pos];
        if let Some(Progress::Training(k)) = self.progress(&seq[..pos]) {
            return match self.dims.get(k) {
                Some((dim, _)) => format!("position {pos} takes a value of {} (token {id} is not one)", dim.field()),
                None if self.dims.is_empty() => "the output layer must be last".to_string(),
                None => "the sequence is already complete (its training settings are all given)".to_string(),
            };
        }
        match (self.token(id), pos) {
            (Some(Token::Training { dim, .. }), _) => {
                format!("{} comes after the output layer (token {id} at position {pos})", dim.field())
            }
            (Some(Token::Dropout), 0) => "dropout cannot be first".to_string(),
            (Some(Token::Output), 0) => "at least one hidden layer must precede the output layer".to_string(),
            (Some(Token::Dropout), _) => "dropout cannot follow dropout".to_string(),
            _ => format!("token {id} is not allowed at position {pos}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(max_len: usize) -> MlpSpace {
        MlpSpaceConfig { max_len, ..Default::default() }.build().expect("valid")
    }

    #[test]
    fn default_vocabulary_matches_the_seed() {
        let s = space(3);
        assert_eq!(s.vocab_size(), 31);
        assert_eq!(s.token(1), Some(Token::Hidden { units: 8, activation: Activation::Sigmoid }));
        // id = 4*i + j + 1: 64 is i = 3, relu is j = 2.
        assert_eq!(s.token(4 * 3 + 2 + 1), Some(Token::Hidden { units: 64, activation: Activation::Relu }));
        assert_eq!(s.token(28), Some(Token::Hidden { units: 512, activation: Activation::Elu }));
        assert_eq!(s.token(29), Some(Token::Dropout));
        assert_eq!(s.token(30), Some(Token::Output));
        assert_eq!(s.token(0), None);
        assert_eq!(s.token(31), None);
    }

    /// Brute-force enumeration of all valid sequences, to check `completions` against.
    fn enumerate(s: &MlpSpace, prefix: &mut Vec<TokenId>, out: &mut Vec<Vec<TokenId>>) {
        if s.is_complete(prefix) {
            out.push(prefix.clone());
            return;
        }
        for t in s.allowed_next(prefix) {
            prefix.push(t);
            enumerate(s, prefix, out);
            prefix.pop();
        }
    }

    #[test]
    fn counts_match_enumeration() {
        for max_len in 2..=4 {
            let s = space(max_len);
            let mut all = Vec::new();
            enumerate(&s, &mut Vec::new(), &mut all);
            assert_eq!(all.len() as u128, s.size(), "max_len {max_len}");
            for seq in &all {
                s.validate(seq).expect("enumerated sequences are valid");
            }
        }
        // 28 + 28*28 + 28 (hidden, dropout, output).
        assert_eq!(space(3).size(), 840);
    }

    #[test]
    fn invalid_sequences_say_why() {
        let s = space(3);
        for (seq, needle) in [
            (vec![29, 1, 30], "dropout cannot be first"),
            (vec![30], "hidden layer must precede"),
            (vec![1, 29, 29], "dropout cannot follow dropout"),
            (vec![1, 2, 3, 30], "exceeds the maximum"),
            (vec![1, 2], "must end with the output"),
            (vec![1, 30, 2], "must be last"),
            (vec![], "empty"),
        ] {
            let e = s.validate(&seq).expect_err("invalid").to_string();
            assert!(e.contains(needle), "{seq:?}: {e}");
        }
        assert!(matches!(s.validate(&[31, 30]), Err(SpaceError::UnknownToken { id: 31, .. })));
    }

    fn training_space() -> MlpSpace {
        MlpSpaceConfig {
            units: vec![8, 16],
            activations: vec![Activation::Relu],
            max_len: 3,
            dropout: DropoutRates::Searched(vec![0.0, 0.3]),
            learning_rate: vec![0.001, 0.01, 0.1],
            optimizer: vec![Optimizer::Adam, Optimizer::Sgd],
            epochs: vec![4],
            ..Default::default()
        }
        .build()
        .expect("valid")
    }

    #[test]
    fn training_tokens_follow_the_output_and_round_trip() {
        let s = training_space();
        // Layers: [h, o] 2 + [h, h, o] 4 + [h, dropout, o] 2 = 8 sequences, times 3 x 2 x 2 x 1.
        assert_eq!(s.size(), 8 * 12);
        assert_eq!(s.max_len(), 3 + 4);
        assert_eq!(s.vocab_size(), 2 + 3 + 3 + 2 + 2 + 1);
        let mut all = Vec::new();
        enumerate(&s, &mut Vec::new(), &mut all);
        assert_eq!(all.len() as u128, s.size());
        let mut texts = std::collections::HashSet::new();
        for seq in &all {
            let arch = s.decode(seq, 5, 3).expect("decodes");
            assert_eq!(&s.encode(&arch).expect("encodes"), seq);
            let text = arch.to_string();
            assert!(text.contains("|lr="), "{text}");
            assert_eq!(Architecture::parse_journaled(&text, 5).expect("parses"), arch, "{text}");
            texts.insert(text);
        }
        assert_eq!(texts.len(), all.len(), "every sequence has its own text");
        let (o, d) = (s.output_id(), s.dropout_id());
        let lr = s.training_ids(Hyper::LearningRate);
        let [adam, sgd] = s.training_ids(Hyper::Optimizer)[..] else { panic!("two optimizers") };
        let rates = s.training_ids(Hyper::Dropout);
        let ep = s.training_ids(Hyper::Epochs);
        let arch = s.decode(&[2, d, o, lr[2], sgd, rates[1], ep[0]], 5, 2).expect("decodes");
        assert_eq!(arch.to_string(), "16:relu,dropout,1:sigmoid|lr=0.1,opt=sgd,dropout=0.3,epochs=4");
        assert_eq!(arch.layers[1], Layer::Dropout { rate: 0.3 });
        for (seq, needle) in [
            (vec![1, o, lr[0], adam, rates[0]], "must end"),
            (vec![1, o, adam], "learning_rate"),
            (vec![1, lr[0], o], "after the output layer"),
            (vec![1, o, lr[0], adam, rates[0], ep[0], ep[0]], "already complete"),
        ] {
            let e = s.validate(&seq).expect_err("invalid").to_string();
            assert!(e.contains(needle), "{seq:?}: {e}");
        }
        let plain = Architecture::parse("8:relu", 5, 3, 0.2).expect("parses");
        assert!(s.encode(&plain).is_err(), "a space that searches the learning rate needs one");
    }

    #[test]
    fn config_validation() {
        let bad = [
            MlpSpaceConfig { units: vec![], ..Default::default() },
            MlpSpaceConfig { units: vec![8, 8], ..Default::default() },
            MlpSpaceConfig { dropout: 1.0.into(), ..Default::default() },
            MlpSpaceConfig { dropout: DropoutRates::Searched(vec![]), ..Default::default() },
            MlpSpaceConfig { learning_rate: vec![0.01, -0.1], ..Default::default() },
            MlpSpaceConfig { batch_size: vec![0], ..Default::default() },
            MlpSpaceConfig { epochs: vec![5, 5], ..Default::default() },
            MlpSpaceConfig { max_len: 1, ..Default::default() },
            MlpSpaceConfig { activations: vec![], ..Default::default() },
        ];
        for c in bad {
            assert!(c.build().is_err(), "{c:?}");
        }
    }
}
