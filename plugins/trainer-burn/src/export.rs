//! [`BurnModel`]: a trained architecture for inference ([`mlpnas_core::Model`]) and its class
//! probabilities; reads the Burn record files (burnpack) that earlier releases exported.

use std::path::Path;

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};
use mlpnas_backend::Backend;
use mlpnas_core::seed::rng;
use mlpnas_core::{Architecture, LayerWeights, Model, OutputKind, TrainerError};

use crate::model::{Plan, build_layers, export};

/// A trained architecture on a (non-autodiff) device, ready to predict.
///
/// Models are exported in the one weights format by the caller (`mlpnas finalize`); a Burn record
/// file of an earlier release holds the dense layers' parameters only, and [`BurnModel::load`]
/// rebuilds the layers from the architecture before reading it, so a record that does not match
/// the architecture is an error, not a silent partial load.
#[derive(Debug)]
pub struct BurnModel {
    arch: Architecture,
    plan: Plan,
    layers: Vec<Linear>,
    device: Device,
}

impl BurnModel {
    /// The model of `arch` with trained `weights` (one per dense layer) on `backend`.
    pub fn new(arch: &Architecture, weights: &[LayerWeights], backend: Backend) -> Result<Self, TrainerError> {
        let shapes = arch.dense_shapes();
        if weights.len() != shapes.len() {
            return Err(TrainerError::Mismatch(format!(
                "{} weight layers for the {} dense layers of {arch}",
                weights.len(),
                shapes.len()
            )));
        }
        for (i, (w, &(inp, out, _))) in weights.iter().zip(shapes.iter()).enumerate() {
            if !w.fits(inp, out) {
                return Err(TrainerError::WeightShape {
                    layer: i,
                    got: w.kernel.shape.clone(),
                    expected: vec![inp, out],
                });
            }
        }
        let device = backend.device().map_err(TrainerError::Other)?;
        let init: Vec<Option<LayerWeights>> = weights.iter().cloned().map(Some).collect();
        let layers = build_layers(arch, &init, &mut rng(0), &device);
        Ok(Self { arch: arch.clone(), plan: Plan::new(arch), layers, device })
    }

    /// Reads the record at `path`, written by [`BurnModel::save`] for `arch`.
    pub fn load(arch: &Architecture, path: &Path, backend: Backend) -> Result<Self, TrainerError> {
        let device = backend.device().map_err(TrainerError::Other)?;
        // Placeholder parameters of the right shapes; the record replaces every one of them.
        let layers = build_layers(arch, &[], &mut rng(0), &device);
        let layers = layers
            .try_load_file(path)
            .map_err(|e| TrainerError::Other(format!("{}: cannot load the model record: {e}", path.display())))?;
        let model = Self { arch: arch.clone(), plan: Plan::new(arch), layers, device };
        // A record of other shapes must not load silently.
        for (i, (w, &(inp, out, _))) in model.weights()?.iter().zip(arch.dense_shapes().iter()).enumerate() {
            if !w.fits(inp, out) {
                return Err(TrainerError::Other(format!(
                    "{}: layer {i} has shape {:?}, the architecture {arch} needs [{inp}, {out}]",
                    path.display(),
                    w.kernel.shape
                )));
            }
        }
        Ok(model)
    }

    /// Writes the parameters as a Burn record (burnpack) to `path`.
    pub fn save(&self, path: &Path) -> Result<(), TrainerError> {
        self.layers
            .clone()
            .save_file(path)
            .map_err(|e| TrainerError::Other(format!("{}: cannot save the model record: {e}", path.display())))
    }

    /// The parameters, copied to the host, one entry per dense layer.
    pub fn weights(&self) -> Result<Vec<LayerWeights>, TrainerError> {
        self.layers.iter().map(export).collect::<Result<Vec<_>, _>>().map_err(TrainerError::Other)
    }
}

impl Model for BurnModel {
    fn architecture(&self) -> &Architecture {
        &self.arch
    }

    fn n_classes(&self) -> usize {
        match self.plan.output {
            OutputKind::Softmax => self.arch.dense_shapes().last().map_or(0, |s| s.1),
            OutputKind::Sigmoid => 2,
            OutputKind::Linear => 0,
        }
    }

    fn predict_proba(&self, features: &[f32], rows: usize) -> Result<Vec<f32>, TrainerError> {
        let width = self.arch.input_dim;
        if features.len() != rows * width {
            return Err(TrainerError::Mismatch(format!(
                "{} values for {rows} rows of {width} features",
                features.len()
            )));
        }
        if rows == 0 {
            return Ok(Vec::new());
        }
        let x = Tensor::<2>::from_data(TensorData::new(features.to_vec(), [rows, width]), &self.device);
        let logits = self.plan.forward(&self.layers, x, None);
        self.plan.probabilities(logits).map_err(TrainerError::Other)
    }
}
