//! The policy network: a token embedding, one LSTM cell, a softmax head over the vocabulary and a
//! sigmoid accuracy-predictor head on the same LSTM state.
//!
//! The parameters live on the host ([`Params`], plain `f32` vectors, so that saving, loading and
//! the optimizer need no Burn type). Every forward pass copies them into Burn tensors on the
//! configured backend: plain tensors to sample ([`Params::sample`]), tracked autodiff tensors to
//! compute gradients ([`Params::gradients`]). Both passes run the same [`Net::cell`] code over a
//! batch of sequences, one position at a time, so the distribution that sampled a sequence is the
//! one whose log-probability is differentiated.
//!
//! Step `t` feeds the embedding of the previous token (token id `0`, the padding id, which no valid
//! sequence contains, serves as the start token) and reads the distribution of token `t` from the
//! new hidden state, masked to [`SearchSpace::allowed_next`]. One more step consumes the output
//! token; that final state feeds the predictor. Rows that have finished keep their state (a 0/1
//! mask mixes old and new state), so one batch holds sequences of any length.

use burn::tensor::activation::{log_softmax, sigmoid, tanh};
use burn::tensor::{Device, Tensor, TensorData};
use mlpnas_core::{ControllerError, SearchSpace, TokenId};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// One gradient per parameter tensor (`None` where a tensor got no gradient).
type Gradients = Vec<Option<Vec<f32>>>;
/// Added to the logit of a token that is not allowed (finite, so that `0 * masked` stays 0).
const MASKED: f32 = -1.0e9;

/// Index of each parameter tensor in [`Params::tensors`].
pub(crate) mod idx {
    /// Token embedding `[vocab, embedding]` (row 0 is the start token).
    pub const EMBED: usize = 0;
    /// Input kernel `[embedding, 4 * hidden]` (gates i, f, g, o).
    pub const W_X: usize = 1;
    /// Recurrent kernel `[hidden, 4 * hidden]`.
    pub const W_H: usize = 2;
    /// Gate bias `[1, 4 * hidden]` (forget gate starts at 1, as Keras' `unit_forget_bias`).
    pub const B: usize = 3;
    /// Policy head kernel `[hidden, vocab]`.
    pub const W_OUT: usize = 4;
    /// Policy head bias `[1, vocab]`.
    pub const B_OUT: usize = 5;
    /// Predictor kernel `[hidden, 1]`.
    pub const W_PRED: usize = 6;
    /// Predictor bias `[1, 1]`.
    pub const B_PRED: usize = 7;
    /// Number of parameter tensors.
    pub const COUNT: usize = 8;
    /// Their names, in order (written into saved states).
    pub const NAMES: [&str; COUNT] = ["embed", "w_x", "w_h", "b", "w_out", "b_out", "w_pred", "b_pred"];
}

/// One parameter tensor on the host: a rank-2 shape and its row-major data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HostParam {
    /// `[rows, cols]`.
    pub shape: [usize; 2],
    /// `rows * cols` values.
    pub data: Vec<f32>,
}

impl HostParam {
    fn zeros(shape: [usize; 2]) -> Self {
        Self { shape, data: vec![0.0; shape[0] * shape[1]] }
    }

    fn uniform(shape: [usize; 2], limit: f32, rng: &mut ChaCha8Rng) -> Self {
        let data = (0..shape[0] * shape[1]).map(|_| rng.random_range(-limit..=limit)).collect();
        Self { shape, data }
    }

    /// Glorot-uniform (Keras' default kernel initializer).
    fn glorot(shape: [usize; 2], rng: &mut ChaCha8Rng) -> Self {
        let limit = (6.0 / (shape[0] + shape[1]) as f64).sqrt() as f32;
        Self::uniform(shape, limit, rng)
    }
}

/// The sizes that fix the parameter shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    /// Token ids `0..vocab` (0 = start).
    pub vocab: usize,
    /// Embedding size.
    pub embedding: usize,
    /// LSTM hidden size.
    pub hidden: usize,
}

impl Dims {
    /// The shape of every parameter tensor, in [`idx`] order.
    pub fn shapes(self) -> [[usize; 2]; idx::COUNT] {
        let Dims { vocab: v, embedding: e, hidden: h } = self;
        [[v, e], [e, 4 * h], [h, 4 * h], [1, 4 * h], [h, v], [1, v], [h, 1], [1, 1]]
    }
}

/// All parameters of the policy, on the host.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Params {
    /// The sizes.
    pub dims: Dims,
    /// In [`idx`] order.
    pub tensors: Vec<HostParam>,
}

/// One sampled sequence and the predictor's output for it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    /// A complete valid sequence.
    pub tokens: Vec<TokenId>,
    /// Predicted reward in `(0, 1)`.
    pub predicted: f64,
}

/// The weights of the loss terms and the per-sequence signals of one update.
#[derive(Debug, Clone)]
pub(crate) struct LossInput<'a> {
    /// The sequences of the batch.
    pub seqs: &'a [Vec<TokenId>],
    /// `reward - baseline` (possibly discounted and normalized) per sequence.
    pub advantages: &'a [f64],
    /// Predictor targets (the rewards) per sequence.
    pub rewards: &'a [f64],
    /// Weight of the entropy bonus.
    pub entropy_weight: f64,
    /// Weight of the predictor's MSE (0 leaves the predictor out of the graph).
    pub predictor_weight: f64,
}

/// The parts of the loss, evaluated in the forward pass that computed the gradients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LossParts {
    /// `-mean_b(advantage_b * sum_t log pi(a_t | a_<t))`.
    pub policy: f64,
    /// Mean entropy per sampled position of the masked policy.
    pub entropy: f64,
    /// Mean squared error of the predictor (0 when it is off).
    pub predictor: f64,
    /// The total that was differentiated.
    pub total: f64,
}

/// The parameters as Burn tensors on one device.
struct Net {
    t: Vec<Tensor<2>>,
    hidden: usize,
    vocab: usize,
    device: Device,
}

/// A burn data error as a controller error.
fn data_err(what: &str, e: impl std::fmt::Debug) -> ControllerError {
    ControllerError::Other(format!("cannot read the policy's {what} back from the device: {e:?}"))
}

impl Net {
    /// Copies `p` to `device`; with `track`, as leaves whose gradients are kept.
    fn new(p: &Params, device: &Device, track: bool) -> Self {
        let t = p
            .tensors
            .iter()
            .map(|hp| {
                let x = Tensor::<2>::from_data(TensorData::new(hp.data.clone(), hp.shape), device);
                if track { x.require_grad() } else { x }
            })
            .collect();
        Self { t, hidden: p.dims.hidden, vocab: p.dims.vocab, device: device.clone() }
    }

    fn host(&self, rows: usize, cols: usize, data: Vec<f32>) -> Tensor<2> {
        Tensor::<2>::from_data(TensorData::new(data, [rows, cols]), &self.device)
    }

    /// One-hot rows `[inputs.len(), vocab]` of the token ids.
    fn one_hot(&self, tokens: &[TokenId]) -> Tensor<2> {
        let mut data = vec![0.0f32; tokens.len() * self.vocab];
        for (r, &t) in tokens.iter().enumerate() {
            data[r * self.vocab + t as usize] = 1.0;
        }
        self.host(tokens.len(), self.vocab, data)
    }

    /// One LSTM step: consumes `inputs` (token ids), updates the state of the rows where
    /// `active` is set and keeps the others.
    fn cell(&self, inputs: &[TokenId], active: &[bool], h: Tensor<2>, c: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let rows = inputs.len();
        let x = self.one_hot(inputs).matmul(self.t[idx::EMBED].clone());
        let gates =
            x.matmul(self.t[idx::W_X].clone()) + h.clone().matmul(self.t[idx::W_H].clone()) + self.t[idx::B].clone();
        let hd = self.hidden;
        let i = sigmoid(gates.clone().narrow(1, 0, hd));
        let f = sigmoid(gates.clone().narrow(1, hd, hd));
        let g = tanh(gates.clone().narrow(1, 2 * hd, hd));
        let o = sigmoid(gates.narrow(1, 3 * hd, hd));
        let c_new = f * c.clone() + i * g;
        let h_new = o * tanh(c_new.clone());
        if active.iter().all(|&a| a) {
            return (h_new, c_new);
        }
        let m: Vec<f32> = active.iter().map(|&a| if a { 1.0 } else { 0.0 }).collect();
        let keep: Vec<f32> = m.iter().map(|v| 1.0 - v).collect();
        let (m, keep) = (self.host(rows, 1, m), self.host(rows, 1, keep));
        (h_new * m.clone() + h * keep.clone(), c_new * m + c * keep)
    }

    /// Policy logits `[rows, vocab]` of hidden states `h`.
    fn logits(&self, h: Tensor<2>) -> Tensor<2> {
        h.matmul(self.t[idx::W_OUT].clone()) + self.t[idx::B_OUT].clone()
    }

    /// Predicted rewards `[rows, 1]` of final states `h`.
    fn predict(&self, h: Tensor<2>) -> Tensor<2> {
        sigmoid(h.matmul(self.t[idx::W_PRED].clone()) + self.t[idx::B_PRED].clone())
    }

    fn zeros(&self, rows: usize) -> Tensor<2> {
        Tensor::<2>::zeros([rows, self.hidden], &self.device)
    }
}

/// Whether `prefix` ends with the output token.
pub(crate) fn is_complete(space: &dyn SearchSpace, prefix: &[TokenId]) -> bool {
    space.is_complete(prefix)
}

/// Index into `allowed` drawn with probabilities `softmax(logits[allowed])`, computed in f64.
fn draw(logits: &[f32], allowed: &[TokenId], rng: &mut ChaCha8Rng) -> Option<TokenId> {
    let max = allowed.iter().map(|&t| logits[t as usize]).fold(f32::NEG_INFINITY, f32::max);
    let w: Vec<f64> = allowed.iter().map(|&t| f64::from(logits[t as usize] - max).exp()).collect();
    let total: f64 = w.iter().sum();
    if !(total.is_finite() && total > 0.0) {
        return None;
    }
    let mut r = rng.random::<f64>() * total;
    for (&t, &wi) in allowed.iter().zip(&w) {
        if r < wi {
            return Some(t);
        }
        r -= wi;
    }
    allowed.last().copied()
}

/// Masked softmax over `allowed` (probabilities in `allowed` order).
fn softmax_over(logits: &[f32], allowed: &[TokenId]) -> Vec<f64> {
    let max = allowed.iter().map(|&t| logits[t as usize]).fold(f32::NEG_INFINITY, f32::max);
    let w: Vec<f64> = allowed.iter().map(|&t| f64::from(logits[t as usize] - max).exp()).collect();
    let total: f64 = w.iter().sum();
    w.into_iter().map(|x| x / total).collect()
}

impl Params {
    /// Fresh parameters: Glorot-uniform kernels, embedding uniform in ±0.05, zero biases except
    /// the forget gate's (1); drawn from `rng`.
    pub fn init(dims: Dims, rng: &mut ChaCha8Rng) -> Self {
        let s = dims.shapes();
        let mut b = HostParam::zeros(s[idx::B]);
        b.data[dims.hidden..2 * dims.hidden].fill(1.0);
        let tensors = vec![
            HostParam::uniform(s[idx::EMBED], 0.05, rng),
            HostParam::glorot(s[idx::W_X], rng),
            HostParam::glorot(s[idx::W_H], rng),
            b,
            HostParam::glorot(s[idx::W_OUT], rng),
            HostParam::zeros(s[idx::B_OUT]),
            HostParam::glorot(s[idx::W_PRED], rng),
            HostParam::zeros(s[idx::B_PRED]),
        ];
        Self { dims, tensors }
    }

    /// Samples `rows` sequences in one batch, token by token from the masked policy. At each
    /// position the candidates are `allowed(prefix)` (which must be non-empty until the sequence
    /// is complete); one uniform draw per row and position comes from `rng`, rows in order.
    pub fn sample(
        &self,
        device: &Device,
        space: &dyn SearchSpace,
        rows: usize,
        rng: &mut ChaCha8Rng,
        allowed: &mut dyn FnMut(&[TokenId]) -> Vec<TokenId>,
    ) -> Result<Vec<Sample>, ControllerError> {
        let net = Net::new(self, device, false);
        let mut seqs: Vec<Vec<TokenId>> = vec![Vec::with_capacity(space.max_len()); rows];
        let mut done = vec![false; rows];
        let (mut h, mut c) = (net.zeros(rows), net.zeros(rows));
        for _ in 0..=space.max_len() + 1 {
            if done.iter().all(|&d| d) {
                break;
            }
            let inputs: Vec<TokenId> = seqs.iter().map(|s| s.last().copied().unwrap_or(0)).collect();
            let active: Vec<bool> = done.iter().map(|&d| !d).collect();
            (h, c) = net.cell(&inputs, &active, h, c);
            if seqs.iter().zip(&done).all(|(s, &d)| d || is_complete(space, s)) {
                // Only the output tokens were consumed: no logits needed.
                done.fill(true);
                break;
            }
            let logits = net.logits(h.clone()).into_data().try_into_vec::<f32>().map_err(|e| data_err("logits", e))?;
            for (r, seq) in seqs.iter_mut().enumerate() {
                if done[r] {
                    continue;
                }
                if is_complete(space, seq) {
                    done[r] = true;
                    continue;
                }
                let cand = allowed(seq);
                let row = &logits[r * net.vocab..(r + 1) * net.vocab];
                let t = draw(row, &cand, rng).ok_or_else(|| {
                    ControllerError::Other(format!(
                        "no token can follow {seq:?} (allowed: {cand:?}); the search space has no valid \
                         completion of this prefix"
                    ))
                })?;
                seq.push(t);
            }
        }
        if let Some(seq) = seqs.iter().zip(&done).find_map(|(s, &d)| (!d).then_some(s)) {
            return Err(ControllerError::Other(format!(
                "sampling did not finish {seq:?} within the maximum length {}",
                space.max_len()
            )));
        }
        let predicted = net.predict(h).into_data().try_into_vec::<f32>().map_err(|e| data_err("predictions", e))?;
        Ok(seqs.into_iter().zip(predicted).map(|(tokens, p)| Sample { tokens, predicted: f64::from(p) }).collect())
    }

    /// Probabilities of the first token (after the start token), over `allowed_next(&[])`.
    pub fn first_token_probs(
        &self,
        device: &Device,
        space: &dyn SearchSpace,
    ) -> Result<Vec<(TokenId, f64)>, ControllerError> {
        let net = Net::new(self, device, false);
        let (h, c) = (net.zeros(1), net.zeros(1));
        let (h, _) = net.cell(&[0], &[true], h, c);
        let logits = net.logits(h).into_data().try_into_vec::<f32>().map_err(|e| data_err("logits", e))?;
        let allowed = space.allowed_next(&[]);
        let p = softmax_over(&logits, &allowed);
        Ok(allowed.into_iter().zip(p).collect())
    }

    /// The loss of one batch and its gradient with respect to every parameter (`None` for a
    /// parameter the loss does not depend on), computed with Burn's autodiff on `device`.
    pub fn gradients(
        &self,
        device: &Device,
        space: &dyn SearchSpace,
        input: &LossInput<'_>,
    ) -> Result<(Gradients, LossParts), ControllerError> {
        let ad = device.clone().autodiff();
        let net = Net::new(self, &ad, true);
        let rows = input.seqs.len();
        let v = net.vocab;
        let longest = input.seqs.iter().map(Vec::len).max().unwrap_or(0);
        let (mut h, mut c) = (net.zeros(rows), net.zeros(rows));
        // Per row: sum_t log pi(a_t), and the sum of the entropies of its positions.
        let mut logp_sum: Option<Tensor<2>> = None;
        let mut ent_sum: Option<Tensor<2>> = None;
        let mut positions = 0usize;
        for t in 0..=longest {
            let active: Vec<bool> = input.seqs.iter().map(|s| t <= s.len()).collect();
            let inputs: Vec<TokenId> =
                input.seqs.iter().map(|s| if t == 0 || t > s.len() { 0 } else { s[t - 1] }).collect();
            (h, c) = net.cell(&inputs, &active, h, c);
            if t == longest {
                break;
            }
            // Targets, masks and weights of position t.
            let mut target = vec![0.0f32; rows * v];
            let mut mask = vec![0.0f32; rows * v];
            let mut weight = vec![0.0f32; rows];
            for (r, s) in input.seqs.iter().enumerate() {
                if t >= s.len() {
                    continue;
                }
                let allowed = space.allowed_next(&s[..t]);
                if !allowed.contains(&s[t]) {
                    return Err(ControllerError::Other(format!("token {} is not allowed after {:?}", s[t], &s[..t])));
                }
                mask[r * v..(r + 1) * v].fill(MASKED);
                for a in allowed {
                    mask[r * v + a as usize] = 0.0;
                }
                target[r * v + s[t] as usize] = 1.0;
                weight[r] = 1.0;
                positions += 1;
            }
            let logp = log_softmax(net.logits(h.clone()) + net.host(rows, v, mask), 1);
            let weight = net.host(rows, 1, weight);
            let chosen = (logp.clone() * net.host(rows, v, target)).sum_dim(1) * weight.clone();
            let ent = (logp.clone().exp() * logp).sum_dim(1).neg() * weight;
            logp_sum = Some(match logp_sum {
                Some(acc) => acc + chosen,
                None => chosen,
            });
            ent_sum = Some(match ent_sum {
                Some(acc) => acc + ent,
                None => ent,
            });
        }
        let (Some(logp_sum), Some(ent_sum)) = (logp_sum, ent_sum) else {
            return Err(ControllerError::Other("cannot update on an empty batch".into()));
        };
        let adv: Vec<f32> = input.advantages.iter().map(|&a| a as f32).collect();
        let policy = (logp_sum * net.host(rows, 1, adv)).sum().neg() / rows as f32;
        let entropy = ent_sum.sum() / positions.max(1) as f32;
        let mut total = policy.clone() - entropy.clone() * input.entropy_weight as f32;
        let mut predictor_value = 0.0;
        if input.predictor_weight > 0.0 {
            let r: Vec<f32> = input.rewards.iter().map(|&x| x as f32).collect();
            let err = net.predict(h) - net.host(rows, 1, r);
            let mse = (err.clone() * err).mean();
            predictor_value = f64::from(mse.clone().into_scalar::<f32>());
            total = total + mse * input.predictor_weight as f32;
        }
        let parts = LossParts {
            policy: f64::from(policy.into_scalar::<f32>()),
            entropy: f64::from(entropy.into_scalar::<f32>()),
            predictor: predictor_value,
            total: f64::from(total.clone().into_scalar::<f32>()),
        };
        let grads = total.backward();
        let mut out = Vec::with_capacity(idx::COUNT);
        for p in &net.t {
            out.push(match p.grad(&grads) {
                Some(g) => Some(g.into_data().try_into_vec::<f32>().map_err(|e| data_err("gradients", e))?),
                None => None,
            });
        }
        Ok((out, parts))
    }
}

#[cfg(test)]
mod tests {
    use mlpnas_core::MlpSpaceConfig;
    use rand::SeedableRng;

    use super::*;

    /// The backend under test (`mlpnas_backend::Backend::under_test`), else the controller's
    /// default (ndarray).
    fn device() -> Device {
        let backend = mlpnas_backend::Backend::under_test().unwrap_or(mlpnas_backend::Backend::Ndarray);
        backend.device().expect("the backend under test is available")
    }

    #[test]
    fn initial_policy_is_near_uniform_and_samples_are_valid() -> Result<(), Box<dyn std::error::Error>> {
        let space = MlpSpaceConfig::default().build()?;
        let dims = Dims { vocab: space.vocab_size(), embedding: 8, hidden: 100 };
        let p = Params::init(dims, &mut ChaCha8Rng::seed_from_u64(1));
        let probs = p.first_token_probs(&device(), &space)?;
        assert_eq!(probs.len(), 28);
        for &(_, q) in &probs {
            assert!((0.02..0.06).contains(&q), "{probs:?}");
        }
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let samples = p.sample(&device(), &space, 50, &mut rng, &mut |s| space.allowed_next(s))?;
        for s in &samples {
            space.validate(&s.tokens)?;
            assert!(s.predicted > 0.0 && s.predicted < 1.0);
        }
        Ok(())
    }

    #[test]
    fn gradients_cover_every_parameter() -> Result<(), Box<dyn std::error::Error>> {
        let space = MlpSpaceConfig { max_len: 4, ..Default::default() }.build()?;
        let dims = Dims { vocab: space.vocab_size(), embedding: 4, hidden: 6 };
        let p = Params::init(dims, &mut ChaCha8Rng::seed_from_u64(1));
        let seqs = vec![vec![1, 30], vec![5, 29, 7, 30], vec![3, 4, 30]];
        let input = LossInput {
            seqs: &seqs,
            advantages: &[0.5, -0.2, 0.1],
            rewards: &[0.9, 0.1, 0.4],
            entropy_weight: 0.01,
            predictor_weight: 1.0,
        };
        let (grads, parts) = p.gradients(&device(), &space, &input)?;
        assert!(parts.total.is_finite() && parts.entropy > 0.0 && parts.predictor > 0.0, "{parts:?}");
        for (i, g) in grads.iter().enumerate() {
            let g = g.as_ref().ok_or(format!("no gradient for {}", idx::NAMES[i]))?;
            assert_eq!(g.len(), p.tensors[i].data.len());
            assert!(g.iter().all(|x| x.is_finite()));
        }
        // The predictor off: its head gets no gradient.
        let (grads, parts) = p.gradients(&device(), &space, &LossInput { predictor_weight: 0.0, ..input })?;
        assert_eq!(parts.predictor, 0.0);
        assert!(grads[idx::W_PRED].is_none() && grads[idx::B_PRED].is_none());
        Ok(())
    }

    /// The autodiff gradient of the policy loss matches a central finite difference.
    #[test]
    fn gradient_matches_finite_differences() -> Result<(), Box<dyn std::error::Error>> {
        let space = MlpSpaceConfig { units: vec![8, 16], max_len: 3, ..Default::default() }.build()?;
        let dims = Dims { vocab: space.vocab_size(), embedding: 3, hidden: 4 };
        let p = Params::init(dims, &mut ChaCha8Rng::seed_from_u64(9));
        let seqs = vec![vec![1, 9, 10], vec![2, 10]];
        let input = LossInput {
            seqs: &seqs,
            advantages: &[1.0, -0.5],
            rewards: &[0.7, 0.2],
            entropy_weight: 0.1,
            predictor_weight: 0.5,
        };
        let (grads, _) = p.gradients(&device(), &space, &input)?;
        for (ti, i) in [(idx::W_OUT, 3), (idx::W_H, 5), (idx::EMBED, 1), (idx::B_PRED, 0)] {
            let eps = 1e-2f32;
            let mut plus = p.clone();
            plus.tensors[ti].data[i] += eps;
            let mut minus = p.clone();
            minus.tensors[ti].data[i] -= eps;
            let fd = (plus.gradients(&device(), &space, &input)?.1.total
                - minus.gradients(&device(), &space, &input)?.1.total)
                / (2.0 * f64::from(eps));
            let g = f64::from(grads[ti].as_ref().ok_or("no gradient")?[i]);
            assert!(
                (fd - g).abs() < 2e-3 + 0.02 * g.abs(),
                "{}[{i}]: autodiff {g}, finite difference {fd}",
                idx::NAMES[ti]
            );
        }
        Ok(())
    }
}
