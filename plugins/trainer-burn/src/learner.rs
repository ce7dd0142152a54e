//! [`Learner`]: one architecture's parameters and optimizer state, stepped by the training loop
//! of [`crate::BurnTrainer`]; and [`AutodiffLearner`], the implementation on Burn's autodiff.
//!
//! Two implementations compute the same steps: [`AutodiffLearner`] (Burn's autodiff graph and
//! `burn::optim`, the reference) and [`crate::closed_form::ClosedFormLearner`] (the MLP's
//! gradients in closed form on the plain backend, no graph). `[trainer] gradients` chooses one;
//! the loop, the data, the initial weights, the batch order and the dropout masks are shared, so
//! the two differ only by float rounding (tests compare their gradients and accuracies).

use burn::module::Module;
use burn::nn::Linear;
use burn::optim::{
    Adam, AdamConfig, AdamState, GradientsParams, LearningRate, ModuleOptimizer, Optimizer, SgdConfig,
    momentum::MomentumConfig,
};
use burn::tensor::{Device, Tensor};
use mlpnas_core::codec::Tensors;
use mlpnas_core::seed::SeedRng;
use mlpnas_core::{LayerWeights, Optimizer as OptimizerKind};

use crate::config::BurnTrainerConfig;
use crate::model::{Plan, build_layers, export};

/// One architecture being trained.
///
/// # Design
///
/// The training loop owns what both gradient paths share (data on the device, batch order,
/// epochs, validation, early stopping, weight export at the best epoch); a learner owns only the
/// parameters and the optimizer state, and answers three questions: take a step, give logits,
/// give the weights. Nothing reads a value back to the host per step except the closed form's
/// host-side optimizer update on CPU backends (where host and device memory are the same): the
/// loop collects the batch losses as a device tensor and reads it once per epoch.
pub(crate) trait Learner: Send {
    /// The device the training rows must live on (an autodiff device for [`AutodiffLearner`]).
    fn train_device(&self) -> Device;

    /// One optimizer step on a batch (`x` `[b, in]`, loss targets `y`, the rows' class weights
    /// `w` `[b, 1]` if any) at learning rate `lr`, drawing dropout masks from `masks`. Returns the
    /// batch's mean loss, `[1]`, on the plain device, not read back.
    fn step(
        &mut self,
        x: Tensor<2>,
        y: Tensor<2>,
        w: Option<Tensor<2>>,
        masks: &mut SeedRng,
        lr: f64,
    ) -> Result<Tensor<1>, String>;

    /// Logits of `x` (on the plain device) with the current weights, no dropout.
    fn logits(&self, x: Tensor<2>) -> Tensor<2>;

    /// The current weights, copied to the host.
    fn weights(&self) -> Result<Vec<LayerWeights>, String>;

    /// Writes the parameters and optimizer state into `into`, for a trial that another process
    /// continues ([`crate::continuation`]).
    fn save(&self, into: &mut Tensors) -> Result<(), String>;
}

/// Which optimizer, with Burn's settings of the references (Adam epsilon 1e-7 as Keras), and
/// the decoupled weight decay when there is one ([`Decayed`]).
pub(crate) fn optimizer(cfg: &BurnTrainerConfig) -> burn::optim::ModuleOptimizer {
    let decay = cfg.weight_decay;
    match cfg.optimizer {
        OptimizerKind::Adam => {
            let adam = Flushed(AdamConfig::new().with_epsilon(ADAM_EPSILON).build());
            if decay > 0.0 { ModuleOptimizer::from(Decayed(adam, decay)) } else { ModuleOptimizer::from(adam) }
        }
        OptimizerKind::Sgd => {
            let momentum =
                (cfg.momentum > 0.0).then(|| MomentumConfig::new().with_momentum(cfg.momentum).with_dampening(0.0));
            let sgd = SgdConfig::new().with_momentum(momentum);
            if decay > 0.0 { ModuleOptimizer::from(Decayed(sgd.build(), decay)) } else { sgd.init() }
        }
    }
}

/// An optimizer with decoupled weight decay (Loshchilov and Hutter's AdamW; Burn's `AdamW`
/// formula, for any optimizer): each parameter is multiplied by `1 - lr * decay` and then takes
/// the inner optimizer's update, which depends on the gradient only. The closed form does the
/// same, in the same order.
#[derive(Clone)]
pub(crate) struct Decayed<O>(pub(crate) O, pub(crate) f64);

impl<O: Optimizer> Optimizer for Decayed<O> {
    type State<const D: usize> = O::State<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        self.0.step(lr, tensor.mul_scalar(1.0 - lr * self.1), grad, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        O::to_device(state, device)
    }
}

/// Burn's Adam with its moments flushed to zero below f32's normal range after every step, as
/// the closed form's fused loop does ([`crate::closed_form::flush`] says why: subnormal moments
/// stall Intel cores), every [`FLUSH_EVERY`] steps. (Burn's SGD keeps its momentum
/// private, so `optimizer = "sgd"` with momentum on this path is not flushed; the closed form's
/// is.)
#[derive(Clone)]
pub(crate) struct Flushed(pub(crate) Adam);

impl Optimizer for Flushed {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (tensor, state) = self.0.step(lr, tensor, grad, state);
        let state = state.map(|mut s| {
            if s.momentum.time % FLUSH_EVERY == 0 {
                s.momentum.moment_1 = flush(s.momentum.moment_1);
                s.momentum.moment_2 = flush(s.momentum.moment_2);
            }
            s
        });
        (tensor, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Adam::to_device(state, device)
    }
}

/// Steps between two flushes of [`Flushed`]: a moment decaying through the subnormal range
/// spends at most this many steps there (about 150 unflushed), for an eighth of the cost of
/// flushing at every step (six tensor operations a parameter).
const FLUSH_EVERY: usize = 8;

/// `t` with its subnormal values set to zero.
pub(crate) fn flush<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    let tiny = t.clone().abs().lower_elem(f32::MIN_POSITIVE);
    t.mask_fill(tiny, 0.0)
}

/// Why a trial trained on the autodiff path cannot be continued by another process.
pub(crate) const AUTODIFF_STAYS: &str = "gradients = \"autodiff\" keeps its optimizer state inside Burn, where it cannot be handed to another process; a multi-fidelity search with PostgreSQL workers needs gradients = \"closed-form\" (the default)";

/// Adam's epsilon (Keras' default), for both paths.
pub(crate) const ADAM_EPSILON: f32 = 1e-7;

/// The reference path: `Linear` layers on an autodiff device, `loss.backward()`, `burn::optim`.
pub(crate) struct AutodiffLearner {
    plan: Plan,
    pub(crate) model: Vec<Linear>,
    optim: burn::optim::ModuleOptimizer,
    device: Device,
}

impl AutodiffLearner {
    /// A learner for `plan` from initial weights `init` (see [`crate::model::initial_weights`]).
    pub fn new(
        cfg: &BurnTrainerConfig,
        plan: Plan,
        arch: &mlpnas_core::Architecture,
        init: &[Option<LayerWeights>],
        rng: &mut SeedRng,
        plain: &Device,
    ) -> Self {
        let device = plain.clone().autodiff();
        let model = build_layers(arch, init, rng, &device);
        Self { plan, model, optim: optimizer(cfg), device }
    }
}

impl Learner for AutodiffLearner {
    fn train_device(&self) -> Device {
        self.device.clone()
    }

    fn step(
        &mut self,
        x: Tensor<2>,
        y: Tensor<2>,
        w: Option<Tensor<2>>,
        masks: &mut SeedRng,
        lr: f64,
    ) -> Result<Tensor<1>, String> {
        let loss = self.plan.loss(self.plan.forward(&self.model, x, Some(masks)), y, w);
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let model = std::mem::take(&mut self.model);
        self.model = self.optim.step(lr, model, grads);
        Ok(loss.inner())
    }

    fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        self.plan.forward(&self.model.valid(), x, None)
    }

    fn weights(&self) -> Result<Vec<LayerWeights>, String> {
        self.model.iter().map(export).collect()
    }

    fn save(&self, _into: &mut Tensors) -> Result<(), String> {
        Err(AUTODIFF_STAYS.into())
    }
}
