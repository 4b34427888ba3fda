//! "Draw": a 28 x 28 drawing pad, and live as you draw what the stack makes of it:
//! the image the encoder sees, phase 1's and the full stack's reconstructions, the
//! code, the nearest test images in code space (and, on the Map, where it lands).

use egui::{Color32, Pos2, Rect, RichText, Sense, Ui, vec2};

use super::ExploreSettings;
use super::pad::{CANVAS, Pad};
use super::state::MapsState;
use crate::data::{Images, SIDE};
use crate::explore::{Drawn, Layer};
use crate::picture::{self, Raster};
use crate::ui::command::UiCommand;
use crate::ui::seen::Seen;
use crate::ui::textures::Texture;

const PAD_SIZE: f32 = 252.0;
const IMAGE: f32 = 84.0;

#[derive(Default)]
pub struct DrawPanel {
    pad: Pad,
    /// The stroke in progress: where the pointer was last frame (MNIST pixels).
    last: Option<[f32; 2]>,
    canvas: Texture,
    canvas_revision: Option<u64>,
    /// The drawing's pictures, and the reply they were made from.
    pictures: Vec<Texture>,
    neighbours: Vec<Texture>,
    drawn: Seen<Drawn>,
}

impl DrawPanel {
    pub fn revision(&self) -> u64 {
        self.pad.revision()
    }

    pub fn image(&self, mnist_style: bool) -> Option<Vec<f32>> {
        self.pad.image(mnist_style)
    }

    pub fn clear(&mut self) {
        self.pad.clear();
    }

    #[must_use]
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        state: &MapsState,
        test: &Images,
        settings: &mut ExploreSettings,
    ) -> Vec<UiCommand> {
        let mut clicked = Vec::new();
        self.update(ui.ctx(), state, test);
        egui::ScrollArea::both()
            .id_salt("draw-scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                ui.horizontal_top(|ui| {
                    ui.vertical(|ui| {
                        self.pad_ui(ui, settings.brush);
                        controls_ui(ui, settings, &mut clicked);
                    });
                    ui.add_space(12.0);
                    ui.vertical(|ui| self.results_ui(ui, state, test));
                });
            });
        clicked
    }

    fn pad_ui(&mut self, ui: &mut Ui, brush: f32) {
        let (rect, resp) = ui.allocate_exact_size(vec2(PAD_SIZE, PAD_SIZE), Sense::drag());
        resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "Drawing pad"));
        let to_pad = |p: Pos2| {
            let s = SIDE as f32 / rect.width();
            [(p.x - rect.left()) * s, (p.y - rect.top()) * s]
        };
        if let Some(p) = resp.interact_pointer_pos().filter(|_| resp.dragged()) {
            let at = to_pad(p);
            self.pad.stroke(self.last.unwrap_or(at), at, brush);
            self.last = Some(at);
        }
        if resp.drag_stopped() || !resp.dragged() {
            self.last = None;
        }
        if self.canvas_revision != Some(self.pad.revision()) {
            let ink = self.pad.ink();
            let raster = Raster::from_fn(CANVAS, CANVAS, |x, y| picture::gray(ink[y * CANVAS + x]));
            self.canvas.set(ui.ctx(), "draw-canvas", &raster);
            self.canvas_revision = Some(self.pad.revision());
        }
        let painter = ui.painter_at(rect);
        if let Some(t) = self.canvas.get() {
            let uv = Rect::from_min_max(Pos2::ZERO, egui::pos2(1.0, 1.0));
            painter.image(t.id(), rect, uv, Color32::WHITE);
        }
        painter.rect_stroke(
            rect,
            0.0,
            ui.visuals().widgets.noninteractive.bg_stroke,
            egui::StrokeKind::Outside,
        );
        if self.pad.is_empty() {
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "draw a digit here",
                egui::FontId::proportional(14.0),
                ui.visuals().weak_text_color(),
            );
        }
    }

    /// Textures of the newest reply, when it is new.
    fn update(&mut self, ctx: &egui::Context, state: &MapsState, test: &Images) {
        if !self.drawn.changed(state.drawn.as_ref()) {
            return;
        }
        let Some(d) = &state.drawn else { return };
        let scale = picture::color_scale([d.code()]);
        let rasters = [
            picture::digit(&d.input),
            picture::digit(&d.outer),
            picture::digit(&d.full),
            picture::heatmap(&[d.code()], scale),
        ];
        self.pictures.resize_with(rasters.len(), Texture::default);
        for (k, (t, r)) in self.pictures.iter_mut().zip(&rasters).enumerate() {
            t.set(ctx, &format!("drawn-{k}"), r);
        }
        let near = &d.neighbours[Layer::Code.index()];
        self.neighbours.resize_with(near.len(), Texture::default);
        for (k, (t, n)) in self.neighbours.iter_mut().zip(near).enumerate() {
            let pixels: Vec<f32> = test
                .image(n.index)
                .iter()
                .map(|&b| b as f32 / 255.0)
                .collect();
            t.set(ctx, &format!("drawn-near-{k}"), &picture::digit(&pixels));
        }
    }

    fn results_ui(&self, ui: &mut Ui, state: &MapsState, test: &Images) {
        let Some(d) = state.drawn.as_ref().filter(|_| !self.pad.is_empty()) else {
            ui.weak("Draw a digit: the stack reconstructs it as you draw.");
            return;
        };
        let image = |ui: &mut Ui, t: Option<&Texture>, caption: &str| {
            ui.vertical(|ui| {
                if let Some(t) = t.and_then(|t| t.get()) {
                    ui.add(egui::Image::new((t.id(), vec2(IMAGE, IMAGE))));
                }
                ui.label(RichText::new(caption).small());
            });
        };
        ui.horizontal(|ui| {
            image(ui, self.pictures.first(), "what the encoder sees");
            image(ui, self.pictures.get(1), "phase 1 (outer)");
            image(ui, self.pictures.get(2), "full stack");
        });
        ui.add_space(6.0);
        ui.label(RichText::new("its code (the innermost layer)").small());
        if let Some(t) = self.pictures.get(3).and_then(|t| t.get()) {
            let w = ui.available_width().clamp(150.0, 450.0);
            ui.add(egui::Image::new((t.id(), vec2(w, 14.0))));
        }
        ui.add_space(6.0);
        neighbours_ui(ui, d, &self.neighbours, test);
    }
}

fn controls_ui(ui: &mut Ui, settings: &mut ExploreSettings, clicked: &mut Vec<UiCommand>) {
    ui.horizontal(|ui| {
        let label = ui.label("Brush");
        ui.add(egui::Slider::new(&mut settings.brush, 0.6..=2.5).step_by(0.1))
            .on_hover_text("Brush radius, in MNIST pixels")
            .labelled_by(label.id);
    });
    ui.horizontal(|ui| {
        ui.checkbox(&mut settings.mnist_style, "MNIST-style")
            .on_hover_text("Do what MNIST did to its digits: fit the strokes in 20 x 20 pixels and centre them by their centre of mass");
        if UiCommand::ClearDrawing.button(ui, true) {
            clicked.push(UiCommand::ClearDrawing);
        }
    });
}

/// The nearest test images in code space, and the digit most of them show.
fn neighbours_ui(ui: &mut Ui, d: &Drawn, textures: &[Texture], test: &Images) {
    let near = &d.neighbours[Layer::Code.index()];
    let mut votes = [0usize; 10];
    for n in near {
        votes[(test.labels[n.index] as usize).min(9)] += 1;
    }
    let (best, count) = votes
        .iter()
        .enumerate()
        .max_by_key(|&(digit, &v)| (v, std::cmp::Reverse(digit)))
        .map(|(digit, &v)| (digit, v))
        .unwrap_or_default();
    ui.label(format!(
        "nearest test images in code space: {count} of these {} are {best}s",
        near.len()
    ));
    ui.horizontal_wrapped(|ui| {
        // Each cell's size given up front: a wrapping layout can only wrap what it can
        // measure before it is drawn.
        let cell = vec2(
            56.0,
            56.0 + ui.text_style_height(&egui::TextStyle::Small) + 4.0,
        );
        for (n, t) in near.iter().zip(textures) {
            let column = egui::Layout::top_down(egui::Align::Min);
            ui.allocate_ui_with_layout(cell, column, |ui| {
                if let Some(t) = t.get() {
                    ui.add(egui::Image::new((t.id(), vec2(56.0, 56.0))))
                        .on_hover_text(format!("distance {:.3}", n.distance));
                }
                let text = format!("#{} · {}", n.index, test.labels[n.index]);
                ui.label(RichText::new(text).small());
            });
        }
    });
}
