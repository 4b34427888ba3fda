//! The map's points: 10,000 round dots drawn into one texture (`dots`), redrawn only
//! when the map, the view or the colours change. Drag pans, the wheel zooms, a
//! double-click fits the data again; Shift+drag (or a right-drag) draws a box.

use egui::{Color32, Pos2, Rect, Response, Sense, Stroke, TextureHandle, Ui, pos2, vec2};
use ndarray::ArrayView2;

use super::dots::{self, Dot};

/// Dot radius in points.
const RADIUS: f32 = 2.6;
/// The pointer picks the nearest dot within this many points.
const PICK: f32 = 8.0;

/// How the dots of one digit are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DigitStyle {
    pub color: Color32,
    /// Drawn at all (the legend's toggle).
    pub shown: bool,
    /// Hover, click and box reach it (the digit filter lets it through).
    pub active: bool,
}

/// The points to draw: `coords` (n x 2) and each point's digit.
pub struct Points<'a> {
    pub coords: ArrayView2<'a, f32>,
    pub labels: &'a [u8],
    /// Changes whenever `coords` does.
    pub generation: u64,
    pub styles: [DigitStyle; 10],
}

impl Points<'_> {
    fn style(&self, i: usize) -> DigitStyle {
        self.styles[(self.labels[i] as usize).min(9)]
    }

    fn at(&self, i: usize) -> [f32; 2] {
        [self.coords[[i, 0]], self.coords[[i, 1]]]
    }
}

/// A mark drawn over the dots: a pinned image, the current one, a drawing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Marker {
    pub at: [f32; 2],
    pub color: Color32,
    /// A ring, or a cross.
    pub cross: bool,
}

/// Data space to screen: the data rectangle `data` (y up) fills `screen`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    pub screen: Rect,
    pub data: Rect,
}

impl Transform {
    pub fn to_screen(self, p: [f32; 2]) -> Pos2 {
        let (s, d) = (self.screen, self.data);
        pos2(
            s.left() + (p[0] - d.left()) / d.width() * s.width(),
            s.bottom() - (p[1] - d.top()) / d.height() * s.height(),
        )
    }

    pub fn to_data(self, p: Pos2) -> [f32; 2] {
        let (s, d) = (self.screen, self.data);
        [
            d.left() + (p.x - s.left()) / s.width() * d.width(),
            d.top() + (s.bottom() - p.y) / s.height() * d.height(),
        ]
    }
}

/// What the user did with the dots this frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Clicked(usize),
    /// The active points inside a box, in index order.
    Boxed(Vec<usize>),
}

/// What the dots' raster was drawn for.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RasterKey {
    generation: u64,
    transform: Transform,
    styles: [DigitStyle; 10],
    pixels_per_point: f32,
}

#[derive(Default)]
pub struct Scatter {
    /// The data rectangle the user zoomed or panned to; `None` fits the data.
    view: Option<Rect>,
    /// The fitted rectangle and the generation it was fitted to.
    fitted: Option<(u64, Rect)>,
    raster: Option<(RasterKey, TextureHandle)>,
    /// Where a box selection started (screen).
    box_from: Option<Pos2>,
    /// The last frame's transform: where every point is on the screen.
    pub last: Option<Transform>,
    /// The point under the pointer in the last frame.
    pub hovered: Option<usize>,
}

impl Scatter {
    /// Draws the points in all of `rect`; returns the response (labelled for screen
    /// readers and tests) and what was clicked or boxed.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        size: egui::Vec2,
        points: &Points<'_>,
        markers: &[Marker],
    ) -> (Response, Option<Action>) {
        let (rect, resp) = ui.allocate_exact_size(size, Sense::click_and_drag());
        resp.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::Canvas, true, "Map of the test set")
        });
        let transform = Transform {
            screen: rect,
            data: fit_aspect(self.view.unwrap_or_else(|| self.fit(points)), rect),
        };
        self.navigate(ui, &resp, transform);
        let transform = Transform {
            screen: rect,
            data: fit_aspect(self.view.unwrap_or_else(|| self.fit(points)), rect),
        };
        self.last = Some(transform);
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
        let texture = self.raster(ui.ctx(), points, transform);
        let uv = Rect::from_min_max(Pos2::ZERO, pos2(1.0, 1.0));
        painter.image(texture, rect, uv, Color32::WHITE);
        self.hovered = resp
            .hover_pos()
            .filter(|_| self.box_from.is_none())
            .and_then(|p| pick(points, transform, p));
        for m in markers {
            marker(&painter, transform.to_screen(m.at), m);
        }
        if let Some(i) = self.hovered {
            let c = ui.visuals().strong_text_color();
            painter.circle_stroke(transform.to_screen(points.at(i)), 6.0, Stroke::new(2.0, c));
        }
        let action = self.select(ui, &resp, points, transform);
        (resp, action)
    }

    /// Pan with a drag, zoom with the wheel around the pointer, fit on double-click.
    fn navigate(&mut self, ui: &Ui, resp: &Response, t: Transform) {
        if resp.double_clicked() {
            self.view = None;
            return;
        }
        let boxing = ui.input(|i| i.modifiers.shift);
        if resp.dragged_by(egui::PointerButton::Primary) && !boxing && self.box_from.is_none() {
            let d = resp.drag_delta();
            let per = t.data.width() / t.screen.width();
            self.view = Some(t.data.translate(vec2(-d.x * per, d.y * per)));
        }
        if let Some(p) = resp.hover_pos() {
            let scroll = ui.input(|i| i.smooth_scroll_delta.y);
            let zoom = ui.input(|i| i.zoom_delta()) * (scroll * 0.002).exp();
            if zoom != 1.0 {
                let c = t.to_data(p);
                let d = t.data;
                let scale = |v: f32, c: f32| c + (v - c) / zoom;
                self.view = Some(Rect::from_min_max(
                    pos2(scale(d.left(), c[0]), scale(d.top(), c[1])),
                    pos2(scale(d.right(), c[0]), scale(d.bottom(), c[1])),
                ));
            }
        }
    }

    /// A click on a dot, or a box drawn with Shift+drag or the right button.
    fn select(
        &mut self,
        ui: &Ui,
        resp: &Response,
        points: &Points<'_>,
        t: Transform,
    ) -> Option<Action> {
        if resp.clicked() {
            return self.hovered.map(Action::Clicked);
        }
        let shift = ui.input(|i| i.modifiers.shift);
        let started = (resp.drag_started_by(egui::PointerButton::Primary) && shift)
            || resp.drag_started_by(egui::PointerButton::Secondary);
        if started {
            self.box_from = resp.interact_pointer_pos();
        }
        let (from, to) = (
            self.box_from?,
            resp.interact_pointer_pos().or(resp.hover_pos())?,
        );
        let area = Rect::from_two_pos(from, to);
        let c = ui.visuals().selection.stroke.color;
        ui.painter_at(t.screen).rect(
            area,
            0.0,
            c.gamma_multiply(0.15),
            Stroke::new(1.0, c),
            egui::StrokeKind::Inside,
        );
        if resp.drag_stopped() {
            self.box_from = None;
            let inside = (0..points.labels.len())
                .filter(|&i| points.style(i).active && area.contains(t.to_screen(points.at(i))))
                .collect();
            return Some(Action::Boxed(inside));
        }
        None
    }

    /// The data's rectangle, robust to a few far outliers; kept until the points change.
    fn fit(&mut self, points: &Points<'_>) -> Rect {
        if let Some((g, r)) = self.fitted
            && g == points.generation
        {
            return r;
        }
        let r = robust_bounds(points.coords);
        self.fitted = Some((points.generation, r));
        r
    }

    /// The dots' texture for this frame, redrawn if anything it shows changed.
    fn raster(
        &mut self,
        ctx: &egui::Context,
        points: &Points<'_>,
        t: Transform,
    ) -> egui::TextureId {
        let key = RasterKey {
            generation: points.generation,
            transform: t,
            styles: points.styles,
            pixels_per_point: ctx.pixels_per_point(),
        };
        if let Some((k, tex)) = &self.raster
            && *k == key
        {
            return tex.id();
        }
        let ppp = key.pixels_per_point;
        let size = t.screen.size() * ppp;
        let (w, h) = (
            (size.x.round() as usize).max(1),
            (size.y.round() as usize).max(1),
        );
        let mut list = Vec::with_capacity(points.labels.len());
        // The inactive digits first, faint, under the active ones.
        for active in [false, true] {
            for i in 0..points.labels.len() {
                let s = points.style(i);
                if s.shown && s.active == active {
                    let p = (t.to_screen(points.at(i)) - t.screen.min) * ppp;
                    list.push(Dot {
                        at: [p.x, p.y],
                        color: s.color,
                    });
                }
            }
        }
        let image = egui::ColorImage::new([w, h], dots::render(w, h, RADIUS * ppp, &list));
        let options = egui::TextureOptions::NEAREST;
        let tex = match self.raster.take() {
            Some((_, mut tex)) => {
                tex.set(image, options);
                tex
            }
            None => ctx.load_texture("map-dots", image, options),
        };
        let id = tex.id();
        self.raster = Some((key, tex));
        id
    }
}

/// The nearest active, shown dot within `PICK` of `p`; on a tie, the one drawn last.
fn pick(points: &Points<'_>, t: Transform, p: Pos2) -> Option<usize> {
    let mut best: Option<(f32, usize)> = None;
    for i in 0..points.labels.len() {
        let s = points.style(i);
        if !(s.shown && s.active) {
            continue;
        }
        let d = t.to_screen(points.at(i)).distance_sq(p);
        if d <= PICK * PICK && best.is_none_or(|(b, _)| d <= b) {
            best = Some((d, i));
        }
    }
    best.map(|(_, i)| i)
}

fn marker(painter: &egui::Painter, p: Pos2, m: &Marker) {
    let outline = Stroke::new(4.0, Color32::from_black_alpha(160));
    let stroke = Stroke::new(2.0, m.color);
    if m.cross {
        let r = 7.0;
        for s in [outline, stroke] {
            painter.line_segment([p - vec2(r, r), p + vec2(r, r)], s);
            painter.line_segment([p - vec2(r, -r), p + vec2(r, -r)], s);
        }
    } else {
        painter.circle_stroke(p, 5.5, outline);
        painter.circle_stroke(p, 5.5, stroke);
    }
}

/// `data` widened in x or y so that one unit is as long on both axes in `screen`.
fn fit_aspect(data: Rect, screen: Rect) -> Rect {
    let (w, h) = (data.width().max(1e-6), data.height().max(1e-6));
    let per = (w / screen.width().max(1.0)).max(h / screen.height().max(1.0));
    Rect::from_center_size(
        data.center(),
        vec2(per * screen.width(), per * screen.height()),
    )
}

fn robust_bounds(coords: ArrayView2<f32>) -> Rect {
    let [[x0, y0], [x1, y1]] = crate::explore::maps::view_bounds(coords);
    Rect::from_min_max(pos2(x0, y0), pos2(x1, y1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screen_and_data_coordinates_round_trip_with_y_up() {
        let t = Transform {
            screen: Rect::from_min_size(pos2(10.0, 20.0), vec2(200.0, 100.0)),
            data: Rect::from_min_max(pos2(-2.0, -1.0), pos2(2.0, 1.0)),
        };
        assert_eq!(t.to_screen([-2.0, -1.0]), pos2(10.0, 120.0));
        assert_eq!(t.to_screen([2.0, 1.0]), pos2(210.0, 20.0));
        let back = t.to_data(t.to_screen([0.5, -0.25]));
        assert!((back[0] - 0.5).abs() < 1e-5 && (back[1] + 0.25).abs() < 1e-5);
    }

    #[test]
    fn the_view_keeps_one_scale_on_both_axes() {
        let screen = Rect::from_min_size(Pos2::ZERO, vec2(400.0, 200.0));
        let data = Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0));
        let f = fit_aspect(data, screen);
        assert!((f.width() / f.height() - 2.0).abs() < 1e-5);
        assert!(f.contains_rect(data));
    }
}
