//! The classifier's forward and backward passes, into preallocated buffers, cut for
//! rayon's threads as the autoencoder's are (`parallel`): rows, then weight gradients,
//! then (in `Adam`) the update; the same bits on any number of threads.

use ndarray::{Array2, ArrayViewMut2};

use super::{Classifier, Trains};
use crate::model::MAX_STAGES;
use crate::model::flat::{flat, flat_mut, vec_of};
use crate::model::inference::dense;
use crate::model::kernels::{argmax_rows, softmax_xent};
use crate::model::linalg::matmul_serial;
use crate::model::parallel::{
    FillRows, WeightGradient, above, below, for_row_blocks, level_views, row_block,
    weight_gradients,
};

/// The input and the encoder's levels of the deepest stack.
const LEVELS: usize = MAX_STAGES + 1;

/// Every intermediate of a classifier step, sized once for a batch size.
#[derive(Debug, Clone)]
pub struct ClassifierWorkspace {
    batch: usize,
    /// `act[0]` the batch's pixels, `act[j]` encoder level j (K+1 of them).
    act: Vec<Array2<f32>>,
    /// The batch's labels, filled by the caller before the forward pass.
    pub labels: Vec<u8>,
    /// The logits, then (in the same buffer) the loss gradient with respect to them.
    d_logits: Array2<f32>,
    /// `d[j]`: the loss's gradient at `act[j]` (`d[0]` is never used).
    d: Vec<Array2<f32>>,
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
        let act: Vec<_> = (0..=arch.depth()).map(|l| z(arch.level(l))).collect();
        Self {
            batch,
            d: act.clone(),
            act,
            labels: vec![0; batch],
            d_logits: z(like.classes()),
            row_loss: vec![0.0; batch],
            predicted: vec![0; batch],
            grads: Classifier::zeros(arch, like.classes()),
        }
    }

    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The batch's pixels.
    pub fn x(&mut self) -> &mut Array2<f32> {
        &mut self.act[0]
    }

    fn rows(&mut self) -> Rows<'_> {
        let batch = self.batch;
        Rows {
            start: 0,
            act: level_views(&mut self.act, batch),
            d: level_views(&mut self.d, batch),
            d_logits: self.d_logits.view_mut(),
            labels: &self.labels,
            loss: &mut self.row_loss,
        }
    }
}

/// The same consecutive rows of every row-local buffer.
struct Rows<'a> {
    start: usize,
    act: [ArrayViewMut2<'a, f32>; LEVELS],
    d: [ArrayViewMut2<'a, f32>; LEVELS],
    d_logits: ArrayViewMut2<'a, f32>,
    labels: &'a [u8],
    loss: &'a mut [f64],
}

row_block!(Rows, len: loss, [act, d, d_logits, labels, loss]);

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
    let k = p.depth();
    fill(r.start, flat_mut(r.act[0].view_mut()));
    for j in 0..k {
        let (a, c) = below(&mut r.act, j, j + 1);
        dense(a.view(), &p.w[j], &p.b[j], p.activation(j), c.view_mut());
    }
    let (w, b) = p.head();
    matmul_serial(r.d_logits.view_mut(), r.act[k].view(), w.view(), false);
    // The head's bias is added inside the loss pass, which turns the logits into their
    // delta.
    softmax_xent(
        flat_mut(r.d_logits.view_mut()),
        vec_of(b),
        r.labels,
        scale,
        r.loss,
    );
    if trains == Trains::All {
        matmul_serial(r.d[k].view_mut(), r.d_logits.view(), w.t(), false);
        let f = p.activation(k - 1);
        f.backward(flat_mut(r.d[k].view_mut()), flat(r.act[k].view()));
        for j in (1..k).rev() {
            let (dt, df) = above(&mut r.d, j, j + 1);
            matmul_serial(dt.view_mut(), df.view(), p.w[j].t(), false);
            let f = p.activation(j - 1);
            f.backward(flat_mut(dt.view_mut()), flat(r.act[j].view()));
        }
    }
}

/// The weight and bias gradients of the tensors `trains` names, after
/// `classifier_forward` with the same `trains`.
pub fn classifier_backward(trains: Trains, ws: &mut ClassifierWorkspace) {
    let k = ws.grads.depth();
    let (gw, gb) = (&mut ws.grads.w, &mut ws.grads.b);
    let mut layers: [WeightGradient<'_>; LEVELS] = std::array::from_fn(|_| WeightGradient::empty());
    let mut n = 0;
    // The head first, then the encoder from the top: the order the sums always had.
    let trained = if trains == Trains::All { k + 1 } else { 1 };
    for ((j, (w, b)), slot) in gw
        .iter_mut()
        .zip(gb.iter_mut())
        .enumerate()
        .rev()
        .zip(&mut layers)
        .take(trained)
    {
        let d = if j == k { &ws.d_logits } else { &ws.d[j + 1] };
        *slot = WeightGradient::new(w, b, ws.act[j].view(), d.view());
        n += 1;
    }
    weight_gradients(&mut layers[..n]);
}

/// The share of the batch in `ws.x()` and `ws.labels` that `p` classifies right (the
/// notebook's "Train accuracy", taken after the epoch's last update).
pub fn batch_accuracy(p: &Classifier, ws: &mut ClassifierWorkspace) -> f64 {
    let k = p.depth();
    for j in 0..k {
        let (a, c) = below(&mut ws.act, j, j + 1);
        dense(a.view(), &p.w[j], &p.b[j], p.activation(j), c.view_mut());
    }
    let (w, b) = p.head();
    matmul_serial(ws.d_logits.view_mut(), ws.act[k].view(), w.view(), false);
    argmax_rows(flat(ws.d_logits.view()), vec_of(b), &mut ws.predicted);
    let right = ws
        .predicted
        .iter()
        .zip(&ws.labels)
        .filter(|(p, l)| p == l)
        .count();
    right as f64 / ws.batch as f64
}

/// `l2 * sum(w^2) / 2` over every weight matrix: the notebook's `reg_loss`.
pub fn l2_penalty(p: &Classifier, l2: f32) -> f64 {
    p.w.iter()
        .map(|w| w.iter().map(|&v| v as f64 * v as f64).sum::<f64>())
        .sum::<f64>()
        * l2 as f64
        / 2.0
}
