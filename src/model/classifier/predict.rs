//! Classifying blocks of images with a trained classifier (test accuracy, confusion).

use ndarray::{Array2, ArrayView2, s};

use super::Classifier;
use crate::model::flat::{flat, vec_of};
use crate::model::inference::dense_elu;
use crate::model::kernels::argmax_rows;
use crate::model::linalg::matmul_serial;

/// Buffers for classifying up to `rows` images at a time on one thread: callers
/// parallelise over blocks.
#[derive(Debug, Clone)]
pub struct Predictor {
    h1: Array2<f32>,
    h2: Array2<f32>,
    logits: Array2<f32>,
    predicted: Vec<u8>,
}

impl Predictor {
    pub fn new(like: &Classifier, rows: usize) -> Self {
        let arch = like.arch();
        let z = |c| Array2::zeros((rows, c));
        Self {
            h1: z(arch.hidden1()),
            h2: z(arch.code()),
            logits: z(like.classes()),
            predicted: vec![0; rows],
        }
    }

    /// The predicted class of each image of `x` (at most `rows` of them).
    pub fn predict(&mut self, p: &Classifier, x: ArrayView2<'_, f32>) -> &[u8] {
        let n = x.nrows();
        dense_elu(x, &p.w1, &p.b1, self.h1.slice_mut(s![..n, ..]));
        let h1 = self.h1.slice(s![..n, ..]);
        dense_elu(h1, &p.w2, &p.b2, self.h2.slice_mut(s![..n, ..]));
        let mut logits = self.logits.slice_mut(s![..n, ..]);
        matmul_serial(
            logits.view_mut(),
            self.h2.slice(s![..n, ..]),
            p.w3.view(),
            false,
        );
        argmax_rows(flat(logits.view()), vec_of(&p.b3), &mut self.predicted[..n]);
        &self.predicted[..n]
    }
}
