//! Running the trained stack forward on blocks of images: hidden1, the code, both
//! reconstructions. Shared by evaluation, the hidden1 cache and the views.

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, s};

use super::flat::{flat_mut, vec_of};
use super::kernels::{bias_add, bias_elu};
use super::linalg::{matmul, matmul_serial};
use super::{Arch, Params};

/// `out = elu(x · W1 + b1)`.
pub fn hidden1(p: &Params, x: ArrayView2<f32>, mut out: ArrayViewMut2<f32>) {
    matmul(out.view_mut(), x, p.w1.view(), false);
    bias_elu(flat_mut(out), vec_of(&p.b1));
}

/// `hidden1` on the calling thread only, for callers that parallelise over blocks.
pub fn hidden1_serial(p: &Params, x: ArrayView2<f32>, out: ArrayViewMut2<f32>) {
    dense_elu(x, &p.w1, &p.b1, out);
}

/// `c = elu(a · w + b)`, serially (the callers run two of these side by side).
pub(crate) fn dense_elu(
    a: ArrayView2<f32>,
    w: &Array2<f32>,
    b: &Array1<f32>,
    mut c: ArrayViewMut2<f32>,
) {
    if a.nrows() > 0 {
        matmul_serial(c.view_mut(), a, w.view(), false);
        bias_elu(flat_mut(c), vec_of(b));
    }
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
    use super::*;
    use crate::model::flat::flat;
    use crate::model::grad::{Workspace, phase1_loss};
    use crate::model::kernels::mse;

    const SMALL: Arch = Arch {
        inputs: 12,
        hidden1: 7,
        hidden2: 4,
    };

    #[test]
    fn inference_matches_the_training_passes() {
        let x = Array2::from_shape_fn((5, SMALL.inputs), |(i, j)| {
            ((i * 7 + j * 3) as f32 * 0.37).sin().abs()
        });
        let mut p = Params::he_init(SMALL, 5);
        p.b1.fill(0.1);
        p.b4.fill(-0.2);
        let mut inf = Inference::new(SMALL, 8);
        inf.run(&p, x.view(), true);
        let mut ws = Workspace::new(SMALL, 5);
        ws.x.assign(&x);
        let l1 = phase1_loss(&p, &mut ws);
        let direct =
            (mse(flat(inf.outer.slice(s![..5, ..])), flat(x.view())) / x.len() as f64) as f32;
        assert_eq!(l1, direct);
        assert_eq!(ws.h1, inf.h1.slice(s![..5, ..]));
    }
}
