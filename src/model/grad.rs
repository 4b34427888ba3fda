//! Forward and backward passes of the two phase losses, into preallocated buffers.
//!
//! A step runs in three parallel parts, each two equal tasks for rayon's two threads:
//! 1. the batch's two halves of rows, each through everything that is row-local: the
//!    forward pass, the loss, and the backward pass down to every layer's delta;
//! 2. the two weight gradients (`hᵀ · delta`), which need all rows, side by side;
//! 3. (in `Adam`) the update of the two weight matrices side by side.
//!
//! The halves are fixed by the batch size, and partial sums are combined in a fixed
//! order, so results do not depend on the number of threads.

use ndarray::{Array1, Array2, ArrayViewMut2, Axis};

use super::flat::{flat, flat_mut, vec_mut, vec_of};
use super::inference::{dense_elu, hidden1};
use super::kernels::{
    bias_elu, biased_mse, biased_mse_grad, column_sums, elu_backward, mse, mse_grad,
};
use super::linalg::{matmul, matmul_serial};
use super::{Arch, Params};

/// Fills rows `start..` of a batch's input: `rows.len() / width` rows of `width`
/// values. The trainer gathers them from the data (or the hidden1 cache); each half of
/// the batch is filled on the thread that then works on it.
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
    /// Bias gradients of each half batch, added in a fixed order.
    part_in: [Array1<f32>; 2],
    part_h1: [Array1<f32>; 2],
    part_h2: [Array1<f32>; 2],
    /// Data gradients (without L2) of the last backward pass; the tensors the phase
    /// does not train hold stale values.
    pub grads: Params,
}

impl Workspace {
    pub fn new(arch: Arch, batch: usize) -> Self {
        let z = |c| Array2::zeros((batch, c));
        let pair = |n| [Array1::zeros(n), Array1::zeros(n)];
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
            part_in: pair(arch.inputs),
            part_h1: pair(arch.hidden1),
            part_h2: pair(arch.hidden2),
            grads: Params::zeros(arch),
        }
    }

    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Where the batch is cut in two.
    fn mid(&self) -> usize {
        self.batch.div_ceil(2)
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

/// Splits the rows of `a` at `mid`.
fn halves<'a>(a: &'a mut Array2<f32>, mid: usize) -> [ArrayViewMut2<'a, f32>; 2] {
    let (top, bottom) = a.view_mut().split_at(Axis(0), mid);
    [top, bottom]
}

/// Phase 1 (the outer autoencoder, hidden2 and hidden3 bypassed): returns
/// `mean((hidden1 · W4 + b4 - x)^2)` and leaves the gradients of W1, b1, W4, b4 in
/// `ws.grads`.
pub fn phase1_gradients(p: &Params, x: FillRows<'_>, ws: &mut Workspace) -> f32 {
    let loss = phase1_forward(p, x, ws);
    phase1_backward(ws);
    loss
}

/// Fills the batch, returns the loss, and does everything of the backward pass that is
/// local to a row (the deltas of every layer, the bias gradients of each half).
/// `ws.grads` is not touched.
pub fn phase1_forward(p: &Params, fill: FillRows<'_>, ws: &mut Workspace) -> f32 {
    let mid = ws.mid();
    let n = ws.x.len();
    let scale = 2.0 / n as f32;
    let [xa, xb] = halves(&mut ws.x, mid);
    let [h1a, h1b] = halves(&mut ws.h1, mid);
    let [oa, ob] = halves(&mut ws.out, mid);
    let [da, db] = halves(&mut ws.d_out, mid);
    let [ea, eb] = halves(&mut ws.d_h1, mid);
    let [pa, pb] = &mut ws.part_in;
    let [qa, qb] = &mut ws.part_h1;
    let sums = rayon::join(
        || phase1_rows(p, fill, 0, xa, h1a, oa, da, ea, pa, qa, scale),
        || phase1_rows(p, fill, mid, xb, h1b, ob, db, eb, pb, qb, scale),
    );
    ((sums.0 + sums.1) / n as f64) as f32
}

/// `phase1_forward` on the rows from `start`: returns their sum of squared errors.
#[allow(clippy::too_many_arguments)]
fn phase1_rows(
    p: &Params,
    fill: FillRows<'_>,
    start: usize,
    mut x: ArrayViewMut2<f32>,
    mut h1: ArrayViewMut2<f32>,
    mut out: ArrayViewMut2<f32>,
    mut d_out: ArrayViewMut2<f32>,
    mut d_h1: ArrayViewMut2<f32>,
    part_in: &mut Array1<f32>,
    part_h1: &mut Array1<f32>,
    scale: f32,
) -> f64 {
    if x.nrows() == 0 {
        part_in.fill(0.0);
        part_h1.fill(0.0);
        return 0.0;
    }
    fill(start, flat_mut(x.view_mut()));
    dense_elu(x.view(), &p.w1, &p.b1, h1.view_mut());
    matmul_serial(out.view_mut(), h1.view(), p.w4.view(), false);
    // The output bias is added inside the loss pass: one pass over the batch less.
    let sum = biased_mse_grad(
        flat(out.view()),
        vec_of(&p.b4),
        flat(x.view()),
        flat_mut(d_out.view_mut()),
        scale,
    );
    column_sums(flat(d_out.view()), vec_mut(part_in));
    matmul_serial(d_h1.view_mut(), d_out.view(), p.w4.t(), false);
    elu_backward(flat_mut(d_h1.view_mut()), flat(h1.view()), vec_mut(part_h1));
    sum
}

/// The rest of the backward pass, after `phase1_forward`: the weight gradients, and
/// the bias gradients summed over both halves.
pub fn phase1_backward(ws: &mut Workspace) {
    let g = &mut ws.grads;
    let (gw1, gw4) = (&mut g.w1, &mut g.w4);
    let (x, h1, d_out, d_h1) = (&ws.x, &ws.h1, &ws.d_out, &ws.d_h1);
    rayon::join(
        || matmul_serial(gw4.view_mut(), h1.t(), d_out.view(), false),
        || matmul_serial(gw1.view_mut(), x.t(), d_h1.view(), false),
    );
    add_parts(&mut g.b4, &ws.part_in);
    add_parts(&mut g.b1, &ws.part_h1);
}

fn add_parts(dst: &mut Array1<f32>, parts: &[Array1<f32>; 2]) {
    for ((d, a), b) in dst.iter_mut().zip(&parts[0]).zip(&parts[1]) {
        *d = a + b;
    }
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
    let mid = ws.mid();
    let n = ws.h1.len();
    let scale = 2.0 / n as f32;
    let [xa, xb] = halves(&mut ws.x, mid);
    let [h1a, h1b] = halves(&mut ws.h1, mid);
    let [h2a, h2b] = halves(&mut ws.h2, mid);
    let [h3a, h3b] = halves(&mut ws.h3, mid);
    let [d3a, d3b] = halves(&mut ws.d_h1, mid);
    let [d2a, d2b] = halves(&mut ws.d_h2, mid);
    let [p3a, p3b] = &mut ws.part_h1;
    let [p2a, p2b] = &mut ws.part_h2;
    let sums = rayon::join(
        || phase2_rows(p, input, 0, [xa, h1a, h2a, h3a, d3a, d2a], p3a, p2a, scale),
        || {
            phase2_rows(
                p,
                input,
                mid,
                [xb, h1b, h2b, h3b, d3b, d2b],
                p3b,
                p2b,
                scale,
            )
        },
    );
    ((sums.0 + sums.1) / n as f64) as f32
}

/// `phase2_forward` on the rows from `start`.
fn phase2_rows(
    p: &Params,
    input: Phase2Input<'_>,
    start: usize,
    [mut x, mut h1, mut h2, mut h3, mut d3, mut d2]: [ArrayViewMut2<f32>; 6],
    part3: &mut Array1<f32>,
    part2: &mut Array1<f32>,
    scale: f32,
) -> f64 {
    if h1.nrows() == 0 {
        part3.fill(0.0);
        part2.fill(0.0);
        return 0.0;
    }
    match input {
        Phase2Input::Hidden1(fill) => fill(start, flat_mut(h1.view_mut())),
        Phase2Input::Pixels(fill) => {
            fill(start, flat_mut(x.view_mut()));
            dense_elu(x.view(), &p.w1, &p.b1, h1.view_mut());
        }
    }
    dense_elu(h1.view(), &p.w2, &p.b2, h2.view_mut());
    dense_elu(h2.view(), &p.w3, &p.b3, h3.view_mut());
    let sum = mse_grad(
        flat(h3.view()),
        flat(h1.view()),
        flat_mut(d3.view_mut()),
        scale,
    );
    elu_backward(flat_mut(d3.view_mut()), flat(h3.view()), vec_mut(part3));
    matmul_serial(d2.view_mut(), d3.view(), p.w3.t(), false);
    elu_backward(flat_mut(d2.view_mut()), flat(h2.view()), vec_mut(part2));
    sum
}

/// The rest of the backward pass, after `phase2_forward`.
pub fn phase2_backward(ws: &mut Workspace) {
    let g = &mut ws.grads;
    let (gw2, gw3) = (&mut g.w2, &mut g.w3);
    let (h1, h2, d3, d2) = (&ws.h1, &ws.h2, &ws.d_h1, &ws.d_h2);
    rayon::join(
        || matmul_serial(gw3.view_mut(), h2.t(), d3.view(), false),
        || matmul_serial(gw2.view_mut(), h1.t(), d2.view(), false),
    );
    add_parts(&mut g.b3, &ws.part_h1);
    add_parts(&mut g.b2, &ws.part_h2);
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
