//! Training: hyperparameters, the phase runner, whole-set passes, the worker thread.

pub mod config;
pub mod eval;
pub mod trainer;
pub mod worker;

pub use config::{CachedSampling, HyperparamError, Hyperparams};
pub use trainer::{CacheInfo, EpochEnd, PhaseEnd, Step, TrainError, Trainer, in_pool};
