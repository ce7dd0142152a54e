//! Mutations of a token sequence.
//!
//! In an MLP space ([`SearchSpace::as_mlp`]) a sequence is read as hidden layers, each optionally
//! followed by one dropout token, then the output token, then one token per training setting the
//! space searches. A layer mutation edits the layers and writes them back; it is built to keep
//! the sequence valid (at least one hidden layer, no more than `max_len` layer tokens, only
//! hidden tokens the space has); the training settings stay. The training mutation changes one
//! training setting to another value of its dimension and keeps the layers. Any other space (a benchmark table's
//! dimensions) gets the generic mutation, whatever kind was drawn: one position takes another
//! allowed token ([`mutate_position`]). The controller still checks every child with
//! [`SearchSpace::validate`].

use mlpnas_core::{Activation, MlpSpace, SearchSpace, Token, TokenId};
use rand::Rng;

/// One kind of mutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutation {
    /// Change one hidden layer's width (same activation, another width of the space).
    Units,
    /// Change one hidden layer's activation (same width, another activation of the space).
    Activation,
    /// Insert a hidden layer (any hidden token of the space) at any position.
    Insert,
    /// Remove a hidden layer and its dropout (the sequence keeps one hidden layer at least).
    Remove,
    /// Remove the dropout after a hidden layer, or add one where there is none.
    Dropout,
    /// Change one training setting (learning rate, batch size, ...) to another of its values;
    /// never drawn in a space that searches none.
    Training,
}

impl Mutation {
    /// Every mutation, in the order of the config.
    pub const ALL: [Mutation; 6] = [
        Mutation::Units,
        Mutation::Activation,
        Mutation::Insert,
        Mutation::Remove,
        Mutation::Dropout,
        Mutation::Training,
    ];

    /// Its name in the config (`[controller.mutation]`).
    pub fn name(self) -> &'static str {
        match self {
            Mutation::Units => "units",
            Mutation::Activation => "activation",
            Mutation::Insert => "insert",
            Mutation::Remove => "remove",
            Mutation::Dropout => "dropout",
            Mutation::Training => "training",
        }
    }
}

/// The hidden tokens of a space (id, width, activation) and the token ids of each training
/// dimension it searches, in sequence order.
#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    hidden: Vec<(TokenId, u32, Activation)>,
    training: Vec<Vec<TokenId>>,
}

impl Catalog {
    /// Every hidden token of `space`, by increasing id, and its training dimensions' tokens.
    pub(crate) fn of(space: &dyn SearchSpace) -> Self {
        let Some(space) = space.as_mlp() else { return Self { hidden: Vec::new(), training: Vec::new() } };
        let hidden = (1..space.vocab_size() as TokenId)
            .filter_map(|id| match space.token(id) {
                Some(Token::Hidden { units, activation }) => Some((id, units, activation)),
                _ => None,
            })
            .collect();
        let training = space.dimensions().iter().map(|(dim, _)| space.training_ids(*dim)).collect();
        Self { hidden, training }
    }

    /// Whether `m` can ever change a sequence of this space's kind (the training mutation needs
    /// a training dimension with two values at least).
    pub(crate) fn applies(&self, m: Mutation) -> bool {
        m != Mutation::Training || self.training.iter().any(|ids| ids.len() > 1)
    }

    fn get(&self, id: TokenId) -> Option<(u32, Activation)> {
        self.hidden.iter().find(|h| h.0 == id).map(|&(_, u, a)| (u, a))
    }
}

/// A sequence as hidden layers (token, dropout after it), the output token and the training
/// settings after it.
struct Layers {
    hidden: Vec<(TokenId, bool)>,
    output: TokenId,
    training: Vec<TokenId>,
}

impl Layers {
    /// Reads `seq`; `None` unless it is hidden layers with optional single dropouts, then the
    /// output, then training settings.
    fn parse(space: &MlpSpace, seq: &[TokenId]) -> Option<Self> {
        let at = seq.iter().position(|&id| space.token(id) == Some(Token::Output))?;
        let (body, rest) = seq.split_at(at);
        let (&output, training) = rest.split_first()?;
        let mut hidden: Vec<(TokenId, bool)> = Vec::with_capacity(body.len());
        for &id in body {
            match space.token(id)? {
                Token::Hidden { .. } => hidden.push((id, false)),
                Token::Dropout => match hidden.last_mut() {
                    Some(last) if !last.1 => last.1 = true,
                    _ => return None,
                },
                Token::Output => return None,
                Token::Training { .. } => return None,
            }
        }
        (!hidden.is_empty()).then_some(Self { hidden, output, training: training.to_vec() })
    }

    /// Layer tokens, output included.
    fn len(&self) -> usize {
        self.hidden.iter().map(|&(_, d)| 1 + usize::from(d)).sum::<usize>() + 1
    }

    fn tokens(&self, dropout: TokenId) -> Vec<TokenId> {
        let mut out = Vec::with_capacity(self.len());
        for &(id, d) in &self.hidden {
            out.push(id);
            if d {
                out.push(dropout);
            }
        }
        out.push(self.output);
        out.extend(&self.training);
        out
    }
}

/// Picks one element uniformly, `None` when empty.
fn pick<T: Copy>(rng: &mut impl Rng, items: &[T]) -> Option<T> {
    (!items.is_empty()).then(|| items[rng.random_range(0..items.len())])
}

/// Applies mutation `m` to `parent`, choosing the layer and the new value uniformly among those
/// that make `m` change the sequence and keep it within `space.max_len()`. `None` when `m` cannot
/// apply (no other width or activation, no room to insert, a single hidden layer to remove, no
/// dropout token) or `parent` is not hidden layers with optional dropouts followed by the output.
/// The child always differs from the parent.
pub fn mutate(space: &dyn SearchSpace, parent: &[TokenId], m: Mutation, rng: &mut impl Rng) -> Option<Vec<TokenId>> {
    mutate_with(space, &Catalog::of(space), parent, m, rng)
}

/// [`mutate`] with the space's hidden tokens already listed.
pub(crate) fn mutate_with(
    space: &dyn SearchSpace,
    catalog: &Catalog,
    parent: &[TokenId],
    m: Mutation,
    rng: &mut impl Rng,
) -> Option<Vec<TokenId>> {
    let Some(space) = space.as_mlp() else { return mutate_position(space, parent, rng) };
    let mut layers = Layers::parse(space, parent)?;
    let room = layers.len() < space.config().max_len;
    let dropout = space.dropout_id();
    match m {
        Mutation::Units | Mutation::Activation => {
            // Alternatives of one layer: same activation and another width, or the reverse.
            let alternatives = |id: TokenId| -> Vec<TokenId> {
                let Some((units, act)) = catalog.get(id) else { return Vec::new() };
                catalog
                    .hidden
                    .iter()
                    .filter(|&&(_, u, a)| match m {
                        Mutation::Units => a == act && u != units,
                        _ => u == units && a != act,
                    })
                    .map(|h| h.0)
                    .collect()
            };
            let eligible: Vec<usize> =
                (0..layers.hidden.len()).filter(|&i| !alternatives(layers.hidden[i].0).is_empty()).collect();
            let i = pick(rng, &eligible)?;
            layers.hidden[i].0 = pick(rng, &alternatives(layers.hidden[i].0))?;
        }
        Mutation::Insert => {
            if !room {
                return None;
            }
            let id = pick(rng, &catalog.hidden)?.0;
            let at = rng.random_range(0..=layers.hidden.len());
            layers.hidden.insert(at, (id, false));
        }
        Mutation::Remove => {
            if layers.hidden.len() < 2 {
                return None;
            }
            let at = rng.random_range(0..layers.hidden.len());
            layers.hidden.remove(at);
        }
        Mutation::Dropout => {
            if space.token(dropout) != Some(Token::Dropout) {
                return None;
            }
            // Removing a dropout always fits; adding one needs a free slot.
            let eligible: Vec<usize> = (0..layers.hidden.len()).filter(|&i| layers.hidden[i].1 || room).collect();
            let i = pick(rng, &eligible)?;
            layers.hidden[i].1 = !layers.hidden[i].1;
        }
        Mutation::Training => {
            let others = |i: usize| -> Vec<TokenId> {
                let current = layers.training.get(i).copied();
                catalog
                    .training
                    .get(i)
                    .map_or_else(Vec::new, |ids| ids.iter().copied().filter(|&t| Some(t) != current).collect())
            };
            let eligible: Vec<usize> = (0..layers.training.len()).filter(|&i| !others(i).is_empty()).collect();
            let i = pick(rng, &eligible)?;
            layers.training[i] = pick(rng, &others(i))?;
        }
    }
    Some(layers.tokens(dropout))
}

/// The generic mutation: one position, drawn uniformly among those that have another allowed
/// token after the parent's prefix, takes one of them (uniformly); the positions after it keep
/// the parent's tokens where they are still allowed and take a uniformly drawn allowed token
/// where not (a table that is not a full grid). `None` when no position has an alternative.
pub fn mutate_position(space: &dyn SearchSpace, parent: &[TokenId], rng: &mut impl Rng) -> Option<Vec<TokenId>> {
    let others = |i: usize| -> Vec<TokenId> {
        space.allowed_next(&parent[..i]).into_iter().filter(|&t| t != parent[i]).collect()
    };
    let eligible: Vec<usize> = (0..parent.len()).filter(|&i| !others(i).is_empty()).collect();
    let i = pick(rng, &eligible)?;
    let mut child = parent[..i].to_vec();
    child.push(pick(rng, &others(i))?);
    for &t in &parent[i + 1..] {
        if space.is_complete(&child) {
            break;
        }
        let allowed = space.allowed_next(&child);
        child.push(if allowed.contains(&t) { t } else { pick(rng, &allowed)? });
    }
    while !space.is_complete(&child) {
        let allowed = space.allowed_next(&child);
        child.push(pick(rng, &allowed)?);
    }
    Some(child)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use mlpnas_core::{MlpSpace, MlpSpaceConfig};
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use mlpnas_core::sampling::sample_uniform;

    fn space(units: &[u32], activations: &[Activation], max_len: usize) -> MlpSpace {
        MlpSpaceConfig { units: units.to_vec(), activations: activations.to_vec(), max_len, ..Default::default() }
            .build()
            .expect("valid space")
    }

    /// Spaces from subsets of the default widths and activations, `max_len` 2..=5 (the smallest
    /// the space accepts is 2: one hidden layer and the output), searching no, some or all of a
    /// few training settings.
    fn any_space() -> impl Strategy<Value = MlpSpace> {
        let units = proptest::sample::subsequence(vec![8u32, 16, 32, 64, 128, 256, 512], 1..=7);
        let acts = proptest::sample::subsequence(Activation::ALL.to_vec(), 1..=4);
        let lr = proptest::sample::subsequence(vec![0.1, 0.01, 0.001], 0..=3);
        let bs = proptest::sample::subsequence(vec![16u32, 64], 0..=2);
        let opt = proptest::sample::subsequence(mlpnas_core::Optimizer::ALL.to_vec(), 0..=2);
        (units, acts, 2usize..=5, lr, bs, opt).prop_map(|(u, a, l, lr, bs, opt)| {
            MlpSpaceConfig {
                units: u,
                activations: a,
                max_len: l,
                learning_rate: lr,
                batch_size: bs,
                optimizer: opt,
                ..Default::default()
            }
            .build()
            .expect("valid space")
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Every mutation of a random valid sequence is valid and differs from it; and in a space
        /// with more than one sequence some mutation applies.
        #[test]
        fn mutations_of_valid_sequences_are_valid(s in any_space(), seed in any::<u64>()) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            for _ in 0..8 {
                let parent = sample_uniform(&s, &mut rng).expect("sample");
                let mut applied = 0;
                for m in Mutation::ALL {
                    for _ in 0..4 {
                        if let Some(child) = mutate(&s, &parent, m, &mut rng) {
                            prop_assert!(s.validate(&child).is_ok(), "{m:?} of {parent:?} gave {child:?}: {:?}", s.validate(&child));
                            prop_assert_ne!(&child, &parent);
                            applied += 1;
                        }
                    }
                }
                prop_assert!(s.size() == 1 || applied > 0, "no mutation of {parent:?} applies in {:?}", s.config());
            }
        }
    }

    /// Every neighbour of `[8:relu, 16:tanh, output]` in a space of widths {8,16}, activations
    /// {relu,tanh}, max_len 4, reached by each mutation.
    #[test]
    fn each_mutation_reaches_its_neighbours() {
        let s = space(&[8, 16], &[Activation::Relu, Activation::Tanh], 4);
        let id = |u, a| s.hidden_id(u, a).expect("in the space");
        let (r8, t8, r16, t16) =
            (id(8, Activation::Relu), id(8, Activation::Tanh), id(16, Activation::Relu), id(16, Activation::Tanh));
        let (d, o) = (s.dropout_id(), s.output_id());
        let parent = vec![r8, t16, o];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let reached = |m: Mutation, rng: &mut ChaCha8Rng| -> HashSet<Vec<TokenId>> {
            (0..200).filter_map(|_| mutate(&s, &parent, m, rng)).collect()
        };
        let set = |v: Vec<Vec<TokenId>>| v.into_iter().collect::<HashSet<_>>();
        assert_eq!(reached(Mutation::Units, &mut rng), set(vec![vec![r16, t16, o], vec![r8, t8, o]]));
        assert_eq!(reached(Mutation::Activation, &mut rng), set(vec![vec![t8, t16, o], vec![r8, r16, o]]));
        assert_eq!(reached(Mutation::Remove, &mut rng), set(vec![vec![t16, o], vec![r8, o]]));
        assert_eq!(reached(Mutation::Dropout, &mut rng), set(vec![vec![r8, d, t16, o], vec![r8, t16, d, o]]));
        let inserted = reached(Mutation::Insert, &mut rng);
        // 4 hidden tokens x 3 positions, less the duplicates (inserting r8 before or after r8...).
        assert_eq!(inserted.len(), 10, "{inserted:?}");
        assert!(inserted.iter().all(|c| c.len() == 4 && s.validate(c).is_ok()));
        // At max_len, nothing can be added; a lone layer cannot be removed.
        let full = vec![r8, d, t16, o];
        assert_eq!(mutate(&s, &full, Mutation::Insert, &mut rng), None);
        assert_eq!(mutate(&s, &full, Mutation::Dropout, &mut rng), Some(vec![r8, t16, o]));
        assert_eq!(mutate(&s, &[r8, o], Mutation::Remove, &mut rng), None);
        // Not a parsable parent.
        assert_eq!(mutate(&s, &[d, r8, o], Mutation::Units, &mut rng), None);
        // Without training settings, the training mutation never applies.
        assert_eq!(mutate(&s, &parent, Mutation::Training, &mut rng), None);
    }

    /// Layer mutations keep the training settings; the training mutation changes exactly one of
    /// them and keeps the layers.
    #[test]
    fn training_settings_mutate_apart_from_layers() {
        let s = MlpSpaceConfig {
            units: vec![8, 16],
            activations: vec![Activation::Relu],
            max_len: 3,
            learning_rate: vec![0.1, 0.01, 0.001],
            batch_size: vec![32],
            ..Default::default()
        }
        .build()
        .expect("valid space");
        let lr = s.training_ids(mlpnas_core::Hyper::LearningRate);
        let bs = s.training_ids(mlpnas_core::Hyper::BatchSize);
        let (r8, r16, o) = (1, 2, s.output_id());
        let parent = vec![r8, o, lr[1], bs[0]];
        s.validate(&parent).expect("valid parent");
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let reached: HashSet<Vec<TokenId>> =
            (0..100).filter_map(|_| mutate(&s, &parent, Mutation::Training, &mut rng)).collect();
        assert_eq!(reached, [vec![r8, o, lr[0], bs[0]], vec![r8, o, lr[2], bs[0]]].into_iter().collect());
        assert_eq!(mutate(&s, &parent, Mutation::Units, &mut rng), Some(vec![r16, o, lr[1], bs[0]]));
        let inserted = mutate(&s, &parent, Mutation::Insert, &mut rng).expect("room for a layer");
        assert_eq!(inserted.len(), 5);
        assert_eq!(inserted[3..], [lr[1], bs[0]]);
    }
}
