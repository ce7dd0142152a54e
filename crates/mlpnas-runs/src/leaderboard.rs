//! A finalize's leaderboard (`final/leaderboard.json` of a run directory, by default): the
//! finalized models of a run with their scores. `mlpnas finalize` writes it; the dashboard and
//! `report` read it through [`Leaderboard::read`].

use std::path::{Path, PathBuf};

use mlpnas_core::{MetricValue, StorageError};
use serde::{Deserialize, Serialize};

/// Where `finalize` writes inside a run directory by default.
pub const FINAL_DIR: &str = "final";
/// The leaderboard's file name (JSON).
pub const LEADERBOARD_JSON: &str = "leaderboard.json";
/// The leaderboard as a markdown table.
pub const LEADERBOARD_MD: &str = "leaderboard.md";

/// Training facts and scores of a finalized model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinalMetrics {
    /// Rank among the run's trials by search reward (1 = best).
    pub rank: usize,
    /// The trial of the search it comes from.
    pub trial: usize,
    /// What the search ranked it by: its reward, or the mean of its scores when it was
    /// re-scored (`search.rescore_top`).
    pub search_reward: f64,
    /// `scratch` or `shared` (warm start from the run's weight store).
    pub init: String,
    /// Dense layers that started from shared weights.
    pub transfers: usize,
    /// Epochs run (at most `max_epochs`; fewer when early stopping ended training).
    pub epochs_run: usize,
    /// The final training's limit of epochs (`finalize --epochs`; absent in cards of earlier
    /// releases). The card's `trainer.epochs` is the search's epochs per trial, not this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_epochs: Option<usize>,
    /// Early stopping's patience (`finalize --patience`; absent in earlier releases' cards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patience: Option<usize>,
    /// 1-based epoch whose weights were kept (lowest validation loss).
    pub best_epoch: usize,
    /// Whether early stopping ended training.
    pub stopped_early: bool,
    /// Validation loss of the kept weights.
    pub val_loss: f64,
    /// Validation accuracy of the kept weights.
    pub val_acc: f64,
    /// Test loss of the kept weights.
    pub test_loss: f64,
    /// Test accuracy of the kept weights.
    pub test_acc: f64,
    /// The run's `search.metric` of the kept weights on the validation rows, when it is not the
    /// accuracy (absent in earlier releases' cards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_metric: Option<MetricValue>,
    /// The same on the test rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_metric: Option<MetricValue>,
    /// Rows in the training, validation and test parts.
    pub rows: [usize; 3],
    /// What the exported model was trained on when it was refit on more than the training part
    /// (`finalize --refit all`); absent: the training part, with early stopping on validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refit: Option<Refit>,
    /// Wall time of the final training.
    pub seconds: f64,
}

/// A final model trained again on the training and validation rows (`finalize --refit all`),
/// for the number of epochs early stopping chose on the validation rows; the test rows stay
/// out. Its validation numbers are those of the early-stopped model (the refit one has seen
/// the validation rows); its test numbers are the refit model's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refit {
    /// The parts it was trained on: `train+valid`.
    pub parts: String,
    /// Rows it was trained on (training plus validation rows).
    pub rows: usize,
    /// Epochs it was trained for (the early-stopped model's best epoch).
    pub epochs: usize,
    /// Wall time of the refit.
    pub seconds: f64,
}

/// One finalized model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderboardEntry {
    /// Architecture text.
    pub architecture: String,
    /// Model directory, relative to the leaderboard's directory.
    pub model_dir: String,
    /// Scores and training facts.
    pub metrics: FinalMetrics,
}

/// The result of `finalize` (`leaderboard.json`), best validation accuracy first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaderboard {
    /// The run directory.
    pub run_dir: String,
    /// Data source.
    pub data_source: String,
    /// Whether the test rows were carved out of the search's training rows (the run had no test part).
    pub test_carved_from_train: bool,
    /// Models, best validation accuracy first (ties: lower validation loss, then search rank);
    /// the test accuracy is reported, never used to choose.
    pub entries: Vec<LeaderboardEntry>,
    /// The directory written.
    #[serde(skip)]
    pub dir: PathBuf,
}

impl Leaderboard {
    /// The leaderboard of the run directory `run_dir` written by a finalize to its default
    /// place (`final/leaderboard.json`), if there is one.
    pub fn read(run_dir: &Path) -> Result<Option<Self>, StorageError> {
        let path = run_dir.join(FINAL_DIR).join(LEADERBOARD_JSON);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| StorageError::io(&path, e))?;
        let mut board: Self = serde_json::from_str(&text).map_err(|e| StorageError::io(&path, e))?;
        board.dir = run_dir.join(FINAL_DIR);
        Ok(Some(board))
    }

    /// The leaderboard as a markdown table.
    pub fn to_markdown(&self) -> String {
        let mut s = format!(
            "# Final models of {}\n\nData: {}; test rows {}.\n\n",
            self.run_dir,
            self.data_source,
            if self.test_carved_from_train {
                "carved out of the search's training rows (never used to select or train the final models)"
            } else {
                "held out by the run's own split"
            }
        );
        // A run scored by another metric than the accuracy shows it beside the accuracy; a
        // regression has no accuracy.
        let metric = self.entries.iter().find_map(|e| e.metrics.val_metric.map(|m| m.name));
        let regression = metric.is_some_and(|m| m.task() == mlpnas_core::Task::Regression);
        let (head, rule) = match metric {
            Some(m) => (format!(" val {m} | test {m} |"), "---|---|"),
            None => (String::new(), ""),
        };
        let (acc_head, acc_rule) = if regression { ("", "") } else { (" val acc | test acc |", "---|---|") };
        s.push_str(&format!(
            "| # | architecture | search rank | search reward | init | epochs (best) |{acc_head}{head} model |\n"
        ));
        s.push_str(&format!("|---|---|---|---|---|---|{acc_rule}{rule}---|\n"));
        let refit = self.entries.iter().find_map(|e| e.metrics.refit.as_ref());
        for (i, e) in self.entries.iter().enumerate() {
            let m = &e.metrics;
            let shown = |v: Option<MetricValue>| v.map_or("-".to_string(), |v| format!("{:.4}", v.value));
            let extra = match metric {
                Some(_) => format!(" {} | {} |", shown(m.val_metric), shown(m.test_metric)),
                None => String::new(),
            };
            let acc = if regression { String::new() } else { format!(" {:.4} | {:.4} |", m.val_acc, m.test_acc) };
            s.push_str(&format!(
                "| {} | `{}` | {} | {:.4} | {} | {} ({}) |{acc}{extra} {} |\n",
                i + 1,
                e.architecture,
                m.rank,
                m.search_reward,
                m.init,
                m.epochs_run,
                m.best_epoch,
                e.model_dir
            ));
        }
        if let Some(r) = refit {
            s.push_str(&format!(
                "\nEach model was then trained again on the {} rows ({} rows) for its best epoch count, from \
                 the same start; the validation columns are the early-stopped model's, the test columns \
                 the refit model's (the one exported).\n",
                r.parts, r.rows
            ));
        }
        s
    }
}
