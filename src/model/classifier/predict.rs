//! Classifying blocks of images with a trained classifier (test accuracy, confusion).

use ndarray::{Array2, ArrayView2, s};

use super::Classifier;
use crate::model::flat::{flat, vec_of};
use crate::model::inference::dense;
use crate::model::kernels::argmax_rows;
use crate::model::linalg::matmul_serial;
use crate::model::parallel::below;

/// Buffers for classifying up to `rows` images at a time on one thread: callers
/// parallelise over blocks.
#[derive(Debug, Clone)]
pub struct Predictor {
    /// Encoder levels 1..=K.
    h: Vec<Array2<f32>>,
    logits: Array2<f32>,
    predicted: Vec<u8>,
}

impl Predictor {
    pub fn new(like: &Classifier, rows: usize) -> Self {
        let arch = like.arch();
        let z = |c| Array2::zeros((rows, c));
        Self {
            h: (1..=arch.depth()).map(|l| z(arch.level(l))).collect(),
            logits: z(like.classes()),
            predicted: vec![0; rows],
        }
    }

    /// The predicted class of each image of `x` (at most `rows` of them).
    pub fn predict(&mut self, p: &Classifier, x: ArrayView2<'_, f32>) -> &[u8] {
        let n = x.nrows();
        let h0 = self.h[0].slice_mut(s![..n, ..]);
        dense(x, &p.w[0], &p.b[0], p.activation(0), h0);
        for j in 1..p.depth() {
            let (a, c) = below(&mut self.h, j - 1, j);
            let (a, c) = (a.slice(s![..n, ..]), c.slice_mut(s![..n, ..]));
            dense(a, &p.w[j], &p.b[j], p.activation(j), c);
        }
        let mut logits = self.logits.slice_mut(s![..n, ..]);
        let (w, b) = p.head();
        let code = &self.h[p.depth() - 1];
        matmul_serial(logits.view_mut(), code.slice(s![..n, ..]), w.view(), false);
        argmax_rows(flat(logits.view()), vec_of(b), &mut self.predicted[..n]);
        &self.predicted[..n]
    }
}
