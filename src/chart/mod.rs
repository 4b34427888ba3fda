//! Charts as RGBA rasters, for files: a map of the test set coloured by digit with a
//! legend, the walks between two images, and (`accuracy`) test accuracy against the
//! number of labels per arm. Text comes from a tiny built-in bitmap font (`glyphs`), so
//! no font file is needed.

mod accuracy;

pub use accuracy::{accuracy_chart, arm_color, thousands};

use ndarray::ArrayView2;

use crate::data::SIDE;
use crate::explore::maps::view_bounds;
use crate::glyphs;
use crate::picture::{self, BACKGROUND, Raster, Rgba};

/// One colour per digit (Tableau 10, the grey darkened to read on white too); the app
/// and the files use the same.
pub const DIGIT_COLORS: [Rgba; 10] = [
    [78, 121, 167, 255],
    [242, 142, 43, 255],
    [225, 87, 89, 255],
    [118, 183, 178, 255],
    [89, 161, 79, 255],
    [237, 201, 72, 255],
    [176, 122, 161, 255],
    [255, 157, 167, 255],
    [156, 117, 95, 255],
    [160, 160, 160, 255],
];

/// Side of the map's plot area, in pixels.
pub const MAP_SIDE: usize = 640;
/// Font scale of the titles and the legend.
pub(crate) const TEXT: usize = 2;
pub(crate) const MARGIN: usize = 16;
const LEGEND_WIDTH: usize = 80;
const DOT_RADIUS: f32 = 1.8;
pub(crate) const PLOT_BACKGROUND: Rgba = [34, 34, 40, 255];
pub(crate) const TEXT_COLOR: Rgba = [225, 225, 225, 255];
pub(crate) const WEAK_TEXT: Rgba = [150, 150, 150, 255];

/// A map of the test set (`coords`, n x 2, each point's digit in `labels`) coloured by
/// digit, with a title above, a note below and a legend at the right (the picture
/// widens for a long title). The plot keeps one scale on both axes.
pub fn code_map(coords: ArrayView2<f32>, labels: &[u8], title: &str, note: &str) -> Raster {
    let line = glyphs::HEIGHT * TEXT;
    let plot_top = MARGIN + line + MARGIN;
    let text = glyphs::text_width(title, TEXT).max(glyphs::text_width(note, TEXT));
    let width = (MARGIN + MAP_SIDE + MARGIN + LEGEND_WIDTH).max(MARGIN + text + MARGIN);
    let height = plot_top + MAP_SIDE + MARGIN + line + MARGIN;
    let mut r = Raster::new(width, height, BACKGROUND);
    glyphs::draw_text(&mut r, title, MARGIN, MARGIN, TEXT, TEXT_COLOR);
    glyphs::draw_text(
        &mut r,
        note,
        MARGIN,
        plot_top + MAP_SIDE + MARGIN,
        TEXT,
        WEAK_TEXT,
    );
    fill(
        &mut r,
        MARGIN,
        plot_top,
        MAP_SIDE,
        MAP_SIDE,
        PLOT_BACKGROUND,
    );
    let to_pixel = plot_transform(coords, MARGIN as f32, plot_top as f32);
    for (row, &label) in coords.rows().into_iter().zip(labels) {
        let (x, y) = to_pixel(row[0], row[1]);
        let color = DIGIT_COLORS[(label as usize).min(9)];
        dot(&mut r, x, y, color, (MARGIN, plot_top, MAP_SIDE));
    }
    legend(&mut r, MARGIN + MAP_SIDE + MARGIN, plot_top);
    r
}

/// Data coordinates to pixels of the square plot at (left, top): the view bounds of
/// the data, widened to one scale on both axes, fill the square; y points up.
fn plot_transform(coords: ArrayView2<f32>, left: f32, top: f32) -> impl Fn(f32, f32) -> (f32, f32) {
    let [[x0, y0], [x1, y1]] = view_bounds(coords);
    let span = (x1 - x0).max(y1 - y0).max(1e-6);
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let side = MAP_SIDE as f32;
    move |x, y| {
        (
            left + ((x - cx) / span + 0.5) * side,
            top + (0.5 - (y - cy) / span) * side,
        )
    }
}

/// A small round dot, blended over what is there, clipped to the square `clip`
/// (left, top, side).
fn dot(r: &mut Raster, x: f32, y: f32, color: Rgba, clip: (usize, usize, usize)) {
    let (left, top, side) = (clip.0 as f32, clip.1 as f32, clip.2 as f32);
    if !(x >= left && x < left + side && y >= top && y < top + side) {
        return;
    }
    let reach = DOT_RADIUS.ceil() as i64 + 1;
    let (cx, cy) = (x.floor() as i64, y.floor() as i64);
    for py in cy - reach..=cy + reach {
        for px in cx - reach..=cx + reach {
            let (fx, fy) = (px as f32 + 0.5 - x, py as f32 + 0.5 - y);
            let coverage = (DOT_RADIUS + 0.5 - (fx * fx + fy * fy).sqrt()).clamp(0.0, 1.0);
            let inside = px as f32 >= left && (px as f32) < left + side;
            if coverage > 0.0 && inside && py as f32 >= top && (py as f32) < top + side {
                blend(r, px as usize, py as usize, color, 0.85 * coverage);
            }
        }
    }
}

pub(crate) fn blend(r: &mut Raster, x: usize, y: usize, c: Rgba, alpha: f32) {
    let i = 4 * (y * r.width + x);
    for (under, &over) in r.rgba[i..i + 3].iter_mut().zip(&c) {
        let u = *under as f32;
        *under = (u + (over as f32 - u) * alpha).round() as u8;
    }
}

pub(crate) fn fill(r: &mut Raster, x: usize, y: usize, w: usize, h: usize, c: Rgba) {
    for py in y..(y + h).min(r.height) {
        for px in x..(x + w).min(r.width) {
            r.put(px, py, c);
        }
    }
}

/// A swatch and the digit for each of 0-9, top down.
fn legend(r: &mut Raster, x: usize, y: usize) {
    let line = glyphs::HEIGHT * TEXT;
    let step = line + 12;
    for (d, &c) in DIGIT_COLORS.iter().enumerate() {
        let top = y + d * step;
        fill(r, x, top, line, line, c);
        glyphs::draw_text(r, &d.to_string(), x + line + 10, top, TEXT, TEXT_COLOR);
    }
}

/// The three walks as rows of digits, each labelled at the left: `rows` pairs a name
/// with a matrix of images (one per row of 784 pixels), shown `scale` times.
pub fn walk_strips(rows: &[(&str, ArrayView2<f32>)], scale: usize) -> Raster {
    let cell = SIDE * scale;
    let gap = 2 * scale;
    let label_width = rows
        .iter()
        .map(|(name, _)| glyphs::text_width(name, TEXT))
        .max()
        .unwrap_or(0)
        + MARGIN;
    let steps = rows.iter().map(|(_, m)| m.nrows()).max().unwrap_or(0);
    let width = MARGIN + label_width + steps * (cell + gap) + MARGIN - gap.min(steps * gap);
    let height = MARGIN + rows.len() * (cell + gap) + MARGIN - gap.min(rows.len() * gap);
    let mut r = Raster::new(width, height, BACKGROUND);
    for (k, (name, images)) in rows.iter().enumerate() {
        let top = MARGIN + k * (cell + gap);
        let text_top = top + (cell - glyphs::HEIGHT * TEXT) / 2;
        glyphs::draw_text(&mut r, name, MARGIN, text_top, TEXT, TEXT_COLOR);
        for (j, image) in images.rows().into_iter().enumerate() {
            let pixels: Vec<f32> = image.iter().copied().collect();
            let x = MARGIN + label_width + j * (cell + gap);
            r.blit(&picture::digit(&pixels), x, top, scale);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn pixel(r: &Raster, x: usize, y: usize) -> Rgba {
        let i = 4 * (y * r.width + x);
        [r.rgba[i], r.rgba[i + 1], r.rgba[i + 2], r.rgba[i + 3]]
    }

    #[test]
    fn a_map_puts_each_digit_in_its_colour_where_it_lies() {
        // Two clusters: 0s at the left, 7s at the right.
        let coords = Array2::from_shape_fn((200, 2), |(i, a)| match (i < 100, a) {
            (true, 0) => -10.0 + (i % 10) as f32 * 0.1,
            (false, 0) => 10.0 + (i % 10) as f32 * 0.1,
            _ => (i % 7) as f32 * 0.1,
        });
        let labels: Vec<u8> = (0..200).map(|i| if i < 100 { 0 } else { 7 }).collect();
        let r = code_map(coords.view(), &labels, "TITLE", "NOTE");
        assert_eq!(r.width, MARGIN + MAP_SIDE + MARGIN + LEGEND_WIDTH);
        let has = |c: Rgba, xs: std::ops::Range<usize>| {
            (0..r.height).any(|y| xs.clone().any(|x| pixel(&r, x, y) == c))
        };
        let half = MARGIN + MAP_SIDE / 2;
        let blue = blended(DIGIT_COLORS[0]);
        let pink = blended(DIGIT_COLORS[7]);
        assert!(has(blue, MARGIN..half) && !has(blue, half..MARGIN + MAP_SIDE));
        assert!(has(pink, half..MARGIN + MAP_SIDE) && !has(pink, MARGIN..half));
        // The legend's swatch of each digit is there, unblended.
        let legend = MARGIN + MAP_SIDE + MARGIN..r.width;
        for c in DIGIT_COLORS {
            assert!(has(c, legend.clone()));
        }
    }

    /// A dot's full-coverage colour over the plot's background.
    fn blended(c: Rgba) -> Rgba {
        let mut r = Raster::new(1, 1, PLOT_BACKGROUND);
        blend(&mut r, 0, 0, c, 0.85);
        pixel(&r, 0, 0)
    }

    #[test]
    fn walk_strips_have_one_row_of_images_per_walk() {
        let ones = Array2::<f32>::ones((10, 784));
        let zeros = Array2::<f32>::zeros((10, 784));
        let r = walk_strips(&[("CODE", ones.view()), ("PIXELS", zeros.view())], 2);
        let label_width = glyphs::text_width("PIXELS", TEXT) + MARGIN;
        assert_eq!(r.width, MARGIN + label_width + 10 * (56 + 4) - 4 + MARGIN);
        assert_eq!(r.height, MARGIN + 2 * (56 + 4) - 4 + MARGIN);
        let x = MARGIN + label_width + 5;
        assert_eq!(pixel(&r, x, MARGIN + 5), [255, 255, 255, 255]);
        assert_eq!(pixel(&r, x, MARGIN + 60 + 5), [0, 0, 0, 255]);
    }
}
