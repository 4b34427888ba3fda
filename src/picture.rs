//! Pictures of the model as RGBA rasters: digits, error maps, code heatmaps, feature
//! tiles. The app turns them into textures; `export` writes them as PNG.

use std::path::Path;

use crate::data::SIDE;
use crate::inspect::Reconstruction;

/// A raster could not be written as PNG.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {cause}")]
pub struct PngError {
    pub path: String,
    pub cause: image::ImageError,
}

/// An RGBA image, row-major, 4 bytes per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raster {
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<u8>,
}

pub type Rgba = [u8; 4];

pub const BACKGROUND: Rgba = [24, 24, 28, 255];

impl Raster {
    pub fn new(width: usize, height: usize, fill: Rgba) -> Self {
        Self {
            width,
            height,
            rgba: fill.repeat(width * height),
        }
    }

    /// A `w` x `h` raster from one colour per pixel.
    pub fn from_fn(w: usize, h: usize, f: impl Fn(usize, usize) -> Rgba) -> Self {
        let mut r = Self::new(w, h, BACKGROUND);
        for y in 0..h {
            for x in 0..w {
                r.put(x, y, f(x, y));
            }
        }
        r
    }

    pub fn put(&mut self, x: usize, y: usize, c: Rgba) {
        let i = 4 * (y * self.width + x);
        self.rgba[i..i + 4].copy_from_slice(&c);
    }

    /// Copies `src` with its top-left corner at (x, y), each pixel `scale` x `scale`.
    pub fn blit(&mut self, src: &Raster, x: usize, y: usize, scale: usize) {
        self.blit_scaled(src, x, y, scale, scale);
    }

    /// Copies `src` with each pixel `sx` wide and `sy` high.
    pub fn blit_scaled(
        &mut self,
        src: &Raster,
        x: usize,
        y: usize,
        scale_x: usize,
        scale_y: usize,
    ) {
        for sy in 0..src.height * scale_y {
            for sx in 0..src.width * scale_x {
                let i = 4 * ((sy / scale_y) * src.width + sx / scale_x);
                let (dx, dy) = (x + sx, y + sy);
                if dx < self.width && dy < self.height {
                    let c = [
                        src.rgba[i],
                        src.rgba[i + 1],
                        src.rgba[i + 2],
                        src.rgba[i + 3],
                    ];
                    self.put(dx, dy, c);
                }
            }
        }
    }

    /// This raster with each pixel `sx` wide and `sy` high.
    pub fn scaled(&self, sx: usize, sy: usize) -> Raster {
        let mut r = Raster::new(self.width * sx, self.height * sy, BACKGROUND);
        r.blit_scaled(self, 0, 0, sx, sy);
        r
    }

    pub fn save_png(&self, path: &Path) -> Result<(), PngError> {
        image::save_buffer(
            path,
            &self.rgba,
            self.width as u32,
            self.height as u32,
            image::ExtendedColorType::Rgba8,
        )
        .map_err(|cause| PngError {
            path: path.display().to_string(),
            cause,
        })
    }
}

/// `v` in [0, 1] as grey (values outside are clamped).
pub fn gray(v: f32) -> Rgba {
    let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    [g, g, g, 255]
}

fn lerp(a: Rgba, b: Rgba, t: f32) -> Rgba {
    let t = t.clamp(0.0, 1.0);
    let m = |i: usize| (a[i] as f32 + (b[i] as f32 - a[i] as f32) * t).round() as u8;
    [m(0), m(1), m(2), 255]
}

/// A blue-white-red map centred on zero, saturating at `scale`.
pub fn diverging(v: f32, scale: f32) -> Rgba {
    const NEG: Rgba = [33, 102, 172, 255];
    const MID: Rgba = [247, 247, 247, 255];
    const POS: Rgba = [178, 24, 43, 255];
    let t = if scale > 0.0 { v / scale } else { 0.0 };
    if t < 0.0 {
        lerp(MID, NEG, -t)
    } else {
        lerp(MID, POS, t)
    }
}

/// Black through red to yellow for an error in [0, 1].
pub fn heat(v: f32) -> Rgba {
    const STOPS: [Rgba; 4] = [
        [0, 0, 0, 255],
        [120, 20, 90, 255],
        [230, 80, 30, 255],
        [252, 230, 90, 255],
    ];
    let t = v.clamp(0.0, 1.0) * (STOPS.len() - 1) as f32;
    let i = (t as usize).min(STOPS.len() - 2);
    lerp(STOPS[i], STOPS[i + 1], t - i as f32)
}

/// A 28x28 image of pixels in [0, 1].
pub fn digit(pixels: &[f32]) -> Raster {
    Raster::from_fn(SIDE, SIDE, |x, y| gray(pixels[y * SIDE + x]))
}

/// |original - reconstruction| per pixel, as heat.
pub fn error_map(original: &[f32], reconstruction: &[f32]) -> Raster {
    Raster::from_fn(SIDE, SIDE, |x, y| {
        let i = y * SIDE + x;
        heat((original[i] - reconstruction[i]).abs())
    })
}

/// One 28x28 tile of weights, stretched to its own min..max for contrast.
pub fn feature_tile(w: &[f32]) -> Raster {
    let (lo, hi) = w
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    let range = (hi - lo).max(f32::EPSILON);
    Raster::from_fn(SIDE, SIDE, |x, y| gray((w[y * SIDE + x] - lo) / range))
}

/// All features as a grid of tiles, `columns` wide, 1 pixel apart.
pub fn feature_grid(features: &[Vec<f32>], columns: usize) -> Raster {
    let columns = columns.max(1);
    let rows = features.len().div_ceil(columns);
    let cell = SIDE + 1;
    let mut r = Raster::new(columns * cell + 1, rows * cell + 1, BACKGROUND);
    for (k, f) in features.iter().enumerate() {
        r.blit(
            &feature_tile(f),
            1 + (k % columns) * cell,
            1 + (k / columns) * cell,
            1,
        );
    }
    r
}

/// The scale of a heatmap's colours: the 98th percentile of |value| in `rows`, so that
/// a few large units do not wash out all the others (they saturate instead).
pub fn color_scale<'a>(rows: impl IntoIterator<Item = &'a [f32]>) -> f32 {
    let mut a: Vec<f32> = rows
        .into_iter()
        .flat_map(|r| r.iter().map(|v| v.abs()))
        .collect();
    if a.is_empty() {
        return 0.0;
    }
    let k = ((a.len() - 1) as f32 * 0.98) as usize;
    let (_, v, _) = a.select_nth_unstable_by(k, f32::total_cmp);
    *v
}

/// One row per vector, one pixel per unit, coloured by `diverging(_, scale)`.
pub fn heatmap(rows: &[&[f32]], scale: f32) -> Raster {
    let width = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    Raster::from_fn(width, rows.len(), |x, y| match rows[y].get(x) {
        Some(&v) => diverging(v, scale),
        None => BACKGROUND,
    })
}

/// The reconstruction grid: one row per image with the original, its reconstructions
/// through autoencoders 1..k for each k (phase 1's first, the full stack's last) and the
/// full stack's error map, each `scale`x.
pub fn reconstruction_grid(recons: &[Reconstruction], scale: usize) -> Raster {
    let cell = SIDE * scale;
    let gap = 2 * scale;
    let columns = recons.first().map_or(4, |r| r.through.len() + 2);
    let mut r = Raster::new(
        columns * cell + (columns + 1) * gap,
        recons.len() * (cell + gap) + gap,
        BACKGROUND,
    );
    for (k, rec) in recons.iter().enumerate() {
        let y = gap + k * (cell + gap);
        let tiles = std::iter::once(digit(&rec.original))
            .chain(rec.through.iter().map(|t| digit(t)))
            .chain(std::iter::once(error_map(&rec.original, rec.full())));
        for (i, t) in tiles.enumerate() {
            r.blit(&t, gap + i * (cell + gap), y, scale);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_maps_hit_their_ends() {
        assert_eq!(gray(0.0), [0, 0, 0, 255]);
        assert_eq!(gray(2.0), [255, 255, 255, 255]);
        assert_eq!(diverging(0.0, 1.0), [247, 247, 247, 255]);
        assert_eq!(diverging(-5.0, 1.0), [33, 102, 172, 255]);
        assert_eq!(diverging(1.0, 1.0), [178, 24, 43, 255]);
        assert_eq!(heat(0.0), [0, 0, 0, 255]);
        assert_eq!(heat(1.0), [252, 230, 90, 255]);
    }

    #[test]
    fn feature_tiles_use_the_full_grey_range() {
        let w: Vec<f32> = (0..784).map(|i| i as f32 * 0.001 - 0.2).collect();
        let t = feature_tile(&w);
        assert_eq!(&t.rgba[..4], &[0, 0, 0, 255]);
        assert_eq!(&t.rgba[t.rgba.len() - 4..], &[255, 255, 255, 255]);
        let g = feature_grid(&vec![w; 300], 20);
        assert_eq!((g.width, g.height), (20 * 29 + 1, 15 * 29 + 1));
    }

    #[test]
    fn color_scale_ignores_the_top_two_percent() {
        let mut v: Vec<f32> = (0..100).map(|i| i as f32 / 100.0).collect();
        v[99] = -50.0;
        assert_eq!(color_scale([v.as_slice()]), 0.97);
        assert_eq!(color_scale(std::iter::empty()), 0.0);
    }

    #[test]
    fn blit_scales_with_nearest_pixels() {
        let mut src = Raster::new(2, 1, [0, 0, 0, 255]);
        src.put(1, 0, [9, 9, 9, 255]);
        let mut dst = Raster::new(4, 2, BACKGROUND);
        dst.blit(&src, 0, 0, 2);
        assert_eq!(&dst.rgba[4 * 2..4 * 3], &[9, 9, 9, 255]);
        assert_eq!(&dst.rgba[4 * 5..4 * 6], &[0, 0, 0, 255]);
    }
}
