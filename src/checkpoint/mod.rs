//! Checkpoints: all weights and biases as safetensors (`weights1..2K`, `biases1..2K`,
//! f32, `[in, out]`), Adam's moments (`adam.m.*`, `adam.v.*`) and where the batch
//! order stood (`order.*`), with counters and the training settings in the metadata.
//! Readable from Python with `safetensors.numpy.load_file`.
//!
//! This module knows the file format only: the trainer decides what goes in
//! (`Trainer::checkpoint`) and what a loaded one means (`Trainer::restore`).

mod read;
mod tensors;
mod write;

use std::path::Path;

use safetensors::tensor::Dtype;

use crate::data::OrderState;
use crate::model::{AdamState, Arch, MAX_STAGES, Params, PhaseEpochs};

pub use read::from_bytes;
pub use tensors::{Named, load_tensors, tensors_to_bytes};
pub use write::to_bytes;

pub const FORMAT: &str = "layerwise";
/// Version 2 added Adam's moments and the batch order; version 3 stacks of any depth
/// (`weights1..2K`, epochs per layer-wise phase, `epochs_fine_tune`). Versions 1 and 2
/// still load.
pub const FORMAT_VERSION: &str = "3";
const OLDEST_VERSION: &str = "1";
/// Far more than any sane architecture needs (the recipe's is 7 MB with the optimiser);
/// refuse to read anything bigger into memory.
const MAX_WEIGHTS: usize = 2 * MAX_STAGES;
const MAX_FILE_BYTES: u64 = 1 << 30;

/// Everything a checkpoint holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub params: Params,
    pub optimizer: Optimizer,
    /// Where the batch order stood (absent in version-1 files).
    pub order: Option<BatchOrder>,
    /// Epochs of phase 1, phase 2, phase 3 and end-to-end the parameters have been
    /// trained for (`Phase::index` order; files from before phase 3 hold the first two).
    pub epochs_done: PhaseEpochs,
    /// The training settings, as JSON the trainer wrote; carried, not interpreted.
    pub settings: Option<String>,
}

impl Checkpoint {
    /// Parameters alone: a fresh optimiser's counter, no batch order, no settings.
    pub fn bare(params: Params) -> Self {
        Self {
            params,
            optimizer: Optimizer::Counter(0),
            order: None,
            epochs_done: PhaseEpochs::default(),
            settings: None,
        }
    }
}

/// What a checkpoint keeps of Adam.
#[derive(Debug, Clone, PartialEq)]
pub enum Optimizer {
    /// Version-1 files: the shared step counter only; the moments restart at zero.
    Counter(u64),
    /// The moments and the counter as they were: training goes on bit for bit.
    Full(Box<AdamState>),
}

impl Optimizer {
    pub fn steps(&self) -> u64 {
        match self {
            Optimizer::Counter(n) => *n,
            Optimizer::Full(s) => s.steps,
        }
    }
}

/// The two batch orders a trainer walks: every phase's epochs, and the seed's sampling
/// of a cached phase 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOrder {
    pub epochs: OrderState,
    pub subset: OrderState,
}

/// What is wrong with a checkpoint file; always shown with the file's name.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointProblem {
    #[error("cannot read: {0}")]
    Read(std::io::Error),
    #[error("cannot write: {0}")]
    Write(std::io::Error),
    #[error("{0} bytes is too large for a layerwise checkpoint")]
    TooLarge(u64),
    #[error("not a safetensors file ({0})")]
    NotSafetensors(String),
    #[error("written by '{0}', not by layerwise")]
    OtherFormat(String),
    #[error(
        "format version {0}; this layerwise reads versions {OLDEST_VERSION} to {FORMAT_VERSION}"
    )]
    OtherVersion(String),
    #[error("unexpected tensor '{0}'")]
    UnexpectedTensor(String),
    #[error("missing tensor '{0}'")]
    MissingTensor(String),
    #[error("{0} must be a matrix, found shape {1:?}")]
    NotMatrix(String, Vec<usize>),
    #[error(
        "{0} weight tensors: a stack of 1 to {MAX_STAGES} autoencoders has an even number \
         of them, 2 to {MAX_WEIGHTS}"
    )]
    Depth(usize),
    #[error("the checkpoint's network is {found}, the current one is {expected}")]
    OtherNetwork { found: Arch, expected: Arch },
    #[error("not a network layerwise builds: {0}")]
    Degenerate(String),
    #[error("says its weights are tied, but weights{0} is not the transpose of weights{1}")]
    Untied(usize, usize),
    #[error("tensor '{name}' is {dtype:?}, expected {expected:?}")]
    Dtype {
        name: String,
        dtype: Dtype,
        expected: Dtype,
    },
    #[error("tensor '{name}' has shape {found:?}, expected {expected:?}")]
    Shape {
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("tensor '{name}' holds {value} at index {index}")]
    NonFinite {
        name: String,
        value: f32,
        index: usize,
    },
    #[error("metadata {key} = '{value}' is not {what}")]
    Metadata {
        key: &'static str,
        value: String,
        what: &'static str,
    },
    #[error("metadata {0} is missing")]
    MissingMetadata(&'static str),
    #[error("cannot encode: {0}")]
    Encode(String),
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct CheckpointError {
    pub file: String,
    pub problem: CheckpointProblem,
}

impl CheckpointError {
    pub fn new(path: &Path, problem: CheckpointProblem) -> Self {
        Self {
            file: path.display().to_string(),
            problem,
        }
    }
}

/// Writes the checkpoint atomically: a temporary file in the same folder, flushed to
/// disk, then renamed over `path`. A crash leaves the old file or the new one.
pub fn save(path: &Path, ck: &Checkpoint) -> Result<(), CheckpointError> {
    let bytes = to_bytes(ck).map_err(|p| CheckpointError::new(path, p))?;
    crate::output::atomically(path, &bytes)
        .map_err(|e| CheckpointError::new(path, CheckpointProblem::Write(e)))?;
    log::info!("saved {} ({} bytes)", path.display(), bytes.len());
    Ok(())
}

/// Reads a checkpoint. With `expect`, refuses one of another architecture.
/// Refuses anything it does not fully understand: an unknown format version, missing
/// or extra tensors, wrong dtypes or shapes, NaN or infinite values, counters that are
/// not counts.
pub fn load(path: &Path, expect: Option<Arch>) -> Result<Checkpoint, CheckpointError> {
    let loaded = read_file(path, expect);
    match &loaded {
        Ok(ck) => log::info!("loaded {}: a {} network", path.display(), ck.params.arch()),
        Err(e) => log::warn!("refused {e}"),
    }
    loaded
}

fn read_file(path: &Path, expect: Option<Arch>) -> Result<Checkpoint, CheckpointError> {
    let bytes = read_bounded(path)?;
    from_bytes(&bytes, expect).map_err(|p| CheckpointError::new(path, p))
}

/// The file's bytes, unless it is larger than any file of ours could be.
fn read_bounded(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    let fail = |p| CheckpointError::new(path, p);
    let len = std::fs::metadata(path)
        .map_err(|e| fail(CheckpointProblem::Read(e)))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(fail(CheckpointProblem::TooLarge(len)));
    }
    std::fs::read(path).map_err(|e| fail(CheckpointProblem::Read(e)))
}

#[cfg(test)]
mod tests;
