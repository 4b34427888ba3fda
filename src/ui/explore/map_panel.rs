//! "Map": the 10,000 test images as points, coloured by digit, for the codes, hidden1
//! or the pixels; PCA live, t-SNE on demand. Hover a point for its image; click to
//! pin it; Shift+drag a box to pin up to 8 from it.

use egui::{Color32, RichText, Ui, vec2};

use super::ExploreSettings;
use super::scatter::{Action, DigitStyle, Marker, Points, Scatter, Transform};
use super::state::{MapsState, TsneRun};
use crate::chart::DIGIT_COLORS;
use crate::data::Images;
use crate::explore::{Layer, Map, Method};
use crate::picture;
use crate::ui::command::UiCommand;
use crate::ui::recon::{MAX_PINS, Selection};
use crate::ui::textures::Texture;

const TSNE_CAPTION: &str = "t-SNE keeps each point's nearest neighbours near it: a tight \
    cluster is a group of alike codes. The sizes of the clusters, the gaps between them and \
    where they sit relative to each other mean little, and change with the perplexity and \
    the seed.";
const PCA_CAPTION: &str = "PCA: the plane along which the points spread the most, seen \
    flat. Distances on it are true distances projected (they can only shrink), so classes \
    that overlap here may still be apart in the other dimensions.";

#[derive(Default)]
pub struct MapPanel {
    scatter: Scatter,
    /// The image under the pointer, as a texture.
    hover: Option<(usize, Texture)>,
}

/// A digit's colour in the app.
pub fn digit_color(d: usize) -> Color32 {
    let [r, g, b, _] = DIGIT_COLORS[d.min(9)];
    Color32::from_rgb(r, g, b)
}

impl MapPanel {
    /// The last frame's screen transform of the map, if one was drawn (for tests).
    #[cfg(feature = "test-hooks")]
    pub fn transform(&self) -> Option<Transform> {
        self.scatter.last
    }

    #[must_use]
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        state: &MapsState,
        test: &Images,
        settings: &mut ExploreSettings,
        sel: &mut Selection,
        depth: usize,
    ) -> Vec<UiCommand> {
        let mut clicked = Vec::new();
        ui.horizontal_wrapped(|ui| controls_ui(ui, settings, sel, depth));
        ui.horizontal_wrapped(|ui| legend_ui(ui, settings));
        if settings.method == Method::Tsne {
            ui.horizontal_wrapped(|ui| tsne_ui(ui, state, settings, &mut clicked));
        }
        let map = state.map(settings.layer, settings.method).cloned();
        let Some(map) = map else {
            self.scatter.last = None;
            ui.add_space(20.0);
            ui.weak(match settings.method {
                Method::Pca => "computing the map…",
                Method::Tsne => "no t-SNE of this layer yet: press Run t-SNE",
            });
            return clicked;
        };
        ui.horizontal_wrapped(|ui| info_ui(ui, &map, state));
        let caption = match map.method {
            Method::Pca => PCA_CAPTION,
            Method::Tsne => TSNE_CAPTION,
        };
        let size = vec2(
            ui.available_width(),
            (ui.available_height() - 40.0).max(120.0),
        );
        self.points_ui(ui, size, &map, state, test, settings, sel);
        ui.label(RichText::new(caption).small().weak());
        clicked
    }

    #[allow(clippy::too_many_arguments)]
    fn points_ui(
        &mut self,
        ui: &mut Ui,
        size: egui::Vec2,
        map: &Map,
        state: &MapsState,
        test: &Images,
        settings: &ExploreSettings,
        sel: &mut Selection,
    ) {
        let styles = std::array::from_fn(|d| DigitStyle {
            color: digit_color(d).gamma_multiply(if active(sel, d) { 0.85 } else { 0.12 }),
            shown: !settings.hidden[d],
            active: active(sel, d),
        });
        let points = Points {
            coords: map.coords.view(),
            labels: &map.labels,
            generation: map.id,
            styles,
        };
        let markers = markers(ui, map, state, sel);
        let (resp, action) = self.scatter.ui(ui, size, &points, &markers);
        if let Some(t) = self.scatter.last
            && map.method == Method::Pca
        {
            axis_labels_ui(ui, t, map);
        }
        match action {
            Some(Action::Clicked(i)) => sel.toggle_pin(i),
            Some(Action::Boxed(inside)) if !inside.is_empty() => sel.pinned = spread(&inside),
            _ => {}
        }
        if let Some(i) = self.scatter.hovered.filter(|&i| i < test.len()) {
            let tex = self.hover_texture(ui.ctx(), test, i);
            let pinned = sel.pinned.contains(&i);
            resp.on_hover_ui_at_pointer(|ui| {
                if let Some(t) = tex {
                    ui.add(egui::Image::new((t, vec2(84.0, 84.0))));
                }
                ui.label(format!("test image #{i} · digit {}", test.labels[i]));
                ui.weak(if pinned {
                    "click to unpin"
                } else if sel.pinned.len() >= MAX_PINS {
                    "8 images are pinned: unpin one first"
                } else {
                    "click to pin it in Reconstructions"
                });
            });
        }
    }

    fn hover_texture(
        &mut self,
        ctx: &egui::Context,
        test: &Images,
        i: usize,
    ) -> Option<egui::TextureId> {
        if self.hover.as_ref().is_none_or(|(at, _)| *at != i) {
            let pixels: Vec<f32> = test.image(i).iter().map(|&b| b as f32 / 255.0).collect();
            let mut tex = self.hover.take().map(|(_, t)| t).unwrap_or_default();
            tex.set(ctx, "map-hover", &picture::digit(&pixels));
            self.hover = Some((i, tex));
        }
        self.hover
            .as_ref()
            .and_then(|(_, t)| t.get())
            .map(|t| t.id())
    }
}

/// The digit filter (shared with Reconstructions) lets digit `d` through.
fn active(sel: &Selection, d: usize) -> bool {
    sel.digit.is_none_or(|f| f as usize == d)
}

/// Up to `MAX_PINS` of `inside`, evenly spread through it.
fn spread(inside: &[usize]) -> Vec<usize> {
    let k = inside.len().min(MAX_PINS);
    (0..k).map(|j| inside[j * inside.len() / k]).collect()
}

fn markers(ui: &Ui, map: &Map, state: &MapsState, sel: &Selection) -> Vec<Marker> {
    let at = |i: usize| (i < map.len()).then(|| [map.coords[[i, 0]], map.coords[[i, 1]]]);
    let pin = ui.visuals().strong_text_color();
    let mut m: Vec<Marker> = sel
        .pinned
        .iter()
        .filter_map(|&i| at(i))
        .map(|at| Marker {
            at,
            color: pin,
            cross: false,
        })
        .collect();
    if let Some(at) = at(sel.current) {
        m.push(Marker {
            at,
            color: ui.visuals().selection.stroke.color,
            cross: false,
        });
    }
    if let Some(d) = &state.drawn
        && let Some(at) = map.place(
            ndarray::ArrayView1::from(d.at(map.layer)),
            &d.neighbours[map.layer.index()],
        )
    {
        m.push(Marker {
            at,
            color: Color32::from_rgb(255, 255, 255),
            cross: true,
        });
    }
    m
}

fn controls_ui(ui: &mut Ui, settings: &mut ExploreSettings, sel: &mut Selection, depth: usize) {
    ui.label("Layer:");
    // A layer the model does not have (kept from a deeper one) falls back to its code.
    if !Layer::offered(depth).any(|l| l == settings.layer) {
        settings.layer = Layer::Code;
    }
    for l in Layer::offered(depth) {
        ui.radio_value(&mut settings.layer, l, l.title(depth));
    }
    ui.separator();
    ui.radio_value(&mut settings.method, Method::Pca, "PCA (live)")
        .on_hover_text("Recomputed from every new snapshot while the model trains");
    ui.radio_value(&mut settings.method, Method::Tsne, "t-SNE")
        .on_hover_text("Computed on demand, in the background");
    ui.separator();
    let label = ui.label("Digit filter");
    egui::ComboBox::from_id_salt("map-digit-filter")
        .selected_text(match sel.digit {
            None => "all digits".to_string(),
            Some(d) => format!("only {d}s"),
        })
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut sel.digit, None, "all digits");
            for d in 0..10u8 {
                ui.selectable_value(&mut sel.digit, Some(d), format!("only {d}s"));
            }
        })
        .response
        .on_hover_text("Shared with Reconstructions: the other digits fade")
        .labelled_by(label.id);
}

fn legend_ui(ui: &mut Ui, settings: &mut ExploreSettings) {
    ui.label("Show:");
    for d in 0..10 {
        let mut shown = !settings.hidden[d];
        let text = RichText::new(format!("{d}")).color(digit_color(d)).strong();
        if ui
            .checkbox(&mut shown, text)
            .on_hover_text(format!("Show or hide the {d}s"))
            .changed()
        {
            settings.hidden[d] = !shown;
        }
    }
    if ui.small_button("all").clicked() {
        settings.hidden = [false; 10];
    }
}

fn tsne_ui(
    ui: &mut Ui,
    state: &MapsState,
    settings: &mut ExploreSettings,
    clicked: &mut Vec<UiCommand>,
) {
    let label = ui.label("Perplexity");
    ui.add(egui::DragValue::new(&mut settings.perplexity).range(2.0..=100.0).speed(0.5))
        .on_hover_text("About how many neighbours each point attends to: small values show local detail, large ones more global structure")
        .labelled_by(label.id);
    let running = state.tsne_run;
    if UiCommand::RunTsne.button(ui, running.is_none() && state.pca.is_some()) {
        clicked.push(UiCommand::RunTsne);
    }
    match running {
        Some(run) => {
            let text = match run {
                TsneRun::Neighbours { .. } => "finding neighbours…".to_string(),
                TsneRun::Iterating { done, total, .. } => format!("iteration {done} / {total}"),
            };
            let bar = egui::ProgressBar::new(run.fraction())
                .text(text)
                .desired_width(180.0);
            ui.add(bar);
            if UiCommand::CancelTsne.button(ui, true) {
                clicked.push(UiCommand::CancelTsne);
            }
        }
        None => {
            if let Some((iterations, latency)) = state.cancelled {
                ui.weak(format!(
                    "cancelled after {iterations} iterations ({:.0} ms after Cancel)",
                    latency.as_secs_f64() * 1000.0
                ));
            }
        }
    }
}

fn info_ui(ui: &mut Ui, map: &Map, state: &MapsState) {
    if let Some([a, b]) = map.explained {
        ui.label(format!(
            "PC1 {:.1}% · PC2 {:.1}% of the variance",
            a * 100.0,
            b * 100.0
        ));
        ui.separator();
    }
    if let Some(a) = map.agreement {
        ui.label(format!("nearest neighbour on the map is the same digit: {:.1}%", a * 100.0))
            .on_hover_text("The fraction of test images whose nearest point on this map shows the same digit: 10% for a random map, 100% for digits that never touch");
        ui.separator();
    }
    let timing = match map.method {
        Method::Pca if state.encode_seconds > 0.0 => format!(
            "PCA {:.0} ms (+ encoding {:.0} ms)",
            map.seconds * 1000.0,
            state.encode_seconds * 1000.0
        ),
        Method::Pca => format!("PCA {:.0} ms", map.seconds * 1000.0),
        Method::Tsne if state.tsne_run.is_some_and(|r| r.layer() == map.layer) => {
            format!("t-SNE forming · {:.1} s", map.seconds)
        }
        Method::Tsne => format!("t-SNE {:.1} s", map.seconds),
    };
    ui.weak(format!("{timing} · {}", map.source));
    if map.method == Method::Tsne && state.tsne_run.is_none() && map.source != state.source {
        ui.weak("(the parameters have changed since: run t-SNE again to follow them)");
    }
}

/// "PC1" along the bottom edge, "PC2" up the left one.
fn axis_labels_ui(ui: &Ui, t: Transform, map: &Map) {
    let painter = ui.painter_at(t.screen);
    let color = ui.visuals().weak_text_color();
    let font = egui::FontId::proportional(11.0);
    let [a, b] = map.explained.unwrap_or_default();
    painter.text(
        t.screen.right_bottom() + vec2(-6.0, -4.0),
        egui::Align2::RIGHT_BOTTOM,
        format!("PC1 ({:.0}%)", a * 100.0),
        font.clone(),
        color,
    );
    painter.text(
        t.screen.left_top() + vec2(6.0, 4.0),
        egui::Align2::LEFT_TOP,
        format!("PC2 ({:.0}%)", b * 100.0),
        font,
        color,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_pins_at_most_eight_spread_through_it() {
        let inside: Vec<usize> = (100..140).collect();
        let got = spread(&inside);
        assert_eq!(got, vec![100, 105, 110, 115, 120, 125, 130, 135]);
        assert_eq!(spread(&[3, 9]), vec![3, 9]);
        assert!(spread(&[]).is_empty());
    }
}
