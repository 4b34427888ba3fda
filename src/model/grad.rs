//! Forward and backward passes of the two phase losses, into preallocated buffers.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, s};

use super::kernels::{
    bias_add, bias_elu, biased_mse, biased_mse_grad, column_sums, elu_backward, mse, mse_grad,
};
use super::linalg::{matmul, matmul_serial};
use super::{Arch, Params};

// Every array here is built in standard (row-major, contiguous) layout, and views of
// leading rows stay contiguous: the kernels see them as flat slices.
fn flat(a: ArrayView2<'_, f32>) -> &[f32] {
    a.to_slice().expect("row-major contiguous")
}

fn flat_mut(a: ArrayViewMut2<'_, f32>) -> &mut [f32] {
    a.into_slice().expect("row-major contiguous")
}

fn vec_of(a: &ndarray::Array1<f32>) -> &[f32] {
    a.as_slice().expect("contiguous")
}

fn flat1(a: &mut ndarray::Array1<f32>) -> &mut [f32] {
    a.as_slice_mut().expect("contiguous")
}

/// Every intermediate of a training step, sized once for a batch size.
#[derive(Debug, Clone)]
pub struct Workspace {
    batch: usize,
    /// hidden1 of the batch (phase 1) or the phase-2 input and target.
    pub h1: Array2<f32>,
    out: Array2<f32>,
    d_out: Array2<f32>,
    h2: Array2<f32>,
    h3: Array2<f32>,
    d_h1: Array2<f32>,
    d_h2: Array2<f32>,
    /// Data gradients (without L2) of the last backward pass; the tensors the phase
    /// does not train hold stale values.
    pub grads: Params,
}

impl Workspace {
    pub fn new(arch: Arch, batch: usize) -> Self {
        let z = |c| Array2::zeros((batch, c));
        Self {
            batch,
            h1: z(arch.hidden1),
            out: z(arch.inputs),
            d_out: z(arch.inputs),
            h2: z(arch.hidden2),
            h3: z(arch.hidden1),
            d_h1: z(arch.hidden1),
            d_h2: z(arch.hidden2),
            grads: Params::zeros(arch),
        }
    }

    pub fn batch(&self) -> usize {
        self.batch
    }
}

/// `out = elu(x · W1 + b1)`.
pub fn hidden1(p: &Params, x: ArrayView2<f32>, mut out: ArrayViewMut2<f32>) {
    matmul(out.view_mut(), x, p.w1.view(), false);
    bias_elu(flat_mut(out.view_mut()), vec_of(&p.b1));
}

/// `hidden1` on the calling thread only, for callers that parallelise over blocks.
pub fn hidden1_serial(p: &Params, x: ArrayView2<f32>, mut out: ArrayViewMut2<f32>) {
    matmul_serial(out.view_mut(), x, p.w1.view(), false);
    bias_elu(flat_mut(out.view_mut()), vec_of(&p.b1));
}

/// Phase 1 (the outer autoencoder, hidden2 and hidden3 bypassed): returns
/// `mean((hidden1 · W4 + b4 - x)^2)` and leaves the gradients of W1, b1, W4, b4 in
/// `ws.grads`.
pub fn phase1_gradients(p: &Params, x: ArrayView2<f32>, ws: &mut Workspace) -> f32 {
    let loss = phase1_forward(p, x, ws);
    phase1_backward(p, x, ws);
    loss
}

/// The forward half of `phase1_gradients`: the loss, with `ws.grads` still untouched.
pub fn phase1_forward(p: &Params, x: ArrayView2<f32>, ws: &mut Workspace) -> f32 {
    forward1(p, x, ws, true)
}

/// The backward half of `phase1_gradients`, after `phase1_forward` on the same `x`.
pub fn phase1_backward(p: &Params, x: ArrayView2<f32>, ws: &mut Workspace) {
    let g = &mut ws.grads;
    matmul(g.w4.view_mut(), ws.h1.t(), ws.d_out.view(), false);
    column_sums(flat(ws.d_out.view()), flat1(&mut g.b4));
    matmul(ws.d_h1.view_mut(), ws.d_out.view(), p.w4.t(), false);
    elu_backward(
        flat_mut(ws.d_h1.view_mut()),
        flat(ws.h1.view()),
        flat1(&mut g.b1),
    );
    matmul(g.w1.view_mut(), x.t(), ws.d_h1.view(), false);
}

/// The phase-1 reconstruction loss alone.
pub fn phase1_loss(p: &Params, x: ArrayView2<f32>, ws: &mut Workspace) -> f32 {
    forward1(p, x, ws, false)
}

fn forward1(p: &Params, x: ArrayView2<f32>, ws: &mut Workspace, grad: bool) -> f32 {
    assert_eq!(x.nrows(), ws.batch, "batch size of the workspace");
    hidden1(p, x, ws.h1.view_mut());
    // The output bias is added inside the loss pass: one pass over 150 x 784 less.
    matmul(ws.out.view_mut(), ws.h1.view(), p.w4.view(), false);
    let (out, b4, x) = (flat(ws.out.view()), vec_of(&p.b4), flat(x));
    let loss = if grad {
        biased_mse_grad(out, b4, x, flat_mut(ws.d_out.view_mut()))
    } else {
        biased_mse(out, b4, x)
    };
    loss as f32
}

/// Phase 2 (the inner autoencoder on frozen hidden1): with `ws.h1` holding hidden1 of
/// the batch, returns `mean((hidden3 - hidden1)^2)` and leaves the gradients of W2, b2,
/// W3, b3 in `ws.grads`. hidden1 is the target and the input, never differentiated.
pub fn phase2_gradients(p: &Params, ws: &mut Workspace) -> f32 {
    let loss = phase2_forward(p, ws);
    phase2_backward(p, ws);
    loss
}

/// The forward half of `phase2_gradients`: the loss, with `ws.grads` still untouched.
pub fn phase2_forward(p: &Params, ws: &mut Workspace) -> f32 {
    forward2(p, ws, true)
}

/// The backward half of `phase2_gradients`, after `phase2_forward`.
pub fn phase2_backward(p: &Params, ws: &mut Workspace) {
    let g = &mut ws.grads;
    // d_h1 holds d loss / d hidden3 here.
    elu_backward(
        flat_mut(ws.d_h1.view_mut()),
        flat(ws.h3.view()),
        flat1(&mut g.b3),
    );
    matmul(g.w3.view_mut(), ws.h2.t(), ws.d_h1.view(), false);
    matmul(ws.d_h2.view_mut(), ws.d_h1.view(), p.w3.t(), false);
    elu_backward(
        flat_mut(ws.d_h2.view_mut()),
        flat(ws.h2.view()),
        flat1(&mut g.b2),
    );
    matmul(g.w2.view_mut(), ws.h1.t(), ws.d_h2.view(), false);
}

/// The phase-2 reconstruction loss alone, with `ws.h1` holding hidden1 of the batch.
pub fn phase2_loss(p: &Params, ws: &mut Workspace) -> f32 {
    forward2(p, ws, false)
}

fn forward2(p: &Params, ws: &mut Workspace, grad: bool) -> f32 {
    matmul(ws.h2.view_mut(), ws.h1.view(), p.w2.view(), false);
    bias_elu(flat_mut(ws.h2.view_mut()), vec_of(&p.b2));
    matmul(ws.h3.view_mut(), ws.h2.view(), p.w3.view(), false);
    bias_elu(flat_mut(ws.h3.view_mut()), vec_of(&p.b3));
    let (h3, h1) = (flat(ws.h3.view()), flat(ws.h1.view()));
    let loss = if grad {
        mse_grad(h3, h1, flat_mut(ws.d_h1.view_mut()))
    } else {
        mse(h3, h1)
    };
    loss as f32
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

/// Buffers for running the whole stack on blocks of images (evaluation and the UI),
/// one block on one thread: callers parallelise over blocks.
#[derive(Debug, Clone)]
pub struct Inference {
    pub h1: Array2<f32>,
    pub h2: Array2<f32>,
    pub h3: Array2<f32>,
    /// Full-stack reconstruction.
    pub out: Array2<f32>,
    /// Phase-1 (outer autoencoder) reconstruction.
    pub outer: Array2<f32>,
}

impl Inference {
    pub fn new(arch: Arch, rows: usize) -> Self {
        let z = |c| Array2::zeros((rows, c));
        Self {
            h1: z(arch.hidden1),
            h2: z(arch.hidden2),
            h3: z(arch.hidden1),
            out: z(arch.inputs),
            outer: z(arch.inputs),
        }
    }

    pub fn rows(&self) -> usize {
        self.h1.nrows()
    }

    /// Runs the full stack on `x` (up to `rows()` images); with `outer`, also the
    /// phase-1 reconstruction. Results are in the first `x.nrows()` rows.
    pub fn run(&mut self, p: &Params, x: ArrayView2<f32>, outer: bool) {
        let n = x.nrows();
        self.encode(p, x);
        let h2 = self.h2.slice(s![..n, ..]);
        let mut h3 = self.h3.slice_mut(s![..n, ..]);
        matmul_serial(h3.view_mut(), h2, p.w3.view(), false);
        bias_elu(flat_mut(h3.view_mut()), vec_of(&p.b3));
        let mut out = self.out.slice_mut(s![..n, ..]);
        matmul_serial(out.view_mut(), h3.view(), p.w4.view(), false);
        bias_add(flat_mut(out.view_mut()), vec_of(&p.b4));
        if outer {
            let mut o = self.outer.slice_mut(s![..n, ..]);
            matmul_serial(o.view_mut(), self.h1.slice(s![..n, ..]), p.w4.view(), false);
            bias_add(flat_mut(o.view_mut()), vec_of(&p.b4));
        }
    }

    /// hidden1 and the code (hidden2) of `x`, into the first `x.nrows()` rows.
    pub fn encode(&mut self, p: &Params, x: ArrayView2<f32>) {
        let n = x.nrows();
        assert!(n <= self.rows());
        hidden1_serial(p, x, self.h1.slice_mut(s![..n, ..]));
        let mut h2 = self.h2.slice_mut(s![..n, ..]);
        matmul_serial(
            h2.view_mut(),
            self.h1.slice(s![..n, ..]),
            p.w2.view(),
            false,
        );
        bias_elu(flat_mut(h2.view_mut()), vec_of(&p.b2));
    }
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
            Phase::One => phase1_loss(p, x.view(), ws),
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
        match phase {
            Phase::One => {
                phase1_gradients(&p, x.view(), &mut ws);
            }
            Phase::Two => {
                hidden1(&p, x.view(), ws.h1.view_mut());
                phase2_gradients(&p, &mut ws);
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

    #[test]
    fn inference_matches_the_training_passes() {
        let x = batch(5, SMALL.inputs, 3);
        let p = params();
        let mut inf = Inference::new(SMALL, 8);
        inf.run(&p, x.view(), true);
        let mut ws = Workspace::new(SMALL, 5);
        let l1 = phase1_loss(&p, x.view(), &mut ws);
        let direct = mse(flat(inf.outer.slice(s![..5, ..])), flat(x.view())) as f32;
        assert_eq!(l1, direct);
        assert_eq!(ws.h1, inf.h1.slice(s![..5, ..]));
    }
}
