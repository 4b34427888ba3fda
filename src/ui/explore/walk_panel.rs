//! "Walk": pick two of the shown images and see the straight line between them in the
//! code space (decoded by the full stack), in hidden1 (phase 1's decoder) and in
//! pixels (a crossfade); and each digit's mean code, decoded.

use egui::{RichText, Ui, vec2};
use ndarray::Array2;

use super::state::MapsState;
use crate::data::{Images, SIDE};
use crate::explore::Walk;
use crate::picture::{self, BACKGROUND, Raster};
use crate::ui::recon::Selection;
use crate::ui::seen::Seen;
use crate::ui::textures::Texture;

/// Pixels between two images of a strip.
const GAP: usize = 2;
/// Screen size of one image of a strip.
const CELL: f32 = 56.0;

const ROWS: [(&str, &str); 3] = [
    (
        "codes\n(full stack)",
        "The straight line between the two codes, each point decoded by the full stack",
    ),
    (
        "hidden1\n(phase 1)",
        "The straight line between the two hidden1 vectors, decoded by phase 1's output layer",
    ),
    (
        "pixels\n(crossfade)",
        "A plain crossfade of the two images: what a walk without any learned space looks like",
    ),
];

#[derive(Default)]
pub struct WalkPanel {
    /// The user's pick; `None` (or images no longer shown) walks between the first two.
    picked: Option<[usize; 2]>,
    strips: [Texture; 3],
    means: Texture,
    walk_seen: Seen<Walk>,
    means_seen: Seen<Array2<f32>>,
}

/// Images of equal size side by side, `GAP` apart.
fn strip(images: impl Iterator<Item = Vec<f32>>) -> Raster {
    let tiles: Vec<Raster> = images.map(|p| picture::digit(&p)).collect();
    let n = tiles.len();
    let mut r = Raster::new(n * (SIDE + GAP) - GAP.min(n * GAP), SIDE, BACKGROUND);
    for (k, t) in tiles.iter().enumerate() {
        r.blit(t, k * (SIDE + GAP), 0, 1);
    }
    r
}

impl WalkPanel {
    /// The two ends: the picked ones if both are still shown, else the first two shown.
    pub fn ends(&self, sel: &Selection) -> Option<[usize; 2]> {
        let shown = sel.shown();
        match self.picked {
            Some([a, b]) if shown.contains(&a) && shown.contains(&b) => Some([a, b]),
            _ => (shown.len() >= 2).then(|| [shown[0], shown[1]]),
        }
    }

    fn update(&mut self, ctx: &egui::Context, state: &MapsState) {
        if self.walk_seen.changed(state.walk.as_ref())
            && let Some(w) = &state.walk
        {
            let rows = [&w.walks.code, &w.walks.hidden1, &w.walks.pixels];
            for (k, (tex, m)) in self.strips.iter_mut().zip(rows).enumerate() {
                let raster = strip(m.rows().into_iter().map(|r| r.to_vec()));
                tex.set(ctx, &format!("walk-{k}"), &raster);
            }
        }
        if self.means_seen.changed(state.means.as_ref())
            && let Some(m) = &state.means
        {
            let raster = strip(m.rows().into_iter().map(|r| r.to_vec()));
            self.means.set(ctx, "walk-means", &raster);
        }
    }

    pub fn ui(&mut self, ui: &mut Ui, state: &MapsState, test: &Images, sel: &Selection) {
        self.update(ui.ctx(), state);
        egui::ScrollArea::both()
            .id_salt("walk-scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                let Some(ends) = self.ends(sel) else {
                    ui.weak("Pin a second image (in Reconstructions, or click a point on the Map) to walk between two images.");
                    means_ui(ui, &self.means);
                    return;
                };
                ui.horizontal(|ui| self.pick_ui(ui, ends, test, sel));
                let walk = state.walk.as_ref().filter(|w| w.ends == ends);
                if walk.is_none() {
                    ui.weak("decoding…");
                }
                egui::Grid::new("walk-grid").spacing([8.0, 6.0]).show(ui, |ui| {
                    for ((name, hover), tex) in ROWS.iter().zip(&self.strips) {
                        ui.label(*name).on_hover_text(*hover);
                        if let (Some(t), Some(_)) = (tex.get(), walk) {
                            let size = vec2(10.0 * (CELL + 2.0), CELL);
                            ui.add(egui::Image::new((t.id(), size))).on_hover_text(*hover);
                        }
                        ui.end_row();
                    }
                });
                ui.label(RichText::new("From the first image (left) to the second (right), in 10 even steps. Where the code walk stays a digit all the way and the crossfade shows two digits at once, the learned space has put the digits on a path of digits.").small().weak());
                ui.add_space(8.0);
                means_ui(ui, &self.means);
            });
    }

    fn pick_ui(&mut self, ui: &mut Ui, ends: [usize; 2], test: &Images, sel: &Selection) {
        let name = |i: usize| format!("#{i} · digit {}", test.labels.get(i).copied().unwrap_or(0));
        let mut picked = ends;
        for (k, title) in ["From", "to"].iter().enumerate() {
            let label = ui.label(*title);
            egui::ComboBox::from_id_salt(("walk-end", k))
                .selected_text(name(picked[k]))
                .show_ui(ui, |ui| {
                    for i in sel.shown() {
                        ui.selectable_value(&mut picked[k], i, name(i));
                    }
                })
                .response
                .labelled_by(label.id);
        }
        if ui.button("Swap").on_hover_text("Swap the ends").clicked() {
            picked.swap(0, 1);
        }
        if picked != ends {
            self.picked = Some(picked);
        }
    }
}

fn means_ui(ui: &mut Ui, means: &Texture) {
    ui.strong("Each digit's mean code, decoded");
    if let Some(t) = means.get() {
        ui.add(egui::Image::new((t.id(), vec2(10.0 * (CELL + 2.0), CELL))))
            .on_hover_text("The mean code of each digit over the test set (0 to 9), through the full stack's decoder");
        ui.label(RichText::new("0 to 9: the average code of each digit is itself a clean digit when the code space keeps digits together.").small().weak());
    }
}
