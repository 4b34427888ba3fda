//! "Reconstructions": pick test images (scrubber, digit filter, pins) and see each one
//! rebuilt through autoencoders 1..k for every k (phase 1's outer autoencoder first, the
//! full stack last), with its error.

use egui::{RichText, Ui, vec2};

use super::command::UiCommand;
use super::shown::Inspection;
use super::textures::Texture;
use crate::data::Images;
use crate::model::Noise;
use crate::picture;

/// At most this many pinned images.
pub const MAX_PINS: usize = 8;
/// The pictures' side: 3x MNIST's 28 pixels when there is room, down to 2x when the
/// panel is short, so that the per-image MSE below them shows without scrolling.
const IMAGE_SIZE: std::ops::RangeInclusive<f32> = 56.0..=84.0;
/// Space between the grid's rows and columns.
const SPACING: egui::Vec2 = egui::vec2(8.0, 4.0);

/// The persisted choice of images.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Selection {
    /// The scrubbed test image.
    pub current: usize,
    pub digit: Option<u8>,
    pub pinned: Vec<usize>,
    /// Show the images clean even when the run is denoising (else they are corrupted
    /// with its noise, and the corrupted input gets a row of its own).
    pub clean: bool,
}

impl Selection {
    /// Drops what does not exist in a test set of `n` images.
    pub fn fit(&mut self, n: usize) {
        if self.current >= n {
            self.current = 0;
        }
        self.pinned.retain(|&i| i < n);
    }

    /// The current image first, then the pinned ones (no repeats).
    pub fn shown(&self) -> Vec<usize> {
        let mut v = vec![self.current];
        v.extend(self.pinned.iter().copied().filter(|&i| i != self.current));
        v
    }

    /// Indices of the test images the digit filter lets through.
    pub fn candidates<'a>(&self, test: &'a Images) -> impl Iterator<Item = usize> + 'a {
        let digit = self.digit;
        (0..test.len()).filter(move |&i| digit.is_none_or(|d| test.labels[i] == d))
    }

    /// Moves the scrubber `delta` images through the filtered list.
    pub fn step(&mut self, test: &Images, delta: isize) {
        let c: Vec<usize> = self.candidates(test).collect();
        if c.is_empty() {
            return;
        }
        let pos = c.partition_point(|&i| i < self.current);
        let here = if c.get(pos) == Some(&self.current) {
            pos as isize
        } else {
            pos as isize - (delta > 0) as isize
        };
        let next = (here + delta).clamp(0, c.len() as isize - 1) as usize;
        self.current = c[next];
    }

    pub fn toggle_pin(&mut self, i: usize) {
        if let Some(at) = self.pinned.iter().position(|&p| p == i) {
            self.pinned.remove(at);
        } else if self.pinned.len() < MAX_PINS {
            self.pinned.push(i);
        }
    }
}

/// The panel: textures of the inspected images, redrawn when they change.
#[derive(Default)]
pub struct ReconPanel {
    generation: Option<u64>,
    /// Per image: the original, each reconstruction, the full stack's error map.
    textures: Vec<Vec<Texture>>,
}

impl ReconPanel {
    pub fn update(&mut self, ctx: &egui::Context, seen: &Inspection) {
        if self.generation == Some(seen.generation) {
            return;
        }
        self.textures
            .resize_with(seen.recons.len(), Default::default);
        for (k, (r, tex)) in seen.recons.iter().zip(&mut self.textures).enumerate() {
            let rasters: Vec<_> = std::iter::once(picture::digit(&r.original))
                .chain(r.corrupted.iter().map(|c| picture::digit(c)))
                .chain(r.through.iter().map(|t| picture::digit(t)))
                .chain(std::iter::once(picture::error_map(&r.original, r.full())))
                .collect();
            tex.resize_with(rasters.len(), Default::default);
            for (j, (t, raster)) in tex.iter_mut().zip(&rasters).enumerate() {
                t.set(ctx, &format!("recon-{k}-{j}"), raster);
            }
        }
        self.generation = Some(seen.generation);
    }

    /// Draws the panel; returns the commands clicked (scrub, pin).
    #[must_use]
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        test: &Images,
        seen: &Inspection,
        sel: &mut Selection,
        noise: Noise,
    ) -> Vec<UiCommand> {
        let clicked = ui
            .horizontal(|ui| {
                let clicked = scrubber_ui(ui, test, sel);
                if !noise.is_none() {
                    let mut corrupt = !sel.clean;
                    ui.checkbox(&mut corrupt, format!("corrupt ({noise})"))
                        .on_hover_text(
                            "Give the stack the images corrupted with the run's noise, \
                             as a denoising phase 1 sees its input; the errors stay against \
                             the clean images",
                        );
                    sel.clean = !corrupt;
                }
                clicked
            })
            .inner;
        let depth = seen.recons.first().map_or(2, |r| r.through.len());
        let side = image_side(ui, depth);
        egui::ScrollArea::both()
            .id_salt("recon-scroll")
            .show(ui, |ui| {
                egui::Grid::new("recon-grid")
                    .spacing(SPACING)
                    .show(ui, |ui| self.grid_ui(ui, seen, sel, side));
            });
        clicked
    }

    /// One column per image: a title (with Unpin), the four pictures, the errors.
    fn grid_ui(&self, ui: &mut Ui, seen: &Inspection, sel: &mut Selection, side: f32) {
        ui.label("");
        for (k, r) in seen.recons.iter().enumerate() {
            let title = format!("#{} · {}", r.index, r.label);
            ui.vertical_centered(|ui| {
                if k == 0 {
                    ui.label(RichText::new(title).strong());
                } else {
                    ui.horizontal(|ui| {
                        ui.label(title);
                        if ui.small_button("x").on_hover_text("Unpin").clicked() {
                            sel.toggle_pin(r.index);
                        }
                    });
                }
            });
        }
        ui.end_row();
        let depth = seen.recons.first().map_or(2, |r| r.through.len());
        let corrupted = seen.recons.first().is_some_and(|r| r.corrupted.is_some());
        let names = row_names(depth, corrupted);
        // The rows before the reconstructions: the original, and the corrupted input.
        let before = 1 + corrupted as usize;
        for (j, name) in names.iter().enumerate() {
            ui.label(name.as_str());
            for (r, tex) in seen.recons.iter().zip(&self.textures) {
                if let Some(t) = tex.get(j).and_then(|t| t.get()) {
                    let hover = match j {
                        0 => format!("test image {} (digit {})", r.index, r.label),
                        j if j < before => "what the stack is given".to_string(),
                        j => format!("MSE {:.5}", r.mse[(j - before).min(depth - 1)]),
                    };
                    ui.add(egui::Image::new((t.id(), vec2(side, side))))
                        .on_hover_text(hover);
                }
            }
            ui.end_row();
        }
        // A row each, so that a value fits under its picture, however narrow.
        for (k, name) in mse_names(depth).iter().enumerate() {
            ui.label(name.as_str());
            for r in &seen.recons {
                let value = RichText::new(format!("{:.5}", r.mse[k])).monospace();
                ui.vertical_centered(|ui| ui.add(egui::Label::new(value).extend()));
            }
            ui.end_row();
        }
    }
}

/// The picture rows' names at `depth`: the recipe's four, and for a deeper stack a row
/// per autoencoder added ("AEs 1-2" reconstructs through hidden2).
fn row_names(depth: usize, corrupted: bool) -> Vec<String> {
    let through = (1..=depth).map(|k| match k {
        1 => "phase 1\n(outer)".to_string(),
        k if k == depth => "full stack".to_string(),
        k => format!("through\nAEs 1-{k}"),
    });
    std::iter::once("original".to_string())
        .chain(corrupted.then(|| "corrupted".to_string()))
        .chain(through)
        .chain(std::iter::once("error".to_string()))
        .collect()
}

/// The MSE rows' names, one per reconstruction.
fn mse_names(depth: usize) -> Vec<String> {
    (1..=depth)
        .map(|k| match k {
            1 => "outer MSE".to_string(),
            k if k == depth => "full MSE".to_string(),
            k => format!("AEs 1-{k} MSE"),
        })
        .collect()
}

/// The side of a picture for which the title row, the depth + 2 rows of pictures and
/// the depth rows of MSE fit the height left in the panel (within `IMAGE_SIZE`; a deep
/// stack's panel scrolls below the smallest).
fn image_side(ui: &Ui, depth: usize) -> f32 {
    let title = ui.spacing().interact_size.y;
    let mse = depth as f32 * ui.text_style_height(&egui::TextStyle::Body);
    let pictures = (depth + 2) as f32;
    // The gaps between the rows, and the scroll area's own margin.
    let gaps = (2 * depth + 2) as f32 * SPACING.y + 2.0 * ui.spacing().item_spacing.y + 8.0;
    let side = ((ui.available_height() - title - mse - gaps) / pictures).floor();
    side.clamp(*IMAGE_SIZE.start(), *IMAGE_SIZE.end())
}

fn scrubber_ui(ui: &mut Ui, test: &Images, sel: &mut Selection) -> Vec<UiCommand> {
    let mut clicked = Vec::new();
    // Counted, not collected: this runs every frame.
    let before = sel
        .candidates(test)
        .take_while(|&i| i < sel.current)
        .count();
    let total = sel.candidates(test).count();
    if UiCommand::ScrubPrevious.button(ui, true) {
        clicked.push(UiCommand::ScrubPrevious);
    }
    let max = total.saturating_sub(1);
    let mut pos = before.min(max);
    let slider = egui::Slider::new(&mut pos, 0..=max)
        .show_value(false)
        .trailing_fill(true);
    let resp = ui
        .add(slider)
        .on_hover_text("Scrub through the test images");
    resp.widget_info(|| egui::WidgetInfo::slider(true, pos as f64, "Test image"));
    if resp.changed()
        && let Some(i) = sel.candidates(test).nth(pos)
    {
        sel.current = i;
    }
    if UiCommand::ScrubNext.button(ui, true) {
        clicked.push(UiCommand::ScrubNext);
    }
    let label = test.labels.get(sel.current).copied().unwrap_or_default();
    ui.label(RichText::new(format!("image #{} · digit {label}", sel.current)).strong());
    let filter = ui.label("Show");
    egui::ComboBox::from_id_salt("digit-filter")
        .selected_text(match sel.digit {
            None => "all digits".to_string(),
            Some(d) => format!("only {d}s"),
        })
        .show_ui(ui, |ui| {
            let before = sel.digit;
            ui.selectable_value(&mut sel.digit, None, "all digits");
            for d in 0..10u8 {
                ui.selectable_value(&mut sel.digit, Some(d), format!("only {d}s"));
            }
            if sel.digit != before {
                sel.step(test, 0);
            }
        })
        .response
        .labelled_by(filter.id);
    let pinned = sel.pinned.contains(&sel.current);
    let text = if pinned {
        "Unpin"
    } else {
        UiCommand::PinImage.label()
    };
    let full = !pinned && sel.pinned.len() >= MAX_PINS;
    if UiCommand::PinImage.button_labelled(ui, !full, text) {
        clicked.push(UiCommand::PinImage);
    }
    clicked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_set() -> Images {
        Images {
            pixels: vec![0; 6 * 784],
            labels: vec![7, 2, 7, 1, 7, 2],
        }
    }

    #[test]
    fn stepping_follows_the_digit_filter() {
        let t = test_set();
        let mut s = Selection::default();
        s.step(&t, 1);
        assert_eq!(s.current, 1);
        s.digit = Some(7);
        s.step(&t, 1); // from 1 (not a 7) to the next 7
        assert_eq!(s.current, 2);
        s.step(&t, 1);
        assert_eq!(s.current, 4);
        s.step(&t, 1);
        assert_eq!(s.current, 4, "stays at the last one");
        s.step(&t, -2);
        assert_eq!(s.current, 0);
        s.digit = Some(2);
        s.step(&t, 0);
        assert_eq!(s.current, 1, "snaps to the first matching image");
    }

    #[test]
    fn pins_are_unique_bounded_and_fit_the_data() {
        let mut s = Selection::default();
        for i in 0..20 {
            s.toggle_pin(i);
        }
        assert_eq!(s.pinned.len(), MAX_PINS);
        s.toggle_pin(3);
        assert!(!s.pinned.contains(&3));
        s.current = 5;
        assert_eq!(s.shown()[0], 5);
        assert_eq!(s.shown().iter().filter(|&&i| i == 5).count(), 1);
        s.fit(4);
        assert_eq!(s.current, 0);
        assert!(s.pinned.iter().all(|&i| i < 4));
    }
}
