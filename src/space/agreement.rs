//! How well a 2-D map keeps the classes apart, as one number: the fraction of points
//! whose nearest other point on the map has the same label (a 1-nearest-neighbour
//! classifier, judged by leave-one-out). 0.1 for ten shuffled classes, 1 for classes
//! that never touch.
//!
//! Exact, by a sweep: the points sorted by x, each point's search walks outwards in x
//! and stops once the gap in x alone exceeds the best distance found. On a 2-D map of
//! 10,000 points that visits a few dozen neighbours per point.

use std::cmp::Ordering;

use ndarray::ArrayView2;
use rayon::prelude::*;

/// Points per parallel task.
const POINTS_PER_TASK: usize = 512;

/// The fraction of the rows of `coords` (n x 2) whose nearest other row (Euclidean;
/// ties to the lower index) has the same label; `labels[i]` is row i's. `None` with
/// fewer than two points, or when `labels` does not have one label per row, or a
/// coordinate is not finite.
pub fn neighbour_agreement(coords: ArrayView2<f32>, labels: &[u8]) -> Option<f64> {
    let n = coords.nrows();
    if n < 2 || labels.len() != n || coords.ncols() != 2 {
        return None;
    }
    if !coords.iter().all(|v| v.is_finite()) {
        return None;
    }
    let points: Vec<[f32; 2]> = coords.rows().into_iter().map(|r| [r[0], r[1]]).collect();
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        let (pa, pb) = (points[a as usize], points[b as usize]);
        pa[0].total_cmp(&pb[0]).then(a.cmp(&b))
    });
    let same = (0..n)
        .into_par_iter()
        .with_min_len(POINTS_PER_TASK)
        .filter(|&at| {
            let i = order[at] as usize;
            let j = nearest_in_sweep(&points, &order, at);
            labels[i] == labels[j]
        })
        .count();
    Some(same as f64 / n as f64)
}

/// The nearest other point to `order[at]`, searching outwards from its place in the
/// x order.
fn nearest_in_sweep(points: &[[f32; 2]], order: &[u32], at: usize) -> usize {
    let i = order[at] as usize;
    let p = points[i];
    let mut best = (f64::INFINITY, usize::MAX);
    let mut consider = |k: usize| -> bool {
        let j = order[k] as usize;
        let dx = (points[j][0] - p[0]) as f64;
        if dx * dx > best.0 {
            return false;
        }
        let dy = (points[j][1] - p[1]) as f64;
        let d = (dx * dx + dy * dy, j);
        if closer(d, best) {
            best = d;
        }
        true
    };
    for k in (0..at).rev() {
        if !consider(k) {
            break;
        }
    }
    for k in at + 1..order.len() {
        if !consider(k) {
            break;
        }
    }
    best.1
}

/// By distance, then by index.
fn closer(a: (f64, usize), b: (f64, usize)) -> bool {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)) == Ordering::Less
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn pseudo(i: usize, salt: u32) -> f32 {
        let h = (i as u32).wrapping_mul(2_654_435_761) ^ salt.wrapping_mul(40_503);
        (h.wrapping_mul(2_246_822_519) >> 8) as f32 / 16_777_216.0
    }

    /// The same fraction by brute force over all pairs.
    fn brute(coords: &Array2<f32>, labels: &[u8]) -> f64 {
        let n = coords.nrows();
        let mut same = 0;
        for i in 0..n {
            let mut best = (f64::INFINITY, usize::MAX);
            for j in (0..n).filter(|&j| j != i) {
                let dx = (coords[[j, 0]] - coords[[i, 0]]) as f64;
                let dy = (coords[[j, 1]] - coords[[i, 1]]) as f64;
                let d = (dx * dx + dy * dy, j);
                if closer(d, best) {
                    best = d;
                }
            }
            same += (labels[i] == labels[best.1]) as usize;
        }
        same as f64 / n as f64
    }

    #[test]
    fn equals_brute_force_on_random_points() {
        let n = 1500;
        let coords = Array2::from_shape_fn((n, 2), |(i, a)| pseudo(i, a as u32 + 1));
        // Labels that follow x loosely: the answer is neither 0.1 nor 1.
        let labels: Vec<u8> = (0..n)
            .map(|i| ((coords[[i, 0]] * 5.0) as u8 + (pseudo(i, 9) < 0.3) as u8) % 10)
            .collect();
        let got = neighbour_agreement(coords.view(), &labels).unwrap();
        assert_eq!(got, brute(&coords, &labels));
        assert!(got > 0.3 && got < 0.95, "{got}");
    }

    #[test]
    fn separated_classes_agree_fully_and_shuffled_ones_rarely() {
        let n = 1000;
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        // Class c in its own small square far from the others.
        let apart = Array2::from_shape_fn((n, 2), |(i, a)| {
            (i % 10) as f32 * 100.0 + pseudo(i, a as u32 + 3)
        });
        assert_eq!(neighbour_agreement(apart.view(), &labels), Some(1.0));
        let mixed = Array2::from_shape_fn((n, 2), |(i, a)| pseudo(i, a as u32 + 5));
        let chance = neighbour_agreement(mixed.view(), &labels).unwrap();
        assert!(chance < 0.2, "{chance}");
    }

    #[test]
    fn ties_go_to_the_lower_index_and_bad_input_has_no_answer() {
        // Point 1 is as far from 0 as from 2: its neighbour is 0, whose label it shares.
        let c = Array2::from_shape_vec((3, 2), vec![0.0, 0.0, 1.0, 0.0, 2.0, 0.0]).unwrap();
        let got = neighbour_agreement(c.view(), &[5, 5, 7]).unwrap();
        // 0 -> 1 (same), 1 -> 0 (same), 2 -> 1 (different).
        assert!((got - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(neighbour_agreement(c.view(), &[1, 2]), None);
        let one = Array2::<f32>::zeros((1, 2));
        assert_eq!(neighbour_agreement(one.view(), &[0]), None);
        let mut nan = c.clone();
        nan[[1, 1]] = f32::NAN;
        assert_eq!(neighbour_agreement(nan.view(), &[5, 5, 7]), None);
    }
}
