//! The "Losses" plot: every batch loss of every phase run (faint), a smoothed line per
//! run, the L2 term at each epoch end (dotted), epoch markers and phase boundaries, and
//! PCA's test MSE as dashed yardsticks, on a linear or log10 scale.

use egui::Ui;
use egui_plot::{HLine, HoverPosition, Legend, Line, Plot, PlotPoints, PlotUi, Text, VLine};

use super::command::UiCommand;
use super::session::{LossRun, PcaFigure, Session};
use super::theme::phase_color;
use crate::model::Phase;

#[derive(Debug, Default)]
pub struct LossesPanel;

impl LossesPanel {
    /// Draws the plot; returns the commands clicked (the log-scale switch).
    #[must_use]
    pub fn ui(&mut self, ui: &mut Ui, session: &Session, log_scale: bool) -> Vec<UiCommand> {
        let mut clicked = Vec::new();
        ui.horizontal(|ui| {
            let mut log = log_scale;
            let cmd = UiCommand::ToggleLogScale;
            if ui
                .checkbox(&mut log, "log scale")
                .on_hover_text(cmd.hover_text(ui.ctx()))
                .changed()
            {
                clicked.push(cmd);
            }
            if let Some(last) = session.runs().last().and_then(|r| r.raw.last()) {
                ui.weak(format!("batch {} · loss {:.6}", last.x, last.y));
            } else if session.runs().is_empty() {
                let arch = session.arch().unwrap_or(crate::model::Arch::RECIPE);
                let first = &super::phases::offered(arch)[0];
                let key = first.cmd.shortcut().map(|s| ui.ctx().format_shortcut(&s));
                let key = key.map(|k| format!(" (or {k})")).unwrap_or_default();
                ui.weak(format!(
                    "No losses yet: \"{}\"{key} starts training; each batch's loss appears here",
                    first.label
                ));
            }
        });
        self.plot_ui(ui, session, log_scale);
        clicked
    }

    fn plot_ui(&mut self, ui: &mut Ui, session: &Session, log: bool) {
        let y_label = if log { "log10(MSE)" } else { "MSE" };
        let mut plot = Plot::new("losses");
        if session.runs().is_empty() {
            // Where the recipe's losses will land (an empty plot spans -0.5 to 0.5, or
            // keeps the aspect of the x axis).
            let (low, high) = if log { (-3.0, 0.5) } else { (0.0, 0.5) };
            plot = plot
                .include_x(0.0)
                .include_x(100.0)
                .include_y(low)
                .include_y(high);
        }
        plot.legend(Legend::default())
            .x_axis_label("batch")
            .y_axis_label(y_label)
            .label_formatter(move |hover| {
                let (name, p) = match hover {
                    HoverPosition::NearDataPoint {
                        plot_name,
                        position,
                        ..
                    } => (format!("{plot_name}\n"), position),
                    HoverPosition::Elsewhere { position } => (String::new(), position),
                };
                let y = if log { 10f64.powf(p.y) } else { p.y };
                Some(format!("{name}batch {:.0}\nMSE {y:.6}", p.x))
            })
            .show(ui, |plot| {
                for (i, run) in session.runs().iter().enumerate() {
                    draw_run(plot, i, run, log);
                }
                for line in yardsticks(session) {
                    draw_yardstick(plot, line, log);
                }
            });
    }
}

/// What a PCA figure is, wherever one is shown.
pub const YARDSTICK_HOVER: &str = "PCA's test MSE through as many principal components \
    (of the training images) as the layer is wide: the best any linear encoder and decoder \
    of that width can do. Above 1x, PCA reconstructs the test images better";

/// Phase 1's yardstick (as many components as hidden1 is wide) and the full stack's
/// (as many as the code), once PCA is measured and a model is known.
fn yardsticks(session: &Session) -> Vec<(PcaFigure, &'static str, egui::Color32)> {
    let outer = session.outer_yardstick();
    let code = session.code_yardstick();
    // One autoencoder: phase 1's yardstick is the full stack's.
    let deep = session.arch().is_some_and(|a| a.depth() > 1);
    let phase1 = outer
        .filter(|_| deep)
        .map(|f| (f, "phase 1", phase_color(Phase::ONE)));
    let stack = code.map(|f| (f, "full stack", super::theme::GOOD));
    // A layer as wide as the image has PCA exact (0): no line to compare with.
    phase1
        .into_iter()
        .chain(stack)
        .filter(|(f, _, _)| f.mse > 1e-12)
        .collect()
}

/// A dashed horizontal at PCA's test MSE, labelled with its value.
fn draw_yardstick(plot: &mut PlotUi<'_>, line: (PcaFigure, &str, egui::Color32), log: bool) {
    let (pca, of, color) = line;
    let y = if log {
        pca.mse.max(1e-30).log10()
    } else {
        pca.mse
    };
    let name = format!(
        "PCA, {} components ({}'s yardstick): test MSE {:.6}",
        pca.components, of, pca.mse
    );
    plot.hline(
        HLine::new(name, y)
            .color(color.gamma_multiply(0.8))
            .style(egui_plot::LineStyle::dashed_dense())
            .width(1.5),
    );
    // At the first batch: a label at the plot's edge would widen the bounds it is
    // placed by, frame after frame.
    plot.text(
        Text::new(
            "",
            egui_plot::PlotPoint::new(0.0, y),
            format!("PCA-{} {:.6}", pca.components, pca.mse),
        )
        .anchor(egui::Align2::LEFT_TOP)
        .color(color),
    );
}

/// One phase run: its raw losses (faint), the smoothed line, its start, its epochs.
fn draw_run<'a>(plot: &mut PlotUi<'a>, i: usize, run: &'a LossRun, log: bool) {
    let color = phase_color(run.phase);
    let name = match (run.phase, run.cached) {
        (p @ Phase::Layer(_), true) => format!("{p} (cached)"),
        (p, _) => p.to_string(),
    };
    let (raw, smooth) = if log {
        (&run.raw_log, &run.smooth_log)
    } else {
        (&run.raw, &run.smooth)
    };
    plot.line(
        Line::new(name.clone(), PlotPoints::Borrowed(raw))
            .color(color.gamma_multiply(0.3))
            .id(("raw", i)),
    );
    plot.line(
        Line::new(name.clone(), PlotPoints::Borrowed(smooth))
            .color(color)
            .width(2.0)
            .id(("smooth", i)),
    );
    plot.vline(
        VLine::new("", run.start)
            .color(color)
            .width(1.5)
            .allow_hover(false),
    );
    let l2 = if log { &run.l2_log } else { &run.l2 };
    // A run without L2 (the deep preset) has a term of 0: no line, and none at 1e-30 on
    // the log scale.
    if run.l2.iter().any(|p| p.y > 0.0) {
        plot.line(
            Line::new(format!("{name}: L2 term"), PlotPoints::Borrowed(l2))
                .color(color)
                .style(egui_plot::LineStyle::dotted_dense())
                .width(1.5)
                .id(("l2", i)),
        );
    }
    if let Some(first) = smooth.first() {
        plot.text(
            Text::new("", egui_plot::PlotPoint::new(run.start, first.y), name)
                .anchor(egui::Align2::LEFT_BOTTOM)
                .color(color),
        );
    }
    for &x in &run.epoch_ends {
        plot.vline(
            VLine::new("", x)
                .color(color.gamma_multiply(0.35))
                .style(egui_plot::LineStyle::dashed_loose())
                .allow_hover(false),
        );
    }
}
