//! The window's chrome: menus, the status bar, the error box and the title.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::app::LayerwiseApp;
use super::command::UiCommand;
use super::layout;
use crate::train::protocol::RunState;

/// How often the title's percentage may move.
const TITLE_INTERVAL: Duration = Duration::from_secs(1);

/// The last few hundred UI frame times (CPU seconds per frame), for the status bar.
#[derive(Debug, Default)]
pub struct FrameStats {
    recent: VecDeque<f32>,
}

impl FrameStats {
    const WINDOW: usize = 300;

    pub fn push(&mut self, seconds: f32) {
        if self.recent.len() == Self::WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(seconds);
    }

    /// (p50, p95) in milliseconds of `samples`.
    pub fn percentiles(samples: impl Iterator<Item = f32>) -> Option<(f32, f32)> {
        let mut v: Vec<f32> = samples.collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f32::total_cmp);
        let at = |q: f32| v[((v.len() - 1) as f32 * q).round() as usize] * 1000.0;
        Some((at(0.5), at(0.95)))
    }

    fn recent_ms(&self) -> Option<(f32, f32)> {
        Self::percentiles(self.recent.iter().copied())
    }
}

/// Light, dark, or as the system says (egui's own buttons draw emoji, which its
/// bundled fonts lack).
fn theme_ui(ui: &mut egui::Ui) {
    let mut pref = ui.ctx().options(|o| o.theme_preference);
    ui.horizontal(|ui| {
        ui.selectable_value(&mut pref, egui::ThemePreference::System, "System");
        ui.selectable_value(&mut pref, egui::ThemePreference::Light, "Light");
        ui.selectable_value(&mut pref, egui::ThemePreference::Dark, "Dark");
    });
    ui.ctx().set_theme(pref);
}

/// One menu button per command; a click closes the menu.
fn menu_items(ui: &mut egui::Ui, commands: &[UiCommand], clicked: &mut Vec<UiCommand>) {
    for &cmd in commands {
        if ui
            .button(cmd.label())
            .on_hover_text(cmd.hover_text(ui.ctx()))
            .clicked()
        {
            clicked.push(cmd);
            ui.close();
        }
    }
}

impl LayerwiseApp {
    #[must_use]
    pub(super) fn menu_ui(&mut self, ui: &mut egui::Ui) -> Vec<UiCommand> {
        use UiCommand::*;
        let mut clicked = Vec::new();
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                let items = [
                    OpenData,
                    LoadCheckpoint,
                    SaveCheckpoint,
                    ExportImages,
                    ExportLosses,
                    Quit,
                ];
                menu_items(ui, &items, &mut clicked);
            });
            let offered = super::phases::offered(self.model_arch());
            ui.menu_button("Training", |ui| {
                for o in &offered {
                    if ui
                        .button(o.label.as_str())
                        .on_hover_text(o.hover_text(ui.ctx()))
                        .clicked()
                    {
                        clicked.push(o.cmd);
                        ui.close();
                    }
                }
                menu_items(ui, &[PauseResume, Stop, Reset], &mut clicked);
            });
            ui.menu_button("Experiment", |ui| {
                let items = [RunExperiment, RunBook, CancelExperiment, ExportExperiment];
                menu_items(ui, &items, &mut clicked);
            });
            ui.menu_button("View", |ui| {
                let mut log = self.settings.log_scale;
                if ui
                    .checkbox(&mut log, ToggleLogScale.label())
                    .on_hover_text(ToggleLogScale.hover_text(ui.ctx()))
                    .changed()
                {
                    clicked.push(ToggleLogScale);
                }
                theme_ui(ui);
                ui.separator();
                if ui
                    .button("Reset the layout")
                    .on_hover_text("Put every view back where it started")
                    .clicked()
                {
                    self.layout = layout::default_tree();
                    ui.close();
                }
            });
        });
        clicked
    }

    pub(super) fn status_ui(&mut self, ui: &mut egui::Ui) {
        // The frame times first, at the right: a long notice is cut short before them
        // (in full on hover) instead of running under them.
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if let Some((p50, p95)) = self.frames.recent_ms() {
                ui.weak(format!("frame {p50:.1} ms (p95 {p95:.1})"));
            }
            ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                self.status_left_ui(ui);
            });
        });
    }

    fn status_left_ui(&mut self, ui: &mut egui::Ui) {
        let data = self.session.data();
        ui.weak(format!(
            "{} · {} train / {} test images",
            data.source,
            data.train.len(),
            data.test.len()
        ));
        if let Some(t) = self.session.test() {
            ui.separator();
            if self.session.inner_trained() {
                ui.label(format!(
                    "test MSE: full stack {:.6} · outer autoencoder {:.6}",
                    t.full, t.outer
                ));
                if let Some(line) = self.session.code_yardstick() {
                    ui.weak(line.against(t.full))
                        .on_hover_text(super::losses::YARDSTICK_HOVER);
                }
            } else {
                ui.label(format!("test MSE: outer autoencoder {:.6}", t.outer));
                ui.weak(format!(
                    "· full stack {:.6} (inner layers untrained)",
                    t.full
                ));
            }
        }
        if self.disk.busy() {
            ui.spinner().on_hover_text("writing files");
        }
        if let Some(n) = self.notes.latest() {
            ui.separator();
            ui.add(egui::Label::new(egui::RichText::new(n).weak()).truncate());
        }
    }

    /// Errors float over the bottom of the plot, so that no control moves when one
    /// appears; they stay until dismissed.
    pub(super) fn errors_ui(&mut self, ctx: &egui::Context) {
        if self.notes.errors().is_empty() {
            return;
        }
        let mut dismiss = false;
        egui::Area::new(egui::Id::unique("layerwise-errors"))
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -36.0))
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                let color = ui.visuals().error_fg_color;
                egui::Frame::popup(ui.style())
                    .stroke(egui::Stroke::new(1.5, color))
                    .show(ui, |ui| {
                        ui.set_max_width(520.0);
                        ui.colored_label(color, egui::RichText::new("Error").strong());
                        let errors = self.notes.errors();
                        for e in errors.iter().skip(errors.len().saturating_sub(3)) {
                            ui.colored_label(color, e.as_str());
                        }
                        dismiss = ui.button("Dismiss").clicked();
                    });
            });
        if dismiss {
            self.notes.dismiss_errors();
        }
    }

    /// The window title shows a running phase's progress, also in a task bar. Its
    /// percentage moves at most once a second: egui paints two more frames after every
    /// change of title, which at each 5% tripled the frames of a phase.
    pub(super) fn update_title(&mut self, ctx: &egui::Context) {
        let experiment = self.session.experiment().progress;
        let title = match (self.session.state(), self.session.progress()) {
            (RunState::Experimenting, _) => match experiment {
                Some(p) => {
                    let percent = (p.fraction() * 100.0) as u32;
                    format!("layerwise · experiment · {}%", percent / 5 * 5)
                }
                None => "layerwise · experiment".to_string(),
            },
            (RunState::Idle, _) | (_, None) => "layerwise".to_string(),
            (state, Some(p)) => {
                let paused = if matches!(state, RunState::Paused(_)) {
                    " paused"
                } else {
                    ""
                };
                let percent = (p.fraction() * 100.0) as u32;
                format!("layerwise · {}{paused} · {}%", p.phase, percent / 5 * 5)
            }
        };
        if title_due(&self.title, &title, self.title_at.elapsed()) {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
            self.title_at = Instant::now();
        }
    }
}

/// Whether the title should change from `old` to `new`, `since` after its last change:
/// at once when what runs changes, the percentage alone at most every `TITLE_INTERVAL`.
fn title_due(old: &str, new: &str, since: Duration) -> bool {
    let what = |t: &str| t.rsplit_once(" · ").map_or(t, |(w, _)| w).to_owned();
    old != new && (what(old) != what(new) || since >= TITLE_INTERVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_percentage_moves_once_a_second_and_news_at_once() {
        let ms = Duration::from_millis;
        let p1 = |pc: u32| format!("layerwise · phase 1 · {pc}%");
        assert!(!title_due(&p1(5), &p1(10), ms(300)));
        assert!(title_due(&p1(5), &p1(30), ms(1000)));
        assert!(!title_due(&p1(30), &p1(30), ms(5000)));
        assert!(title_due(&p1(95), "layerwise", ms(10)));
        assert!(title_due("layerwise", &p1(0), ms(10)));
        assert!(title_due(
            &p1(40),
            "layerwise · phase 1 paused · 40%",
            ms(10)
        ));
        assert!(title_due(
            &p1(95),
            "layerwise · phase 2 (cached) · 0%",
            ms(10)
        ));
    }
}
