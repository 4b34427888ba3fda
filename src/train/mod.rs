//! Training: hyperparameters, the phase runner, whole-set passes, the worker thread
//! and the messages it exchanges with the app.

mod cache;
pub mod config;
pub mod eval;
mod handle;
pub mod protocol;
mod step;
pub mod trainer;
pub mod worker;

pub use cache::{CacheInfo, cache_bytes};
pub use config::{CachedSampling, HyperparamError, Hyperparams};
pub use handle::{WorkerGone, WorkerHandle};
pub use step::{EpochEnd, PhaseEnd, Step};
pub use trainer::{TrainError, Trainer, check_inputs, in_pool};
