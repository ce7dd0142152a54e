//! mlpnas-core: the vocabulary of a neural architecture search for multilayer perceptrons.
//!
//! This crate holds everything the rest of mlpnas agrees on and nothing that a plugin should own:
//!
//! * [`space`]: the [`SearchSpace`] trait and its config [`SpaceConfig`] (a plugin like the
//!   others), what a sequence stands for ([`Candidate`]), and the default [`MlpSpace`] (tokens,
//!   validity, encode/decode);
//! * [`arch`]: decoded architectures ([`Architecture`], [`Layer`]) and the one-shot
//!   [`BigramKey`] of each dense layer; [`hyper`]: the training hyperparameters a candidate
//!   carries ([`Training`]) and the space's dimensions of them ([`Hyper`]);
//! * [`tensor`]: backend-agnostic weights ([`HostTensor`], [`LayerWeights`]), and [`codec`], the
//!   one format they are written in (safetensors);
//! * [`data`]: the in-memory data set handed to trainers ([`Dataset`], [`DataSplit`]);
//! * the three extension points, each a small trait with a serializable, typetag-registered
//!   config that validates itself and then builds it: [`Controller`] / [`ControllerConfig`],
//!   [`ArchitectureTrainer`] / [`TrainerConfig`] (with [`Model`]), [`WeightStore`] / [`StoreConfig`];
//! * [`objective`]: what a search optimizes ([`Metric`], computed here for every trainer) and
//!   how a loss weighs classes ([`ClassWeight`]);
//! * [`trial`]: the journal record of one trained architecture and the per-epoch report;
//! * [`storage`]: [`RunStorage`], where a run's state lives (a run directory, or a database);
//! * [`queue`]: [`TrialQueue`], where the trials of a run in a shared storage wait for workers;
//! * [`stats`]: the few statistics the search reports (mean, MAE, Spearman's rank correlation).
//!
//! Architecture invariant: this crate depends on no deep-learning framework, no CLI library and
//! no plugin. Plugins depend on it, never the other way round.

pub mod arch;
pub mod codec;
pub mod controller;
pub mod criterion;
pub mod data;
pub mod digest;
pub mod error;
pub mod hyper;
pub mod memory;
pub mod objective;
pub mod pareto;
pub mod queue;
pub mod sampling;
pub mod scheduler;
pub mod seed;
pub mod space;
pub mod stats;
pub mod storage;
pub mod store;
pub mod tensor;
pub mod trainer;
pub mod trial;

pub use arch::{Activation, Architecture, BigramKey, Layer, LayerKey, OutputKind};
pub use controller::{Controller, ControllerConfig, ControllerContext, Proposal, UpdateReport, build_controller};
pub use criterion::{Criterion, Scored};
pub use data::{DataSplit, DataSummary, Dataset, LabelSummary, Resampling, TargetScale};
pub use error::{CodecError, ConfigError, ControllerError, SpaceError, StorageError, StoreError, TrainerError};
pub use hyper::{Hyper, HyperValue, Optimizer, Training};
pub use objective::{ClassWeight, METRICS, Metric, MetricValue, Objective, Task};
pub use pareto::pareto_front;
pub use queue::{Claim, Claimant, RungTask, TrialQueue, TrialResult, TrialTask};
pub use scheduler::{Bracket, FullConfig, RungResults, Scheduler, SchedulerConfig};
pub use space::{Candidate, Measurement, MlpSpace, MlpSpaceConfig, SearchSpace, SpaceConfig, Token, TokenId};
pub use storage::{Checkpoint, CheckpointState, RunStorage, Summary, TrialLog, host_name, verify_trials};
pub use store::{StoreConfig, WeightStore};
pub use tensor::{HostTensor, LayerWeights};
pub use trainer::{
    ArchitectureTrainer, Continuation, EarlyStopping, EpochMetrics, FitOutcome, Measured, Model, Score, TrainOutcome,
    TrainerConfig,
};
pub use trial::{EpochReport, Rung, TrialRecord, TrialStatus, batches, ranking_reward, rescored, top_n};
