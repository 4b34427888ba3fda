//! The only place that knows which GEMM we use.
//!
//! The kernels are faer's (its x86 microkernels, `private-gemm-x86`, which faer calls
//! for every product that is not tiny): measured fastest on this model's shapes (see
//! README, "Performance"). We call them directly on x86-64 so that the instruction set
//! is ours to pick (`simd::isa`, so the AVX2 path can be measured on an AVX-512
//! machine), and so that every product, whatever its shape, takes the same path. A
//! product's bits then do not depend on how its rows or columns are cut into blocks
//! (tested below): that is what lets the hidden1 cache reproduce the uncached run, and
//! a step give the same bits on any number of threads.

use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{ArrayView2, ArrayViewMut2, Axis};

use crate::simd::{Isa, isa};

/// Below this many multiply-adds a product is not worth splitting across threads.
const PARALLEL_MIN_MACS: usize = 2_000_000;
/// Splits land on multiples of this (one AVX-512 register of f32).
const SPLIT_ALIGN: usize = 16;

/// Where to cut `len` items shared by `parts` workers: near the middle of the parts,
/// on a multiple of `align`, with at least `min` items on each side. `None`: not worth
/// cutting.
pub fn cut(len: usize, parts: usize, align: usize, min: usize) -> Option<usize> {
    if parts < 2 {
        return None;
    }
    let at = (len * (parts / 2) / parts).next_multiple_of(align);
    (at >= min && len.saturating_sub(at) >= min).then_some(at)
}

/// `c = a · b` (or `c += a · b` when `accumulate`). Transposed operands are plain
/// transposed views (`w.t()`): the kernel reads them through their strides, no copies.
///
/// Large products are cut into one block of rows or columns per rayon thread and the
/// blocks run as serial GEMMs under `rayon::join`. faer's own threading would be as
/// fast, but it allocates on every call; this does not.
pub fn matmul(c: ArrayViewMut2<f32>, a: ArrayView2<f32>, b: ArrayView2<f32>, accumulate: bool) {
    check_shapes(&c, &a, &b);
    let (m, k) = a.dim();
    let n = b.ncols();
    let threads = rayon::current_num_threads();
    if m * n * k < PARALLEL_MIN_MACS || threads < 2 {
        return serial(c, a, b, accumulate);
    }
    split(c, a, b, accumulate, threads);
}

/// `matmul` on the calling thread only, for callers that parallelise over blocks.
pub fn matmul_serial(
    c: ArrayViewMut2<f32>,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    accumulate: bool,
) {
    check_shapes(&c, &a, &b);
    serial(c, a, b, accumulate);
}

/// Gives every thread of rayon's pool its GEMM packing buffers (the kernels allocate
/// them on first use, and again when a larger product needs larger ones), so that no
/// training step allocates: one product on every thread, larger than the kernels'
/// blocks in every dimension, sizes each thread's buffers for any shape after it.
pub fn warm_up() {
    thread_local!(static WARM: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    rayon::broadcast(|_| {
        if WARM.replace(true) {
            return;
        }
        let a = ndarray::Array2::<f32>::zeros((WARM_UP, WARM_UP));
        let mut c = ndarray::Array2::<f32>::zeros((WARM_UP, WARM_UP));
        serial(c.view_mut(), a.view(), a.t(), false);
        serial(c.view_mut(), a.t(), a.view(), false);
    });
}

/// Rows, columns and depth of the warm-up product (past faer's largest blocks).
const WARM_UP: usize = 1024;

fn check_shapes(c: &ArrayViewMut2<f32>, a: &ArrayView2<f32>, b: &ArrayView2<f32>) {
    assert!(
        a.ncols() == b.nrows() && c.dim() == (a.nrows(), b.ncols()),
        "matmul shapes: {:?} x {:?} -> {:?}",
        a.dim(),
        b.dim(),
        c.dim()
    );
}

/// Cuts the larger output dimension into `parts` aligned blocks, recursively in halves.
fn split(
    c: ArrayViewMut2<f32>,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    accumulate: bool,
    parts: usize,
) {
    let (m, n) = c.dim();
    let along_rows = m >= n;
    let len = if along_rows { m } else { n };
    let Some(at) = cut(len, parts, SPLIT_ALIGN, SPLIT_ALIGN) else {
        return serial(c, a, b, accumulate);
    };
    let (lo, hi) = (parts / 2, parts - parts / 2);
    if along_rows {
        let (c1, c2) = c.split_at(Axis(0), at);
        let (a1, a2) = a.split_at(Axis(0), at);
        rayon::join(
            || split(c1, a1, b, accumulate, lo),
            || split(c2, a2, b, accumulate, hi),
        );
    } else {
        let (c1, c2) = c.split_at(Axis(1), at);
        let (b1, b2) = b.split_at(Axis(1), at);
        rayon::join(
            || split(c1, a, b1, accumulate, lo),
            || split(c2, a, b2, accumulate, hi),
        );
    }
}

fn serial(c: ArrayViewMut2<f32>, a: ArrayView2<f32>, b: ArrayView2<f32>, accumulate: bool) {
    let (m, k) = a.dim();
    let n = b.ncols();
    if m == 0 || n == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(instr) = match isa() {
        Isa::Avx512 => Some(private_gemm_x86::InstrSet::Avx512),
        Isa::Avx2 => Some(private_gemm_x86::InstrSet::Avx256),
        Isa::Baseline => None,
    } {
        return x86(instr, c, a, b, accumulate);
    }
    let _ = (k, Isa::Baseline);
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    faer::linalg::matmul::matmul(
        to_faer_mut(c),
        accum,
        to_faer(a),
        to_faer(b),
        1.0f32,
        Par::Seq,
    );
}

/// faer's x86 kernels with the instruction set given, on one thread.
#[cfg(target_arch = "x86_64")]
fn x86(
    instr: private_gemm_x86::InstrSet,
    mut c: ArrayViewMut2<f32>,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    accumulate: bool,
) {
    use private_gemm_x86::{Accum, DType, DstKind, IType, gemm};
    let (m, k) = a.dim();
    let n = b.ncols();
    let cs = [c.strides()[0], c.strides()[1]];
    let (as_, bs) = (a.strides(), b.strides());
    let one = 1.0f32;
    let beta = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    // SAFETY: the three views guarantee that every (i, j) inside their shapes at their
    // strides lies in their allocations for this call; `c` is borrowed uniquely. The
    // null index and diagonal pointers are what the kernels take for "none", as faer
    // passes them; `alpha` points at an f32, the type `DType::F32` says.
    unsafe {
        gemm(
            DType::F32,
            IType::U64,
            instr,
            m,
            n,
            k,
            c.as_mut_ptr().cast(),
            cs[0],
            cs[1],
            std::ptr::null(),
            std::ptr::null(),
            DstKind::Full,
            beta,
            a.as_ptr().cast(),
            as_[0],
            as_[1],
            false,
            std::ptr::null(),
            0,
            b.as_ptr().cast(),
            bs[0],
            bs[1],
            false,
            (&raw const one).cast(),
            1,
        );
    }
}

fn to_faer<'a>(a: ArrayView2<'a, f32>) -> MatRef<'a, f32> {
    let (r, c) = a.dim();
    let s = a.strides();
    // SAFETY: the view guarantees that every (i, j) with i < r, j < c at these strides
    // lies inside its allocation for the view's lifetime, which the MatRef borrows.
    unsafe { MatRef::from_raw_parts(a.as_ptr(), r, c, s[0], s[1]) }
}

fn to_faer_mut<'a>(a: ArrayViewMut2<'a, f32>) -> MatMut<'a, f32> {
    let (r, c) = a.dim();
    let s = a.strides();
    let (s0, s1) = (s[0], s[1]);
    let mut a = a;
    // SAFETY: as in `to_faer`; the unique borrow of the view is moved into the MatMut.
    unsafe { MatMut::from_raw_parts_mut(a.as_mut_ptr(), r, c, s0, s1) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn naive(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
        let (m, k) = a.dim();
        let n = b.ncols();
        Array2::from_shape_fn((m, n), |(i, j)| {
            (0..k)
                .map(|p| a[[i, p]] as f64 * b[[p, j]] as f64)
                .sum::<f64>() as f32
        })
    }

    fn filled(r: usize, c: usize, s: f32) -> Array2<f32> {
        Array2::from_shape_fn((r, c), |(i, j)| ((i * 31 + j * 17) as f32 * s).sin())
    }

    #[test]
    fn matmul_matches_naive_for_plain_and_transposed_views() {
        for &(m, k, n) in &[(7, 5, 3), (150, 784, 300), (31, 300, 150)] {
            let a = filled(m, k, 0.37);
            let b = filled(k, n, 0.11);
            let at = a.t().to_owned(); // k x m, read back through .t()
            let bt = b.t().to_owned();
            let want = naive(a.view(), b.view());
            for (av, bv) in [
                (a.view(), b.view()),
                (at.t(), b.view()),
                (a.view(), bt.t()),
                (at.t(), bt.t()),
            ] {
                let mut c = Array2::zeros((m, n));
                matmul(c.view_mut(), av, bv, false);
                let err = (&c - &want).iter().fold(0f32, |e, d| e.max(d.abs()));
                assert!(err < 1e-3 * (k as f32).sqrt(), "{m}x{k}x{n}: {err}");
                // accumulate adds on top
                matmul(c.view_mut(), av, bv, true);
                let err2 = (&c - &(&want * 2.0))
                    .iter()
                    .fold(0f32, |e, d| e.max(d.abs()));
                assert!(err2 < 2e-3 * (k as f32).sqrt());
            }
        }
    }

    #[test]
    fn products_do_not_depend_on_how_rows_or_columns_are_cut() {
        // The shapes of a step (K = 784, 300, 150) and of the weight gradients (K = the
        // batch): every block of rows (2 or more) and every block of columns gives the
        // bits of the whole product.
        for &(k, n, rows) in &[
            (784, 300, 150),
            (300, 784, 150),
            (300, 150, 75),
            (150, 300, 75),
        ] {
            let x = filled(rows, k, 0.013);
            let w = filled(k, n, 0.007);
            let mut whole = Array2::zeros((rows, n));
            matmul_serial(whole.view_mut(), x.view(), w.view(), false);
            for m in 1..=rows {
                let part = x.slice(ndarray::s![rows - m.., ..]);
                let mut c = Array2::zeros((m, n));
                matmul_serial(c.view_mut(), part, w.view(), false);
                assert_eq!(
                    c,
                    whole.slice(ndarray::s![rows - m.., ..]),
                    "{k}x{n}: {m} rows"
                );
            }
            for j in (1..n).step_by(7) {
                let mut c = Array2::zeros((rows, n - j));
                matmul_serial(c.view_mut(), x.view(), w.slice(ndarray::s![.., j..]), false);
                assert_eq!(
                    c,
                    whole.slice(ndarray::s![.., j..]),
                    "{k}x{n}: from column {j}"
                );
            }
            let mut g = Array2::zeros((k, n));
            matmul_serial(g.view_mut(), x.t(), whole.view(), false);
            for j in (1..n).step_by(5) {
                let mut c = Array2::zeros((k, n - j));
                matmul_serial(
                    c.view_mut(),
                    x.t(),
                    whole.slice(ndarray::s![.., j..]),
                    false,
                );
                assert_eq!(
                    c,
                    g.slice(ndarray::s![.., j..]),
                    "gradient {k}x{n}: from column {j}"
                );
            }
        }
    }

    #[test]
    fn products_do_not_depend_on_the_number_of_rows() {
        // The cache computes hidden1 in big blocks, a batch in 150 rows: same bits.
        let x = filled(4096, 784, 0.013);
        let w = filled(784, 300, 0.007);
        let mut big = Array2::zeros((4096, 300));
        matmul(big.view_mut(), x.view(), w.view(), false);
        let rows: Vec<usize> = (0..150).map(|i| (i * 997 + 5) % 4096).collect();
        let xs = x.select(Axis(0), &rows);
        let mut small = Array2::zeros((150, 300));
        matmul(small.view_mut(), xs.view(), w.view(), false);
        assert_eq!(small, big.select(Axis(0), &rows));
        let mut serial = Array2::zeros((150, 300));
        matmul_serial(serial.view_mut(), xs.view(), w.view(), false);
        assert_eq!(serial, small);
    }

    #[test]
    fn cuts_are_aligned_balanced_and_never_leave_a_sliver() {
        assert_eq!(cut(150, 2, 4, 4), Some(76));
        assert_eq!(cut(150, 1, 4, 4), None);
        assert_eq!(cut(9, 2, 4, 4), Some(4));
        assert_eq!(cut(5, 2, 4, 4), None, "no block shorter than the minimum");
        assert_eq!(cut(300, 3, 16, 16), Some(112));
        assert_eq!(cut(784, 16, 16, 16), Some(400));
    }
}
