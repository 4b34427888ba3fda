//! What the codes are for: a classifier made of the stack's encoder and a softmax layer
//! on the code, 784-hidden1-hidden2-10, as in the notebook's pretraining experiment.
//! `hidden1 = elu(x W1 + b1)`, `hidden2 = elu(hidden1 W2 + b2)`,
//! `logits = hidden2 W3 + b3`; the loss is the mean sparse softmax cross-entropy plus
//! `l2 * sum(w^2) / 2` on W1, W2 and W3. (W3 and b3 here are the softmax layer's, not
//! the stack's.)

mod grad;
mod predict;

use ndarray::{Array1, Array2};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde::Serialize;

use super::params::he_fill;
use super::tensors::TensorSet;
use super::{Arch, Params};

pub use grad::{
    ClassifierWorkspace, batch_accuracy, classifier_backward, classifier_forward,
    classifier_gradients, l2_penalty,
};
pub use predict::Predictor;

/// The classifier's parameters, `[in, out]` weights, in the order W1, b1, W2, b2, W3,
/// b3 (the `TensorSet` order).
#[derive(Clone, PartialEq)]
pub struct Classifier {
    pub w1: Array2<f32>,
    pub b1: Array1<f32>,
    pub w2: Array2<f32>,
    pub b2: Array1<f32>,
    pub w3: Array2<f32>,
    pub b3: Array1<f32>,
}

/// The shape, not the numbers.
impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (i, h1) = self.w1.dim();
        write!(
            f,
            "Classifier({i}-{h1}-{}-{})",
            self.w2.ncols(),
            self.classes()
        )
    }
}

/// Which of the classifier's layers a step trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trains {
    /// The softmax layer alone (W3, b3), on frozen codes.
    Head,
    /// Every layer.
    All,
}

impl Trains {
    /// Indices of the trained tensors in the `TensorSet` order.
    pub fn tensors(self) -> &'static [usize] {
        match self {
            Trains::Head => &[4, 5],
            Trains::All => &[0, 1, 2, 3, 4, 5],
        }
    }
}

impl Classifier {
    /// Layers of the encoder of `arch` and `classes` outputs, all zeros.
    pub fn zeros(arch: Arch, classes: usize) -> Self {
        let (i, h1, h2) = (arch.inputs, arch.hidden1(), arch.code());
        Self {
            w1: Array2::zeros((i, h1)),
            b1: Array1::zeros(h1),
            w2: Array2::zeros((h1, h2)),
            b2: Array1::zeros(h2),
            w3: Array2::zeros((h2, classes)),
            b3: Array1::zeros(classes),
        }
    }

    /// The notebook's initialisation: the recipe's He init for W1, W2, W3 (drawn in
    /// that order from `seed`), biases zero.
    pub fn he_init(arch: Arch, classes: usize, seed: u64) -> Self {
        let mut c = Self::zeros(arch, classes);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        for w in [&mut c.w1, &mut c.w2, &mut c.w3] {
            he_fill(w, &mut rng);
        }
        c
    }

    /// Takes W1, b1, W2, b2 from a trained stack (its encoder); W3, b3 stay.
    pub fn take_encoder(&mut self, stack: &Params) {
        self.w1.assign(&stack.w[0]);
        self.b1.assign(&stack.b[0]);
        self.w2.assign(&stack.w[1]);
        self.b2.assign(&stack.b[1]);
    }

    /// Whether W1, b1, W2, b2 are the stack's, bit for bit.
    pub fn has_encoder_of(&self, stack: &Params) -> bool {
        stack.depth() == 2
            && self.w1 == stack.w[0]
            && self.b1 == stack.b[0]
            && self.w2 == stack.w[1]
            && self.b2 == stack.b[1]
    }

    pub fn arch(&self) -> Arch {
        let (inputs, hidden1) = self.w1.dim();
        let widths = [hidden1, self.w2.ncols()];
        Arch {
            inputs,
            // Built from an `Arch` by `zeros`, so the widths are in range.
            widths: crate::model::Widths::new(&widths).unwrap_or(crate::model::Widths::RECIPE),
        }
    }

    pub fn classes(&self) -> usize {
        self.b3.len()
    }

    pub fn all_finite(&self) -> bool {
        self.slices().all(|t| t.iter().all(|x| x.is_finite()))
    }
}

// Built only by `zeros` (standard layout): the slices always exist.
const CONTIGUOUS: &str = "parameters are stored contiguously";

impl TensorSet for Classifier {
    fn slices(&self) -> impl Iterator<Item = &[f32]> {
        [
            self.w1.as_slice().expect(CONTIGUOUS),
            self.b1.as_slice().expect(CONTIGUOUS),
            self.w2.as_slice().expect(CONTIGUOUS),
            self.b2.as_slice().expect(CONTIGUOUS),
            self.w3.as_slice().expect(CONTIGUOUS),
            self.b3.as_slice().expect(CONTIGUOUS),
        ]
        .into_iter()
    }

    fn slices_mut(&mut self) -> impl Iterator<Item = &mut [f32]> {
        [
            self.w1.as_slice_mut().expect(CONTIGUOUS),
            self.b1.as_slice_mut().expect(CONTIGUOUS),
            self.w2.as_slice_mut().expect(CONTIGUOUS),
            self.b2.as_slice_mut().expect(CONTIGUOUS),
            self.w3.as_slice_mut().expect(CONTIGUOUS),
            self.b3.as_slice_mut().expect(CONTIGUOUS),
        ]
        .into_iter()
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
