//! The classifier's forward and backward passes, into preallocated buffers, cut for
//! rayon's threads as the autoencoder's are (`parallel`): rows, then weight gradients,
//! then (in `Adam`) the update; the same bits on any number of threads.

use ndarray::{Array2, ArrayViewMut2};

use super::{Classifier, Trains};
use crate::model::flat::{flat, flat_mut, vec_of};
use crate::model::inference::dense_elu;
use crate::model::kernels::{argmax_rows, elu_backward, softmax_xent};
use crate::model::linalg::matmul_serial;
use crate::model::parallel::{
    FillRows, WeightGradient, for_row_blocks, row_block, weight_gradients,
};

/// Every intermediate of a classifier step, sized once for a batch size.
#[derive(Debug, Clone)]
pub struct ClassifierWorkspace {
    batch: usize,
    /// The batch's pixels.
    pub x: Array2<f32>,
    /// The batch's labels, filled by the caller before the forward pass.
    pub labels: Vec<u8>,
    h1: Array2<f32>,
    h2: Array2<f32>,
    /// The logits, then (in the same buffer) the loss gradient with respect to them.
    d_logits: Array2<f32>,
    d_h2: Array2<f32>,
    d_h1: Array2<f32>,
    row_loss: Vec<f64>,
    predicted: Vec<u8>,
    /// Data gradients (without L2) of the last backward pass; tensors the step did not
    /// train hold stale values. After an update, the parameters from before it.
    pub grads: Classifier,
}

impl ClassifierWorkspace {
    pub fn new(like: &Classifier, batch: usize) -> Self {
        let arch = like.arch();
        let z = |c| Array2::zeros((batch, c));
        Self {
            batch,
            x: z(arch.inputs),
            labels: vec![0; batch],
            h1: z(arch.hidden1()),
            h2: z(arch.code()),
            d_logits: z(like.classes()),
            d_h2: z(arch.code()),
            d_h1: z(arch.hidden1()),
            row_loss: vec![0.0; batch],
            predicted: vec![0; batch],
            grads: Classifier::zeros(arch, like.classes()),
        }
    }

    pub fn batch(&self) -> usize {
        self.batch
    }

    fn rows(&mut self) -> Rows<'_> {
        Rows {
            start: 0,
            x: self.x.view_mut(),
            h1: self.h1.view_mut(),
            h2: self.h2.view_mut(),
            d_logits: self.d_logits.view_mut(),
            d_h2: self.d_h2.view_mut(),
            d_h1: self.d_h1.view_mut(),
            labels: &self.labels,
            loss: &mut self.row_loss,
        }
    }
}

/// The same consecutive rows of every row-local buffer.
struct Rows<'a> {
    start: usize,
    x: ArrayViewMut2<'a, f32>,
    h1: ArrayViewMut2<'a, f32>,
    h2: ArrayViewMut2<'a, f32>,
    d_logits: ArrayViewMut2<'a, f32>,
    d_h2: ArrayViewMut2<'a, f32>,
    d_h1: ArrayViewMut2<'a, f32>,
    labels: &'a [u8],
    loss: &'a mut [f64],
}

row_block!(Rows, len: loss, [x, h1, h2, d_logits, d_h2, d_h1, labels, loss]);

/// Returns the batch's mean cross-entropy (without L2) and leaves the gradients of the
/// tensors `trains` names in `ws.grads`.
pub fn classifier_gradients(
    p: &Classifier,
    x: FillRows<'_>,
    trains: Trains,
    ws: &mut ClassifierWorkspace,
) -> f32 {
    let loss = classifier_forward(p, x, trains, ws);
    classifier_backward(trains, ws);
    loss
}

/// Fills the batch's pixels (its labels are already in `ws.labels`), returns the mean
/// cross-entropy, and runs the backward pass down to the deltas `trains` needs.
pub fn classifier_forward(
    p: &Classifier,
    fill: FillRows<'_>,
    trains: Trains,
    ws: &mut ClassifierWorkspace,
) -> f32 {
    let scale = 1.0 / ws.batch as f32;
    let threads = rayon::current_num_threads();
    for_row_blocks(ws.rows(), threads, &|r| rows(p, fill, trains, r, scale));
    (ws.row_loss.iter().sum::<f64>() / ws.batch as f64) as f32
}

fn rows(p: &Classifier, fill: FillRows<'_>, trains: Trains, mut r: Rows<'_>, scale: f32) {
    fill(r.start, flat_mut(r.x.view_mut()));
    dense_elu(r.x.view(), &p.w1, &p.b1, r.h1.view_mut());
    dense_elu(r.h1.view(), &p.w2, &p.b2, r.h2.view_mut());
    matmul_serial(r.d_logits.view_mut(), r.h2.view(), p.w3.view(), false);
    // b3 is added inside the loss pass, which turns the logits into their delta.
    let b3 = vec_of(&p.b3);
    softmax_xent(flat_mut(r.d_logits.view_mut()), b3, r.labels, scale, r.loss);
    if trains == Trains::All {
        matmul_serial(r.d_h2.view_mut(), r.d_logits.view(), p.w3.t(), false);
        elu_backward(flat_mut(r.d_h2.view_mut()), flat(r.h2.view()));
        matmul_serial(r.d_h1.view_mut(), r.d_h2.view(), p.w2.t(), false);
        elu_backward(flat_mut(r.d_h1.view_mut()), flat(r.h1.view()));
    }
}

/// The weight and bias gradients of the tensors `trains` names, after
/// `classifier_forward` with the same `trains`.
pub fn classifier_backward(trains: Trains, ws: &mut ClassifierWorkspace) {
    let g = &mut ws.grads;
    let head = WeightGradient::new(&mut g.w3, &mut g.b3, &ws.h2, &ws.d_logits);
    match trains {
        Trains::Head => weight_gradients(&mut [head]),
        Trains::All => weight_gradients(&mut [
            head,
            WeightGradient::new(&mut g.w2, &mut g.b2, &ws.h1, &ws.d_h2),
            WeightGradient::new(&mut g.w1, &mut g.b1, &ws.x, &ws.d_h1),
        ]),
    }
}

/// The share of the batch in `ws.x` and `ws.labels` that `p` classifies right (the
/// notebook's "Train accuracy", taken after the epoch's last update).
pub fn batch_accuracy(p: &Classifier, ws: &mut ClassifierWorkspace) -> f64 {
    let (x, h1, h2) = (ws.x.view(), ws.h1.view_mut(), &mut ws.h2);
    dense_elu(x, &p.w1, &p.b1, h1);
    dense_elu(ws.h1.view(), &p.w2, &p.b2, h2.view_mut());
    matmul_serial(ws.d_logits.view_mut(), ws.h2.view(), p.w3.view(), false);
    argmax_rows(flat(ws.d_logits.view()), vec_of(&p.b3), &mut ws.predicted);
    let right = ws
        .predicted
        .iter()
        .zip(&ws.labels)
        .filter(|(p, l)| p == l)
        .count();
    right as f64 / ws.batch as f64
}

/// `l2 * sum(w^2) / 2` over W1, W2 and W3: the notebook's `reg_loss`.
pub fn l2_penalty(p: &Classifier, l2: f32) -> f64 {
    [&p.w1, &p.w2, &p.w3]
        .iter()
        .map(|w| w.iter().map(|&v| v as f64 * v as f64).sum::<f64>())
        .sum::<f64>()
        * l2 as f64
        / 2.0
}
