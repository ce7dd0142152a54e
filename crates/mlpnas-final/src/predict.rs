//! [`Predictor`]: an exported model directory loaded for prediction.

use std::path::{Path, PathBuf};

use mlpnas_core::{Architecture, Model, codec};
use mlpnas_data::PredictSource;

use crate::card::ModelCard;
use crate::error::FinalError;
use crate::{LEGACY_MODEL_RECORD, MODEL_CARD, MODEL_WEIGHTS};

/// A loaded model with its preprocessing.
#[derive(Debug)]
pub struct Predictor {
    card: ModelCard,
    model: Box<dyn Model>,
    /// The weights the model was built from (one entry per dense layer).
    weights: Vec<mlpnas_core::LayerWeights>,
    dir: PathBuf,
}

/// Predictions for a set of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// Number of rows predicted.
    pub rows: usize,
    /// Predicted class index of each row (empty for a regression).
    pub classes: Vec<usize>,
    /// `rows * n_classes` probabilities, row-major (a regression: its predicted values, in the
    /// label's units).
    pub proba: Vec<f32>,
    /// Number of classes (0: a regression).
    pub n_classes: usize,
    /// The rows' true labels, when the input had the label column.
    pub truth: Option<Vec<String>>,
    /// What reading the rows noticed, one line each (categories never seen in training).
    pub notes: Vec<String>,
}

/// How predictions compare with the rows' labels ([`Predictions::score`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelScore {
    /// Share of the rows with a label the model knows whose prediction equals it (`None` when
    /// no row has such a label, and for a regression).
    pub accuracy: Option<f64>,
    /// Rows whose label is one of the model's classes, or a number for a regression (the
    /// accuracy and the metric are over these).
    pub known_rows: usize,
    /// Rows whose label the model has never seen (or that is not a number, for a regression).
    pub unknown_rows: usize,
    /// Those labels, sorted, each once.
    pub unknown_labels: Vec<String>,
    /// The run's metric over the same rows, when the model was chosen by another metric than
    /// the accuracy (and some row has a known label).
    pub metric: Option<mlpnas_core::MetricValue>,
}

impl Predictions {
    /// Compares the predictions with the rows' labels, when the input had the label column:
    /// accuracy over the rows whose label is one of `class_names` only, and the labels the model
    /// has never seen (a model of white wines scored on red wines of other qualities).
    /// With `objective`, also its metric over those rows.
    pub fn score(&self, class_names: &[String], objective: Option<mlpnas_core::Objective>) -> Option<LabelScore> {
        let truth = self.truth.as_ref()?;
        if self.n_classes == 0 {
            return Some(self.score_values(truth, objective));
        }
        let (mut hits, mut known) = (0usize, 0usize);
        let mut unknown = std::collections::BTreeSet::new();
        let mut unknown_rows = 0;
        let (mut labels, mut proba) = (Vec::new(), Vec::new());
        for (row, (c, t)) in self.classes.iter().zip(truth).enumerate() {
            if let Some(label) = class_names.iter().position(|n| n == t) {
                known += 1;
                hits += usize::from(class_names[*c] == *t);
                labels.push(label as u32);
                proba.extend_from_slice(&self.proba[row * self.n_classes..(row + 1) * self.n_classes]);
            } else {
                unknown_rows += 1;
                unknown.insert(t.clone());
            }
        }
        Some(LabelScore {
            accuracy: (known > 0).then(|| hits as f64 / known as f64),
            known_rows: known,
            unknown_rows,
            unknown_labels: unknown.into_iter().collect(),
            metric: objective.filter(|_| known > 0).map(|o| o.evaluate(&proba, self.n_classes, &labels)),
        })
    }
}

impl Predictions {
    /// A regression's predictions against the rows' labels that are numbers.
    fn score_values(&self, truth: &[String], objective: Option<mlpnas_core::Objective>) -> LabelScore {
        let (mut pred, mut values, mut unknown) = (Vec::new(), Vec::new(), std::collections::BTreeSet::new());
        for (&p, t) in self.proba.iter().zip(truth) {
            match t.trim().parse::<f32>().ok().filter(|v| v.is_finite()) {
                Some(v) => {
                    pred.push(p);
                    values.push(v);
                }
                None => {
                    unknown.insert(t.clone());
                }
            }
        }
        let known = values.len();
        LabelScore {
            accuracy: None,
            known_rows: known,
            unknown_rows: truth.len() - known,
            unknown_labels: unknown.into_iter().collect(),
            metric: objective.filter(|_| known > 0).map(|o| o.evaluate_values(&pred, &values)),
        }
    }
}

impl Predictor {
    /// Loads the model directory `dir` (`model.json` and `model.safetensors`) on the backend it
    /// was trained on.
    pub fn load(dir: &Path) -> Result<Self, FinalError> {
        Self::load_on(dir, None)
    }

    /// Loads the model directory `dir` on `backend`, or on the backend it was trained on (the
    /// card's) when `None`. The weights are plain values, so any backend loads them: e.g. a
    /// model trained on `tch-cuda:0` predicts on `flex` in a build without LibTorch. Model
    /// directories of earlier releases (`model.bpk`, a Burn record) still load.
    pub fn load_on(dir: &Path, backend: Option<&str>) -> Result<Self, FinalError> {
        let card_path = dir.join(MODEL_CARD);
        let text = std::fs::read_to_string(&card_path).map_err(|e| {
            FinalError::file(&card_path, format!("cannot read ({e}); is {} a model directory?", dir.display()))
        })?;
        let (mut card, legacy) = ModelCard::parse(&text).map_err(|e| FinalError::file(&card_path, e))?;
        let width: usize = card.sample_shape.iter().product();
        if width != card.feature_names.len() {
            return Err(FinalError::file(&card_path, "sample_shape and feature_names disagree"));
        }
        if let Some(s) = &card.standardizer
            && (s.mean.len() != width || s.std.len() != width)
        {
            return Err(FinalError::file(&card_path, "the standardizer does not match the features"));
        }
        if let Some(p) = &card.preprocessor
            && p.width() != width
        {
            return Err(FinalError::file(&card_path, "the preprocessor does not match the features"));
        }
        let arch = Architecture::parse(&card.architecture, width, card.class_names.len(), card.dropout)
            .map_err(|e| FinalError::file(&card_path, e))?;
        match backend {
            Some(b) => {
                card.trainer.set_backend(b).map_err(|e| FinalError::Invalid(e.within("--backend").to_string()))?
            }
            None => card.trainer.validate().map_err(|e| {
                FinalError::file(
                    &card_path,
                    format!("{}; `--backend flex` predicts on another backend", e.within("trainer")),
                )
            })?,
        }
        let weights = if legacy {
            let record = dir.join(LEGACY_MODEL_RECORD);
            if !record.exists() {
                return Err(FinalError::file(&record, "missing"));
            }
            card.trainer.import_legacy_model(&arch, &record)?
        } else {
            let path = dir.join(MODEL_WEIGHTS);
            let bytes = std::fs::read(&path).map_err(|e| FinalError::file(&path, format!("cannot read: {e}")))?;
            codec::decode_layers(&bytes).map_err(|e| FinalError::file(&path, e))?
        };
        let shapes = arch.dense_shapes();
        if weights.len() != shapes.len() || weights.iter().zip(&shapes).any(|(w, &(inp, out, _))| !w.fits(inp, out)) {
            return Err(FinalError::file(
                &dir.join(MODEL_WEIGHTS),
                format!("the weights do not fit the architecture {arch} of {}", card_path.display()),
            ));
        }
        let model = card.trainer.model(&arch, &weights)?;
        Ok(Self { card, model, weights, dir: dir.to_path_buf() })
    }

    /// Its card.
    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    /// The directory it was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The underlying model.
    pub fn model(&self) -> &dyn Model {
        self.model.as_ref()
    }

    /// The model as ONNX bytes ([`crate::onnx`]): input the card's features (what
    /// [`Predictor::predict_raw`] takes), output the class probabilities (a regression: the
    /// predicted value).
    pub fn onnx(&self) -> Vec<u8> {
        crate::onnx::encode(self.model.architecture(), &self.weights, self.card.standardizer.as_ref())
    }

    /// Writes [`Predictor::onnx`] to `model.onnx` in its directory (atomically); returns the path.
    pub fn write_onnx(&self) -> Result<PathBuf, FinalError> {
        let path = self.dir.join(crate::MODEL_ONNX);
        mlpnas_runs::atomic_write(&path, &self.onnx()).map_err(|e| FinalError::file(&path, e))?;
        Ok(path)
    }

    /// Predicts raw (not yet standardized) rows: `features` row-major in the card's feature order.
    pub fn predict_raw(&self, features: &[f32], rows: usize) -> Result<Predictions, FinalError> {
        let width = self.card.feature_names.len();
        let mut x = features.to_vec();
        if x.len() != rows * width {
            return Err(FinalError::Invalid(format!("{} values for {rows} rows of {width} features", x.len())));
        }
        if let Some(s) = &self.card.standardizer
            && width > 0
        {
            for row in x.chunks_exact_mut(width) {
                s.apply_row(row);
            }
        }
        let proba = self.model.predict_proba(&x, rows)?;
        let n_classes = self.model.n_classes();
        if n_classes == 0 {
            return Ok(Predictions { rows, classes: Vec::new(), proba, n_classes, truth: None, notes: Vec::new() });
        }
        let classes = proba
            .chunks_exact(n_classes)
            .map(|p| {
                // First maximum, as argmax.
                let mut best = 0;
                for (j, &v) in p.iter().enumerate() {
                    if v > p[best] {
                        best = j;
                    }
                }
                best
            })
            .collect();
        Ok(Predictions { rows, classes, proba, n_classes, truth: None, notes: Vec::new() })
    }

    /// Reads `source` (a CSV file with a header, columns matched by name, or `builtin:NAME`)
    /// relative to `base_dir` and predicts every row. The true labels come along when the source
    /// has the training label column.
    pub fn predict_source(&self, source: &PredictSource, base_dir: &Path) -> Result<Predictions, FinalError> {
        let label = self.card.label_column.as_deref();
        let f = match &self.card.preprocessor {
            Some(pre) => mlpnas_data::load_table_rows(source, base_dir, pre, label)?,
            None => mlpnas_data::load_prediction_rows(source, base_dir, &self.card.feature_names, label)?,
        };
        let mut p = self.predict_raw(&f.values, f.rows)?;
        p.truth = f.labels;
        p.notes = f.notes;
        Ok(p)
    }
}
