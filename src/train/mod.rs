//! Training: hyperparameters, the phase runner, whole-set passes, the classifier
//! experiments, the worker thread and the messages it exchanges with the app.

mod cache;
pub mod classify;
pub mod config;
pub mod eval;
pub mod experiment;
mod handle;
pub mod protocol;
mod step;
pub mod trainer;
pub mod worker;

pub use cache::{CacheInfo, cache_bytes};
pub use config::{CachedSampling, HyperparamError, Hyperparams, Loss, Preset};
pub use handle::WorkerHandle;
pub use step::{EpochEnd, PhaseEnd, Step};
pub use trainer::{TrainError, Trainer, check_inputs, in_pool};
