//! MNIST's preprocessing, for digits drawn by hand: the NIST digits were scaled, with
//! anti-aliasing, to fit a 20 x 20 box (aspect ratio kept), then placed in a 28 x 28
//! image with their centre of mass at its centre. A digit drawn in a corner, small or
//! large, has to look like that before the encoder sees it.
//!
//! Coordinates: pixel (r, c) covers the square [r, r + 1) x [c, c + 1), so its centre
//! is (r + 0.5, c + 0.5) and the centre of the 28 x 28 image is (14, 14).

use ndarray::{Array2, ArrayView2, s};

use crate::data::SIDE;
use crate::model::linalg::matmul_serial;

/// The side of the box the digit's larger side is scaled to.
pub const BOX: f64 = 20.0;
/// A pixel is ink when brighter than this: the faint anti-aliased fringe of a stroke
/// does not widen the bounding box.
pub const INK: f32 = 0.1;

/// Normalises a hand-drawn digit (intensities in [0, 1]; any size, though MNIST-like
/// canvases are square and at least 28 wide) the way MNIST's digits were: crops it to
/// the bounding box of its ink, scales that box so its larger side is 20 pixels, and
/// places it in a 28 x 28 image with its centre of mass at (14, 14).
///
/// Scaling and placement are one area-averaging resample (every output pixel is the
/// mean of the canvas over the square it covers), so the shift is subpixel, not
/// rounded to whole pixels, and edges come out anti-aliased as MNIST's do. Values are
/// clipped to [0, 1] (NaN counts as no ink); what falls outside the 28 x 28 frame (a
/// digit whose mass sits at one end of its box) is cut off, as it was in MNIST. A
/// canvas without ink gives all zeros.
pub fn normalize_digit(canvas: ArrayView2<f32>) -> Array2<f32> {
    let Some(ink) = ink_box(canvas) else {
        return Array2::zeros((SIDE, SIDE));
    };
    let content = canvas.slice(s![ink.rows.0..ink.rows.1, ink.cols.0..ink.cols.1]);
    let content = content.mapv(clip);
    let (h, w) = content.dim();
    let scale = BOX / h.max(w) as f64;
    let Some((com_r, com_c)) = centre_of_mass(content.view()) else {
        return Array2::zeros((SIDE, SIDE));
    };
    let rows = resample_weights(h, com_r, scale);
    let cols = resample_weights(w, com_c, scale);
    let mut tmp = Array2::zeros((SIDE, w));
    matmul_serial(tmp.view_mut(), rows.view(), content.view(), false);
    let mut out = Array2::zeros((SIDE, SIDE));
    matmul_serial(out.view_mut(), tmp.view(), cols.t(), false);
    out.mapv_inplace(clip);
    out
}

/// The centre of mass (row, column) of an image, in the pixel-square coordinates of
/// this module; `None` when it has no mass.
pub fn centre_of_mass(image: ArrayView2<f32>) -> Option<(f64, f64)> {
    let (mut mass, mut r_sum, mut c_sum) = (0f64, 0f64, 0f64);
    for ((r, c), &v) in image.indexed_iter() {
        let v = v as f64;
        mass += v;
        r_sum += (r as f64 + 0.5) * v;
        c_sum += (c as f64 + 0.5) * v;
    }
    (mass > 0.0).then(|| (r_sum / mass, c_sum / mass))
}

/// The half-open row and column ranges of the ink.
struct InkBox {
    rows: (usize, usize),
    cols: (usize, usize),
}

fn ink_box(canvas: ArrayView2<f32>) -> Option<InkBox> {
    let (mut r0, mut r1, mut c0, mut c1) = (usize::MAX, 0, usize::MAX, 0);
    for ((r, c), &v) in canvas.indexed_iter() {
        if clip(v) > INK {
            (r0, r1) = (r0.min(r), r1.max(r + 1));
            (c0, c1) = (c0.min(c), c1.max(c + 1));
        }
    }
    (r0 < r1).then_some(InkBox {
        rows: (r0, r1),
        cols: (c0, c1),
    })
}

/// The `SIDE x len` area-averaging weights along one axis: output pixel t covers the
/// source interval `[(t - 14) / scale + com, (t + 1 - 14) / scale + com)`, so the
/// centre of mass `com` lands on 14; its weight on source pixel i is the overlap of
/// that interval with `[i, i + 1)`, over the interval's length.
///
/// Everything is relative to the ink box, so a digit drawn at two places gives the
/// same bits.
fn resample_weights(len: usize, com: f64, scale: f64) -> Array2<f32> {
    let centre = SIDE as f64 / 2.0;
    let mut w = Array2::zeros((SIDE, len));
    for (t, mut row) in w.rows_mut().into_iter().enumerate() {
        let lo = (t as f64 - centre) / scale + com;
        let hi = (t as f64 + 1.0 - centre) / scale + com;
        let first = lo.floor().max(0.0) as usize;
        let end = (hi.ceil().max(0.0) as usize).min(len);
        for i in first..end {
            let overlap = hi.min(i as f64 + 1.0) - lo.max(i as f64);
            if overlap > 0.0 {
                row[i] = (overlap * scale) as f32;
            }
        }
    }
    w
}

/// Into [0, 1]; NaN becomes 0.
fn clip(v: f32) -> f32 {
    if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows (or columns, on the transpose) holding ink, as a half-open range.
    fn extent(img: ArrayView2<f32>) -> (usize, usize) {
        let inked: Vec<usize> = img
            .rows()
            .into_iter()
            .enumerate()
            .filter(|(_, r)| r.iter().any(|&v| v > 0.01))
            .map(|(i, _)| i)
            .collect();
        (inked[0], inked[inked.len() - 1] + 1)
    }

    /// Within 0.05 px of (14, 14): the subpixel placement does far better than the
    /// 0.5 px that a shift by whole pixels could promise.
    fn assert_centred(img: ArrayView2<f32>) {
        let (r, c) = centre_of_mass(img).unwrap();
        assert!(
            (r - 14.0).abs() < 0.05 && (c - 14.0).abs() < 0.05,
            "({r}, {c})"
        );
    }

    #[test]
    fn an_off_centre_bar_becomes_20_pixels_tall_and_centred() {
        // A 10 x 2 vertical bar in the top-left corner of a 28 x 28 canvas: scaled by 2
        // to 20 x 4, and placed around (14, 14) it covers rows 4..24, columns 12..16.
        let mut canvas = Array2::zeros((28, 28));
        canvas.slice_mut(s![2..12, 3..5]).fill(1.0);
        let out = normalize_digit(canvas.view());
        assert_eq!(out.dim(), (28, 28));
        assert_eq!(extent(out.view()), (4, 24));
        assert_eq!(extent(out.t()), (12, 16));
        assert!(out.slice(s![4..24, 12..16]).iter().all(|&v| v == 1.0));
        assert_eq!(out.sum(), 80.0);
        assert_centred(out.view());
    }

    #[test]
    fn a_large_asymmetric_stroke_is_scaled_down_and_centred_by_mass() {
        // An "L" on a 200 x 200 canvas, 120 tall and 60 wide: 20 x 10 once scaled. Its
        // mass sits low and left, so its box is not centred but its mass is.
        let mut canvas = Array2::zeros((200, 200));
        canvas.slice_mut(s![50..170, 120..132]).fill(0.9);
        canvas.slice_mut(s![158..170, 120..180]).fill(0.9);
        let out = normalize_digit(canvas.view());
        let (top, bottom) = extent(out.view());
        assert!((20..=21).contains(&(bottom - top)), "{top}..{bottom}");
        let (left, right) = extent(out.t());
        assert!((10..=11).contains(&(right - left)), "{left}..{right}");
        assert_centred(out.view());
        assert!(
            top < 14 - 10,
            "the mass is low, so the box starts high: {top}"
        );
        // Area averaging keeps the ink: the canvas' mass times the squared scale.
        let want = canvas.sum() as f64 * (20.0f64 / 120.0).powi(2);
        assert!((out.sum() as f64 - want).abs() < 1e-3 * want);
        assert!(out.iter().all(|&v| (0.0..=1.0).contains(&v)));
    }

    #[test]
    fn the_same_blob_drawn_at_two_places_gives_the_same_image() {
        let blob = |r0: usize, c0: usize| {
            let mut canvas = Array2::zeros((64, 64));
            for r in 0..17 {
                for c in 0..11 {
                    let v = ((r * 7 + c * 3) % 10) as f32 / 9.0;
                    canvas[[r0 + r, c0 + c]] = v;
                }
            }
            canvas
        };
        let a = normalize_digit(blob(3, 40).view());
        let b = normalize_digit(blob(45, 2).view());
        assert_eq!(a, b);
        assert!(a.sum() > 10.0);
        assert_centred(a.view());
    }

    #[test]
    fn an_empty_canvas_gives_an_empty_image() {
        for canvas in [
            Array2::zeros((28, 28)),
            Array2::from_elem((40, 40), 0.05), // below the ink threshold
            Array2::from_elem((30, 30), f32::NAN),
            Array2::zeros((0, 0)),
        ] {
            assert_eq!(
                normalize_digit(canvas.view()),
                Array2::<f32>::zeros((28, 28))
            );
        }
    }

    #[test]
    fn a_single_dot_becomes_a_centred_square() {
        let mut canvas = Array2::zeros((28, 28));
        canvas[[27, 0]] = 1.0;
        let out = normalize_digit(canvas.view());
        assert!(out.slice(s![4..24, 4..24]).iter().all(|&v| v == 1.0));
        assert_eq!(out.sum(), 400.0);
    }
}
