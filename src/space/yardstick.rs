//! PCA as the yardstick of reconstruction: the test error of the best rank-k linear
//! reconstruction, for every k at once.
//!
//! The principal axes come from the training set's covariance (exact, f64, faer's
//! self-adjoint eigensolver); another set (the test set) is centred on the training
//! mean and projected on every axis. With orthonormal axes the residual after k of
//! them is the centred energy less the energy along those k, so one projection gives
//! the whole curve. Sums run in a fixed order: the same bits for any thread count.

use faer::diag::Diag;
use faer::mat::Mat;
use ndarray::{Array2, ArrayView2, s};

use super::WidthError;
use super::pca::{BLOCK, Covariance, PcaError, centre, check_finite, eigen};
use crate::model::linalg::matmul;

/// The best linear reconstruction through k principal components, k = 0..=width.
#[derive(Debug, Clone, PartialEq)]
pub struct Yardstick {
    /// `mse[k]`: the mean squared error per value of the evaluated set reconstructed
    /// from the training mean and the top k axes (`mse[0]`: the mean alone).
    mse: Vec<f64>,
    /// The principal axes as columns (d x d), the largest variance first.
    axes: Array2<f32>,
}

impl Yardstick {
    /// The principal axes of `train`'s rows, measured on `eval`'s (the same width).
    pub fn of(train: ArrayView2<f32>, eval: ArrayView2<f32>) -> Result<Self, YardstickError> {
        let d = train.ncols();
        WidthError::check("the evaluated set", d, eval.ncols())?;
        check_finite(train)?;
        check_finite(eval)?;
        let cov = Covariance::of(train);
        let axes = axes_by_variance(&cov.matrix)?;
        let energy = energy_along(eval, &cov.mean, axes.view());
        let values = (eval.nrows() * d).max(1) as f64;
        let total: f64 = energy.total;
        let mut mse = Vec::with_capacity(d + 1);
        let mut left = total;
        mse.push(left / values);
        for e in &energy.along {
            left -= e;
            // Rounding can take the last residuals a hair below zero.
            mse.push(left.max(0.0) / values);
        }
        Ok(Self { mse, axes })
    }

    /// How much of the subspace spanned by the rows of `w` (k x d: a linear decoder's
    /// weights) lies in the top k principal axes' one: `||Pᵀ Q||²_F / k`, with Q an
    /// orthonormal basis of the rows and P the axes; 1 is the same subspace, 0
    /// orthogonal ones, k/d what random ones average. Rows that add no new direction
    /// count as none. `None` when `w` is not as wide as the data or has more rows.
    pub fn overlap(&self, w: ArrayView2<f32>) -> Option<f64> {
        let (k, d) = w.dim();
        if d != self.width() || k > d || k == 0 {
            return None;
        }
        let basis = orthonormal_rows(w);
        let mut sum = 0f64;
        for q in &basis {
            for a in 0..k {
                let along: f64 = (0..d).map(|j| q[j] * self.axes[(j, a)] as f64).sum();
                sum += along * along;
            }
        }
        Some(sum / k as f64)
    }

    /// The widest reconstruction measured: the data's width.
    pub fn width(&self) -> usize {
        self.mse.len() - 1
    }

    /// MSE through `k` components (`k` beyond the width: the width's, zero or nearly).
    pub fn mse(&self, k: usize) -> f64 {
        self.mse[k.min(self.width())]
    }

    /// The same error on the scale of Hinton & Salakhutdinov 2006: squared error
    /// summed over an image's values, averaged over the images.
    pub fn per_image(&self, k: usize) -> f64 {
        self.mse(k) * self.width() as f64
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum YardstickError {
    #[error(transparent)]
    Width(#[from] WidthError),
    #[error("PCA: {0}")]
    Pca(#[from] PcaError),
}

/// The unit eigenvectors of the symmetric `cov`, as the columns of a d x d matrix,
/// the axis of largest variance first.
fn axes_by_variance(cov: &Mat<f64>) -> Result<Array2<f32>, PcaError> {
    let d = cov.nrows();
    let mut values = Diag::<f64>::zeros(d);
    let mut vectors = Mat::<f64>::zeros(d, d);
    eigen(cov, &mut values, Some(&mut vectors))?;
    // faer sorts the eigenvalues in nondecreasing order.
    Ok(Array2::from_shape_fn((d, d), |(r, c)| {
        vectors[(r, d - 1 - c)] as f32
    }))
}

/// An orthonormal basis of the rows' span (modified Gram-Schmidt in f64, twice over
/// each row for stability); a row within rounding of the others' span is dropped.
fn orthonormal_rows(w: ArrayView2<f32>) -> Vec<Vec<f64>> {
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(w.nrows());
    for row in w.rows() {
        let mut v: Vec<f64> = row.iter().map(|&x| x as f64).collect();
        let norm0 = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        for _ in 0..2 {
            for q in &basis {
                let dot: f64 = v.iter().zip(q).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(q).for_each(|(a, b)| *a -= dot * b);
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 1e-6 * norm0 && norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
            basis.push(v);
        }
    }
    basis
}

struct Energy {
    /// Sum over rows of the centred row's squared length.
    total: f64,
    /// Sum over rows of the squared projection on each axis, in the axes' order.
    along: Vec<f64>,
}

/// The centred rows' energy, in all and along each axis (columns of `axes`), block by
/// block: a block is centred into f32, multiplied by the axes with the crate's GEMM,
/// and its squares summed into f64 in row order.
fn energy_along(x: ArrayView2<f32>, mean: &[f64], axes: ArrayView2<f32>) -> Energy {
    let (n, d) = x.dim();
    let rows = BLOCK.min(n).max(1);
    let mut centred = Array2::<f32>::zeros((rows, d));
    let mut projected = Array2::<f32>::zeros((rows, d));
    let mut total = 0f64;
    let mut along = vec![0f64; d];
    for start in (0..n).step_by(BLOCK) {
        let rows = BLOCK.min(n - start);
        let mut c = centred.slice_mut(s![..rows, ..]);
        centre(x.slice(s![start..start + rows, ..]), mean, c.view_mut());
        let mut p = projected.slice_mut(s![..rows, ..]);
        matmul(p.view_mut(), c.view(), axes, false);
        for (crow, prow) in c.rows().into_iter().zip(p.rows()) {
            total += crow.iter().map(|&v| v as f64 * v as f64).sum::<f64>();
            for (a, &v) in along.iter_mut().zip(prow) {
                *a += v as f64 * v as f64;
            }
        }
    }
    Energy { total, along }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;
    use rand_distr::{Distribution, StandardNormal};

    /// Rows along three strong directions (the same for every seed) plus some noise:
    /// a spectrum with a shape.
    fn data(n: usize, d: usize, seed: u64) -> Array2<f32> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
        let basis = Array2::from_shape_fn((3, d), |_| -> f32 { StandardNormal.sample(&mut rng) });
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut normal = move || -> f32 { StandardNormal.sample(&mut rng) };
        let weights = Array2::from_shape_fn((n, 3), |(_, k)| normal() * (3 - k) as f32);
        let noise = Array2::from_shape_fn((n, d), |_| 0.05 * normal());
        weights.dot(&basis) + noise + 0.3
    }

    /// The residual computed the long way: reconstruct every row through the top k
    /// axes (taken from an independent f64 eigen-decomposition) and sum the squares.
    fn brute_force(train: &Array2<f32>, eval: &Array2<f32>, k: usize) -> f64 {
        let (n, d) = train.dim();
        let mean: Vec<f64> = (0..d)
            .map(|j| train.column(j).iter().map(|&v| v as f64).sum::<f64>() / n as f64)
            .collect();
        let cov = Mat::<f64>::from_fn(d, d, |i, j| {
            train
                .rows()
                .into_iter()
                .map(|r| (r[i] as f64 - mean[i]) * (r[j] as f64 - mean[j]))
                .sum::<f64>()
        });
        let evd = cov.self_adjoint_eigen(faer::Side::Lower).unwrap();
        let u = evd.U();
        let top: Vec<usize> = (0..k).map(|c| d - 1 - c).collect();
        let mut sum = 0f64;
        for row in eval.rows() {
            let c: Vec<f64> = (0..d).map(|j| row[j] as f64 - mean[j]).collect();
            let mut rec = vec![0f64; d];
            for &a in &top {
                let dot: f64 = (0..d).map(|j| c[j] * u[(j, a)]).sum();
                for j in 0..d {
                    rec[j] += dot * u[(j, a)];
                }
            }
            sum += (0..d).map(|j| (c[j] - rec[j]).powi(2)).sum::<f64>();
        }
        sum / (eval.nrows() * d) as f64
    }

    #[test]
    fn every_rank_matches_the_reconstruction_done_the_long_way() {
        let (train, eval) = (data(400, 12, 1), data(150, 12, 2));
        let y = Yardstick::of(train.view(), eval.view()).unwrap();
        assert_eq!(y.width(), 12);
        for k in 0..=12 {
            let want = brute_force(&train, &eval, k);
            // f32 projections against f64 sums: close to the whole energy's rounding.
            let tolerance = 1e-6 * y.mse(0) + 1e-4 * want;
            assert!(
                (y.mse(k) - want).abs() <= tolerance,
                "k {k}: {} vs {want}",
                y.mse(k)
            );
        }
        let rounding = 1e-6 * y.mse(0);
        assert!(
            y.mse(12) < rounding,
            "all components reconstruct all: {}",
            y.mse(12)
        );
        assert!(y.mse(1) < y.mse(0) && y.mse(3) < 0.01 * y.mse(0));
    }

    #[test]
    fn on_the_training_set_k_components_leave_the_remaining_eigenvalues() {
        let train = data(300, 10, 3);
        let y = Yardstick::of(train.view(), train.view()).unwrap();
        let cov = Covariance::of(train.view());
        let mut values = Diag::<f64>::zeros(10);
        eigen(&cov.matrix, &mut values, None).unwrap();
        let values = values.column_vector();
        // The covariance is unbiased (over n - 1); the residual is a mean over n rows.
        let scale = (300 - 1) as f64 / 300.0 / 10.0;
        for k in 0..=10 {
            let rest: f64 = (0..10 - k).map(|i| values[i]).sum::<f64>() * scale;
            let tolerance = 1e-6 * y.mse(0) + 1e-4 * rest;
            assert!(
                (y.mse(k) - rest).abs() <= tolerance,
                "k {k}: {} vs {rest}",
                y.mse(k)
            );
        }
        assert_eq!(y.per_image(2), y.mse(2) * 10.0);
    }

    #[test]
    fn the_overlap_is_one_for_pcas_own_subspace_in_any_basis_and_a_cosine_squared_else() {
        let train = data(400, 12, 6);
        let y = Yardstick::of(train.view(), train.view()).unwrap();
        let top: Array2<f32> = y.axes.slice(s![.., ..3]).t().to_owned();
        let one = |o: Option<f64>| (o.unwrap() - 1.0).abs() < 1e-5;
        assert!(one(y.overlap(top.view())), "{:?}", y.overlap(top.view()));
        // Any invertible mix of the same rows spans the same subspace.
        let mix = ndarray::arr2(&[[2.0f32, -1.0, 0.5], [0.3, 1.0, 1.0], [0.0, 0.2, -3.0]]);
        let mixed = mix.dot(&top);
        assert!(
            one(y.overlap(mixed.view())),
            "{:?}",
            y.overlap(mixed.view())
        );
        // The bottom three axes are orthogonal to the top three.
        let bottom: Array2<f32> = y.axes.slice(s![.., 9..]).t().to_owned();
        assert!(y.overlap(bottom.view()).unwrap() < 1e-6);
        // One direction halfway between axes 1 and 2 (k = 1: against axis 1 only).
        let half = (&y.axes.column(0) + &y.axes.column(1)).insert_axis(ndarray::Axis(0));
        assert!((y.overlap(half.view()).unwrap() - 0.5).abs() < 1e-5);
        // A repeated row adds no direction: half of k = 2 is missing.
        let twice = ndarray::concatenate![
            ndarray::Axis(0),
            top.slice(s![..1, ..]),
            top.slice(s![..1, ..])
        ];
        assert!((y.overlap(twice.view()).unwrap() - 0.5).abs() < 1e-5);
        assert_eq!(y.overlap(Array2::<f32>::zeros((2, 5)).view()), None);
    }

    #[test]
    fn bad_input_is_refused() {
        let train = data(50, 6, 4);
        let narrow = data(20, 5, 5);
        assert!(matches!(
            Yardstick::of(train.view(), narrow.view()),
            Err(YardstickError::Width(_))
        ));
        let mut bad = train.clone();
        bad[[7, 2]] = f32::NAN;
        assert_eq!(
            Yardstick::of(bad.view(), train.view()),
            Err(YardstickError::Pca(PcaError::NonFinite { row: 7 }))
        );
    }
}
