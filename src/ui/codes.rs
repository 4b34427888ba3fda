//! "Codes": the 150-dim code of each shown image as a heatmap row, and the mean code of
//! each digit class over the test set, with a colour bar and hover values.

use egui::{Rect, RichText, Sense, Ui, pos2, vec2};

use super::seen::Seen;
use super::shown::{Inspection, Shown};
use super::textures::Texture;
use crate::picture::{self, Raster};

const ROW_HEIGHT: f32 = 14.0;
const LABEL_WIDTH: f32 = 64.0;

/// One heatmap: labelled rows of values, as a texture.
#[derive(Default)]
struct Heatmap {
    labels: Vec<String>,
    rows: Vec<Vec<f32>>,
    scale: f32,
    texture: Texture,
}

impl Heatmap {
    fn set(&mut self, ctx: &egui::Context, name: &str, labels: Vec<String>, rows: Vec<Vec<f32>>) {
        let slices: Vec<&[f32]> = rows.iter().map(|r| r.as_slice()).collect();
        self.scale = picture::color_scale(slices.iter().copied());
        self.texture
            .set(ctx, name, &picture::heatmap(&slices, self.scale));
        self.labels = labels;
        self.rows = rows;
    }

    fn ui(&self, ui: &mut Ui, what: &str) {
        let Some(tex) = self.texture.get() else {
            return;
        };
        let units = self.rows.first().map_or(0, |r| r.len());
        let width = (ui.available_width() - LABEL_WIDTH).max(units as f32);
        let size = vec2(LABEL_WIDTH + width, ROW_HEIGHT * self.rows.len() as f32);
        let (rect, resp) = ui.allocate_exact_size(size, Sense::hover());
        let image = Rect::from_min_size(rect.min + vec2(LABEL_WIDTH, 0.0), vec2(width, size.y));
        let painter = ui.painter_at(rect);
        for (i, label) in self.labels.iter().enumerate() {
            painter.text(
                pos2(rect.left(), rect.top() + (i as f32 + 0.5) * ROW_HEIGHT),
                egui::Align2::LEFT_CENTER,
                label,
                egui::FontId::proportional(11.0),
                ui.visuals().text_color(),
            );
        }
        painter.image(
            tex.id(),
            image,
            Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0)),
            egui::Color32::WHITE,
        );
        if let Some(p) = resp.hover_pos()
            && image.contains(p)
        {
            let row = (((p.y - image.top()) / ROW_HEIGHT) as usize).min(self.rows.len() - 1);
            let unit = (((p.x - image.left()) / width * units as f32) as usize)
                .min(units.saturating_sub(1));
            let v = self.rows[row][unit];
            resp.on_hover_text_at_pointer(format!(
                "{what} {}\nunit {unit}: {v:.4}",
                self.labels[row]
            ));
        }
    }
}

#[derive(Default)]
pub struct CodesPanel {
    codes_key: Option<u64>,
    /// What the code is at the shown model's depth ("hidden2 … (150 units)").
    code_caption: String,
    means_seen: Seen<ndarray::Array2<f32>>,
    /// Whether the drawn means were centred.
    means_centred: bool,
    /// Show each class's mean minus the mean over all classes: what sets it apart.
    centred: bool,
    codes: Heatmap,
    means: Heatmap,
    colorbar: Texture,
    /// Whether the shown parameters come with the mean codes (the last epoch of a
    /// phase, or the live model once a phase ended).
    has_means: bool,
}

impl CodesPanel {
    /// The code rows are those of the inspected images, in the order the
    /// reconstructions show them.
    pub fn update(&mut self, ctx: &egui::Context, shown: &Shown, seen: &Inspection) {
        let arch = shown.params.arch();
        self.code_caption = format!(
            "hidden{} of each shown image ({} units, the code)",
            arch.depth(),
            arch.code()
        );
        if self.codes_key != Some(seen.generation) && !seen.recons.is_empty() {
            let labels = seen
                .recons
                .iter()
                .map(|r| format!("#{} · {}", r.index, r.label))
                .collect();
            let rows = seen.recons.iter().map(|r| r.code.clone()).collect();
            self.codes.set(ctx, "codes", labels, rows);
            self.codes_key = Some(seen.generation);
        }
        self.has_means = shown.class_means.is_some();
        let new_means = self.means_seen.changed(shown.class_means.as_ref());
        let recentred = std::mem::replace(&mut self.means_centred, self.centred) != self.centred;
        if (new_means || recentred)
            && let Some(m) = &shown.class_means
        {
            let labels = (0..m.nrows()).map(|d| format!("digit {d}")).collect();
            let average = m.mean_axis(ndarray::Axis(0));
            let rows = m
                .rows()
                .into_iter()
                .map(|r| match (&average, self.centred) {
                    (Some(a), true) => (&r - a).to_vec(),
                    _ => r.to_vec(),
                })
                .collect();
            self.means.set(ctx, "class-means", labels, rows);
        }
        if self.colorbar.get().is_none() {
            let bar = Raster::from_fn(256, 1, |x, _| {
                picture::diverging(x as f32 / 127.5 - 1.0, 1.0)
            });
            self.colorbar.set(ctx, "colorbar", &bar);
        }
    }

    pub fn ui(&mut self, ui: &mut Ui) {
        ui.label(RichText::new(self.code_caption.as_str()).weak());
        self.codes.ui(ui, "image");
        colorbar_ui(ui, &self.colorbar, self.codes.scale);
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            ui.strong("Mean code per digit (test set)");
            ui.checkbox(&mut self.centred, "minus the average")
                .on_hover_text("Subtract the mean over all digits: what sets each digit apart");
        });
        if self.has_means {
            self.means.ui(ui, "");
            colorbar_ui(ui, &self.colorbar, self.means.scale);
        } else {
            ui.weak("computed at the end of each phase, not for the epochs before it");
        }
    }
}

fn colorbar_ui(ui: &mut Ui, tex: &Texture, scale: f32) {
    let Some(t) = tex.get() else { return };
    ui.horizontal(|ui| {
        ui.monospace(format!("{:+.2}", -scale));
        ui.add(egui::Image::new((t.id(), vec2(160.0, 10.0))));
        ui.monospace(format!("{:+.2}", scale));
    });
}
