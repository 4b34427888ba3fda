//! The drawing pad's canvas: 112 x 112 intensities (four per MNIST pixel on each
//! side, so strokes are smooth before they are shrunk), painted with a round brush
//! with a soft edge, and turned into the 28 x 28 image the encoder sees: either
//! MNIST-style (`space::normalize_digit`: fitted into 20 x 20, centred by mass) or
//! as drawn (each 4 x 4 block averaged).

use ndarray::ArrayView2;

use crate::data::{PIXELS, SIDE};
use crate::space::normalize_digit;

/// Canvas pixels per MNIST pixel, on each side.
pub const SCALE: usize = 4;
/// The canvas side.
pub const CANVAS: usize = SIDE * SCALE;

#[derive(Debug, Clone)]
pub struct Pad {
    ink: Vec<f32>,
    /// Counts changes, so that the views know when to send the drawing again.
    revision: u64,
    empty: bool,
}

impl Default for Pad {
    fn default() -> Self {
        Self {
            ink: vec![0.0; CANVAS * CANVAS],
            revision: 0,
            empty: true,
        }
    }
}

impl Pad {
    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn is_empty(&self) -> bool {
        self.empty
    }

    /// The canvas, row-major, CANVAS x CANVAS.
    pub fn ink(&self) -> &[f32] {
        &self.ink
    }

    pub fn clear(&mut self) {
        self.ink.fill(0.0);
        self.empty = true;
        self.revision += 1;
    }

    /// Paints a stroke from `a` to `b` (canvas coordinates, in MNIST pixels: 0..28)
    /// with a brush of `radius` MNIST pixels.
    pub fn stroke(&mut self, a: [f32; 2], b: [f32; 2], radius: f32) {
        let s = SCALE as f32;
        let (a, b, r) = (
            [a[0] * s, a[1] * s],
            [b[0] * s, b[1] * s],
            radius.max(0.3) * s,
        );
        let (x0, x1) = (a[0].min(b[0]) - r - 1.0, a[0].max(b[0]) + r + 1.0);
        let (y0, y1) = (a[1].min(b[1]) - r - 1.0, a[1].max(b[1]) + r + 1.0);
        let clamp = |v: f32| (v.max(0.0) as usize).min(CANVAS);
        for y in clamp(y0)..clamp(y1) {
            for x in clamp(x0)..clamp(x1) {
                let p = [x as f32 + 0.5, y as f32 + 0.5];
                let d = distance_to_segment(p, a, b);
                // Full ink inside the radius, fading to none over 1.5 canvas pixels.
                let v = ((r + 0.75 - d) / 1.5).clamp(0.0, 1.0);
                let cell = &mut self.ink[y * CANVAS + x];
                *cell = cell.max(v);
            }
        }
        self.empty = false;
        self.revision += 1;
    }

    /// The 28 x 28 image for the encoder (row-major, 784 values in [0, 1]), or `None`
    /// for an empty pad.
    pub fn image(&self, mnist_style: bool) -> Option<Vec<f32>> {
        if self.empty {
            return None;
        }
        let canvas = ArrayView2::from_shape((CANVAS, CANVAS), &self.ink).ok()?;
        if mnist_style {
            return Some(normalize_digit(canvas).iter().copied().collect());
        }
        let mut out = vec![0.0; PIXELS];
        for (i, o) in out.iter_mut().enumerate() {
            let (r, c) = (i / SIDE * SCALE, i % SIDE * SCALE);
            let block = canvas.slice(ndarray::s![r..r + SCALE, c..c + SCALE]);
            *o = block.sum() / (SCALE * SCALE) as f32;
        }
        Some(out)
    }
}

fn distance_to_segment(p: [f32; 2], a: [f32; 2], b: [f32; 2]) -> f32 {
    let (abx, aby) = (b[0] - a[0], b[1] - a[1]);
    let len2 = abx * abx + aby * aby;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * abx + (p[1] - a[1]) * aby) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (dx, dy) = (p[0] - a[0] - t * abx, p[1] - a[1] - t * aby);
    (dx * dx + dy * dy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::normalize::centre_of_mass;

    /// A vertical bar drawn small in the top-left corner.
    fn corner_bar() -> Pad {
        let mut pad = Pad::default();
        pad.stroke([4.0, 2.0], [4.0, 9.0], 1.0);
        pad
    }

    #[test]
    fn a_stroke_inks_the_pixels_it_crosses_and_no_others() {
        let pad = corner_bar();
        let image = pad.image(false).unwrap();
        assert!(image[5 * SIDE + 4] > 0.9, "on the stroke");
        assert_eq!(image[20 * SIDE + 20], 0.0, "far from it");
        assert_eq!(image[5 * SIDE + 8], 0.0, "beyond the brush");
        assert!(Pad::default().image(false).is_none());
    }

    #[test]
    fn mnist_style_centres_the_digit_and_fits_it_in_20_pixels() {
        let image = corner_bar().image(true).unwrap();
        let view = ArrayView2::from_shape((SIDE, SIDE), &image).unwrap();
        let (r, c) = centre_of_mass(view).unwrap();
        assert!(
            (r - 14.0).abs() < 0.5 && (c - 14.0).abs() < 0.5,
            "({r}, {c})"
        );
        let rows: Vec<usize> = (0..SIDE)
            .filter(|&r| (0..SIDE).any(|c| image[r * SIDE + c] > 0.1))
            .collect();
        let height = rows.last().unwrap() - rows.first().unwrap() + 1;
        assert!((19..=21).contains(&height), "{height} rows of ink");
    }

    #[test]
    fn clearing_empties_the_pad_and_counts_as_a_change() {
        let mut pad = corner_bar();
        let before = pad.revision();
        pad.clear();
        assert!(pad.is_empty() && pad.revision() > before);
        assert!(pad.ink().iter().all(|&v| v == 0.0));
    }
}
