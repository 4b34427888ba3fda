//! Running the trained stack forward on blocks of images: each level's code, the
//! reconstructions through autoencoders 1..k, each autoencoder's own reconstruction of
//! its input. Shared by evaluation, the cache and the views.

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, s};

use super::flat::{flat_mut, vec_of};
use super::linalg::{matmul, matmul_serial};
use super::{Activation, Arch, Params};

/// `out = f(x · W1 + b1)`.
pub fn hidden1(p: &Params, x: ArrayView2<f32>, mut out: ArrayViewMut2<f32>) {
    matmul(out.view_mut(), x, p.w[0].view(), false);
    p.arch()
        .layer_activation(0)
        .bias_apply(flat_mut(out), vec_of(&p.b[0]));
}

/// `hidden1` on the calling thread only, for callers that parallelise over blocks.
pub fn hidden1_serial(p: &Params, x: ArrayView2<f32>, out: ArrayViewMut2<f32>) {
    layer(p, 0, x, out);
}

/// `c = f(a · w + b)`, serially (the callers run two of these side by side).
pub(crate) fn dense(
    a: ArrayView2<f32>,
    w: &Array2<f32>,
    b: &Array1<f32>,
    f: Activation,
    mut c: ArrayViewMut2<f32>,
) {
    if a.nrows() > 0 {
        matmul_serial(c.view_mut(), a, w.view(), false);
        f.bias_apply(flat_mut(c), vec_of(b));
    }
}

/// Dense layer `j` of `p` on `a`, into `c`, with its activation.
fn layer(p: &Params, j: usize, a: ArrayView2<f32>, c: ArrayViewMut2<f32>) {
    let f = p.act.layer(j, p.layers());
    dense(a, &p.w[j], &p.b[j], f, c);
}

/// Buffers for `decode_serial`: two of `rows` rows of the widest level of `arch`.
pub fn decode_scratch(arch: Arch, rows: usize) -> [Vec<f32>; 2] {
    let widest = (0..=arch.depth()).map(|l| arch.level(l)).max().unwrap_or(0);
    [vec![0.0; rows * widest], vec![0.0; rows * widest]]
}

/// Rows of h(`level`) decoded by the mirror layers 2K-level..2K (the full decoder from
/// the code when level = K; phase 1's alone from hidden1 when level = 1), serially, by
/// the same products as `Inference::run`: the same bits.
pub fn decode_serial(
    p: &Params,
    level: usize,
    src: ArrayView2<f32>,
    mut out: ArrayViewMut2<f32>,
    scratch: &mut [Vec<f32>; 2],
) {
    let n = src.nrows();
    let layers = p.layers();
    let [a, b] = scratch;
    let mut cols = 0;
    for (i, j) in (layers - level..layers).enumerate() {
        // Each intermediate level is a contiguous n x width block of a scratch buffer.
        let input = match i {
            0 => src.view(),
            _ => ArrayView2::from_shape((n, cols), &b[..n * cols]).expect("n x cols fits"),
        };
        if j + 1 == layers {
            layer(p, j, input, out.view_mut());
        } else {
            let width = p.w[j].ncols();
            let c = ArrayViewMut2::from_shape((n, width), &mut a[..n * width]).expect("fits");
            layer(p, j, input, c);
            std::mem::swap(a, b);
            cols = width;
        }
    }
}

/// Buffers for running the whole stack on blocks of images (evaluation and the UI),
/// one block on one thread: callers parallelise over blocks.
#[derive(Debug, Clone)]
pub struct Inference {
    /// The full stack's activations: `act[j]` is dense layer j-1's output (`act[0]` is
    /// empty: the input is the caller's), `act[K]` the code, `act[2K]` the output.
    pub act: Vec<Array2<f32>>,
    /// `through[k-1]`: the input reconstructed through autoencoders 1..k (the code
    /// h(k) decoded by the mirror layers), for k < K; k = K is `out()`.
    pub through: Vec<Array2<f32>>,
    /// `own[k-2]`: autoencoder k's own reconstruction of h(k-1), for k >= 2 (phase
    /// k's output; the recipe's hidden3).
    pub own: Vec<Array2<f32>>,
    /// Two buffers as wide as the widest level, for decoding.
    scratch: [Vec<f32>; 2],
}

impl Inference {
    pub fn new(arch: Arch, rows: usize) -> Self {
        let z = |c| Array2::zeros((rows, c));
        let k = arch.depth();
        Self {
            act: (0..=arch.layers())
                .map(|j| z(if j == 0 { 0 } else { arch.activation(j) }))
                .collect(),
            through: (1..k).map(|_| z(arch.inputs)).collect(),
            own: (2..=k).map(|k| z(arch.level(k - 1))).collect(),
            scratch: decode_scratch(arch, rows),
        }
    }

    pub fn rows(&self) -> usize {
        self.act[1].nrows()
    }

    /// hidden1.
    pub fn h1(&self) -> &Array2<f32> {
        &self.act[1]
    }

    /// h(`k`), 1 <= k <= K.
    pub fn level(&self, k: usize) -> &Array2<f32> {
        &self.act[k]
    }

    /// The innermost code, h(K).
    pub fn code(&self) -> &Array2<f32> {
        &self.act[self.act.len() / 2]
    }

    /// The full stack's reconstruction.
    pub fn out(&self) -> &Array2<f32> {
        &self.act[self.act.len() - 1]
    }

    /// The outer autoencoder's reconstruction (through autoencoder 1 only).
    pub fn outer(&self) -> &Array2<f32> {
        self.through.first().unwrap_or_else(|| self.out())
    }

    /// Runs the full stack on `x` (up to `rows()` images); with `parts`, also the
    /// reconstructions through autoencoders 1..k and each one's own. Results are in the
    /// first `x.nrows()` rows.
    pub fn run(&mut self, p: &Params, x: ArrayView2<f32>, parts: bool) {
        let n = x.nrows();
        let depth = p.depth();
        self.encode(p, x);
        for j in depth..p.layers() {
            let (lo, hi) = self.act.split_at_mut(j + 1);
            layer(p, j, lo[j].slice(s![..n, ..]), hi[0].slice_mut(s![..n, ..]));
        }
        if !parts {
            return;
        }
        for k in 1..depth {
            self.decode(p, k, n);
        }
        for k in 2..=depth {
            let dec = 2 * depth - k;
            let out = self.own[k - 2].slice_mut(s![..n, ..]);
            layer(p, dec, self.act[k].slice(s![..n, ..]), out);
        }
    }

    /// The first `n` rows of h(k) decoded by the mirror layers into `through[k-1]`.
    fn decode(&mut self, p: &Params, k: usize, n: usize) {
        let out = self.through[k - 1].slice_mut(s![..n, ..]);
        decode_serial(p, k, self.act[k].slice(s![..n, ..]), out, &mut self.scratch);
    }

    /// Every level of the encoder of `x`, hidden1 to the code, into the first
    /// `x.nrows()` rows.
    pub fn encode(&mut self, p: &Params, x: ArrayView2<f32>) {
        self.encode_to(p, x, p.depth());
    }

    /// Levels 1..=`level` of the encoder of `x`.
    pub fn encode_to(&mut self, p: &Params, x: ArrayView2<f32>, level: usize) {
        let n = x.nrows();
        assert!(n <= self.rows());
        hidden1_serial(p, x, self.act[1].slice_mut(s![..n, ..]));
        for j in 1..level {
            let (lo, hi) = self.act.split_at_mut(j + 1);
            layer(p, j, lo[j].slice(s![..n, ..]), hi[0].slice_mut(s![..n, ..]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::flat::flat;
    use crate::model::grad::{Workspace, stage_loss};
    use crate::model::kernels::mse;

    const SMALL: Arch = Arch::two(12, 7, 4);

    #[test]
    fn inference_matches_the_training_passes() {
        let x = Array2::from_shape_fn((5, SMALL.inputs), |(i, j)| {
            ((i * 7 + j * 3) as f32 * 0.37).sin().abs()
        });
        let mut p = Params::he_init(SMALL, 5);
        p.b[0].fill(0.1);
        p.b[3].fill(-0.2);
        let mut inf = Inference::new(SMALL, 8);
        inf.run(&p, x.view(), true);
        let mut ws = Workspace::new(SMALL, 5);
        ws.x().assign(&x);
        let l1 = stage_loss(&p, 1, &mut ws);
        let direct =
            (mse(flat(inf.outer().slice(s![..5, ..])), flat(x.view())) / x.len() as f64) as f32;
        assert_eq!(l1, direct);
        assert_eq!(ws.act[1], inf.h1().slice(s![..5, ..]));
    }
}
