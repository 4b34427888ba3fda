//! "Features": the 300 hidden1 weight vectors as 28x28 tiles, each stretched for
//! contrast, live while phase 1 trains.

use egui::{RichText, Sense, Ui, vec2};

use super::seen::Seen;
use super::shown::Shown;
use super::textures::Texture;
use crate::data::SIDE;
use crate::model::Params;
use crate::{inspect, picture};

const COLUMNS: usize = 20;

#[derive(Default)]
pub struct FeaturesPanel {
    params: Seen<Params>,
    texture: Texture,
    size: [usize; 2],
    units: usize,
}

impl FeaturesPanel {
    pub fn update(&mut self, ctx: &egui::Context, shown: &Shown) {
        if !self.params.changed(Some(&shown.params)) {
            return;
        }
        let features = inspect::features(&shown.params);
        let grid = picture::feature_grid(&features, COLUMNS);
        self.texture.set(ctx, "features", &grid);
        self.size = [grid.width, grid.height];
        self.units = features.len();
    }

    pub fn ui(&mut self, ui: &mut Ui) {
        ui.label(
            RichText::new(format!(
                "what each of the {} hidden1 units responds to (columns of W1)",
                self.units
            ))
            .weak(),
        );
        let Some(t) = self.texture.get() else { return };
        let scale = ui.available_width() / self.size[0] as f32;
        let size = vec2(self.size[0] as f32, self.size[1] as f32) * scale;
        let resp = ui.add(egui::Image::new((t.id(), size)).sense(Sense::hover()));
        if let Some(p) = resp.hover_pos() {
            let cell = (SIDE + 1) as f32 * scale;
            let col = ((p.x - resp.rect.left()) / cell) as usize;
            let row = ((p.y - resp.rect.top()) / cell) as usize;
            let unit = row * COLUMNS + col;
            if col < COLUMNS && unit < self.units {
                resp.on_hover_text_at_pointer(format!("hidden1 unit {unit}"));
            }
        }
    }
}
