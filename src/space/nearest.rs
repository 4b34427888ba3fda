//! The rows of a matrix nearest to a query, by brute force: for 10,000 codes of 150
//! values that is 1.5 M multiply-adds, well under a millisecond, and exact.

use std::cmp::Ordering;

use ndarray::{ArrayView1, ArrayView2};
use rayon::prelude::*;

use super::WidthError;

/// Rows per parallel task.
const ROWS_PER_TASK: usize = 512;

/// One row of the searched matrix and its Euclidean distance to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    pub index: usize,
    pub distance: f64,
}

/// The `k` rows of `x` (n x d) nearest to `query` (d values) in Euclidean distance,
/// nearest first, ties broken by the lower index; fewer than `k` if `x` has fewer rows.
/// A query that is itself a row of `x` finds that row first, at distance 0: ask for
/// one more and skip it to get the others.
///
/// Distances are accumulated in f64 from exact f32 differences, so they do not suffer
/// the cancellation of the `|a|² + |b|² - 2ab` form. A row holding NaN sorts last.
pub fn nearest(
    x: ArrayView2<f32>,
    query: ArrayView1<f32>,
    k: usize,
) -> Result<Vec<Neighbour>, WidthError> {
    WidthError::check("query", x.ncols(), query.len())?;
    let mut all: Vec<Neighbour> = (0..x.nrows())
        .into_par_iter()
        .with_min_len(ROWS_PER_TASK)
        .map(|index| Neighbour {
            index,
            distance: squared_distance(x.row(index), query).sqrt(),
        })
        .collect();
    let k = k.min(all.len());
    if k == 0 {
        return Ok(Vec::new());
    }
    if k < all.len() {
        all.select_nth_unstable_by(k - 1, by_distance_then_index);
        all.truncate(k);
    }
    all.sort_unstable_by(by_distance_then_index);
    Ok(all)
}

/// `|a - b|²`, accumulated in f64.
pub fn squared_distance(a: ArrayView1<f32>, b: ArrayView1<f32>) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&a, &b)| {
            let d = (a - b) as f64;
            d * d
        })
        .sum()
}

/// A total order: distance (NaN after everything), then index.
fn by_distance_then_index(a: &Neighbour, b: &Neighbour) -> Ordering {
    a.distance
        .total_cmp(&b.distance)
        .then(a.index.cmp(&b.index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, arr1};

    fn matrix(n: usize, d: usize, seed: u32) -> Array2<f32> {
        Array2::from_shape_fn((n, d), |(i, j)| {
            let h = (i as u32 * 7919 + j as u32 * 104_729 + seed).wrapping_mul(2_654_435_761);
            (h >> 8) as f32 / 16_777_216.0
        })
    }

    /// Every row's distance, sorted by (distance, index) with a plain stable sort.
    fn naive(x: &Array2<f32>, q: ArrayView1<f32>) -> Vec<(usize, f64)> {
        let mut all: Vec<(usize, f64)> = x
            .rows()
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let s: f64 = r
                    .iter()
                    .zip(q)
                    .map(|(&a, &b)| ((a - b) as f64).powi(2))
                    .sum();
                (i, s.sqrt())
            })
            .collect();
        all.sort_by(|a, b| a.1.partial_cmp(&b.1).expect("finite").then(a.0.cmp(&b.0)));
        all
    }

    #[test]
    fn nearest_rows_equal_a_naive_sort() {
        let x = matrix(2000, 37, 1);
        let q = matrix(1, 37, 2);
        let want = naive(&x, q.row(0));
        for k in [1, 7, 100, 2000] {
            let got = nearest(x.view(), q.row(0), k).unwrap();
            assert_eq!(got.len(), k);
            for (g, w) in got.iter().zip(&want) {
                assert_eq!((g.index, g.distance), *w);
            }
        }
        assert_eq!(nearest(x.view(), q.row(0), 5000).unwrap().len(), 2000);
        assert!(nearest(x.view(), q.row(0), 0).unwrap().is_empty());
    }

    #[test]
    fn a_row_finds_itself_first_and_ties_go_to_the_lower_index() {
        let mut x = matrix(50, 8, 3);
        // Rows 40, 10 and 30 are copies of row 20: four rows at distance 0 from it.
        for r in [40, 10, 30] {
            let row = x.row(20).to_owned();
            x.row_mut(r).assign(&row);
        }
        let got = nearest(x.view(), x.row(20), 5).unwrap();
        let idx: Vec<usize> = got.iter().map(|n| n.index).collect();
        assert_eq!(&idx[..4], &[10, 20, 30, 40]);
        assert!(got[..4].iter().all(|n| n.distance == 0.0));
        assert!(got[4].distance > 0.0);
    }

    #[test]
    fn a_query_of_the_wrong_width_is_refused() {
        let x = matrix(5, 4, 0);
        let err = nearest(x.view(), arr1(&[1.0f32, 2.0, 3.0]).view(), 2).unwrap_err();
        assert_eq!(
            err,
            WidthError {
                what: "query",
                expected: 4,
                got: 3
            }
        );
        assert!(err.to_string().contains("query"));
    }

    #[test]
    fn a_row_holding_nan_sorts_last() {
        let mut x = matrix(6, 3, 4);
        x[[0, 1]] = f32::NAN;
        let got = nearest(x.view(), x.row(3), 6).unwrap();
        assert_eq!(got[0].index, 3);
        assert_eq!(got[5].index, 0);
        assert!(got[5].distance.is_nan());
    }
}
