//! What the codes are for: a classifier made of the stack's encoder and a softmax layer
//! on the code, 784-hidden1-...-hiddenK-10 (784-300-150-10 for the recipe, as in the
//! notebook's pretraining experiment). `h(j+1) = elu(h(j) W(j+1) + b(j+1))` for the K
//! encoder layers, `logits = hK W(K+1) + b(K+1)`; the loss is the mean sparse softmax
//! cross-entropy plus `l2 * sum(w^2) / 2` on every weight matrix. (The last layer is
//! the softmax's, not the stack's decoder.)

mod grad;
mod predict;

use ndarray::{Array1, Array2};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde::Serialize;

use super::params::he_fill;
use super::tensors::TensorSet;
use super::{Activation, Activations, Arch, LayerSet, MAX_STAGES, Params, TensorList, Widths};

pub use grad::{
    ClassifierWorkspace, batch_accuracy, classifier_backward, classifier_forward,
    classifier_gradients, l2_penalty,
};
pub use predict::Predictor;

/// The classifier's parameters: the K encoder layers then the softmax layer, `[in,
/// out]` weights; in the `TensorSet` order W1, b1, ..., W(K+1), b(K+1).
#[derive(Clone, PartialEq)]
pub struct Classifier {
    pub w: Vec<Array2<f32>>,
    pub b: Vec<Array1<f32>>,
    /// The encoder's activations (the stack's).
    pub act: Activations,
}

/// The shape, not the numbers.
impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Classifier({}", self.w[0].nrows())?;
        for w in &self.w {
            write!(f, "-{}", w.ncols())?;
        }
        f.write_str(")")
    }
}

/// Which of the classifier's layers a step trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trains {
    /// The softmax layer alone, on frozen codes.
    Head,
    /// Every layer.
    All,
}

impl Trains {
    /// Indices of the trained tensors in the `TensorSet` order, for an encoder of
    /// `depth` layers.
    pub fn tensors(self, depth: usize) -> TensorList {
        match self {
            Trains::Head => LayerSet::of(&[depth]),
            Trains::All => LayerSet::all(depth + 1),
        }
        .tensors()
    }
}

impl Classifier {
    /// Layers of the encoder of `arch` and `classes` outputs, all zeros.
    pub fn zeros(arch: Arch, classes: usize) -> Self {
        let k = arch.depth();
        let shape = |j: usize| {
            let out = if j < k { arch.level(j + 1) } else { classes };
            (arch.level(j), out)
        };
        Self {
            w: (0..=k).map(|j| Array2::zeros(shape(j))).collect(),
            b: (0..=k).map(|j| Array1::zeros(shape(j).1)).collect(),
            act: arch.act,
        }
    }

    /// The notebook's initialisation: the recipe's He init for every weight matrix
    /// (drawn in order from `seed`), biases zero.
    pub fn he_init(arch: Arch, classes: usize, seed: u64) -> Self {
        let mut c = Self::zeros(arch, classes);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        for w in &mut c.w {
            he_fill(w, &mut rng);
        }
        c
    }

    /// Number of encoder layers, K.
    pub fn depth(&self) -> usize {
        self.w.len() - 1
    }

    /// Encoder layer `j`'s activation: the stack's (the code's too).
    pub fn activation(&self, j: usize) -> Activation {
        self.act.layer(j, 2 * self.depth())
    }

    /// Takes the encoder layers from a trained stack of the same shape; the softmax
    /// layer stays.
    pub fn take_encoder(&mut self, stack: &Params) {
        for j in 0..self.depth() {
            self.w[j].assign(&stack.w[j]);
            self.b[j].assign(&stack.b[j]);
        }
    }

    /// Whether the encoder layers are the stack's, bit for bit.
    pub fn has_encoder_of(&self, stack: &Params) -> bool {
        let k = self.depth();
        stack.depth() == k && (0..k).all(|j| self.w[j] == stack.w[j] && self.b[j] == stack.b[j])
    }

    pub fn arch(&self) -> Arch {
        let mut units = [0; MAX_STAGES];
        let k = self.depth();
        for (u, w) in units.iter_mut().zip(&self.w[..k]) {
            *u = w.ncols();
        }
        Arch {
            inputs: self.w[0].nrows(),
            // Built from an `Arch` by `zeros`, so the widths are in range.
            widths: Widths::new(&units[..k]).unwrap_or(Widths::RECIPE),
            act: self.act,
            // A classifier has no decoder to tie.
            tied: false,
        }
    }

    pub fn classes(&self) -> usize {
        self.b[self.depth()].len()
    }

    /// The softmax layer's weights and bias.
    pub fn head(&self) -> (&Array2<f32>, &Array1<f32>) {
        let k = self.depth();
        (&self.w[k], &self.b[k])
    }

    pub fn all_finite(&self) -> bool {
        self.slices().all(|t| t.iter().all(|x| x.is_finite()))
    }
}

// Built only by `zeros` (standard layout): the slices always exist.
const CONTIGUOUS: &str = "parameters are stored contiguously";

impl TensorSet for Classifier {
    fn slices(&self) -> impl Iterator<Item = &[f32]> {
        self.w.iter().zip(&self.b).flat_map(|(w, b)| {
            [
                w.as_slice().expect(CONTIGUOUS),
                b.as_slice().expect(CONTIGUOUS),
            ]
        })
    }

    fn slices_mut(&mut self) -> impl Iterator<Item = &mut [f32]> {
        self.w.iter_mut().zip(&mut self.b).flat_map(|(w, b)| {
            [
                w.as_slice_mut().expect(CONTIGUOUS),
                b.as_slice_mut().expect(CONTIGUOUS),
            ]
        })
    }

    fn zeros_like(&self) -> Self {
        Self::zeros(self.arch(), self.classes())
    }
}

/// Counts of (true class, predicted class) over a set of images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Confusion {
    /// `counts[t][p]`: images of class `t` predicted as `p`.
    pub counts: Vec<Vec<u32>>,
}

impl Confusion {
    pub fn new(classes: usize) -> Self {
        Self {
            counts: vec![vec![0; classes]; classes],
        }
    }

    /// Counts each (label, prediction) pair; a label outside the classes is skipped.
    pub fn add(&mut self, labels: &[u8], predicted: &[u8]) {
        for (&t, &p) in labels.iter().zip(predicted) {
            if let Some(c) = self
                .counts
                .get_mut(t as usize)
                .and_then(|r| r.get_mut(p as usize))
            {
                *c += 1;
            }
        }
    }

    /// Adds another set's counts (of as many classes).
    pub fn merge(&mut self, other: &Confusion) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().map(|&c| c as u64).sum()
    }

    pub fn correct(&self) -> u64 {
        self.counts
            .iter()
            .enumerate()
            .map(|(i, r)| r.get(i).copied().unwrap_or(0) as u64)
            .sum()
    }

    /// The share of images predicted right (0 for an empty set).
    pub fn accuracy(&self) -> f64 {
        self.correct() as f64 / self.total().max(1) as f64
    }
}

#[cfg(test)]
mod tests;
