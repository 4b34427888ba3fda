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
const BLOCK: usize = 1024;
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
struct Covariance {
    mean: Vec<f64>,
    matrix: Mat<f64>,
    trace: f64,
}

impl Covariance {
    fn of(x: ArrayView2<f32>) -> Self {
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
fn centre(x: ArrayView2<f32>, mean: &[f64], mut out: ArrayViewMut2<f32>) {
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
fn eigen(
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
fn check_finite(x: ArrayView2<f32>) -> Result<(), PcaError> {
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
mod tests {
    use super::*;
    use ndarray::{Array1, arr2};
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;
    use rand_distr::{Distribution, StandardNormal};

    /// n rows of d columns, column j with standard deviation `scales[j]` around an
    /// offset, then mixed by a fixed rotation-like matrix so the axes are not the
    /// coordinate axes.
    fn data(n: usize, scales: &[f64], seed: u64) -> Array2<f32> {
        let d = scales.len();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let raw = Array2::from_shape_fn((n, d), |(_, j)| {
            let z: f64 = StandardNormal.sample(&mut rng);
            z * scales[j]
        });
        let mix = Array2::from_shape_fn((d, d), |(i, j)| {
            if i == j {
                1.0
            } else {
                0.3 * ((i * 5 + j * 3) as f64).sin()
            }
        });
        Array2::from_shape_fn((n, d), |(r, c)| {
            let v: f64 = (0..d).map(|k| raw[[r, k]] * mix[[k, c]]).sum();
            (v + 3.0 + c as f64) as f32
        })
    }

    /// The covariance in f64, directly from the definition.
    fn reference_covariance(x: &Array2<f32>) -> (Array1<f64>, Array2<f64>) {
        let xd = x.mapv(|v| v as f64);
        let mean = xd.mean_axis(ndarray::Axis(0)).expect("rows");
        let c = &xd - &mean;
        let cov = c.t().dot(&c) / (x.nrows() - 1) as f64;
        (mean, cov)
    }

    /// Eigenvalues (descending) and eigenvectors (columns) by cyclic Jacobi rotations.
    fn jacobi(mut a: Array2<f64>) -> (Vec<f64>, Array2<f64>) {
        let d = a.nrows();
        let mut v = Array2::<f64>::eye(d);
        for _sweep in 0..100 {
            let off: f64 = (0..d)
                .flat_map(|i| (0..d).map(move |j| (i, j)))
                .filter(|(i, j)| i != j)
                .map(|(i, j)| a[[i, j]].powi(2))
                .sum();
            if off < 1e-30 {
                break;
            }
            for p in 0..d {
                for q in p + 1..d {
                    if a[[p, q]].abs() < 1e-300 {
                        continue;
                    }
                    let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * a[[p, q]]);
                    let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                    let c = 1.0 / (t * t + 1.0).sqrt();
                    let s = t * c;
                    for k in 0..d {
                        let (akp, akq) = (a[[k, p]], a[[k, q]]);
                        a[[k, p]] = c * akp - s * akq;
                        a[[k, q]] = s * akp + c * akq;
                    }
                    for k in 0..d {
                        let (apk, aqk) = (a[[p, k]], a[[q, k]]);
                        a[[p, k]] = c * apk - s * aqk;
                        a[[q, k]] = s * apk + c * aqk;
                    }
                    for k in 0..d {
                        let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
                        v[[k, p]] = c * vkp - s * vkq;
                        v[[k, q]] = s * vkp + c * vkq;
                    }
                }
            }
        }
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&i, &j| a[[j, j]].total_cmp(&a[[i, i]]));
        let values = order.iter().map(|&i| a[[i, i]]).collect();
        let vectors = Array2::from_shape_fn((d, d), |(r, c)| v[[r, order[c]]]);
        (values, vectors)
    }

    fn check_against_jacobi(x: &Array2<f32>) {
        let got = pca(x.view()).unwrap();
        let (mean, cov) = reference_covariance(x);
        let (values, vectors) = jacobi(cov);
        let total: f64 = values.iter().sum();
        for (k, value) in values.iter().take(2).enumerate() {
            let want = value / total;
            assert!(
                (got.explained[k] - want).abs() < 1e-5,
                "axis {k}: {} vs {want}",
                got.explained[k]
            );
            let axis = got.axes.row(k);
            let cos: f64 = axis
                .iter()
                .zip(vectors.column(k))
                .map(|(&a, &b)| a as f64 * b)
                .sum();
            assert!((cos.abs() - 1.0).abs() < 1e-5, "axis {k}: cos {cos}");
            // Coordinates are the centred rows projected on the axis.
            for r in [0, x.nrows() / 2, x.nrows() - 1] {
                let want: f64 = (0..x.ncols())
                    .map(|c| (x[[r, c]] as f64 - mean[c]) * axis[c] as f64)
                    .sum();
                assert!((got.coords[[r, k]] as f64 - want).abs() < 1e-4 * (1.0 + want.abs()));
            }
        }
    }

    #[test]
    fn axes_and_variances_match_a_jacobi_eigendecomposition() {
        check_against_jacobi(&data(60, &[3.0, 2.0, 1.0, 0.5, 0.2], 1));
        // Several blocks of rows.
        check_against_jacobi(&data(2500, &[1.0, 4.0, 0.3, 2.5, 0.1, 0.7, 1.5], 2));
    }

    #[test]
    fn a_line_in_the_plane_has_a_closed_form() {
        // Points t (cos a, sin a) for t = -2..=2: all variance along (cos a, sin a).
        let a = 0.4f64;
        let x = Array2::from_shape_fn((5, 2), |(r, c)| {
            let t = r as f64 - 2.0;
            (t * if c == 0 { a.cos() } else { a.sin() }) as f32
        });
        let got = pca(x.view()).unwrap();
        assert!(
            (got.explained[0] - 1.0).abs() < 1e-6 && got.explained[1] < 1e-6,
            "{:?}",
            got.explained
        );
        assert!((got.axes[[0, 0]] as f64 - a.cos()).abs() < 1e-6);
        assert!((got.axes[[0, 1]] as f64 - a.sin()).abs() < 1e-6);
        let t: Vec<f32> = got.coords.column(0).to_vec();
        for (r, &t) in t.iter().enumerate() {
            assert!((t - (r as f32 - 2.0)).abs() < 1e-6, "{t}");
        }
    }

    #[test]
    fn explained_variance_sums_to_one() {
        let x = data(300, &[2.0, 1.0, 1.0, 0.5, 0.3, 0.3, 0.1], 3);
        let spectrum = variance_spectrum(x.view()).unwrap();
        assert_eq!(spectrum.len(), 7);
        assert!((spectrum.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(spectrum.windows(2).all(|w| w[0] >= w[1]));
        let map = pca(x.view()).unwrap();
        assert!((map.explained[0] - spectrum[0]).abs() < 1e-12);
        assert!((map.explained[1] - spectrum[1]).abs() < 1e-12);
        // With two columns the map explains everything.
        let two = data(300, &[2.0, 0.7], 4);
        let map = pca(two.view()).unwrap();
        assert!((map.explained[0] + map.explained[1] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn alignment_flips_an_axis_only_when_it_points_the_other_way() {
        let x = data(200, &[3.0, 1.0, 0.5], 5);
        let map = pca(x.view()).unwrap();
        // The same axes: nothing flips.
        let mut same = map.clone();
        assert_eq!(same.align_to(map.axes.view()), Ok([false, false]));
        assert_eq!(same, map);
        // The second axis reversed (and slightly perturbed): only it flips back.
        let mut previous = map.axes.clone();
        previous.row_mut(1).mapv_inplace(|v| -v + 0.01);
        let mut flipped = map.clone();
        flipped.axes.row_mut(1).mapv_inplace(|v| -v);
        flipped.coords.column_mut(1).mapv_inplace(|v| -v);
        assert_eq!(flipped.clone().align_to(map.axes.view()), Ok([false, true]));
        let mut aligned = map.clone();
        assert_eq!(aligned.align_to(previous.view()), Ok([false, true]));
        assert_eq!(aligned, flipped);
        // On a map made by hand: an orthogonal previous axis (dot product 0) is no
        // reason to flip; a slightly opposed one is.
        let mut hand = Pca {
            coords: arr2(&[[1.0, 2.0], [-3.0, 4.0]]),
            axes: arr2(&[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
            explained: [0.6, 0.3],
        };
        let previous = arr2(&[[0.0, 1.0, 0.0], [0.5, -0.01, 0.0]]);
        assert_eq!(hand.align_to(previous.view()), Ok([false, true]));
        assert_eq!(hand.axes, arr2(&[[1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]));
        assert_eq!(hand.coords, arr2(&[[1.0, -2.0], [-3.0, -4.0]]));
        let mut kept = map.clone();
        // Wrong width is an error.
        assert!(
            kept.align_to(arr2(&[[1.0f32, 0.0], [0.0, 1.0]]).view())
                .is_err()
        );
    }

    #[test]
    fn maps_do_not_depend_on_the_thread_count() {
        // Several blocks, and products big enough to be split between threads.
        let x = data(2100, &[2.0, 1.5, 1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1], 6);
        let wide = Array2::from_shape_fn((2100, 160), |(r, c)| {
            x[[r, c % 10]] * (1.0 + c as f32 / 50.0)
        });
        let map_with = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            pool.install(|| pca(wide.view()).unwrap())
        };
        assert_eq!(map_with(1), map_with(3));
    }

    #[test]
    fn input_without_spread_has_a_defined_map() {
        let same = Array2::from_elem((40, 6), 0.7f32);
        for x in [
            same.view(),
            same.slice(s![..1, ..]),
            same.slice(s![..0, ..]),
        ] {
            let map = pca(x).unwrap();
            assert_eq!(map.coords, Array2::<f32>::zeros((x.nrows(), 2)));
            assert_eq!(map.axes, coordinate_axes(6));
            assert_eq!(map.explained, [0.0, 0.0]);
            assert_eq!(variance_spectrum(x).unwrap(), vec![0.0; 6]);
        }
        // Spread along a single direction: the second axis explains nothing.
        let line = Array2::from_shape_fn((30, 4), |(r, c)| if c == 2 { r as f32 } else { 1.0 });
        let map = pca(line.view()).unwrap();
        assert!((map.explained[0] - 1.0).abs() < 1e-12 && map.explained[1] == 0.0);
        assert!(map.coords.iter().all(|v| v.is_finite()));
        assert_eq!(map.axes.row(0).to_vec(), vec![0.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn bad_input_is_refused() {
        let narrow = Array2::<f32>::zeros((10, 1));
        assert_eq!(pca(narrow.view()), Err(PcaError::TooFewColumns(1)));
        let mut x = data(20, &[1.0, 2.0, 3.0], 7);
        x[[13, 2]] = f32::NAN;
        assert_eq!(pca(x.view()), Err(PcaError::NonFinite { row: 13 }));
        assert!(variance_spectrum(x.view()).is_err());
        x[[13, 2]] = 0.0;
        x[[4, 0]] = f32::NEG_INFINITY;
        assert_eq!(pca(x.view()), Err(PcaError::NonFinite { row: 4 }));
    }
}
