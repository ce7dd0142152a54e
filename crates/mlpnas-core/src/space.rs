//! The search space: the [`SearchSpace`] trait over token sequences, its config
//! ([`SpaceConfig`], a plugin chosen by `[space] type`), what a sequence stands for
//! ([`Candidate`]), and the default MLP space ([`MlpSpace`], `type = "mlp"`): layer tokens and
//! the rules that make a sequence a valid MLP.
//!
//! Default vocabulary (units `[8,16,32,64,128,256,512]` x activations `[sigmoid,tanh,relu,elu]`):
//! ids `1..=28` are hidden layers with `id = 4*i + j + 1` (unit index `i`, activation index `j`),
//! `29` is dropout, `30` is the output layer and `0` is padding.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::arch::{Activation, Architecture, Layer, OutputKind};
use crate::error::{ConfigError, SpaceError};

/// A token id; `0` is padding and never part of a valid sequence.
pub type TokenId = u32;

/// What a token id stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// Drop probability of the dropout token.
    pub dropout: f64,
    /// Maximum sequence length, counting the output layer.
    pub max_len: usize,
}

impl Default for MlpSpaceConfig {
    fn default() -> Self {
        Self {
            units: vec![8, 16, 32, 64, 128, 256, 512],
            activations: Activation::ALL.to_vec(),
            dropout: 0.2,
            max_len: 3,
        }
    }
}

/// Largest `max_len` accepted (keeps counts far from overflow and nets sensible).
pub const MAX_LEN_LIMIT: usize = 16;

impl MlpSpaceConfig {
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
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ConfigError::new("dropout", format!("{} is not in [0, 1)", self.dropout)));
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
        Ok(MlpSpace { cfg: self.clone() })
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

/// The default MLP space: hidden (units, activation) tokens, one dropout token, one output token.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpSpace {
    cfg: MlpSpaceConfig,
}

impl MlpSpace {
    /// Its settings.
    pub fn config(&self) -> &MlpSpaceConfig {
        &self.cfg
    }
    fn n_hidden(&self) -> u32 {
        (self.cfg.units.len() * self.cfg.activations.len()) as u32
    }
    fn class_of(&self, id: TokenId) -> Option<Token> {
        self.token(id)
    }
    /// Completions from a state: `r` slots left (output included), `state` of the last token.
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
    fn state_of(&self, prefix: &[TokenId]) -> Option<State> {
        match prefix.last() {
            None => Some(State::Start),
            Some(&id) => match self.class_of(id)? {
                Token::Hidden { .. } => Some(State::Hidden),
                Token::Dropout => Some(State::Dropout),
                Token::Output => None,
            },
        }
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
            _ => None,
        }
    }
    /// Drop probability of a dropout token.
    pub fn dropout_rate(&self) -> f64 {
        self.cfg.dropout
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

    /// Decodes a valid sequence into an architecture for `input_dim` inputs and `n_classes` classes.
    pub fn decode(&self, seq: &[TokenId], input_dim: usize, n_classes: usize) -> Result<Architecture, SpaceError> {
        self.validate(seq)?;
        let (out_units, output) = OutputKind::for_classes(n_classes);
        let layers = seq
            .iter()
            .filter_map(|&id| self.token(id))
            .map(|t| match t {
                Token::Hidden { units, activation } => Layer::Dense { units, activation },
                Token::Dropout => Layer::Dropout { rate: self.dropout_rate() },
                Token::Output => Layer::Output { units: out_units, output },
            })
            .collect();
        Ok(Architecture { input_dim, layers })
    }

    /// Encodes an architecture back into a valid sequence of this space.
    pub fn encode(&self, arch: &Architecture) -> Result<Vec<TokenId>, SpaceError> {
        let mut seq = Vec::with_capacity(arch.layers.len());
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
        self.validate(&seq)?;
        Ok(seq)
    }
}

impl SearchSpace for MlpSpace {
    fn vocab_size(&self) -> usize {
        self.n_hidden() as usize + 3
    }
    fn max_len(&self) -> usize {
        self.cfg.max_len
    }
    fn allowed_next(&self, prefix: &[TokenId]) -> Vec<TokenId> {
        let Some(state) = self.state_of(prefix) else { return Vec::new() };
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
        match self.state_of(prefix) {
            None => 1,
            Some(state) => self.count(self.cfg.max_len.saturating_sub(prefix.len()), state),
        }
    }
    fn is_complete(&self, prefix: &[TokenId]) -> bool {
        prefix.last().is_some_and(|&t| self.token(t) == Some(Token::Output))
    }
    fn token_text(&self, id: TokenId) -> Option<String> {
        Some(match self.token(id)? {
            Token::Hidden { units, activation } => format!("{units}:{activation}"),
            Token::Dropout => format!("dropout({})", self.cfg.dropout),
            Token::Output => "output".to_string(),
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
        match (self.token(id), pos) {
            (Some(Token::Dropout), 0) => "dropout cannot be first".to_string(),
            (Some(Token::Output), 0) => "at least one hidden layer must precede the output layer".to_string(),
            (Some(Token::Dropout), _) => "dropout cannot follow dropout".to_string(),
            _ if seq[..pos].last().and_then(|&p| self.token(p)) == Some(Token::Output) => {
                "the output layer must be last".to_string()
            }
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
        if prefix.last().is_some_and(|&t| s.token(t) == Some(Token::Output)) {
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

    #[test]
    fn config_validation() {
        let bad = [
            MlpSpaceConfig { units: vec![], ..Default::default() },
            MlpSpaceConfig { units: vec![8, 8], ..Default::default() },
            MlpSpaceConfig { dropout: 1.0, ..Default::default() },
            MlpSpaceConfig { max_len: 1, ..Default::default() },
            MlpSpaceConfig { activations: vec![], ..Default::default() },
        ];
        for c in bad {
            assert!(c.build().is_err(), "{c:?}");
        }
    }
}
