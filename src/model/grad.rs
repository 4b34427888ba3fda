//! Forward and backward passes of the two phase losses, into preallocated buffers.
//!
//! A step runs in three parallel parts, each cut into as many blocks as rayon has
//! threads:
//! 1. the batch's rows, each block through everything that is row-local: the forward
//!    pass, the loss, and the backward pass down to every layer's delta;
//! 2. the weight gradients (`hᵀ · delta`) and bias gradients (column sums of delta),
//!    which need all rows, in blocks of columns;
//! 3. (in `Adam`) the update, in blocks of parameters.
//!
//! How the work is cut depends on the thread count; the results do not. Every product
//! gives the same bits whatever block of rows or columns it computes (`linalg`), every
//! sum over the batch adds its rows in order, and the loss is summed per row, the rows
//! then added in order. So a step gives the same bits on 1 thread or 16.

use std::ops::Range;

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, s};

use super::flat::{flat, flat_mut, vec_mut, vec_of};
use super::inference::{dense_elu, hidden1};
use super::kernels::{
    bias_elu, biased_mse, biased_mse_grad, column_sums, elu_backward, mse, mse_grad,
};
use super::linalg::{cut, matmul, matmul_serial};
use super::{Arch, Params};

/// Row blocks are cut on multiples of this, and are never shorter: smaller blocks would
/// cost more in overhead than another thread gains.
const ROW_ALIGN: usize = 4;
/// Column blocks of the weight gradients are cut on multiples of this.
const COLUMN_ALIGN: usize = 16;

/// Fills rows `start..` of a batch's input: `rows.len() / width` rows of `width`
/// values. The trainer gathers them from the data (or the hidden1 cache); each block
/// of the batch is filled on the thread that then works on it.
pub type FillRows<'a> = &'a (dyn Fn(usize, &mut [f32]) + Sync);

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
    loss: &'a mut [f64],
}

impl<'a> Rows<'a> {
    fn len(&self) -> usize {
        self.loss.len()
    }

    fn split_at(self, at: usize) -> (Rows<'a>, Rows<'a>) {
        let cut2 = |a: ArrayViewMut2<'a, f32>| a.split_at(Axis(0), at);
        let (x, x2) = cut2(self.x);
        let (h1, h12) = cut2(self.h1);
        let (out, out2) = cut2(self.out);
        let (d_out, d_out2) = cut2(self.d_out);
        let (h2, h22) = cut2(self.h2);
        let (h3, h32) = cut2(self.h3);
        let (d_h1, d_h12) = cut2(self.d_h1);
        let (d_h2, d_h22) = cut2(self.d_h2);
        let (loss, loss2) = self.loss.split_at_mut(at);
        let top = Rows {
            start: self.start,
            x,
            h1,
            out,
            d_out,
            h2,
            h3,
            d_h1,
            d_h2,
            loss,
        };
        let bottom = Rows {
            start: self.start + at,
            x: x2,
            h1: h12,
            out: out2,
            d_out: d_out2,
            h2: h22,
            h3: h32,
            d_h1: d_h12,
            d_h2: d_h22,
            loss: loss2,
        };
        (top, bottom)
    }
}

/// Runs `f` on blocks of `rows`, about one per thread of `parts`, in parallel.
fn for_row_blocks(rows: Rows<'_>, parts: usize, f: &(dyn Fn(Rows<'_>) + Sync)) {
    match cut(rows.len(), parts, ROW_ALIGN, ROW_ALIGN) {
        None => f(rows),
        Some(at) => {
            let (top, bottom) = rows.split_at(at);
            rayon::join(
                || for_row_blocks(top, parts / 2, f),
                || for_row_blocks(bottom, parts - parts / 2, f),
            );
        }
    }
}

/// `gw = aᵀ · d[:, cols]` and `gb = column sums of d[:, cols]` (rows added in order),
/// in about `parts` blocks of columns, in parallel. `gw` and `gb` hold the columns
/// `cols` of the whole gradient.
fn weight_gradient(
    gw: ArrayViewMut2<'_, f32>,
    gb: &mut [f32],
    a: ArrayView2<'_, f32>,
    d: ArrayView2<'_, f32>,
    cols: Range<usize>,
    parts: usize,
) {
    match cut(cols.len(), parts, COLUMN_ALIGN, COLUMN_ALIGN) {
        None => {
            let block = d.slice(s![.., cols.clone()]);
            matmul_serial(gw, a.t(), block, false);
            column_sums(flat(d), d.ncols(), cols.start, gb);
        }
        Some(at) => {
            let (gw1, gw2) = gw.split_at(Axis(1), at);
            let (gb1, gb2) = gb.split_at_mut(at);
            let mid = cols.start + at;
            rayon::join(
                || weight_gradient(gw1, gb1, a, d, cols.start..mid, parts / 2),
                || weight_gradient(gw2, gb2, a, d, mid..cols.end, parts - parts / 2),
            );
        }
    }
}

/// Two weight gradients side by side, the threads shared between them.
fn weight_gradients([(gw1, gb1, a1, d1), (gw2, gb2, a2, d2)]: [WeightGradient<'_>; 2]) {
    let threads = rayon::current_num_threads();
    let (p1, p2) = ((threads / 2).max(1), threads - threads / 2);
    rayon::join(
        || weight_gradient(gw1, gb1, a1, d1, 0..d1.ncols(), p1),
        || weight_gradient(gw2, gb2, a2, d2, 0..d2.ncols(), p2),
    );
}

/// The weight and bias gradients to fill, and the layer input and delta they come from.
type WeightGradient<'a> = (
    ArrayViewMut2<'a, f32>,
    &'a mut [f32],
    ArrayView2<'a, f32>,
    ArrayView2<'a, f32>,
);

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
    weight_gradients([
        (
            g.w4.view_mut(),
            vec_mut(&mut g.b4),
            ws.h1.view(),
            ws.d_out.view(),
        ),
        (
            g.w1.view_mut(),
            vec_mut(&mut g.b1),
            ws.x.view(),
            ws.d_h1.view(),
        ),
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
        flat_mut(r.d_h1.view_mut()),
        scale,
        p.arch().hidden1,
        r.loss,
    );
    elu_backward(flat_mut(r.d_h1.view_mut()), flat(r.h3.view()));
    matmul_serial(r.d_h2.view_mut(), r.d_h1.view(), p.w3.t(), false);
    elu_backward(flat_mut(r.d_h2.view_mut()), flat(r.h2.view()));
}

/// The rest of the backward pass, after `phase2_forward`. (`d_h1` holds hidden3's
/// delta here: phase 2 never differentiates hidden1.)
pub fn phase2_backward(ws: &mut Workspace) {
    let g = &mut ws.grads;
    weight_gradients([
        (
            g.w3.view_mut(),
            vec_mut(&mut g.b3),
            ws.h2.view(),
            ws.d_h1.view(),
        ),
        (
            g.w2.view_mut(),
            vec_mut(&mut g.b2),
            ws.h1.view(),
            ws.d_h2.view(),
        ),
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
mod tests {
    //! Analytic gradients against central finite differences, in f64 arithmetic on
    //! the loss (the network itself runs in f32, so the step is chosen accordingly).
    use super::*;
    use crate::model::Phase;

    const SMALL: Arch = Arch {
        inputs: 12,
        hidden1: 7,
        hidden2: 4,
    };
    const L2: f32 = 0.05;

    fn batch(rows: usize, cols: usize, seed: u32) -> Array2<f32> {
        Array2::from_shape_fn((rows, cols), |(i, j)| {
            let h = (i as u32 * 7919 + j as u32 * 104_729 + seed * 31).wrapping_mul(2_654_435_761);
            (h >> 8) as f32 / 16_777_216.0
        })
    }

    fn params() -> Params {
        let mut p = Params::he_init(SMALL, 5);
        // Non-zero biases so that every path of the ELU is exercised.
        for (k, b) in [&mut p.b1, &mut p.b2, &mut p.b3, &mut p.b4]
            .into_iter()
            .enumerate()
        {
            b.iter_mut()
                .enumerate()
                .for_each(|(i, x)| *x = 0.3 * ((i + k) as f32).sin());
        }
        p
    }

    fn total_loss(p: &Params, phase: Phase, x: &Array2<f32>, ws: &mut Workspace) -> f64 {
        let data = match phase {
            Phase::One => {
                ws.x.assign(x);
                phase1_loss(p, ws)
            }
            Phase::Two => {
                hidden1(p, x.view(), ws.h1.view_mut());
                phase2_loss(p, ws)
            }
        };
        data as f64 + l2_penalty(p, phase, L2)
    }

    fn check(phase: Phase) {
        let x = batch(9, SMALL.inputs, 1);
        let mut p = params();
        let mut ws = Workspace::new(SMALL, 9);
        let pixels = rows_of(&x);
        match phase {
            Phase::One => {
                phase1_gradients(&p, &pixels, &mut ws);
            }
            Phase::Two => {
                phase2_gradients(&p, Phase2Input::Pixels(&pixels), &mut ws);
                // From hidden1 itself (the cache's way), the same gradients.
                let from_pixels = ws.grads.clone();
                let mut h1 = Array2::zeros((9, SMALL.hidden1));
                hidden1(&p, x.view(), h1.view_mut());
                phase2_gradients(&p, Phase2Input::Hidden1(&rows_of(&h1)), &mut ws);
                assert_eq!(ws.grads, from_pixels);
            }
        }
        let grads = ws.grads.clone();
        let mut worst = 0f64;
        let mut checked = 0;
        for &t in phase.tensors() {
            let n = p.tensors()[t].len();
            for i in 0..n {
                let w = p.tensors()[t][i];
                let analytic = grads.tensors()[t][i] as f64
                    + if crate::model::params::is_weight(t) {
                        L2 as f64 * w as f64
                    } else {
                        0.0
                    };
                let h = 1e-2f32 * w.abs().max(0.1);
                p.tensors_mut()[t][i] = w + h;
                let up = total_loss(&p, phase, &x, &mut ws);
                p.tensors_mut()[t][i] = w - h;
                let down = total_loss(&p, phase, &x, &mut ws);
                p.tensors_mut()[t][i] = w;
                let numeric = (up - down) / (2.0 * h as f64);
                let rel = (analytic - numeric).abs() / (analytic.abs() + numeric.abs()).max(1e-3);
                worst = worst.max(rel);
                checked += 1;
            }
        }
        assert!(checked > 50);
        assert!(worst < 1e-2, "{phase:?}: worst relative error {worst}");
    }

    #[test]
    fn phase1_gradients_match_finite_differences() {
        check(Phase::One);
    }

    #[test]
    fn phase2_gradients_match_finite_differences() {
        check(Phase::Two);
    }
}
