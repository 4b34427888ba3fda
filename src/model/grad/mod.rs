//! Forward and backward passes of the autoencoder's losses, into preallocated buffers:
//! phase 1 (the outer autoencoder), phase 2 (the inner one) and the full stack (phase 3
//! and end-to-end, in `stack`).
//!
//! A step runs in three parallel parts, each cut into as many blocks as rayon has
//! threads (`parallel`):
//! 1. the batch's rows, each block through everything that is row-local: the forward
//!    pass, the loss, and the backward pass down to every layer's delta;
//! 2. the weight gradients (`hᵀ · delta`) and bias gradients (column sums of delta),
//!    which need all rows, in blocks of columns;
//! 3. (in `Adam`) the update, in blocks of parameters.
//!
//! How the work is cut depends on the thread count; the results do not: a step gives
//! the same bits on 1 thread or 16.

mod stack;

use ndarray::{Array2, ArrayViewMut2};

use super::flat::{flat, flat_mut, vec_of};
use super::inference::{dense_elu, hidden1};
use super::kernels::{bias_elu, biased_mse, biased_mse_grad, elu_backward, mse, mse_grad};
use super::linalg::{matmul, matmul_serial};
use super::parallel::{WeightGradient, for_row_blocks, row_block, weight_gradients};
use super::{Arch, Params};

pub use super::parallel::FillRows;
pub use stack::{stack_backward, stack_forward, stack_gradients, stack_loss};

/// What phase 2 gets for a batch.
#[derive(Clone, Copy)]
pub enum Phase2Input<'a> {
    /// hidden1 itself (from the cache).
    Hidden1(FillRows<'a>),
    /// Pixels, from which hidden1 is recomputed (the frozen W1, b1).
    Pixels(FillRows<'a>),
}

/// Every intermediate of a training step, sized once for a batch size.
#[derive(Debug, Clone)]
pub struct Workspace {
    batch: usize,
    /// The batch's pixels (phase 1, and phase 2 without the cache).
    pub x: Array2<f32>,
    /// hidden1 of the batch: phase 2's input and target.
    pub h1: Array2<f32>,
    out: Array2<f32>,
    d_out: Array2<f32>,
    h2: Array2<f32>,
    h3: Array2<f32>,
    d_h1: Array2<f32>,
    d_h2: Array2<f32>,
    d_h3: Array2<f32>,
    /// Each row's squared error, added in order for the loss.
    row_loss: Vec<f64>,
    /// Data gradients (without L2) of the last backward pass; the tensors the phase
    /// does not train hold stale values.
    pub grads: Params,
}

impl Workspace {
    pub fn new(arch: Arch, batch: usize) -> Self {
        let z = |c| Array2::zeros((batch, c));
        Self {
            batch,
            x: z(arch.inputs),
            h1: z(arch.hidden1),
            out: z(arch.inputs),
            d_out: z(arch.inputs),
            h2: z(arch.hidden2),
            h3: z(arch.hidden1),
            d_h1: z(arch.hidden1),
            d_h2: z(arch.hidden2),
            d_h3: z(arch.hidden1),
            row_loss: vec![0.0; batch],
            grads: Params::zeros(arch),
        }
    }

    pub fn batch(&self) -> usize {
        self.batch
    }

    /// All of the batch's row-local buffers, as one block.
    fn rows(&mut self) -> Rows<'_> {
        Rows {
            start: 0,
            x: self.x.view_mut(),
            h1: self.h1.view_mut(),
            out: self.out.view_mut(),
            d_out: self.d_out.view_mut(),
            h2: self.h2.view_mut(),
            h3: self.h3.view_mut(),
            d_h1: self.d_h1.view_mut(),
            d_h2: self.d_h2.view_mut(),
            d_h3: self.d_h3.view_mut(),
            loss: &mut self.row_loss,
        }
    }

    /// The mean of the rows' squared errors over `width` columns.
    fn mean_loss(&self, width: usize) -> f32 {
        let sum: f64 = self.row_loss.iter().sum();
        (sum / (self.batch * width) as f64) as f32
    }
}

/// A `FillRows` that copies from a matrix holding the whole batch (tests, tools).
pub fn rows_of(m: &Array2<f32>) -> impl Fn(usize, &mut [f32]) + Sync + '_ {
    move |start, out: &mut [f32]| {
        let all = m.as_slice().expect("row-major contiguous");
        let w = m.ncols();
        out.copy_from_slice(&all[start * w..start * w + out.len()]);
    }
}

/// A block of consecutive rows of the batch: the same rows of every buffer.
struct Rows<'a> {
    /// Index of the block's first row in the batch.
    start: usize,
    x: ArrayViewMut2<'a, f32>,
    h1: ArrayViewMut2<'a, f32>,
    out: ArrayViewMut2<'a, f32>,
    d_out: ArrayViewMut2<'a, f32>,
    h2: ArrayViewMut2<'a, f32>,
    h3: ArrayViewMut2<'a, f32>,
    d_h1: ArrayViewMut2<'a, f32>,
    d_h2: ArrayViewMut2<'a, f32>,
    d_h3: ArrayViewMut2<'a, f32>,
    loss: &'a mut [f64],
}

row_block!(Rows, len: loss, [x, h1, out, d_out, h2, h3, d_h1, d_h2, d_h3, loss]);

/// Phase 1 (the outer autoencoder, hidden2 and hidden3 bypassed): returns
/// `mean((hidden1 · W4 + b4 - x)^2)` and leaves the gradients of W1, b1, W4, b4 in
/// `ws.grads`.
pub fn phase1_gradients(p: &Params, x: FillRows<'_>, ws: &mut Workspace) -> f32 {
    let loss = phase1_forward(p, x, ws);
    phase1_backward(ws);
    loss
}

/// Fills the batch, returns the loss, and does everything of the backward pass that is
/// local to a row (the deltas of every layer). `ws.grads` is not touched.
pub fn phase1_forward(p: &Params, fill: FillRows<'_>, ws: &mut Workspace) -> f32 {
    let scale = 2.0 / ws.x.len() as f32;
    let threads = rayon::current_num_threads();
    for_row_blocks(ws.rows(), threads, &|r| phase1_rows(p, fill, r, scale));
    ws.mean_loss(p.arch().inputs)
}

fn phase1_rows(p: &Params, fill: FillRows<'_>, mut r: Rows<'_>, scale: f32) {
    fill(r.start, flat_mut(r.x.view_mut()));
    dense_elu(r.x.view(), &p.w1, &p.b1, r.h1.view_mut());
    matmul_serial(r.out.view_mut(), r.h1.view(), p.w4.view(), false);
    // The output bias is added inside the loss pass: one pass over the batch less.
    biased_mse_grad(
        flat(r.out.view()),
        vec_of(&p.b4),
        flat(r.x.view()),
        flat_mut(r.d_out.view_mut()),
        scale,
        r.loss,
    );
    matmul_serial(r.d_h1.view_mut(), r.d_out.view(), p.w4.t(), false);
    elu_backward(flat_mut(r.d_h1.view_mut()), flat(r.h1.view()));
}

/// The rest of the backward pass, after `phase1_forward`: the weight and bias
/// gradients.
pub fn phase1_backward(ws: &mut Workspace) {
    let g = &mut ws.grads;
    weight_gradients(&mut [
        WeightGradient::new(&mut g.w4, &mut g.b4, &ws.h1, &ws.d_out),
        WeightGradient::new(&mut g.w1, &mut g.b1, &ws.x, &ws.d_h1),
    ]);
}

/// The phase-1 reconstruction loss of the batch in `ws.x` (the seed's per-epoch
/// "Train MSE" is this, on the epoch's last batch, after its update).
pub fn phase1_loss(p: &Params, ws: &mut Workspace) -> f32 {
    hidden1(p, ws.x.view(), ws.h1.view_mut());
    matmul(ws.out.view_mut(), ws.h1.view(), p.w4.view(), false);
    let sum = biased_mse(flat(ws.out.view()), vec_of(&p.b4), flat(ws.x.view()));
    (sum / ws.x.len() as f64) as f32
}

/// Phase 2 (the inner autoencoder on frozen hidden1): returns
/// `mean((hidden3 - hidden1)^2)` and leaves the gradients of W2, b2, W3, b3 in
/// `ws.grads`. hidden1 is the target and the input, never differentiated.
pub fn phase2_gradients(p: &Params, input: Phase2Input<'_>, ws: &mut Workspace) -> f32 {
    let loss = phase2_forward(p, input, ws);
    phase2_backward(ws);
    loss
}

/// The loss and the row-local part of the backward pass, as `phase1_forward`.
pub fn phase2_forward(p: &Params, input: Phase2Input<'_>, ws: &mut Workspace) -> f32 {
    let scale = 2.0 / ws.h1.len() as f32;
    let threads = rayon::current_num_threads();
    for_row_blocks(ws.rows(), threads, &|r| phase2_rows(p, input, r, scale));
    ws.mean_loss(p.arch().hidden1)
}

fn phase2_rows(p: &Params, input: Phase2Input<'_>, mut r: Rows<'_>, scale: f32) {
    match input {
        Phase2Input::Hidden1(fill) => fill(r.start, flat_mut(r.h1.view_mut())),
        Phase2Input::Pixels(fill) => {
            fill(r.start, flat_mut(r.x.view_mut()));
            dense_elu(r.x.view(), &p.w1, &p.b1, r.h1.view_mut());
        }
    }
    dense_elu(r.h1.view(), &p.w2, &p.b2, r.h2.view_mut());
    dense_elu(r.h2.view(), &p.w3, &p.b3, r.h3.view_mut());
    mse_grad(
        flat(r.h3.view()),
        flat(r.h1.view()),
        flat_mut(r.d_h3.view_mut()),
        scale,
        p.arch().hidden1,
        r.loss,
    );
    elu_backward(flat_mut(r.d_h3.view_mut()), flat(r.h3.view()));
    matmul_serial(r.d_h2.view_mut(), r.d_h3.view(), p.w3.t(), false);
    elu_backward(flat_mut(r.d_h2.view_mut()), flat(r.h2.view()));
}

/// The rest of the backward pass, after `phase2_forward`. (Phase 2 never
/// differentiates hidden1: it is the target.)
pub fn phase2_backward(ws: &mut Workspace) {
    let g = &mut ws.grads;
    weight_gradients(&mut [
        WeightGradient::new(&mut g.w3, &mut g.b3, &ws.h2, &ws.d_h3),
        WeightGradient::new(&mut g.w2, &mut g.b2, &ws.h1, &ws.d_h2),
    ]);
}

/// The phase-2 reconstruction loss of the batch in `ws.h1`.
pub fn phase2_loss(p: &Params, ws: &mut Workspace) -> f32 {
    matmul(ws.h2.view_mut(), ws.h1.view(), p.w2.view(), false);
    bias_elu(flat_mut(ws.h2.view_mut()), vec_of(&p.b2));
    matmul(ws.h3.view_mut(), ws.h2.view(), p.w3.view(), false);
    bias_elu(flat_mut(ws.h3.view_mut()), vec_of(&p.b3));
    let sum = mse(flat(ws.h3.view()), flat(ws.h1.view()));
    (sum / ws.h1.len() as f64) as f32
}

/// `l2 * sum(w^2) / 2` over the weights a phase trains (TF's `l2_regularizer`).
pub fn l2_penalty(p: &Params, phase: super::Phase, l2: f32) -> f64 {
    let t = p.tensors();
    phase
        .tensors()
        .iter()
        .filter(|&&i| super::params::is_weight(i))
        .map(|&i| t[i].iter().map(|&w| (w as f64) * (w as f64)).sum::<f64>())
        .sum::<f64>()
        * l2 as f64
        / 2.0
}

#[cfg(test)]
mod tests;
