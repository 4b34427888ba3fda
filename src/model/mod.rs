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

    /// Where the phase's count of epochs is kept (`PhaseEpochs`).
    fn index(self) -> usize {
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

/// Epochs trained in each phase: one count per `Phase`, read and written by phase
/// (`epochs[Phase::Two]`), never by a position kept in step by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "Vec<u32>", into = "Vec<u32>")]
pub struct PhaseEpochs([u32; 4]);

impl PhaseEpochs {
    /// From counts in `Phase::ALL` order; a shorter list (records from before phase 3
    /// held two) leaves the rest at zero.
    pub fn from_counts(counts: &[u32]) -> Self {
        let mut e = Self::default();
        for (d, &c) in e.0.iter_mut().zip(counts) {
            *d = c;
        }
        e
    }

    /// Whether any phase has trained.
    pub fn any(&self) -> bool {
        self.0.iter().any(|&e| e > 0)
    }

    /// Each phase with its count, in `Phase::ALL` order.
    pub fn iter(&self) -> impl Iterator<Item = (Phase, u32)> + '_ {
        Phase::ALL.into_iter().map(|p| (p, self[p]))
    }
}

/// "4 epoch(s) of phase 1 and 4 of phase 2, 1 of phase 3, 2 end-to-end".
impl std::fmt::Display for PhaseEpochs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [one, two, three, e2e] = self.0;
        write!(f, "{one} epoch(s) of phase 1 and {two} of phase 2")?;
        if three > 0 {
            write!(f, ", {three} of phase 3")?;
        }
        if e2e > 0 {
            write!(f, ", {e2e} end-to-end")?;
        }
        Ok(())
    }
}

/// Counts in `Phase::ALL` order.
impl From<[u32; 4]> for PhaseEpochs {
    fn from(counts: [u32; 4]) -> Self {
        Self(counts)
    }
}

impl From<Vec<u32>> for PhaseEpochs {
    fn from(v: Vec<u32>) -> Self {
        Self::from_counts(&v)
    }
}

impl From<PhaseEpochs> for Vec<u32> {
    fn from(e: PhaseEpochs) -> Self {
        e.0.to_vec()
    }
}

/// For tests and tables: the counts in `Phase::ALL` order.
impl PartialEq<[u32; 4]> for PhaseEpochs {
    fn eq(&self, other: &[u32; 4]) -> bool {
        self.0 == *other
    }
}

impl std::ops::Index<Phase> for PhaseEpochs {
    type Output = u32;
    fn index(&self, p: Phase) -> &u32 {
        &self.0[p.index()]
    }
}

impl std::ops::IndexMut<Phase> for PhaseEpochs {
    fn index_mut(&mut self, p: Phase) -> &mut u32 {
        &mut self.0[p.index()]
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
