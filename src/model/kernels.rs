//! The element-wise passes of a training step, on contiguous row-major slices, compiled
//! three times (baseline x86-64, AVX2+FMA, AVX-512) and picked at run time.
//!
//! Every kernel uses the same operations in the same order in each build (no fused
//! multiply-add, no reordered sums), so results are bit-identical on every CPU.

use crate::simd::dispatch;

/// Lanes of the f64 accumulators of the loss: independent partial sums, so the
/// reduction vectorises yet always adds in the same order.
const LANES: usize = 16;

/// `exp(x)` for `x <= 0` (Cephes' `expf`: a degree-5 polynomial on x reduced to
/// [-ln2/2, ln2/2], within 2 ulp), written branch-free so it vectorises; Eigen, which
/// TensorFlow's ELU uses, evaluates exp the same way. Below -87 it returns ~0.
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and removing 1.5 * 2^23 rounds to the nearest integer (|t| < 2^22).
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 0.0);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.987_569_2e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5; // Cephes: 5.0000001201e-1, which is 0.5 in f32
    let y = p * (r * r) + r + 1.0;
    // 2^n from the exponent bits. n is in the low mantissa bits of t already: reading
    // it there (instead of `n as i32`) keeps the loop in vector registers.
    let ni = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let scale = f32::from_bits(((ni + 127) as u32) << 23);
    y * scale
}

/// TensorFlow's ELU: `x < 0 ? exp(x) - 1 : x`.
#[inline(always)]
pub fn elu(x: f32) -> f32 {
    let e = exp_nonpositive(x) - 1.0;
    if x < 0.0 { e } else { x }
}

/// TensorFlow's `EluGrad`, in terms of the activation: `a < 0 ? g * (a + 1) : g`.
#[inline(always)]
pub fn elu_grad(g: f32, a: f32) -> f32 {
    let neg = g * (a + 1.0);
    if a < 0.0 { neg } else { g }
}

dispatch! {
    /// `z = elu(z + b)` for each row of `z` (row-major, `b.len()` wide).
    pub fn bias_elu(z: &mut [f32], b: &[f32]) {
        for row in z.chunks_exact_mut(b.len()) {
            for (z, &b) in row.iter_mut().zip(b) {
                *z = elu(*z + b);
            }
        }
    }
}

/// The logistic function, `1 / (1 + exp(-x))`, from `exp` of `-|x|` so nothing
/// overflows.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    let e = exp_nonpositive(-x.abs());
    let r = 1.0 / (1.0 + e);
    if x < 0.0 { e * r } else { r }
}

dispatch! {
    /// `z = max(z + b, 0)` for each row of `z` (NaN stays NaN).
    pub fn bias_relu(z: &mut [f32], b: &[f32]) {
        for row in z.chunks_exact_mut(b.len()) {
            for (z, &b) in row.iter_mut().zip(b) {
                let x = *z + b;
                *z = if x < 0.0 { 0.0 } else { x };
            }
        }
    }
}

dispatch! {
    /// `z = sigmoid(z + b)` for each row of `z`.
    pub fn bias_sigmoid(z: &mut [f32], b: &[f32]) {
        for row in z.chunks_exact_mut(b.len()) {
            for (z, &b) in row.iter_mut().zip(b) {
                *z = sigmoid(*z + b);
            }
        }
    }
}

dispatch! {
    /// ReLU's backward pass in terms of its output (TF's `ReluGrad`): `a > 0 ? g : 0`.
    pub fn relu_backward(g: &mut [f32], act: &[f32]) {
        for (g, &a) in g.iter_mut().zip(act) {
            *g = if a > 0.0 { *g } else { 0.0 };
        }
    }
}

dispatch! {
    /// The sigmoid's backward pass in terms of its output: `g * a * (1 - a)`.
    pub fn sigmoid_backward(g: &mut [f32], act: &[f32]) {
        for (g, &a) in g.iter_mut().zip(act) {
            *g *= a * (1.0 - a);
        }
    }
}

dispatch! {
    /// `z += b` for each row of `z`.
    pub fn bias_add(z: &mut [f32], b: &[f32]) {
        for row in z.chunks_exact_mut(b.len()) {
            for (z, &b) in row.iter_mut().zip(b) {
                *z += b;
            }
        }
    }
}

dispatch! {
    /// Turns the gradient w.r.t. an ELU layer's output (`g`) into the gradient w.r.t.
    /// its pre-activation, in place. `act` is the layer's output.
    pub fn elu_backward(g: &mut [f32], act: &[f32]) {
        for (g, &a) in g.iter_mut().zip(act) {
            *g = elu_grad(*g, a);
        }
    }
}

dispatch! {
    /// Sums of the columns `first..first + gb.len()` of the row-major `g` (rows
    /// `width` long) into `gb`, adding the rows in order.
    pub fn column_sums(g: &[f32], width: usize, first: usize, gb: &mut [f32]) {
        gb.fill(0.0);
        for row in g.chunks_exact(width) {
            for (gb, &g) in gb.iter_mut().zip(&row[first..]) {
                *gb += g;
            }
        }
    }
}

dispatch! {
    /// With `y = out + b` (row-wise), writes each row's `sum((y - target)^2)` (in f64)
    /// into `row_sums` and `scale * (y - target)` into `d` (the loss gradient for
    /// `scale = 2 / N`).
    pub fn biased_mse_grad(out: &[f32], b: &[f32], target: &[f32], d: &mut [f32], scale: f32, row_sums: &mut [f64]) {
        let w = b.len();
        let rows = out.chunks_exact(w).zip(target.chunks_exact(w)).zip(d.chunks_exact_mut(w));
        for (((o, t), d), sum) in rows.zip(row_sums.iter_mut()) {
            let mut acc = [0f64; LANES];
            let (mut o, mut t, mut bb, mut d) = (o.chunks_exact(LANES), t.chunks_exact(LANES), b.chunks_exact(LANES), d.chunks_exact_mut(LANES));
            for (((o, t), bb), d) in (&mut o).zip(&mut t).zip(&mut bb).zip(&mut d) {
                for k in 0..LANES {
                    let diff = (o[k] + bb[k]) - t[k];
                    acc[k] += diff as f64 * diff as f64;
                    d[k] = diff * scale;
                }
            }
            let rest = o.remainder().iter().zip(t.remainder()).zip(bb.remainder()).zip(d.into_remainder());
            for (k, (((o, t), bb), d)) in rest.enumerate() {
                let diff = (o + bb) - t;
                acc[k] += diff as f64 * diff as f64;
                *d = diff * scale;
            }
            *sum = acc.iter().sum::<f64>();
        }
    }
}

dispatch! {
    /// Each row's `sum((y - target)^2)` into `row_sums` (rows `width` long), and
    /// `scale * (y - target)` into `d`.
    pub fn mse_grad(y: &[f32], target: &[f32], d: &mut [f32], scale: f32, width: usize, row_sums: &mut [f64]) {
        let rows = y.chunks_exact(width).zip(target.chunks_exact(width)).zip(d.chunks_exact_mut(width));
        for (((y, t), d), sum) in rows.zip(row_sums.iter_mut()) {
            let mut acc = [0f64; LANES];
            let (mut y16, mut t16, mut d16) = (y.chunks_exact(LANES), t.chunks_exact(LANES), d.chunks_exact_mut(LANES));
            for ((y, t), d) in (&mut y16).zip(&mut t16).zip(&mut d16) {
                for k in 0..LANES {
                    let diff = y[k] - t[k];
                    acc[k] += diff as f64 * diff as f64;
                    d[k] = diff * scale;
                }
            }
            for (k, ((y, t), d)) in y16.remainder().iter().zip(t16.remainder()).zip(d16.into_remainder()).enumerate() {
                let diff = y - t;
                acc[k] += diff as f64 * diff as f64;
                *d = diff * scale;
            }
            *sum = acc.iter().sum::<f64>();
        }
    }
}

dispatch! {
    /// `sum((y + b - target)^2)`, `b` added row-wise, without gradient.
    pub fn biased_mse(y: &[f32], b: &[f32], target: &[f32]) -> f64 {
        let mut acc = [0f64; LANES];
        let w = b.len();
        for (y, t) in y.chunks_exact(w).zip(target.chunks_exact(w)) {
            let (mut y, mut t, mut bb) = (y.chunks_exact(LANES), t.chunks_exact(LANES), b.chunks_exact(LANES));
            for ((y, t), bb) in (&mut y).zip(&mut t).zip(&mut bb) {
                for k in 0..LANES {
                    let diff = ((y[k] + bb[k]) - t[k]) as f64;
                    acc[k] += diff * diff;
                }
            }
            for (k, ((y, t), bb)) in y.remainder().iter().zip(t.remainder()).zip(bb.remainder()).enumerate() {
                let diff = ((y + bb) - t) as f64;
                acc[k] += diff * diff;
            }
        }
        acc.iter().sum::<f64>()
    }
}

dispatch! {
    /// `sum((y - target)^2)`.
    pub fn mse(y: &[f32], target: &[f32]) -> f64 {
        let mut acc = [0f64; LANES];
        let (mut y16, mut t16) = (y.chunks_exact(LANES), target.chunks_exact(LANES));
        for (y, t) in (&mut y16).zip(&mut t16) {
            for k in 0..LANES {
                let diff = (y[k] - t[k]) as f64;
                acc[k] += diff * diff;
            }
        }
        for (k, (y, t)) in y16.remainder().iter().zip(t16.remainder()).enumerate() {
            let diff = (y - t) as f64;
            acc[k] += diff * diff;
        }
        acc.iter().sum::<f64>()
    }
}

dispatch! {
    /// Sparse softmax cross-entropy, row by row (rows `b.len()` wide), in place: `d`
    /// holds the logits without their bias `b` and is left holding the gradient
    /// `scale * (softmax(y) - onehot(label))` of `y = d + b`; each row's
    /// `ln(sum(exp(y))) - y[label]` goes into `row_loss` (in f64). The maximum is
    /// subtracted before `exp`, as TensorFlow does, so nothing overflows.
    pub fn softmax_xent(d: &mut [f32], b: &[f32], labels: &[u8], scale: f32, row_loss: &mut [f64]) {
        let rows = d.chunks_exact_mut(b.len()).zip(labels).zip(row_loss.iter_mut());
        for ((d, &label), loss) in rows {
            let mut max = f32::NEG_INFINITY;
            for (d, &b) in d.iter_mut().zip(b) {
                *d += b;
                max = max.max(*d);
            }
            let target = d[label as usize] - max;
            let mut sum = 0f32;
            for d in d.iter_mut() {
                *d = exp_nonpositive(*d - max);
                sum += *d;
            }
            *loss = (sum as f64).ln() - target as f64;
            let inv = scale / sum;
            for d in d.iter_mut() {
                *d *= inv;
            }
            d[label as usize] -= scale;
        }
    }
}

/// The index of each row's largest `z + b` (the first, on ties): the predicted class.
pub fn argmax_rows(z: &[f32], b: &[f32], out: &mut [u8]) {
    for (row, o) in z.chunks_exact(b.len()).zip(out) {
        let mut best = (0, f32::NEG_INFINITY);
        for (j, (&z, &b)) in row.iter().zip(b).enumerate() {
            if z + b > best.1 {
                best = (j, z + b);
            }
        }
        *o = best.0 as u8;
    }
}

/// Constants of one Adam update.
#[derive(Debug, Clone, Copy)]
pub struct AdamStep {
    pub lr_t: f32,
    pub one_minus_b1: f32,
    pub one_minus_b2: f32,
    pub eps: f32,
    /// L2 coefficient: the gradient of `l2 * sum(w^2) / 2` is `l2 * w`.
    pub l2: f32,
}

dispatch! {
    /// One TF-1 Adam update of `w` from the data gradient `g`, in one pass; leaves the
    /// old parameter values in `g`. Returns whether everything it wrote is finite.
    pub fn adam(k: AdamStep, w: &mut [f32], g: &mut [f32], m: &mut [f32], v: &mut [f32]) -> bool {
        const EXP: u32 = 0x7f80_0000;
        let mut bad = 0u32;
        for (((w, g), m), v) in w.iter_mut().zip(g.iter_mut()).zip(m.iter_mut()).zip(v.iter_mut()) {
            let old = *w;
            let grad = *g + k.l2 * old;
            // TF's ApplyAdam kernel: m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2).
            let m1 = *m + (grad - *m) * k.one_minus_b1;
            let v1 = *v + (grad * grad - *v) * k.one_minus_b2;
            let w1 = old - k.lr_t * m1 / (v1.sqrt() + k.eps);
            *m = m1;
            *v = v1;
            *w = w1;
            *g = old;
            // Not finite: all exponent bits set. An infinite v would leave w finite.
            bad |= ((w1.to_bits() & EXP) == EXP) as u32 | ((v1.to_bits() & EXP) == EXP) as u32;
        }
        bad == 0
    }
}

/// Each row's binary cross-entropy `-sum(t ln y + (1 - t) ln(1 - y))` into `row_sums`
/// (rows `width` long), and `d = (y - t) * scale`: the gradient at a sigmoid output's
/// pre-activation, where the sigmoid's derivative cancels. `y` is kept 1e-7 inside
/// (0, 1) for the logarithms only.
pub fn bce_grad(
    y: &[f32],
    t: &[f32],
    d: &mut [f32],
    scale: f32,
    width: usize,
    row_sums: &mut [f64],
) {
    let rows = y
        .chunks_exact(width)
        .zip(t.chunks_exact(width))
        .zip(d.chunks_exact_mut(width));
    for (((y, t), d), sum) in rows.zip(row_sums.iter_mut()) {
        let mut acc = 0f64;
        for ((&y, &t), d) in y.iter().zip(t).zip(d) {
            let c = (y as f64).clamp(1e-7, 1.0 - 1e-7);
            let t64 = t as f64;
            acc -= t64 * c.ln() + (1.0 - t64) * (1.0 - c).ln();
            *d = (y - t) * scale;
        }
        *sum = acc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_over_the_elu_range() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x <= 0.0 {
            let got = exp_nonpositive(x) as f64;
            let want = (x as f64).exp();
            worst = worst.max((got - want).abs() / want);
            x += 0.001_37;
        }
        assert!(worst < 2.5e-7, "worst relative error {worst}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!(exp_nonpositive(-1000.0) < 1e-37);
        assert_eq!(elu(-1000.0), -1.0);
        assert_eq!(elu(f32::NEG_INFINITY), -1.0);
        assert!(
            elu(f32::NAN).is_nan(),
            "NaN must propagate for divergence checks"
        );
    }

    #[test]
    fn elu_matches_the_tensorflow_definition() {
        for &x in &[-5.0f32, -1.0, -0.3, -1e-4, 0.0, 0.7, 3.0] {
            let want = if x < 0.0 {
                (x as f64).exp() - 1.0
            } else {
                x as f64
            };
            assert!((elu(x) as f64 - want).abs() < 3e-7, "{x}");
        }
        assert_eq!(elu_grad(3.0, 0.5), 3.0);
        assert_eq!(elu_grad(3.0, -0.5), 1.5);
    }

    #[test]
    fn dispatched_kernels_equal_the_plain_code() {
        // The kernels' bodies called directly (baseline build) and through dispatch
        // (this CPU's best build) give the same bits.
        let z0: Vec<f32> = (0..300 * 7)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.05)
            .collect();
        let b: Vec<f32> = (0..300).map(|i| (i as f32 * 0.01).sin()).collect();
        let mut z = z0.clone();
        bias_elu(&mut z, &b);
        for (k, (&got, &x)) in z.iter().zip(&z0).enumerate() {
            assert_eq!(got.to_bits(), elu(x + b[k % 300]).to_bits());
        }
        let t: Vec<f32> = z0.iter().map(|x| x * 0.5).collect();
        let mut d = vec![0f32; z0.len()];
        let mut rows = [0f64; 7];
        mse_grad(&z0, &t, &mut d, 0.5, 300, &mut rows);
        let loss: f64 = rows.iter().sum();
        let want: f64 = z0
            .iter()
            .zip(&t)
            .map(|(&y, &t)| ((y - t) as f64).powi(2))
            .sum::<f64>();
        assert!((loss - want).abs() < 1e-12 * want);
        let row2: f64 = (600..900).map(|i| ((z0[i] - t[i]) as f64).powi(2)).sum();
        assert!((rows[2] - row2).abs() < 1e-12 * row2);
        assert_eq!(d[5], (z0[5] - t[5]) * 0.5);
        let zeros = vec![0f32; 300];
        let mut rows_b = [0f64; 7];
        biased_mse_grad(&z0, &zeros, &t, &mut d, 0.5, &mut rows_b);
        assert_eq!(rows_b, rows);
        assert!((biased_mse(&z0, &zeros, &t) - loss).abs() < 1e-12 * loss);
        assert!((mse(&z0, &t) - loss).abs() < 1e-12 * loss);
        let mut sums = [0f32; 2];
        column_sums(&z0, 300, 298, &mut sums);
        let want: f32 = (0..7).map(|r| z0[r * 300 + 299]).sum();
        assert_eq!(sums[1], want);
    }

    #[test]
    fn softmax_cross_entropy_matches_the_definition() {
        let z = [2.0f32, -1.0, 0.5, 300.0, 301.0, -50.0];
        let b = [0.1f32, 0.2, -0.3];
        let labels = [2u8, 1];
        let (mut d, mut loss) = (z, [0f64; 2]);
        softmax_xent(&mut d, &b, &labels, 0.5, &mut loss);
        for r in 0..2 {
            let y: Vec<f64> = (0..3).map(|j| (z[r * 3 + j] + b[j]) as f64).collect();
            let m = y.iter().cloned().fold(f64::MIN, f64::max);
            let lse = m + y.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            let want = lse - y[labels[r] as usize];
            assert!(
                (loss[r] - want).abs() < 1e-5 * want.max(1.0),
                "{} {want}",
                loss[r]
            );
            for j in 0..3 {
                let p = (y[j] - lse).exp();
                let g = 0.5 * (p - (j == labels[r] as usize) as u8 as f64);
                assert!((d[r * 3 + j] as f64 - g).abs() < 1e-6, "{r} {j}");
            }
        }
        let mut pred = [9u8; 2];
        argmax_rows(&z, &b, &mut pred);
        assert_eq!(pred, [0, 1]);
        argmax_rows(&[1.0, 1.0, 0.0], &[0.0; 3], &mut pred[..1]);
        assert_eq!(pred[0], 0, "the first of equals");
    }

    #[test]
    fn adam_flags_non_finite_results() {
        let k = AdamStep {
            lr_t: 0.01,
            one_minus_b1: 0.1,
            one_minus_b2: 0.001,
            eps: 1e-8,
            l2: 0.0,
        };
        let (mut w, mut m, mut v) = (vec![1.0f32; 40], vec![0f32; 40], vec![0f32; 40]);
        let mut g = vec![0.5f32; 40];
        assert!(adam(k, &mut w, &mut g, &mut m, &mut v));
        assert_eq!(g, vec![1.0f32; 40], "the old values are left in g");
        g[33] = f32::INFINITY;
        assert!(!adam(k, &mut w, &mut g, &mut m, &mut v));
    }
}
