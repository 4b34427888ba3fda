//! The model's pure math: parameters, initialisation, forward and backward passes of
//! the autoencoder's losses and of the classifier, and Adam. No threads of its own, no
//! I/O, no UI.

pub mod activation;
pub mod adam;
pub mod classifier;
mod flat;
pub mod grad;
pub mod inference;
pub mod kernels;
pub mod linalg;
pub mod noise;
pub(crate) mod parallel;
pub mod params;
pub mod sparsity;
pub mod tensors;

pub use activation::{Activation, Activations};
pub use adam::{Adam, AdamConfig, AdamState, NonFinite};
pub use classifier::{Classifier, Confusion, Trains};
pub use grad::Workspace;
pub use inference::Inference;
pub use noise::Noise;
pub use params::{
    Arch, Init, MAX_LAYER_WIDTH, MAX_STAGES, Params, TENSOR_NAMES, Widths, WidthsError,
};
pub use sparsity::Sparsity;
pub use tensors::TensorSet;

use serde::{Deserialize, Serialize};

/// Which part of the stack is trained, on which loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Layer-wise phase k (1..=K): encoder layer k and its mirror decoder layer learn to
    /// reconstruct h(k-1) (h0 = the input), every other layer bypassed or frozen. The
    /// recipe's phase 1 is the outer autoencoder, its phase 2 the inner one.
    Layer(u8),
    /// After the layer-wise phases: every layer fine-tuned on the full stack's
    /// reconstruction error (the recipe's phase 3).
    FineTune,
    /// The whole stack at once on its reconstruction error, from the seed's
    /// initialisation: what the layer-wise phases are raced against.
    EndToEnd,
}

impl Phase {
    pub const ONE: Phase = Phase::Layer(1);
    pub const TWO: Phase = Phase::Layer(2);

    /// Every phase of a stack of `depth` autoencoders, in training order.
    pub fn all(depth: usize) -> impl Iterator<Item = Phase> {
        (1..=depth.min(MAX_STAGES) as u8)
            .map(Phase::Layer)
            .chain([Phase::FineTune, Phase::EndToEnd])
    }

    /// The dense layers (0..2K) this phase trains, in a stack of `depth` autoencoders.
    pub fn layers(self, depth: usize) -> LayerSet {
        match self {
            Phase::Layer(k) => {
                let k = k as usize;
                LayerSet::of(&[k - 1, 2 * depth - k])
            }
            Phase::FineTune | Phase::EndToEnd => LayerSet::all(2 * depth),
        }
    }

    /// Indices (into `Arch::tensor_names`) of the tensors this phase trains.
    pub fn tensors(self, depth: usize) -> TensorList {
        self.layers(depth).tensors()
    }

    /// The layer-wise phases by their number (1..=K) and fine-tuning as K+1 (so a
    /// two-stage stack's `--phases 1,2,3` means what it always did).
    pub fn from_number(n: usize, depth: usize) -> Option<Phase> {
        match n {
            0 => None,
            n if n <= depth => Some(Phase::Layer(n as u8)),
            n if n == depth + 1 => Some(Phase::FineTune),
            _ => None,
        }
    }

    /// A phase as `--phases` names it: its number, `fine-tune` (`ft`) or `e2e`
    /// (`end-to-end`).
    pub fn parse(s: &str, depth: usize) -> Result<Phase, String> {
        let s = s.trim();
        match s {
            "fine-tune" | "ft" | "finetune" => Ok(Phase::FineTune),
            "e2e" | "end-to-end" => Ok(Phase::EndToEnd),
            _ => match s.parse::<usize>() {
                Ok(n) => Phase::from_number(n, depth).ok_or_else(|| {
                    format!(
                        "no phase {n} in a stack of {depth}: the layer-wise phases are 1 to \
                         {depth}, then {} (fine-tune) and e2e",
                        depth + 1
                    )
                }),
                Err(_) => Err(format!(
                    "'{s}' is not a phase: give a number (1 to {depth}), fine-tune or e2e"
                )),
            },
        }
    }

    /// A short name for tables, CSV and JSON: `1`, `2`, ..., `ft`, `e2e`.
    pub fn tag(self) -> String {
        match self {
            Phase::Layer(k) => k.to_string(),
            Phase::FineTune => "ft".into(),
            Phase::EndToEnd => "e2e".into(),
        }
    }

    /// Where the phase's count of epochs is kept (`PhaseEpochs`): the order of the
    /// records from before deeper stacks (1, 2, fine-tune, end-to-end), then 3..=8.
    fn index(self) -> usize {
        match self {
            Phase::Layer(k @ (1 | 2)) => k as usize - 1,
            Phase::FineTune => 2,
            Phase::EndToEnd => 3,
            Phase::Layer(k) => k as usize + 1,
        }
    }

    fn from_index(i: usize) -> Phase {
        match i {
            0 | 1 => Phase::Layer(i as u8 + 1),
            2 => Phase::FineTune,
            3 => Phase::EndToEnd,
            i => Phase::Layer(i as u8 - 1),
        }
    }

    /// Whether the loss is the full stack's reconstruction error (fine-tune, end-to-end).
    pub fn is_full_stack(self) -> bool {
        matches!(self, Phase::FineTune | Phase::EndToEnd)
    }

    /// Whether this phase exists in a stack of `depth` autoencoders.
    pub fn fits(self, depth: usize) -> bool {
        match self {
            Phase::Layer(k) => (1..=depth).contains(&(k as usize)),
            _ => true,
        }
    }
}

/// A set of dense layers (0..2 * MAX_STAGES), as bits: what a phase trains, with no
/// allocation on the training path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LayerSet(u32);

impl LayerSet {
    pub fn of(layers: &[usize]) -> Self {
        Self(layers.iter().fold(0, |m, &j| m | 1 << j))
    }

    pub fn all(layers: usize) -> Self {
        Self((1u32 << layers) - 1)
    }

    pub fn contains(self, layer: usize) -> bool {
        self.0 >> layer & 1 == 1
    }

    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..2 * MAX_STAGES).filter(move |&j| self.contains(j))
    }

    /// Each layer's weight and bias indices.
    pub fn tensors(self) -> TensorList {
        let mut t = TensorList::default();
        for j in self.iter() {
            t.idx[t.len] = 2 * j;
            t.idx[t.len + 1] = 2 * j + 1;
            t.len += 2;
        }
        t
    }
}

/// Indices of tensors, as a slice that lives on the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TensorList {
    idx: [usize; 4 * MAX_STAGES],
    len: usize,
}

impl std::ops::Deref for TensorList {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        &self.idx[..self.len]
    }
}

/// Stored as the names records always had (`One`, `Two`, `Three` for fine-tuning,
/// `EndToEnd`); deeper phases as `Layer3` ... `Layer8`.
impl Serialize for Phase {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Phase::Layer(1) => s.serialize_str("One"),
            Phase::Layer(2) => s.serialize_str("Two"),
            Phase::FineTune => s.serialize_str("Three"),
            Phase::EndToEnd => s.serialize_str("EndToEnd"),
            Phase::Layer(k) => s.serialize_str(&format!("Layer{k}")),
        }
    }
}

impl<'de> Deserialize<'de> for Phase {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let deep = || {
            s.strip_prefix("Layer")?
                .parse::<u8>()
                .ok()
                .filter(|k| (1..=MAX_STAGES as u8).contains(k))
        };
        match s.as_str() {
            "One" => Ok(Phase::ONE),
            "Two" => Ok(Phase::TWO),
            "Three" => Ok(Phase::FineTune),
            "EndToEnd" => Ok(Phase::EndToEnd),
            _ => deep()
                .map(Phase::Layer)
                .ok_or_else(|| serde::de::Error::custom(format!("no phase '{s}'"))),
        }
    }
}

const PHASE_SLOTS: usize = MAX_STAGES + 2;

/// Epochs trained in each phase, read and written by phase (`epochs[Phase::TWO]`),
/// never by a position kept in step by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "Vec<u32>", into = "Vec<u32>")]
pub struct PhaseEpochs([u32; PHASE_SLOTS]);

impl PhaseEpochs {
    /// From counts in stored order (phase 1, 2, fine-tune, end-to-end, then phases 3..);
    /// a shorter list (records from before phase 3 held two) leaves the rest at zero.
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

    /// Each phase that has a slot, with its count, in stored order.
    pub fn iter(&self) -> impl Iterator<Item = (Phase, u32)> + '_ {
        (0..PHASE_SLOTS).map(|i| (Phase::from_index(i), self.0[i]))
    }

    /// The layer-wise phases' counts, 1..=depth, then fine-tune and end-to-end.
    pub fn in_order(&self, depth: usize) -> impl Iterator<Item = (Phase, u32)> + '_ {
        Phase::all(depth).map(|p| (p, self[p]))
    }
}

/// "4 epoch(s) of phase 1 and 4 of phase 2, 1 of fine-tuning, 2 end-to-end".
impl std::fmt::Display for PhaseEpochs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let deepest = (1..=MAX_STAGES)
            .rev()
            .find(|&k| self[Phase::Layer(k as u8)] > 0)
            .unwrap_or(2)
            .max(2);
        for k in 1..=deepest {
            let n = self[Phase::Layer(k as u8)];
            match k {
                1 => write!(f, "{n} epoch(s) of phase 1")?,
                k if k == deepest => write!(f, " and {n} of phase {k}")?,
                k => write!(f, ", {n} of phase {k}")?,
            }
        }
        let (ft, e2e) = (self[Phase::FineTune], self[Phase::EndToEnd]);
        if ft > 0 {
            write!(f, ", {ft} of fine-tuning")?;
        }
        if e2e > 0 {
            write!(f, ", {e2e} end-to-end")?;
        }
        Ok(())
    }
}

/// Counts in stored order (phase 1, 2, fine-tune, end-to-end).
impl From<[u32; 4]> for PhaseEpochs {
    fn from(counts: [u32; 4]) -> Self {
        Self::from_counts(&counts)
    }
}

impl From<Vec<u32>> for PhaseEpochs {
    fn from(v: Vec<u32>) -> Self {
        Self::from_counts(&v)
    }
}

/// Stored order, trailing phases that never ran left out (but always the first four,
/// as records from before deeper stacks have them).
impl From<PhaseEpochs> for Vec<u32> {
    fn from(e: PhaseEpochs) -> Self {
        let used = e.0.iter().rposition(|&c| c > 0).map_or(0, |i| i + 1);
        e.0[..used.max(4)].to_vec()
    }
}

/// For tests and tables: the counts in stored order (phase 1, 2, fine-tune, e2e).
impl PartialEq<[u32; 4]> for PhaseEpochs {
    fn eq(&self, other: &[u32; 4]) -> bool {
        *self == PhaseEpochs::from(*other)
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

/// "phase 1", "phase 4", "fine-tune", "end-to-end".
impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Phase::Layer(k) => write!(f, "phase {k}"),
            Phase::FineTune => f.write_str("fine-tune"),
            Phase::EndToEnd => f.write_str("end-to-end"),
        }
    }
}

#[cfg(test)]
mod phase_tests {
    use super::*;

    #[test]
    fn phases_train_their_own_layers_at_any_depth() {
        // The recipe: phase 1 is layers 0 and 3 (weights1, weights4), phase 2 layers 1, 2.
        assert_eq!(*Phase::ONE.tensors(2), [0, 1, 6, 7]);
        assert_eq!(*Phase::TWO.tensors(2), [2, 3, 4, 5]);
        assert_eq!(*Phase::FineTune.tensors(2), [0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(*Phase::Layer(1).tensors(1), [0, 1, 2, 3]);
        // Four stages: phase 3 is encoder layer 2 and its mirror, layer 5.
        assert_eq!(*Phase::Layer(3).tensors(4), [4, 5, 10, 11]);
        assert_eq!(Phase::EndToEnd.tensors(8).len(), 32);
    }

    #[test]
    fn phases_are_named_by_number_and_by_name() {
        assert_eq!(Phase::parse("3", 2), Ok(Phase::FineTune));
        assert_eq!(Phase::parse("3", 4), Ok(Phase::Layer(3)));
        assert_eq!(Phase::parse("5", 4), Ok(Phase::FineTune));
        assert_eq!(Phase::parse("fine-tune", 4), Ok(Phase::FineTune));
        assert_eq!(Phase::parse("e2e", 1), Ok(Phase::EndToEnd));
        assert!(Phase::parse("0", 2).is_err());
        assert!(Phase::parse("4", 2).unwrap_err().contains("no phase 4"));
        assert!(Phase::parse("x", 2).is_err());
    }

    #[test]
    fn records_keep_their_names_and_counts() {
        for p in Phase::all(MAX_STAGES) {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<Phase>(&json).unwrap(), p);
        }
        assert_eq!(
            serde_json::to_string(&Phase::FineTune).unwrap(),
            "\"Three\""
        );
        assert!(serde_json::from_str::<Phase>("\"Layer9\"").is_err());
        let mut e = PhaseEpochs::from([4, 4, 1, 0]);
        assert_eq!(serde_json::to_string(&e).unwrap(), "[4,4,1,0]");
        e[Phase::Layer(4)] = 2;
        let back: PhaseEpochs = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        assert_eq!(
            e.to_string(),
            "4 epoch(s) of phase 1, 4 of phase 2, 0 of phase 3 and 2 of phase 4, 1 of fine-tuning"
        );
        assert_eq!(
            PhaseEpochs::from([4, 4, 0, 2]).to_string(),
            "4 epoch(s) of phase 1 and 4 of phase 2, 2 end-to-end"
        );
    }
}
