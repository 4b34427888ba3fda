//! The model's pure math: parameters, initialisation, forward and backward passes of
//! the autoencoder's losses and of the classifier, and Adam. No threads of its own, no
//! I/O, no UI.

pub mod adam;
pub mod classifier;
mod flat;
pub mod grad;
pub mod inference;
pub mod kernels;
pub mod linalg;
pub(crate) mod parallel;
pub mod params;
pub mod tensors;

pub use adam::{Adam, AdamConfig, AdamState, NonFinite};
pub use classifier::{Classifier, Confusion, Trains};
pub use grad::Workspace;
pub use inference::Inference;
pub use params::{Arch, Params, TENSOR_NAMES};
pub use tensors::TensorSet;

use serde::{Deserialize, Serialize};

/// Which part of the stack is trained, on which loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// The outer autoencoder: input -> hidden1 -> output, the middle bypassed.
    One,
    /// The inner autoencoder: hidden1 -> hidden2 -> hidden3, against frozen hidden1.
    Two,
    /// After phases 1 and 2: every layer fine-tuned on the full stack's
    /// reconstruction error.
    Three,
    /// The whole stack at once on its reconstruction error, from the seed's
    /// initialisation: what the layer-wise phases are raced against.
    EndToEnd,
}

impl Phase {
    pub const ALL: [Phase; 4] = [Phase::One, Phase::Two, Phase::Three, Phase::EndToEnd];

    /// Indices (into `TENSOR_NAMES`) of the tensors this phase trains.
    pub fn tensors(self) -> &'static [usize] {
        match self {
            Phase::One => &[0, 1, 6, 7],
            Phase::Two => &[2, 3, 4, 5],
            Phase::Three | Phase::EndToEnd => &[0, 1, 2, 3, 4, 5, 6, 7],
        }
    }

    /// The layer-wise phases by their number (1, 2, 3), as `--phases` takes them.
    pub fn from_number(n: u8) -> Option<Phase> {
        match n {
            1 => Some(Phase::One),
            2 => Some(Phase::Two),
            3 => Some(Phase::Three),
            _ => None,
        }
    }

    /// A short name for tables, CSV and JSON: `1`, `2`, `3`, `e2e`.
    pub fn tag(self) -> &'static str {
        match self {
            Phase::One => "1",
            Phase::Two => "2",
            Phase::Three => "3",
            Phase::EndToEnd => "e2e",
        }
    }

    /// Where the phase's count of epochs is kept (`Trainer::epochs_done`).
    pub fn index(self) -> usize {
        match self {
            Phase::One => 0,
            Phase::Two => 1,
            Phase::Three => 2,
            Phase::EndToEnd => 3,
        }
    }

    /// Whether the loss is the full stack's reconstruction error (phase 3, end-to-end).
    pub fn is_full_stack(self) -> bool {
        matches!(self, Phase::Three | Phase::EndToEnd)
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Phase::EndToEnd => f.write_str("end-to-end"),
            p => write!(f, "phase {}", p.tag()),
        }
    }
}
