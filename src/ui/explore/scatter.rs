//! The map's points: 10,000 round dots drawn as one textured mesh (four vertices
//! each), rebuilt only when the map, the view or the colours change, so a frame that
//! changes nothing costs the map a clone of an `Arc`. Drag pans, the wheel zooms,
//! a double-click fits the data again; Shift+drag (or a right-drag) draws a box.

use std::sync::Arc;

use egui::epaint::{Mesh, Vertex};
use egui::{Color32, Pos2, Rect, Response, Sense, Shape, Stroke, TextureHandle, Ui, pos2, vec2};
use ndarray::ArrayView2;

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
    pub fn to_screen(&self, p: [f32; 2]) -> Pos2 {
        let (s, d) = (self.screen, self.data);
        pos2(
            s.left() + (p[0] - d.left()) / d.width() * s.width(),
            s.bottom() - (p[1] - d.top()) / d.height() * s.height(),
        )
    }

    pub fn to_data(&self, p: Pos2) -> [f32; 2] {
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

#[derive(Debug, Clone, Copy, PartialEq)]
struct MeshKey {
    generation: u64,
    transform: Transform,
    styles: [DigitStyle; 10],
}

#[derive(Default)]
pub struct Scatter {
    /// The data rectangle the user zoomed or panned to; `None` fits the data.
    view: Option<Rect>,
    /// The fitted rectangle and the generation it was fitted to.
    fitted: Option<(u64, Rect)>,
    mesh: Option<(MeshKey, Arc<Mesh>)>,
    disc: Option<TextureHandle>,
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
        let mesh = self.mesh(ui.ctx(), points, transform);
        painter.add(Shape::Mesh(mesh));
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

    fn mesh(&mut self, ctx: &egui::Context, points: &Points<'_>, t: Transform) -> Arc<Mesh> {
        let key = MeshKey {
            generation: points.generation,
            transform: t,
            styles: points.styles,
        };
        if let Some((k, m)) = &self.mesh
            && *k == key
        {
            return m.clone();
        }
        let disc = self.disc.get_or_insert_with(|| disc_texture(ctx)).id();
        let mut mesh = Mesh::with_texture(disc);
        let n = points.labels.len();
        mesh.reserve_vertices(4 * n);
        mesh.reserve_triangles(2 * n);
        // The inactive digits first, faint, under the active ones.
        for active in [false, true] {
            for i in 0..n {
                let s = points.style(i);
                if s.shown && s.active == active {
                    let p = t.to_screen(points.at(i));
                    if t.screen.expand(RADIUS).contains(p) {
                        add_dot(&mut mesh, p, s.color);
                    }
                }
            }
        }
        let mesh = Arc::new(mesh);
        self.mesh = Some((key, mesh.clone()));
        mesh
    }
}

fn add_dot(mesh: &mut Mesh, p: Pos2, color: Color32) {
    let i = mesh.vertices.len() as u32;
    for (dx, dy, u, v) in [
        (-1., -1., 0., 0.),
        (1., -1., 1., 0.),
        (1., 1., 1., 1.),
        (-1., 1., 0., 1.),
    ] {
        mesh.vertices.push(Vertex {
            pos: pos2(p.x + dx * RADIUS, p.y + dy * RADIUS),
            uv: pos2(u, v),
            color,
        });
    }
    mesh.indices
        .extend_from_slice(&[i, i + 1, i + 2, i, i + 2, i + 3]);
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

/// A white disc with a soft edge, tinted per dot by the vertex colour.
fn disc_texture(ctx: &egui::Context) -> TextureHandle {
    const SIDE: usize = 32;
    let c = SIDE as f32 / 2.0;
    let pixels = (0..SIDE * SIDE)
        .map(|k| {
            let (x, y) = ((k % SIDE) as f32 + 0.5 - c, (k / SIDE) as f32 + 0.5 - c);
            let coverage = (c - (x * x + y * y).sqrt()).clamp(0.0, 1.5) / 1.5;
            Color32::from_white_alpha((coverage * 255.0) as u8)
        })
        .collect();
    let image = egui::ColorImage::new([SIDE, SIDE], pixels);
    ctx.load_texture("map-dot", image, egui::TextureOptions::LINEAR)
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
