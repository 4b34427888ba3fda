//! The map's dots drawn into one raster on the CPU: redrawn only when the map, the view
//! or the colours change, and shown as one texture, so a frame that changes nothing
//! sends the GPU one quad, not 40,000 vertices (under software GL, re-sending a large
//! vertex buffer every frame stalls on the frame before it).

use egui::Color32;

/// A dot: its centre in pixels of the raster, and its colour (premultiplied alpha).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dot {
    pub at: [f32; 2],
    pub color: Color32,
}

/// Positions of a dot's centre within a pixel, on each axis: its stamp is drawn for
/// the nearest of these (a quarter pixel off at most, which nobody sees).
const SUBPIXEL: usize = 4;

/// A `width` x `height` raster, transparent where no dot is, each dot a disc of
/// `radius` pixels with an anti-aliased edge, composited in order ("over").
pub fn render(width: usize, height: usize, radius: f32, dots: &[Dot]) -> Vec<Color32> {
    let mut out = vec![[0u8; 4]; width * height];
    let stamps = Stamps::new(radius);
    let (side, reach) = (stamps.side as i64, stamps.reach);
    for d in dots {
        let (fx, fy) = (d.at[0].floor(), d.at[1].floor());
        let sub = |f: f32| ((f * SUBPIXEL as f32) as usize).min(SUBPIXEL - 1);
        let stamp = stamps.get(sub(d.at[0] - fx), sub(d.at[1] - fy));
        let (x0, y0) = (fx as i64 - reach, fy as i64 - reach);
        // The stamp's columns and rows that fall on the raster.
        let (c0, c1) = ((-x0).max(0), (width as i64 - x0).min(side));
        let (r0, r1) = ((-y0).max(0), (height as i64 - y0).min(side));
        if c0 >= c1 || r0 >= r1 {
            continue;
        }
        let color = d.color.to_array().map(u32::from);
        for r in r0..r1 {
            let row = (y0 + r) as usize * width;
            let pixels = &mut out[row + (x0 + c0) as usize..row + (x0 + c1) as usize];
            let cover = &stamp[(r * side + c0) as usize..(r * side + c1) as usize];
            for (px, &c) in pixels.iter_mut().zip(cover) {
                if c != 0 {
                    over(&color, c as u32, px);
                }
            }
        }
    }
    out.into_iter()
        .map(|[r, g, b, a]| Color32::from_rgba_premultiplied(r, g, b, a))
        .collect()
}

/// A dot's coverage of the pixels around it (0-255), for each subpixel position.
struct Stamps {
    reach: i64,
    side: usize,
    coverage: Vec<u8>,
}

impl Stamps {
    fn new(radius: f32) -> Self {
        // A pixel k columns away from the one holding the centre is at least k - 1/2
        // from it, and ink reaches radius + 1/2.
        let reach = radius.ceil().max(1.0) as i64;
        let side = (2 * reach + 1) as usize;
        let mut coverage = Vec::with_capacity(SUBPIXEL * SUBPIXEL * side * side);
        for sub_y in 0..SUBPIXEL {
            for sub_x in 0..SUBPIXEL {
                let centre = |sub: usize| reach as f32 + (sub as f32 + 0.5) / SUBPIXEL as f32;
                let (cx, cy) = (centre(sub_x), centre(sub_y));
                for k in 0..side * side {
                    let dx = (k % side) as f32 + 0.5 - cx;
                    let dy = (k / side) as f32 + 0.5 - cy;
                    let c = (radius + 0.5 - (dx * dx + dy * dy).sqrt()).clamp(0.0, 1.0);
                    coverage.push((c * 255.0).round() as u8);
                }
            }
        }
        Self {
            reach,
            side,
            coverage,
        }
    }

    fn get(&self, sub_x: usize, sub_y: usize) -> &[u8] {
        let n = self.side * self.side;
        let at = (sub_y * SUBPIXEL + sub_x) * n;
        &self.coverage[at..at + n]
    }
}

/// `color` (premultiplied RGBA, 0-255 each) at `coverage` (0-255) over `dst`
/// (premultiplied).
fn over(color: &[u32; 4], coverage: u32, dst: &mut [u8; 4]) {
    let src = color.map(|c| div255(c * coverage));
    let keep = 255 - src[3];
    for (d, s) in dst.iter_mut().zip(src) {
        *d = (s + div255(*d as u32 * keep)).min(255) as u8;
    }
}

/// `x / 255`, rounded, for `x` up to 255 * 255, without a division (this runs for
/// every pixel of every dot).
fn div255(x: u32) -> u32 {
    (x + 128 + ((x + 128) >> 8)) >> 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dot_covers_its_disc_and_the_later_dot_lies_on_top() {
        let red = Color32::from_rgb(200, 0, 0);
        let blue = Color32::from_rgb(0, 0, 200);
        let dots = [
            Dot {
                at: [5.0, 5.0],
                color: red,
            },
            Dot {
                at: [7.0, 5.0],
                color: blue,
            },
            // Off the raster: drawn where it reaches, no panic.
            Dot {
                at: [-1.0, 9.5],
                color: red,
            },
        ];
        let r = render(10, 10, 2.0, &dots);
        let at = |x: usize, y: usize| r[y * 10 + x];
        assert_eq!(at(4, 4), red, "inside the first dot only");
        assert_eq!(at(6, 4), blue, "the second dot covers the first");
        assert_eq!(at(0, 0), Color32::TRANSPARENT);
        assert_eq!(at(0, 9), red);
        // The edge is anti-aliased: partly covered, partly transparent.
        let edge = at(5, 7);
        assert!(edge.a() > 0 && edge.a() < 255, "{edge:?}");
    }

    #[test]
    fn div255_rounds_like_a_division() {
        for x in 0..=255 * 255 {
            assert_eq!(div255(x), (x + 127) / 255, "{x}");
        }
    }

    #[test]
    fn over_keeps_what_a_translucent_dot_lets_through() {
        let half_red = Color32::from_rgb(200, 0, 0).gamma_multiply(0.5).to_array();
        let mut mixed = Color32::from_rgb(0, 0, 200).to_array();
        over(&half_red.map(u32::from), 255, &mut mixed);
        assert_eq!(mixed[3], 255);
        assert!((mixed[0] as i32 - 100).abs() <= 1 && (mixed[2] as i32 - 100).abs() <= 1);
    }
}
