//! Built-in data sets, compiled into the binary from crates that ship them (nothing is downloaded
//! at run time). Available with the `builtin` cargo feature (on by default).

use mlpnas_core::{Dataset, Task};

use crate::error::DataError;

/// Names accepted after `builtin:` when the `builtin` feature is on.
#[cfg(feature = "builtin")]
const NAMES: &[&str] = &["iris", "winequality-red", "digits", "breast-cancer", "diabetes"];
#[cfg(not(feature = "builtin"))]
const NAMES: &[&str] = &[];

/// Names of the built-in data sets (`builtin:NAME`); empty when built without the `builtin`
/// feature.
///
/// * `iris`: 150 rows, 4 features, 3 classes (setosa, versicolor, virginica);
/// * `winequality-red`: 1599 rows, 11 features, 6 classes (quality scores `3`..`8`);
/// * `digits`: 1797 8x8 images (`sample_shape` `[8, 8]`, features `px0`..`px63`), 10 classes;
/// * `breast-cancer`: 569 rows, 30 features, 2 classes (malignant, benign);
/// * `diabetes`: 442 rows, 10 features, a number to predict (disease progression after one
///   year; `--task regression`).
///
/// A data set of classes whose names are numbers (`winequality-red`, `digits`) also loads for
/// a regression, its class names as the values.
pub fn builtin_names() -> &'static [&'static str] {
    NAMES
}

/// Loads `builtin:name` (case-insensitive; `_` may stand for `-`).
pub(crate) fn load_builtin(name: &str) -> Result<Dataset, DataError> {
    let key = name.trim().to_ascii_lowercase().replace('_', "-");
    let data = match imp::load(&key) {
        Some(d) => d,
        None => {
            return Err(DataError::UnknownBuiltin {
                name: name.to_string(),
                known: if NAMES.is_empty() {
                    "none: this build has no `builtin` feature".to_string()
                } else {
                    NAMES.join(", ")
                },
            });
        }
    };
    data.check().map_err(|reason| DataError::invalid(format!("builtin:{key}"), reason))?;
    Ok(data)
}

/// `data` (built-in `name`) as `task` needs it: a regression data set refuses classification;
/// classes whose names are all numbers become those numbers for a regression; other classes
/// refuse it.
pub(crate) fn for_task(data: Dataset, task: Task, name: &str) -> Result<Dataset, DataError> {
    let origin = format!("builtin:{name}");
    match (task, data.is_regression()) {
        (Task::Classification, true) => {
            Err(DataError::invalid(origin, "its label is a number to predict, not classes: use --task regression"))
        }
        (Task::Regression, false) => {
            let values: Option<Vec<f32>> =
                data.class_names.iter().map(|c| c.parse::<f32>().ok().filter(|v| v.is_finite())).collect();
            let Some(values) = values else {
                return Err(DataError::invalid(
                    origin,
                    format!(
                        "its label is classes ({}), not a number: a regression needs numeric labels",
                        data.class_names.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            };
            let targets = data.labels.iter().map(|&l| values[l as usize]).collect();
            let data = Dataset { labels: Vec::new(), targets, class_names: Vec::new(), ..data };
            data.check().map_err(|reason| DataError::invalid(origin, reason))?;
            Ok(data)
        }
        _ => Ok(data),
    }
}

#[cfg(not(feature = "builtin"))]
mod imp {
    use mlpnas_core::Dataset;

    pub(super) fn load(_key: &str) -> Option<Dataset> {
        None
    }
}

#[cfg(feature = "builtin")]
mod imp {
    use mlpnas_core::Dataset;

    use crate::labels;

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// Wraps a smartcore data set with integer targets `0..class_names.len()`.
    fn from_smartcore<Y: Copy + Into<f64>>(
        d: smartcore::dataset::Dataset<f32, Y>,
        sample_shape: Vec<usize>,
        feature_names: Vec<String>,
        class_names: Vec<String>,
    ) -> Dataset {
        Dataset {
            features: d.data,
            sample_shape,
            labels: d.target.iter().map(|&y| y.into() as u32).collect(),
            targets: Vec::new(),
            class_names,
            feature_names,
        }
    }

    pub(super) fn load(key: &str) -> Option<Dataset> {
        Some(match key {
            "iris" => {
                let d = smartcore::dataset::iris::load_dataset();
                let (f, c) = (d.feature_names.clone(), d.target_names.clone());
                from_smartcore(d, vec![4], f, c)
            }
            "digits" => from_smartcore(
                smartcore::dataset::digits::load_dataset(),
                vec![8, 8],
                (0..64).map(|i| format!("px{i}")).collect(),
                (0..10).map(|i| i.to_string()).collect(),
            ),
            "breast-cancer" => {
                let d = smartcore::dataset::breast_cancer::load_dataset();
                let f = d.feature_names.clone();
                from_smartcore(d, vec![30], f, strings(&["malignant", "benign"]))
            }
            "diabetes" => {
                let d = smartcore::dataset::diabetes::load_dataset();
                Dataset {
                    sample_shape: vec![d.num_features],
                    labels: Vec::new(),
                    targets: d.target.iter().map(|&y| y as f32).collect(),
                    class_names: Vec::new(),
                    feature_names: d.feature_names,
                    features: d.data,
                }
            }
            "winequality-red" => {
                let d = linfa_datasets::winequality();
                let features: Vec<f32> = d.records.iter().map(|&v| v as f32).collect();
                let quality: Vec<String> = d.targets.iter().map(|q| q.to_string()).collect();
                let (labels, class_names) = labels::encode(&quality);
                Dataset {
                    features,
                    sample_shape: vec![11],
                    labels,
                    targets: Vec::new(),
                    class_names,
                    feature_names: strings(&[
                        "fixed acidity",
                        "volatile acidity",
                        "citric acid",
                        "residual sugar",
                        "chlorides",
                        "free sulfur dioxide",
                        "total sulfur dioxide",
                        "density",
                        "pH",
                        "sulphates",
                        "alcohol",
                    ]),
                }
            }
            _ => return None,
        })
    }
}
