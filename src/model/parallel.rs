//! How a training step's work is cut into blocks for rayon's threads: rows of the
//! batch, columns of a weight gradient, and whole tensors shared out between threads.
//!
//! How the work is cut depends on the thread count; the results do not. Every product
//! gives the same bits whatever block of rows or columns it computes (`linalg`), every
//! sum over the batch adds its rows in order, and Adam is element-wise. So the losses
//! and models in `grad` and `classifier` give the same bits on 1 thread or 16.

use std::ops::Range;

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis, s};

use super::flat::{flat, vec_mut};
use super::kernels::column_sums;
use super::linalg::{cut, matmul_serial};

/// Row blocks are cut on multiples of this, and are never shorter: smaller blocks would
/// cost more in overhead than another thread gains.
const ROW_ALIGN: usize = 4;
/// Column blocks of the weight gradients are cut on multiples of this.
const COLUMN_ALIGN: usize = 16;
/// Items are shared out side by side only if neither side then holds more than this
/// share of the work (in percent); else each item in turn gets every thread.
const MAX_SIDE_PERCENT: usize = 60;

/// Fills rows `start..` of a batch's input: `rows.len() / width` rows of `width`
/// values. The trainer gathers them from the data (or the hidden1 cache); each block
/// of the batch is filled on the thread that then works on it.
pub type FillRows<'a> = &'a (dyn Fn(usize, &mut [f32]) + Sync);

/// A block of consecutive rows of every row-local buffer of a step.
pub(crate) trait RowBlock: Sized + Send {
    fn len(&self) -> usize;
    /// The first `at` rows and the rest.
    fn split_at(self, at: usize) -> (Self, Self);
}

/// Something with one entry per row of the batch, cut in two at a row.
pub(crate) trait SplitRows: Sized {
    fn split_rows(self, at: usize) -> (Self, Self);
}

impl<T> SplitRows for &[T] {
    fn split_rows(self, at: usize) -> (Self, Self) {
        self.split_at(at)
    }
}

impl<T> SplitRows for &mut [T] {
    fn split_rows(self, at: usize) -> (Self, Self) {
        self.split_at_mut(at)
    }
}

impl<T> SplitRows for ArrayViewMut2<'_, T> {
    fn split_rows(self, at: usize) -> (Self, Self) {
        self.split_at(Axis(0), at)
    }
}

/// A fixed list of per-row buffers (one per level of a stack), cut at the same row.
impl<'a, const N: usize> SplitRows for [ArrayViewMut2<'a, f32>; N] {
    fn split_rows(self, at: usize) -> (Self, Self) {
        let mut halves = self.map(|m| {
            let (a, b) = m.split_at(Axis(0), at);
            (Some(a), Some(b))
        });
        let top = std::array::from_fn(|i| halves[i].0.take().expect("each half is taken once"));
        let bottom = std::array::from_fn(|i| halves[i].1.take().expect("each half is taken once"));
        (top, bottom)
    }
}

/// `N` views of the buffers `bufs`, the rest (levels a stack does not have) empty.
pub(crate) fn level_views<const N: usize>(
    bufs: &mut [Array2<f32>],
    rows: usize,
) -> [ArrayViewMut2<'_, f32>; N] {
    let mut it = bufs.iter_mut();
    std::array::from_fn(|_| it.next().map_or_else(|| empty_rows(rows), |a| a.view_mut()))
}

fn empty_rows<'a>(rows: usize) -> ArrayViewMut2<'a, f32> {
    ArrayViewMut2::from_shape((rows, 0), &mut []).expect("an empty view has any number of rows")
}

/// `(&a[i], &mut a[j])` for `i < j`.
pub(crate) fn below<T>(a: &mut [T], i: usize, j: usize) -> (&T, &mut T) {
    let (lo, hi) = a.split_at_mut(j);
    (&lo[i], &mut hi[0])
}

/// `(&mut a[i], &a[j])` for `i < j`.
pub(crate) fn above<T>(a: &mut [T], i: usize, j: usize) -> (&mut T, &T) {
    let (lo, hi) = a.split_at_mut(j);
    (&mut lo[i], &hi[0])
}

/// `RowBlock` for a struct of a `start` row and `fields` that each hold one entry per
/// row (`SplitRows`); `len` is the length of the field `len`.
macro_rules! row_block {
    ($ty:ident, len: $len:ident, [$($field:ident),* $(,)?]) => {
        impl<'a> $crate::model::parallel::RowBlock for $ty<'a> {
            fn len(&self) -> usize {
                self.$len.len()
            }

            fn split_at(self, at: usize) -> (Self, Self) {
                use $crate::model::parallel::SplitRows;
                $(let $field = self.$field.split_rows(at);)*
                let top = $ty { start: self.start, $($field: $field.0,)* };
                let bottom = $ty { start: self.start + at, $($field: $field.1,)* };
                (top, bottom)
            }
        }
    };
}
pub(crate) use row_block;

/// Runs `f` on blocks of `rows`, about one per thread of `parts`, in parallel.
pub(crate) fn for_row_blocks<R: RowBlock>(rows: R, parts: usize, f: &(dyn Fn(R) + Sync)) {
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

/// Runs `run(item, parts)` for every item, on about `parts` threads in all: the items
/// are cut into two groups of about equal `size`, side by side, each with its share of
/// the threads; when one item outweighs the rest, each item in turn gets them all.
/// Returns whether every `run` returned true.
pub(crate) fn share<T: Send>(
    items: &mut [T],
    parts: usize,
    size: &(dyn Fn(&T) -> usize + Sync),
    run: &(dyn Fn(&mut T, usize) -> bool + Sync),
) -> bool {
    let sizes = || items.iter().map(size);
    let total: usize = sizes().sum();
    if items.len() < 2 || parts < 2 || total == 0 {
        let each = if items.len() == 1 { parts } else { 1 };
        return items.iter_mut().fold(true, |ok, t| run(t, each) & ok);
    }
    // The cut that leaves the two sides closest to equal.
    let (mut at, mut left, mut prefix) = (1, 0, 0);
    let mut best = usize::MAX;
    for (i, s) in sizes().enumerate().take(items.len() - 1) {
        prefix += s;
        let gap = prefix.abs_diff(total - prefix);
        if gap < best {
            (best, at, left) = (gap, i + 1, prefix);
        }
    }
    if left.max(total - left) * 100 > total * MAX_SIDE_PERCENT {
        return items.iter_mut().fold(true, |ok, t| run(t, parts) & ok);
    }
    let p_left = ((parts * left + total / 2) / total).clamp(1, parts - 1);
    let (a, b) = items.split_at_mut(at);
    let (x, y) = rayon::join(
        || share(a, p_left, size, run),
        || share(b, parts - p_left, size, run),
    );
    x & y
}

/// A weight gradient to fill (`gw = aᵀ · d`, `gb = column sums of d`) from a layer's
/// input `a` and its delta `d`.
pub(crate) struct WeightGradient<'a> {
    pub gw: ArrayViewMut2<'a, f32>,
    pub gb: &'a mut [f32],
    pub a: ArrayView2<'a, f32>,
    pub d: ArrayView2<'a, f32>,
}

impl<'a> WeightGradient<'a> {
    /// The gradient `gw`, `gb` of a layer with input `a` and delta `d`.
    pub fn new(
        gw: &'a mut Array2<f32>,
        gb: &'a mut Array1<f32>,
        a: ArrayView2<'a, f32>,
        d: ArrayView2<'a, f32>,
    ) -> Self {
        Self {
            gw: gw.view_mut(),
            gb: vec_mut(gb),
            a,
            d,
        }
    }

    /// A placeholder that fills nothing (unused slots of a fixed-size list).
    pub fn empty() -> Self {
        Self {
            gw: ArrayViewMut2::from_shape((0, 0), &mut []).expect("an empty view"),
            gb: &mut [],
            a: ArrayView2::from_shape((0, 0), &[]).expect("an empty view"),
            d: ArrayView2::from_shape((0, 0), &[]).expect("an empty view"),
        }
    }
}

/// Every weight gradient of a step, the threads shared between them.
pub(crate) fn weight_gradients(grads: &mut [WeightGradient<'_>]) {
    let threads = rayon::current_num_threads();
    share(grads, threads, &|g| g.gw.len(), &|g, parts| {
        let cols = 0..g.d.ncols();
        weight_gradient(g.gw.view_mut(), g.gb, g.a, g.d, cols, parts);
        true
    });
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Which items `share` ran with how many threads each, sorted.
    fn plan(sizes: &[usize], parts: usize) -> Vec<(usize, usize)> {
        let seen = Mutex::new(Vec::new());
        let mut items: Vec<usize> = sizes.to_vec();
        share(&mut items, parts, &|&s| s, &|&mut s, p| {
            seen.lock().unwrap().push((s, p));
            true
        });
        let mut v = seen.into_inner().unwrap();
        v.sort();
        v
    }

    #[test]
    fn items_are_shared_out_by_size() {
        // Phase 1's two weight matrices with their biases: one side each.
        assert_eq!(
            plan(&[235_200, 300, 235_200, 784], 2),
            [(300, 1), (784, 1), (235_200, 1), (235_200, 1)]
        );
        // The classifier's W1 outweighs the rest: every tensor gets both threads.
        assert_eq!(
            plan(&[235_200, 300, 45_000, 150], 2),
            [(150, 2), (300, 2), (45_000, 2), (235_200, 2)]
        );
        // One thread: everything in turn.
        assert_eq!(plan(&[5, 7], 1), [(5, 1), (7, 1)]);
        // A lone item gets every thread.
        assert_eq!(plan(&[9], 8), [(9, 8)]);
        assert!(plan(&[], 4).is_empty());
    }

    #[test]
    fn every_item_runs_once_and_failures_are_reported() {
        let mut items = [1usize, 2, 3, 4, 5, 6, 7, 8];
        let ok = share(&mut items, 3, &|&s| s, &|s, _| {
            *s += 100;
            *s != 104
        });
        assert!(!ok, "the item that returned false is reported");
        assert_eq!(items, [101, 102, 103, 104, 105, 106, 107, 108]);
    }
}
