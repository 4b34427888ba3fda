//! PCA to two dimensions: the plane along which a set of rows (codes, hidden1 or
//! pixels) spreads the most, and every row's place on it.
//!
//! The covariance is formed block by block: each block of rows is centred into a small
//! f32 buffer, multiplied by itself with the crate's GEMM, and the product added into
//! an f64 covariance. f32 products of centred data lose nothing that a 2-D map shows;
//! the f64 sum keeps the error from growing with the number of blocks. No n x d copy of
//! the data is ever made. Every sum runs in a fixed order, so results do not depend on
//! rayon's thread count.

use faer::Par;
use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self, ComputeEigenvectors};
use faer::mat::Mat;
use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut2, s};
use rayon::prelude::*;

use super::WidthError;
use crate::model::linalg::matmul;

/// Rows per block: big enough that the GEMM runs near its peak and the f64 accumulation
/// of each block's d x d product is a small fraction of the work.
pub(super) const BLOCK: usize = 1024;
/// Rows per parallel task of the element-wise passes (mean, centring, projection).
const ROWS_PER_TASK: usize = 256;

/// A 2-D PCA map.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    /// n x 2: each row's coordinates along the two axes, after centring.
    pub coords: Array2<f32>,
    /// 2 x d: the unit principal axes, the one of largest variance first.
    pub axes: Array2<f32>,
    /// The fraction of the total variance along each axis, in [0, 1].
    pub explained: [f64; 2],
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PcaError {
    #[error("a 2-D PCA needs at least 2 columns, got {0}")]
    TooFewColumns(usize),
    #[error("row {row} has a value that is not finite")]
    NonFinite { row: usize },
    #[error("the eigensolver did not converge")]
    NoConvergence,
}

/// PCA of the rows of `x` (n x d, d >= 2) to two dimensions.
///
/// Each axis' sign is canonical (its largest component, by magnitude, is positive);
/// call [`Pca::align_to`] to follow a previous map's orientation instead. Degenerate
/// input has a defined result: with fewer than two rows, or all rows equal, there is no
/// spread, and the map is all zeros on the first two coordinate axes with nothing
/// explained.
pub fn pca(x: ArrayView2<f32>) -> Result<Pca, PcaError> {
    let d = x.ncols();
    if d < 2 {
        return Err(PcaError::TooFewColumns(d));
    }
    check_finite(x)?;
    let cov = Covariance::of(x);
    let (values, axes) = if cov.trace > 0.0 {
        top_two(&cov.matrix)?
    } else {
        ([0.0; 2], coordinate_axes(d))
    };
    let explained = values.map(|v| ratio(v, cov.trace));
    let coords = project(x, &cov.mean, axes.view());
    Ok(Pca {
        coords,
        axes,
        explained,
    })
}

/// The fraction of the total variance along every principal axis of `x`, largest
/// first; the fractions sum to 1 (all zeros for input without spread).
pub fn variance_spectrum(x: ArrayView2<f32>) -> Result<Vec<f64>, PcaError> {
    check_finite(x)?;
    let d = x.ncols();
    let cov = Covariance::of(x);
    if d == 0 || cov.trace <= 0.0 {
        return Ok(vec![0.0; d]);
    }
    let mut values = Diag::<f64>::zeros(d);
    eigen(&cov.matrix, &mut values, None)?;
    let values = values.column_vector();
    Ok((0..d).rev().map(|k| ratio(values[k], cov.trace)).collect())
}

impl Pca {
    /// Flips each axis (and its coordinates) that points against the same axis of
    /// `previous` (2 x d), so that successive maps of a training model do not mirror.
    /// An axis orthogonal to its predecessor (dot product 0) is left alone. Returns
    /// which axes were flipped.
    pub fn align_to(&mut self, previous: ArrayView2<f32>) -> Result<[bool; 2], WidthError> {
        WidthError::check("previous axes", self.axes.ncols(), previous.ncols())?;
        WidthError::check("previous axes (rows)", 2, previous.nrows())?;
        let mut flipped = [false; 2];
        for (k, flip) in flipped.iter_mut().enumerate() {
            *flip = dot(self.axes.row(k), previous.row(k)) < 0.0;
            if *flip {
                self.axes.row_mut(k).mapv_inplace(|v| -v);
                self.coords.column_mut(k).mapv_inplace(|v| -v);
            }
        }
        Ok(flipped)
    }
}

/// The data's mean, covariance (unbiased, f64, d x d) and total variance.
pub(super) struct Covariance {
    pub(super) mean: Vec<f64>,
    pub(super) matrix: Mat<f64>,
    pub(super) trace: f64,
}

impl Covariance {
    pub(super) fn of(x: ArrayView2<f32>) -> Self {
        let (n, d) = x.dim();
        let mean = column_means(x);
        let mut matrix = Mat::<f64>::zeros(d, d);
        let mut centred = Array2::<f32>::zeros((BLOCK.min(n), d));
        let mut product = Array2::<f32>::zeros((d, d));
        for start in (0..n).step_by(BLOCK) {
            let rows = BLOCK.min(n - start);
            let mut c = centred.slice_mut(s![..rows, ..]);
            centre(x.slice(s![start..start + rows, ..]), &mean, c.view_mut());
            matmul(product.view_mut(), c.t(), c.view(), false);
            for ((i, j), &v) in product.indexed_iter() {
                matrix[(i, j)] += v as f64;
            }
        }
        let scale = 1.0 / n.saturating_sub(1).max(1) as f64;
        for j in 0..d {
            for i in 0..d {
                matrix[(i, j)] *= scale;
            }
        }
        let trace = (0..d).map(|i| matrix[(i, i)]).sum();
        Self {
            mean,
            matrix,
            trace,
        }
    }
}

/// Column means in f64: fixed blocks summed in parallel, the partial sums added in
/// block order.
fn column_means(x: ArrayView2<f32>) -> Vec<f64> {
    let (n, d) = x.dim();
    let partials: Vec<Vec<f64>> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let rows = x.slice(s![b * BLOCK..n.min((b + 1) * BLOCK), ..]);
            let mut sum = vec![0f64; d];
            for row in rows.rows() {
                sum.iter_mut().zip(row).for_each(|(s, &v)| *s += v as f64);
            }
            sum
        })
        .collect();
    let mut mean = vec![0f64; d];
    for p in &partials {
        mean.iter_mut().zip(p).for_each(|(m, &s)| *m += s);
    }
    let inv = 1.0 / n.max(1) as f64;
    mean.iter_mut().for_each(|m| *m *= inv);
    mean
}

/// `out = x - mean`, row by row, in parallel. `out` is in standard layout.
pub(super) fn centre(x: ArrayView2<f32>, mean: &[f64], mut out: ArrayViewMut2<f32>) {
    let Some(out) = out.as_slice_mut() else {
        unreachable!("the centring buffer is a block of whole rows of a standard array")
    };
    out.par_chunks_mut(mean.len())
        .enumerate()
        .with_min_len(ROWS_PER_TASK / 4)
        .for_each(|(r, o)| {
            for ((o, &v), &m) in o.iter_mut().zip(x.row(r)).zip(mean) {
                *o = (v as f64 - m) as f32;
            }
        });
}

/// The two largest eigenvalues of the symmetric `cov` and their unit eigenvectors (as
/// the rows of a 2 x d matrix), each with its largest component positive.
fn top_two(cov: &Mat<f64>) -> Result<([f64; 2], Array2<f32>), PcaError> {
    let d = cov.nrows();
    let mut values = Diag::<f64>::zeros(d);
    let mut vectors = Mat::<f64>::zeros(d, d);
    eigen(cov, &mut values, Some(&mut vectors))?;
    // faer sorts the eigenvalues in nondecreasing order: the top two are last.
    let top = [d - 1, d - 2];
    let values = top.map(|k| values.column_vector()[k]);
    let mut axes = Array2::from_shape_fn((2, d), |(r, c)| vectors[(c, top[r])] as f32);
    for mut axis in axes.rows_mut() {
        let largest = axis
            .iter()
            .fold(0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
        if largest < 0.0 {
            axis.mapv_inplace(|v| -v);
        }
    }
    Ok((values, axes))
}

/// faer's self-adjoint eigensolver, on this thread: a d x d solve is too small to
/// split, and a serial solve gives the same bits whatever the thread count.
pub(super) fn eigen(
    cov: &Mat<f64>,
    values: &mut Diag<f64>,
    vectors: Option<&mut Mat<f64>>,
) -> Result<(), PcaError> {
    let d = cov.nrows();
    let want = match vectors {
        Some(_) => ComputeEigenvectors::Yes,
        None => ComputeEigenvectors::No,
    };
    let par = Par::Seq;
    let scratch = evd::self_adjoint_evd_scratch::<f64>(d, want, par, Default::default());
    let mut mem = MemBuffer::new(scratch);
    evd::self_adjoint_evd(
        cov.as_ref(),
        values.as_mut(),
        vectors.map(|v| v.as_mut()),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|_| PcaError::NoConvergence)
}

/// `(x - mean) · axesᵀ`: n x 2, each row's dot products accumulated in f64.
fn project(x: ArrayView2<f32>, mean: &[f64], axes: ArrayView2<f32>) -> Array2<f32> {
    let mut coords = vec![0f32; x.nrows() * 2];
    coords
        .par_chunks_mut(2)
        .enumerate()
        .with_min_len(ROWS_PER_TASK)
        .for_each(|(r, c)| {
            let row = x.row(r);
            for (c, axis) in c.iter_mut().zip(axes.rows()) {
                let mut acc = 0f64;
                for ((&v, &m), &a) in row.iter().zip(mean).zip(axis) {
                    acc += (v as f64 - m) * a as f64;
                }
                *c = acc as f32;
            }
        });
    Array2::from_shape_vec((x.nrows(), 2), coords).expect("n x 2 values")
}

/// The first two unit vectors of R^d, the axes of a map of data without spread.
fn coordinate_axes(d: usize) -> Array2<f32> {
    Array2::from_shape_fn((2, d), |(r, c)| if r == c { 1.0 } else { 0.0 })
}

/// `value / total`, clamped to [0, 1] (tiny negative eigenvalues of a rank-deficient
/// covariance are rounding), and 0 when there is no variance at all.
fn ratio(value: f64, total: f64) -> f64 {
    if total > 0.0 {
        (value / total).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

fn dot(a: ArrayView1<f32>, b: ArrayView1<f32>) -> f64 {
    a.iter().zip(b).map(|(&a, &b)| a as f64 * b as f64).sum()
}

/// The first row with a NaN or an infinity, if any.
pub(super) fn check_finite(x: ArrayView2<f32>) -> Result<(), PcaError> {
    let bad = (0..x.nrows())
        .into_par_iter()
        .with_min_len(ROWS_PER_TASK)
        .find_first(|&r| !x.row(r).iter().all(|v| v.is_finite()));
    match bad {
        Some(row) => Err(PcaError::NonFinite { row }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
