//! The model's pure math: parameters, initialisation, forward and backward passes of
//! the two phase losses, and Adam. No threads of its own, no I/O, no UI.

pub mod adam;
mod flat;
pub mod grad;
pub mod inference;
pub mod kernels;
pub mod linalg;
pub mod params;

pub use adam::{Adam, AdamConfig, AdamState, NonFinite};
pub use grad::Workspace;
pub use inference::Inference;
pub use params::{Arch, Params, TENSOR_NAMES};

use serde::{Deserialize, Serialize};

/// Which autoencoder is trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// The outer autoencoder: input -> hidden1 -> output, the middle bypassed.
    One,
    /// The inner autoencoder: hidden1 -> hidden2 -> hidden3, against frozen hidden1.
    Two,
}

impl Phase {
    /// Indices (into `TENSOR_NAMES`) of the tensors this phase trains.
    pub fn tensors(self) -> &'static [usize] {
        match self {
            Phase::One => &[0, 1, 6, 7],
            Phase::Two => &[2, 3, 4, 5],
        }
    }

    /// 1 or 2, as the seed prints it.
    pub fn number(self) -> u8 {
        match self {
            Phase::One => 1,
            Phase::Two => 2,
        }
    }

    pub fn from_number(n: u8) -> Option<Phase> {
        match n {
            1 => Some(Phase::One),
            2 => Some(Phase::Two),
            _ => None,
        }
    }

    pub fn index(self) -> usize {
        self.number() as usize - 1
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "phase {}", self.number())
    }
}
