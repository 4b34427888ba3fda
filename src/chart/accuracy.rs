//! Test accuracy against the number of labels, as the Experiments view shows it: a log
//! axis of labels, a line per arm through the means over seeds, error bars of one
//! standard deviation, a legend.

use super::{MARGIN, PLOT_BACKGROUND, TEXT, TEXT_COLOR, WEAK_TEXT, blend, fill};
use crate::glyphs;
use crate::picture::{BACKGROUND, Raster, Rgba};
use crate::train::classify::Arm;
use crate::train::experiment::Summary;

/// Each arm's colour, distinct from the phases' orange and blue; the app and the files
/// use the same. A match, so that a new arm cannot compile without one.
pub fn arm_color(arm: Arm) -> Rgba {
    match arm {
        Arm::Scratch => [150, 150, 150, 255],
        Arm::Frozen => [90, 170, 110, 255],
        Arm::FineTuned => [205, 90, 160, 255],
        Arm::Unfreeze => [230, 190, 60, 255],
    }
}

const PLOT_WIDTH: usize = 720;
const PLOT_HEIGHT: usize = 420;
const AXIS_WIDTH: usize = 70;
const LEGEND_WIDTH: usize = 160;
const GRID: Rgba = [60, 60, 68, 255];

/// Where the data lands in the plot: log10(labels) across, accuracy up.
struct Frame {
    left: f32,
    top: f32,
    x: (f64, f64),
    y: (f64, f64),
}

impl Frame {
    fn new(summary: &[Summary], left: usize, top: usize) -> Self {
        let logs = summary.iter().map(|s| (s.labels.max(1) as f64).log10());
        let (x0, x1) = logs.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
        let lows = summary.iter().map(|s| s.mean - s.sd);
        let highs = summary.iter().map(|s| s.mean + s.sd);
        let y0 = lows.fold(f64::MAX, f64::min);
        let y1 = highs.fold(f64::MIN, f64::max);
        let (x0, x1) = if x0 < x1 {
            (x0 - 0.2, x1 + 0.2)
        } else {
            (x0 - 1.0, x0 + 1.0)
        };
        let pad = ((y1 - y0) * 0.08).max(0.01);
        Self {
            left: left as f32,
            top: top as f32,
            x: (x0, x1),
            y: ((y0 - pad).max(0.0), (y1 + pad).min(1.0)),
        }
    }

    fn at(&self, log_labels: f64, accuracy: f64) -> (f32, f32) {
        let fx = (log_labels - self.x.0) / (self.x.1 - self.x.0);
        let fy = (accuracy - self.y.0) / (self.y.1 - self.y.0).max(1e-9);
        (
            self.left + (fx * PLOT_WIDTH as f64) as f32,
            self.top + ((1.0 - fy) * PLOT_HEIGHT as f64) as f32,
        )
    }

    fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.left
            && y >= self.top
            && x < self.left + PLOT_WIDTH as f32
            && y < self.top + PLOT_HEIGHT as f32
    }
}

/// The chart of `summary` (as `experiment::summarize` gives it), with `title` above.
pub fn accuracy_chart(summary: &[Summary], title: &str) -> Raster {
    let line = glyphs::HEIGHT * TEXT;
    let (left, top) = (MARGIN + AXIS_WIDTH, MARGIN + line + MARGIN);
    let width = left + PLOT_WIDTH + MARGIN + LEGEND_WIDTH;
    let height = top + PLOT_HEIGHT + MARGIN + 2 * line + MARGIN;
    let mut r = Raster::new(width, height, BACKGROUND);
    glyphs::draw_text(&mut r, title, MARGIN, MARGIN, TEXT, TEXT_COLOR);
    fill(&mut r, left, top, PLOT_WIDTH, PLOT_HEIGHT, PLOT_BACKGROUND);
    if summary.is_empty() {
        return r;
    }
    let f = Frame::new(summary, left, top);
    axes(&mut r, &f);
    let pairs = Arm::ALL.into_iter().enumerate();
    for ((k, arm), against) in pairs.flat_map(|a| [(a, false), (a, true)]) {
        let nudge = (k as f64 - 1.5) * 0.02 + if against { 0.01 } else { 0.0 };
        let color = match against {
            true => paler(arm_color(arm)),
            false => arm_color(arm),
        };
        let rows: Vec<&Summary> = (summary.iter())
            .filter(|s| (s.arm, s.against) == (arm, against))
            .collect();
        let points: Vec<(f32, f32)> = rows
            .iter()
            .map(|s| f.at((s.labels as f64).log10() + nudge, s.mean))
            .collect();
        for pair in points.windows(2) {
            segment(&mut r, &f, pair[0], pair[1], color, 2.0);
        }
        for (s, &p) in rows.iter().zip(&points) {
            let x = (s.labels as f64).log10() + nudge;
            segment(
                &mut r,
                &f,
                f.at(x, s.mean - s.sd),
                f.at(x, s.mean + s.sd),
                color,
                1.2,
            );
            segment(&mut r, &f, p, p, color, 4.0);
        }
    }
    let compared = summary.iter().any(|s| s.against);
    legend(&mut r, left + PLOT_WIDTH + MARGIN, top, compared);
    r
}

/// Encoder B's shade of an arm's colour (`Sweep::against`).
pub fn paler(c: Rgba) -> Rgba {
    let [r, g, b, a] = c.map(|v| v as f32);
    let up = |v: f32| (v + (255.0 - v) * 0.5).round() as u8;
    [up(r), up(g), up(b), a as u8]
}

/// Grid lines and labels: a power of ten of labels per vertical line, accuracy in
/// steps of 0.05 or 0.1.
fn axes(r: &mut Raster, f: &Frame) {
    for e in f.x.0.ceil() as i32..=f.x.1.floor() as i32 {
        let (x, _) = f.at(e as f64, f.y.0);
        fill(r, x as usize, f.top as usize, 1, PLOT_HEIGHT, GRID);
        let text = thousands(10usize.pow(e.max(0) as u32));
        let w = glyphs::text_width(&text, TEXT);
        let below = f.top as usize + PLOT_HEIGHT + 6;
        glyphs::draw_text(
            r,
            &text,
            (x as usize).saturating_sub(w / 2),
            below,
            TEXT,
            WEAK_TEXT,
        );
    }
    let step = if f.y.1 - f.y.0 > 0.3 { 0.1 } else { 0.05 };
    let mut v = (f.y.0 / step).ceil() * step;
    while v <= f.y.1 + 1e-9 {
        let (_, y) = f.at(f.x.0, v);
        fill(r, f.left as usize, y as usize, PLOT_WIDTH, 1, GRID);
        let text = format!("{v:.2}");
        let x = (f.left as usize).saturating_sub(glyphs::text_width(&text, TEXT) + 8);
        glyphs::draw_text(r, &text, x, (y as usize).saturating_sub(7), TEXT, WEAK_TEXT);
        v += step;
    }
    let note = "LABELLED TRAINING IMAGES (LOG) / TEST ACCURACY, MEAN AND SD OVER SEEDS";
    let y = f.top as usize + PLOT_HEIGHT + 6 + glyphs::HEIGHT * TEXT + 8;
    glyphs::draw_text(r, note, f.left as usize, y, TEXT, WEAK_TEXT);
}

/// A line from `a` to `b`, `width` pixels thick, drawn as overlapping round stamps
/// (a point when `a == b`), clipped to the plot.
fn segment(r: &mut Raster, f: &Frame, a: (f32, f32), b: (f32, f32), c: Rgba, width: f32) {
    let length = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
    let steps = (length * 2.0).ceil().max(1.0) as usize;
    let radius = width / 2.0;
    for k in 0..=steps {
        let t = k as f32 / steps as f32;
        let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
        let reach = radius.ceil() as i64 + 1;
        for py in y as i64 - reach..=y as i64 + reach {
            for px in x as i64 - reach..=x as i64 + reach {
                let (dx, dy) = (px as f32 + 0.5 - x, py as f32 + 0.5 - y);
                let coverage = (radius + 0.5 - (dx * dx + dy * dy).sqrt()).clamp(0.0, 1.0);
                if coverage > 0.0 && f.contains(px as f32, py as f32) {
                    blend(r, px as usize, py as usize, c, coverage);
                }
            }
        }
    }
}

fn legend(r: &mut Raster, x: usize, y: usize, compared: bool) {
    let line = glyphs::HEIGHT * TEXT;
    for (k, arm) in Arm::ALL.into_iter().enumerate() {
        let top = y + k * (line + 12);
        fill(r, x, top, line, line, arm_color(arm));
        if compared && arm.pretrained() {
            fill(
                r,
                x + line / 2,
                top,
                line - line / 2,
                line,
                paler(arm_color(arm)),
            );
        }
        glyphs::draw_text(r, arm.name(), x + line + 10, top, TEXT, TEXT_COLOR);
    }
    if compared {
        let top = y + Arm::ALL.len() * (line + 12) + 12;
        glyphs::draw_text(r, "PALER: B", x, top, TEXT, WEAK_TEXT);
    }
}

/// `12345` as `12,345`.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(labels: usize, arm: Arm, mean: f64) -> Summary {
        Summary {
            labels,
            arm,
            runs: 3,
            mean,
            sd: 0.01,
            vs_scratch: None,
            against: false,
            vs_first: None,
        }
    }

    #[test]
    fn each_arm_is_drawn_in_its_colour_higher_where_it_is_more_accurate() {
        let summary = [
            row(100, Arm::Scratch, 0.70),
            row(10_000, Arm::Scratch, 0.95),
            row(100, Arm::Frozen, 0.72),
            row(10_000, Arm::Frozen, 0.91),
        ];
        let r = accuracy_chart(&summary, "TITLE");
        assert_eq!(
            r.width,
            MARGIN + AXIS_WIDTH + PLOT_WIDTH + MARGIN + LEGEND_WIDTH
        );
        // Rows where the scratch colour appears, inside the plot.
        let rows_of = |c: Rgba| -> Vec<usize> {
            let left = MARGIN + AXIS_WIDTH;
            (0..r.height)
                .filter(|&y| {
                    (left..left + PLOT_WIDTH).any(|x| {
                        let i = 4 * (y * r.width + x);
                        r.rgba[i..i + 4] == c
                    })
                })
                .collect()
        };
        let scratch = rows_of(arm_color(Arm::Scratch));
        let frozen = rows_of(arm_color(Arm::Frozen));
        assert!(!scratch.is_empty() && !frozen.is_empty());
        // At 10,000 labels scratch (0.95) is above frozen (0.91): its topmost pixel
        // lies higher in the picture.
        assert!(scratch[0] < frozen[0], "{} vs {}", scratch[0], frozen[0]);
        assert_eq!(accuracy_chart(&[], "EMPTY").width, r.width);
        assert!(rows_of(paler(arm_color(Arm::Frozen))).is_empty());

        // A second encoder's frozen row, lower: drawn in the paler shade, below A's.
        let b = Summary {
            against: true,
            ..row(10_000, Arm::Frozen, 0.80)
        };
        let r2 = accuracy_chart(&[&summary[..], &[b]].concat(), "TITLE");
        let rows_of = |c: Rgba| -> Vec<usize> {
            let left = MARGIN + AXIS_WIDTH;
            (0..r2.height)
                .filter(|&y| {
                    (left..left + PLOT_WIDTH).any(|x| r2.rgba[4 * (y * r2.width + x)..][..4] == c)
                })
                .collect()
        };
        let (a, b) = (
            rows_of(arm_color(Arm::Frozen)),
            rows_of(paler(arm_color(Arm::Frozen))),
        );
        assert!(!b.is_empty() && b[0] > a[0], "{} vs {}", b[0], a[0]);
    }
}
