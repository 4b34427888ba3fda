//! Which parameters the exploration views show: the live ones, or those saved at the end
//! of any epoch of any phase (the history).

use std::sync::Arc;

use egui::Ui;
use ndarray::Array2;

use super::seen::Seen;
use super::session::Session;
use crate::data::Mnist;
use crate::inspect::{self, Reconstruction};
use crate::model::{Noise, Params};

/// The parameters (and mean codes) the views draw from.
#[derive(Debug, Clone)]
pub struct Shown {
    pub params: Arc<Params>,
    pub class_means: Option<Arc<Array2<f32>>>,
    pub label: String,
}

/// The shown images run through the shown parameters: computed once per change of
/// either, and read by every view of them (reconstructions, codes).
#[derive(Debug, Default)]
pub struct Inspection {
    /// The parameters, test set and images the reconstructions were computed for
    /// (snapshots are never mutated, only replaced).
    params: Seen<Params>,
    data: Seen<Mnist>,
    indices: Vec<usize>,
    noise: Noise,
    pub recons: Vec<Reconstruction>,
    /// Counts recomputations, so that views know when to redraw.
    pub generation: u64,
}

impl Inspection {
    /// Recomputes the reconstructions if the parameters or the images changed (a
    /// handful of images: cheap enough for the UI thread).
    /// The images are corrupted by `noise` first (a denoising run's, to see it at work).
    pub fn update(&mut self, shown: &Shown, data: &Arc<Mnist>, indices: Vec<usize>, noise: Noise) {
        // Both checked, so that both remember what they saw.
        let params = self.params.changed(Some(&shown.params));
        let data_changed = self.data.changed(Some(data));
        if params || data_changed || self.indices != indices || self.noise != noise {
            self.recons = inspect::reconstruct_noisy(&shown.params, &data.test, &indices, noise);
            self.indices = indices;
            self.noise = noise;
            self.generation += 1;
        }
    }
}

/// `history`: `None` for the live parameters, else an index into `session.history`.
pub fn pick(session: &Session, history: Option<usize>) -> Option<Shown> {
    match history.and_then(|i| session.history().get(i)) {
        Some(s) => Some(Shown {
            params: s.params.clone(),
            class_means: s.class_means.clone(),
            label: match s.epoch_end {
                Some((phase, epoch)) => format!("after {phase}, epoch {epoch}"),
                None => "saved".into(),
            },
        }),
        None => session.snapshot().as_ref().map(|s| Shown {
            params: s.params.clone(),
            class_means: session.class_means().clone(),
            label: "live".into(),
        }),
    }
}

/// The history slider: live, or the parameters after any finished epoch.
pub fn history_ui(ui: &mut Ui, session: &Session, history: &mut Option<usize>) {
    ui.horizontal(|ui| {
        ui.label("Parameters:");
        let mut live = history.is_none();
        if ui
            .radio_value(&mut live, true, "live")
            .on_hover_text("Follow training as it happens")
            .clicked()
        {
            *history = None;
        }
        let n = session.history().len();
        ui.add_enabled_ui(n > 0, |ui| {
            if ui
                .radio_value(&mut live, false, "after epoch")
                .on_hover_text("Look at the model as it was at the end of an epoch")
                .clicked()
            {
                *history = Some(n.saturating_sub(1));
            }
            let mut i = history.unwrap_or(n.saturating_sub(1));
            let slider = egui::Slider::new(&mut i, 0..=n.saturating_sub(1)).show_value(false);
            let resp = ui.add_enabled(history.is_some(), slider);
            resp.widget_info(|| {
                egui::WidgetInfo::slider(history.is_some(), i as f64, "Epoch snapshot")
            });
            if resp.changed() {
                *history = Some(i);
            }
        });
        if let Some(s) = pick(session, *history) {
            ui.weak(s.label);
        }
    });
}
