//! What a map is made of and how it is made: the test set's activations at one layer,
//! their PCA or t-SNE, and where a new image lands on a map. Shared by the worker,
//! `layerwise map` and `layerwise export`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

pub use super::layer::{Layer, Method};
use crate::data::batch::convert_range;
use crate::data::{Images, PIXELS};
use crate::space::{self, Encoded, Neighbour, PcaError};

/// The test images as f32 pixels in [0, 1], with their labels: what maps are made of.
#[derive(Debug, Clone)]
pub struct TestSet {
    /// n x 784.
    pub pixels: Array2<f32>,
    pub labels: Arc<Vec<u8>>,
}

impl TestSet {
    pub fn new(images: &Images) -> Self {
        let mut pixels = Array2::zeros((images.len(), PIXELS));
        if let Some(flat) = pixels.as_slice_mut() {
            convert_range(images, 0, flat);
        }
        Self {
            pixels,
            labels: Arc::new(images.labels.clone()),
        }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The activations of `layer`: the encoded ones, or the pixels themselves.
    pub fn layer<'a>(&'a self, encoded: &'a Encoded, layer: Layer) -> ArrayView2<'a, f32> {
        match layer {
            Layer::Code => encoded.code().view(),
            Layer::Hidden(k) => encoded.level(k as usize).view(),
            Layer::Pixels => self.pixels.view(),
        }
    }
}

/// How a PCA map places a new row: `(x - mean) · axesᵀ`.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub mean: Array1<f32>,
    /// 2 x d.
    pub axes: Array2<f32>,
}

impl Projection {
    /// `None` when `x` is not as wide as the map's rows.
    pub fn place(&self, x: ArrayView1<f32>) -> Option<[f32; 2]> {
        if x.len() != self.mean.len() {
            return None;
        }
        let centred = &x - &self.mean;
        Some([
            self.axes.row(0).dot(&centred),
            self.axes.row(1).dot(&centred),
        ])
    }
}

/// A 2-D map of the test set.
#[derive(Debug, Clone)]
pub struct Map {
    /// Unique to this map: views redraw when it changes.
    pub id: u64,
    pub layer: Layer,
    pub method: Method,
    /// n x 2, row i the test image i.
    pub coords: Array2<f32>,
    pub labels: Arc<Vec<u8>>,
    /// PCA: the fraction of the variance along each axis.
    pub explained: Option<[f64; 2]>,
    /// The fraction of points whose nearest neighbour on the map has the same digit.
    pub agreement: Option<f64>,
    /// PCA: how to place a new image's activations.
    pub projection: Option<Projection>,
    /// Seconds the map itself took (PCA or t-SNE, not the encoding).
    pub seconds: f64,
    /// Which parameters it shows ("live", "after phase 1, epoch 3", a file name).
    pub source: String,
}

/// A number no other map has.
pub fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// New points are placed on a t-SNE map at the mean position of this many of their
/// nearest test points (t-SNE has no formula for a point it was not run on).
pub const PLACE_AMONG: usize = 10;

impl Map {
    /// Where a new image lands: projected onto a PCA map; on a t-SNE map, amid its
    /// nearest test points in this map's layer (`neighbours`, nearest first).
    pub fn place(&self, x: ArrayView1<f32>, neighbours: &[Neighbour]) -> Option<[f32; 2]> {
        if let Some(p) = &self.projection {
            return p.place(x);
        }
        let near: Vec<usize> = neighbours
            .iter()
            .map(|n| n.index)
            .filter(|&i| i < self.coords.nrows())
            .take(PLACE_AMONG)
            .collect();
        if near.is_empty() {
            return None;
        }
        let k = near.len() as f32;
        let sum = near.iter().fold([0.0; 2], |s, &i| {
            [s[0] + self.coords[[i, 0]], s[1] + self.coords[[i, 1]]]
        });
        Some([sum[0] / k, sum[1] / k])
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.coords.nrows()
    }

    pub fn is_empty(&self) -> bool {
        self.coords.nrows() == 0
    }
}

/// The PCA map of `x` (n x d: one layer's activations of the test set), its axes
/// sign-aligned to `previous` (2 x d) when given and as wide.
pub fn pca_map(
    x: ArrayView2<f32>,
    labels: Arc<Vec<u8>>,
    layer: Layer,
    previous: Option<ArrayView2<f32>>,
    source: String,
) -> Result<Map, PcaError> {
    let start = Instant::now();
    let mut p = space::pca(x)?;
    if let Some(prev) = previous {
        // Another width (another network) has nothing to align to: keep the canon.
        let _ = p.align_to(prev);
    }
    let seconds = start.elapsed().as_secs_f64();
    let mean = x
        .mean_axis(Axis(0))
        .unwrap_or_else(|| Array1::zeros(x.ncols()));
    let agreement = space::neighbour_agreement(p.coords.view(), &labels);
    Ok(Map {
        id: next_id(),
        layer,
        method: Method::Pca,
        agreement,
        explained: Some(p.explained),
        projection: Some(Projection { mean, axes: p.axes }),
        coords: p.coords,
        labels,
        seconds,
        source,
    })
}

/// A finished t-SNE layout as a map.
pub fn tsne_map(
    coords: Array2<f32>,
    labels: Arc<Vec<u8>>,
    layer: Layer,
    seconds: f64,
    source: String,
) -> Map {
    Map {
        id: next_id(),
        layer,
        method: Method::Tsne,
        agreement: space::neighbour_agreement(coords.view(), &labels),
        explained: None,
        projection: None,
        coords,
        labels,
        seconds,
        source,
    }
}

/// The part of the plane worth showing: `[[x0, y0], [x1, y1]]` from the 0.2% to the
/// 99.8% point of each axis plus a 5% margin, so that a few far outliers do not
/// shrink everything else into a corner.
pub fn view_bounds(coords: ArrayView2<f32>) -> [[f32; 2]; 2] {
    let range = |col: usize| {
        let mut v: Vec<f32> = coords
            .column(col)
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .collect();
        if v.is_empty() {
            return [-1.0, 1.0];
        }
        let at = |q: f32| ((v.len() - 1) as f32 * q) as usize;
        let (lo, hi) = (at(0.002), at(0.998));
        let lo = *v.select_nth_unstable_by(lo, f32::total_cmp).1;
        let hi = *v.select_nth_unstable_by(hi, f32::total_cmp).1;
        let margin = ((hi - lo) * 0.05).max(1e-3);
        [lo - margin, hi + margin]
    };
    let (x, y) = (range(0), range(1));
    [[x[0], y[0]], [x[1], y[1]]]
}

/// The mean of each digit's rows of `x`: 10 x d (zeros for a digit with no rows).
pub fn class_means(x: ArrayView2<f32>, labels: &[u8]) -> Array2<f32> {
    let d = x.ncols();
    let mut sums = Array2::<f64>::zeros((crate::data::CLASSES, d));
    let mut counts = [0usize; crate::data::CLASSES];
    for (row, &l) in x.rows().into_iter().zip(labels) {
        let c = (l as usize).min(crate::data::CLASSES - 1);
        counts[c] += 1;
        sums.row_mut(c).zip_mut_with(&row, |s, &v| *s += v as f64);
    }
    Array2::from_shape_fn((crate::data::CLASSES, d), |(c, j)| {
        if counts[c] == 0 {
            0.0
        } else {
            (sums[[c, j]] / counts[c] as f64) as f32
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Mnist;
    use crate::model::{Arch, Params};

    #[test]
    fn a_pca_map_places_its_own_rows_where_they_are() {
        let data = Mnist::embedded().unwrap();
        let test = TestSet::new(&data.test);
        let p = Params::he_init(Arch::RECIPE, 5);
        let enc = space::encode(&p, test.pixels.view()).unwrap();
        let x = test.layer(&enc, Layer::Code);
        let map = pca_map(x, test.labels.clone(), Layer::Code, None, "t".into()).unwrap();
        assert_eq!(map.len(), 10_000);
        for i in [0, 17, 9_999] {
            let at = map.place(x.row(i), &[]).unwrap();
            for (a, got) in at.iter().enumerate() {
                let want = map.coords[[i, a]];
                assert!((got - want).abs() < 1e-3 * (1.0 + want.abs()), "{i} {a}");
            }
        }
        let e = map.explained.unwrap();
        assert!(e[0] >= e[1] && e[1] > 0.0 && e[0] + e[1] <= 1.0);
        let agreement = map.agreement.unwrap();
        assert!(agreement > 0.1 && agreement <= 1.0, "{agreement}");
        // Sign-aligned to flipped axes, the map flips.
        let flipped = map.projection.as_ref().unwrap().axes.mapv(|v| -v);
        let again = pca_map(
            x,
            test.labels.clone(),
            Layer::Code,
            Some(flipped.view()),
            "t".into(),
        )
        .unwrap();
        assert_eq!(again.coords[[3, 0]], -map.coords[[3, 0]]);
    }

    #[test]
    fn a_tsne_map_places_a_point_amid_its_neighbours() {
        let coords = Array2::from_shape_vec((3, 2), vec![0.0, 0.0, 2.0, 0.0, 9.0, 9.0]).unwrap();
        let map = tsne_map(
            coords,
            Arc::new(vec![1, 1, 2]),
            Layer::Code,
            0.0,
            "t".into(),
        );
        let near = |i| Neighbour {
            index: i,
            distance: 0.0,
        };
        let x = Array1::<f32>::zeros(150);
        assert_eq!(map.place(x.view(), &[near(0), near(1)]), Some([1.0, 0.0]));
        assert_eq!(map.place(x.view(), &[]), None);
        assert_eq!(map.agreement, Some(2.0 / 3.0));
    }

    #[test]
    fn view_bounds_leave_far_outliers_out() {
        let mut c = Array2::from_shape_fn((1000, 2), |(i, a)| (i % 100) as f32 + a as f32);
        c[[7, 0]] = 1e6;
        let [[x0, y0], [x1, y1]] = view_bounds(c.view());
        assert!(x0 < 0.0 && x1 > 99.0 && x1 < 200.0, "{x0} {x1}");
        assert!(y0 < 1.0 && y1 > 100.0 && y1 < 200.0, "{y0} {y1}");
    }

    #[test]
    fn class_means_average_each_digits_rows() {
        let x = Array2::from_shape_vec((3, 2), vec![1.0, 2.0, 3.0, 4.0, 10.0, 10.0]).unwrap();
        let m = class_means(x.view(), &[4, 4, 9]);
        assert_eq!(m.row(4).to_vec(), vec![2.0, 3.0]);
        assert_eq!(m.row(9).to_vec(), vec![10.0, 10.0]);
        assert_eq!(m.row(0).to_vec(), vec![0.0, 0.0]);
    }
}
