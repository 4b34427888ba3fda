//! "Experiments": does layer-wise pretraining help? Pick label budgets, arms and
//! seeds, run the sweep on the worker, and watch test accuracy against labels fill in,
//! one line per arm with error bars for the spread over seeds; or run the notebook's own
//! experiment and see its printed numbers beside ours.

use egui::{Color32, RichText, Ui};
use egui_plot::{
    Corner, GridMark, HoverPosition, Legend, Line, LineStyle, Plot, PlotPoints, PlotUi, Points,
};
use serde::{Deserialize, Serialize};

use super::command::UiCommand;
use super::experiment_record::{ExperimentRecord, ExperimentState};
use crate::chart::thousands;
use crate::model::Arch;
use crate::train::classify::Arm;
use crate::train::experiment::{
    DEFAULT_STEPS, ExperimentSpec, MAX_STEPS, NOTEBOOK_PRETRAINED, NOTEBOOK_SCRATCH, Protocol,
    Summary, classifier_shape,
};
use crate::train::protocol::{ExperimentEnd, SecondEncoder};

/// What the user chose to run; persisted with the settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExperimentChoice {
    /// The label budgets as typed: numbers separated by commas or spaces.
    pub labels: String,
    pub arms: Vec<Arm>,
    pub seeds: u32,
    pub steps: usize,
}

impl Default for ExperimentChoice {
    fn default() -> Self {
        let spec = ExperimentSpec::default();
        Self {
            labels: spec
                .budgets
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            arms: spec.arms,
            seeds: spec.seeds,
            steps: DEFAULT_STEPS,
        }
    }
}

impl ExperimentChoice {
    /// The sweep these choices describe (checked against the data by the worker).
    pub fn spec(&self) -> Result<ExperimentSpec, String> {
        let budgets = self
            .labels
            .split([',', ' '])
            .filter(|t| !t.trim().is_empty())
            .map(|t| {
                let t = t.trim().replace('_', "");
                t.parse::<usize>()
                    .map_err(|_| format!("labels: '{t}' is not a number"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let arms: Vec<Arm> = Arm::ALL
            .into_iter()
            .filter(|a| self.arms.contains(a))
            .collect();
        if budgets.is_empty() || arms.is_empty() {
            return Err("pick at least one label budget and one arm".into());
        }
        Ok(ExperimentSpec {
            budgets,
            arms,
            seeds: self.seeds,
            protocol: Protocol::FixedSteps { steps: self.steps },
        })
    }
}

/// The arm's colour, the same as in exported charts.
pub fn arm_color(arm: Arm) -> Color32 {
    let [r, g, b, _] = crate::chart::arm_color(arm);
    Color32::from_rgb(r, g, b)
}

#[derive(Debug, Default)]
pub struct ExperimentsPanel;

impl ExperimentsPanel {
    /// Draws the panel; edits `choice` in place and returns the commands clicked.
    #[must_use]
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        record: &ExperimentRecord,
        idle: bool,
        encoder: Arch,
        second: Option<&SecondEncoder>,
        choice: &mut ExperimentChoice,
    ) -> Vec<UiCommand> {
        let mut clicked = Vec::new();
        let problem = ui
            .add_enabled_ui(!record.is_running(), |ui| choice_ui(ui, choice))
            .inner;
        ui.horizontal_wrapped(|ui| {
            let free = idle && !record.is_running();
            ui.label("Encoder B:");
            for (cmd, enabled) in [
                (UiCommand::KeepEncoderB, free),
                (UiCommand::LoadEncoderB, free),
                (UiCommand::ForgetEncoderB, free && second.is_some()),
            ] {
                if cmd.button(ui, enabled) {
                    clicked.push(cmd);
                }
            }
            match second {
                Some(b) => ui.label(format!("{} (test MSE {:.6})", b.name, b.test_mse)),
                None => ui.weak("none: sweeps run the model's encoder alone"),
            };
        });
        ui.horizontal(|ui| {
            let can_run = idle && !record.is_running();
            for (cmd, enabled) in [
                (UiCommand::RunExperiment, can_run && problem.is_none()),
                (UiCommand::RunBook, can_run),
                (UiCommand::CancelExperiment, record.is_running()),
                (UiCommand::ExportExperiment, !record.results.is_empty()),
            ] {
                if cmd.button(ui, enabled) {
                    clicked.push(cmd);
                }
            }
            if let Some(p) = &problem {
                ui.colored_label(ui.visuals().error_fg_color, p);
            }
        });
        status_ui(ui, record, encoder);
        let compared = record.against.is_some();
        ui.separator();
        // One scroll for the chart and the table: a table in a scroll area of its own
        // under the chart showed 2 of its 16 rows in the default window.
        egui::ScrollArea::vertical()
            .id_salt("experiment-results")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                if record.spec.as_ref().is_some_and(ExperimentSpec::is_book) {
                    book_ui(ui, record);
                } else {
                    let summary = record.summary();
                    chart_ui(ui, &summary, compared);
                    table_ui(ui, &summary, compared);
                }
            });
        clicked
    }
}

/// The budgets, arms, seeds and steps; the reason they cannot run, if so.
fn choice_ui(ui: &mut Ui, c: &mut ExperimentChoice) -> Option<String> {
    ui.horizontal_wrapped(|ui| {
        let l = ui.label("Labels");
        ui.add(egui::TextEdit::singleline(&mut c.labels).desired_width(170.0))
            .labelled_by(l.id)
            .on_hover_text("The first N training images of each budget keep their labels");
        for arm in Arm::ALL {
            let mut on = c.arms.contains(&arm);
            if ui.checkbox(&mut on, arm.name()).changed() {
                c.arms.retain(|&a| a != arm);
                if on {
                    c.arms.push(arm);
                }
            }
        }
        let l = ui.label("Seeds");
        ui.add(egui::DragValue::new(&mut c.seeds).range(1..=20))
            .labelled_by(l.id);
        let l = ui.label("Steps");
        ui.add(
            egui::DragValue::new(&mut c.steps)
                .range(1..=MAX_STEPS)
                .speed(10),
        )
        .labelled_by(l.id)
        .on_hover_text("Every run takes this many steps, whatever its budget and arm");
    });
    c.spec().err()
}

fn status_ui(ui: &mut Ui, r: &ExperimentRecord, encoder: Arch) {
    let text = match r.state {
        ExperimentState::None => format!(
            "Each run trains a {} classifier on the first N labels: from scratch, or from \
             the autoencoder's encoder (frozen, fine-tuned, or frozen for half the steps). \
             The autoencoder is the current model; if no phase trained it, its layer-wise \
             phases run first.",
            classifier_shape(encoder)
        ),
        ExperimentState::TrainingAutoencoder => format!(
            "No phase had trained the model: training it layer-wise ({}) first…",
            match encoder.depth() {
                1 => "phase 1".to_string(),
                k => format!("phases 1-{k}"),
            }
        ),
        ExperimentState::Running => "Running…".to_string(),
        ExperimentState::Ended(ExperimentEnd::Done) => "Done.".to_string(),
        ExperimentState::Ended(ExperimentEnd::Cancelled) => "Cancelled.".to_string(),
        ExperimentState::Ended(ExperimentEnd::Failed) => "Failed (see the error).".to_string(),
    };
    ui.label(RichText::new(text).weak());
    if let Some(b) = &r.against {
        ui.label(
            RichText::new(format!(
                "A is the model; B is {} (test MSE {:.6}). Each of B's pretrained runs \
                 follows A's of the same labels, arm and seed: \"vs A\" is their paired \
                 difference.",
                b.name, b.test_mse
            ))
            .weak(),
        );
    }
    if let Some(p) = r.progress {
        ui.horizontal(|ui| {
            ui.add(
                egui::ProgressBar::new(p.fraction() as f32)
                    .desired_width(240.0)
                    .show_percentage(),
            );
            ui.label(format!(
                "run {}/{} · {:.0} s · ETA {:.0} s",
                p.runs_done.min(p.runs_total),
                p.runs_total,
                p.elapsed_seconds,
                p.eta_seconds
            ));
        });
    }
}

/// Test accuracy against the number of labels (log scale), one line per arm with
/// error bars of ± one standard deviation over the seeds.
fn chart_ui(ui: &mut Ui, summary: &[Summary], compared: bool) {
    let find = |name: &str, x: f64| {
        summary
            .iter()
            .find(|s| {
                series(s.arm, s.against, compared) == name
                    && ((s.labels as f64).log10() - x).abs() < 0.05
            })
            .cloned()
    };
    // Room for the chart and, below it, the first rows of the table; the rest scrolls.
    let height = (ui.available_height() * 0.6).clamp(220.0, 420.0);
    let mut plot = Plot::new("experiment-chart");
    if summary.is_empty() {
        // Where the results will land: 10 to 55,000 labels, accuracies of 50% and up.
        plot = plot
            .include_x(1.0)
            .include_x(4.8)
            .include_y(0.5)
            .include_y(1.0);
    }
    plot.height(height)
        .legend(
            Legend::default()
                .position(Corner::RightBottom)
                .follow_insertion_order(true),
        )
        .x_axis_label("labelled training images")
        .y_axis_label("test accuracy")
        .x_grid_spacer(|input| {
            // Powers of ten inside the bounds only: a label on the edge is cut in half.
            let (lo, hi) = (input.bounds.0.ceil() as i32, input.bounds.1.floor() as i32);
            (lo..=hi)
                .map(|e| GridMark {
                    value: e as f64,
                    step_size: 1.0,
                })
                .collect()
        })
        .x_axis_formatter(|mark, _| thousands(10f64.powf(mark.value).round() as usize))
        .label_formatter(move |hover| {
            let HoverPosition::NearDataPoint {
                plot_name,
                position,
                ..
            } = hover
            else {
                return None;
            };
            let s = find(plot_name, position.x)?;
            let points = |d: Option<(f64, f64)>, vs: &str| {
                d.map(|(m, sd)| format!("\n{:+.2} ± {:.2} points vs {vs}", m * 100.0, sd * 100.0))
                    .unwrap_or_default()
            };
            let vs = points(s.vs_scratch, "scratch") + &points(s.vs_first, "A");
            Some(format!(
                "{}: {} labels\n{:.4} ± {:.4} over {} seed(s){vs}",
                series(s.arm, s.against, compared),
                thousands(s.labels),
                s.mean,
                s.sd,
                s.runs
            ))
        })
        .show(ui, |plot| {
            // Backwards: a legend in a bottom corner lists the last item first, and
            // should read scratch, frozen (A), frozen (B), ... from the top.
            for (k, arm) in Arm::ALL.into_iter().enumerate().rev() {
                for against in [true, false] {
                    arm_ui(plot, arm, against, summary, k, compared);
                }
            }
        });
}

/// The name of an arm's line (and legend entry): "frozen", or "frozen (B)" when two
/// encoders are compared.
fn series(arm: Arm, against: bool, compared: bool) -> String {
    match (compared, against, arm) {
        (false, ..) | (true, false, Arm::Scratch) => arm.name().to_string(),
        (true, false, _) => format!("{} (A)", arm.name()),
        (true, true, _) => format!("{} (B)", arm.name()),
    }
}

/// One arm of one encoder: its means joined by a line (dashed for encoder B), and an
/// error bar of ± one standard deviation at each budget, nudged sideways per arm and
/// encoder so that the bars do not cover each other.
fn arm_ui<'a>(
    plot: &mut PlotUi<'a>,
    arm: Arm,
    against: bool,
    summary: &[Summary],
    k: usize,
    compared: bool,
) {
    let rows: Vec<&Summary> = (summary.iter())
        .filter(|s| (s.arm, s.against) == (arm, against))
        .collect();
    if rows.is_empty() {
        return;
    }
    let (name, color) = (series(arm, against, compared), arm_color(arm));
    let nudge = (k as f64 - 1.5) * 0.02 + if against { 0.01 } else { 0.0 };
    let style = match against {
        true => LineStyle::dashed_dense(),
        false => LineStyle::Solid,
    };
    let at = |s: &Summary| (s.labels as f64).log10() + nudge;
    let means: Vec<[f64; 2]> = rows.iter().map(|s| [at(s), s.mean]).collect();
    // The line first: the legend takes its colour from the first item of a name.
    plot.line(
        Line::new(name.as_str(), PlotPoints::from(means.clone()))
            .color(color)
            .style(style)
            .width(2.0),
    );
    plot.points(
        Points::new(name.as_str(), PlotPoints::from(means))
            .color(color)
            .filled(!against)
            .radius(3.5),
    );
    for s in rows.iter().filter(|s| s.runs > 1) {
        let bar = vec![[at(s), s.mean - s.sd], [at(s), s.mean + s.sd]];
        plot.line(
            Line::new(name.as_str(), PlotPoints::from(bar))
                .color(color)
                .width(1.5),
        );
    }
}

/// The numbers behind the chart.
fn table_ui(ui: &mut Ui, summary: &[Summary], compared: bool) {
    if summary.is_empty() {
        return;
    }
    let points = |d: Option<(f64, f64)>| {
        d.map(|(m, sd)| format!("{:+.2} ± {:.2}", m * 100.0, sd * 100.0))
            .unwrap_or_default()
    };
    egui::Grid::new("experiment-summary")
        .striped(true)
        .spacing([16.0, 2.0])
        .show(ui, |ui| {
            let mut heads = vec!["labels", "arm", "test accuracy", "vs scratch (points)"];
            if compared {
                heads.push("vs A (points)");
            }
            for h in heads.into_iter().chain(["seeds"]) {
                ui.strong(h);
            }
            ui.end_row();
            for s in summary {
                ui.monospace(thousands(s.labels));
                ui.colored_label(arm_color(s.arm), series(s.arm, s.against, compared));
                ui.monospace(format!("{:.4} ± {:.4}", s.mean, s.sd));
                ui.monospace(points(s.vs_scratch));
                if compared {
                    ui.monospace(points(s.vs_first));
                }
                ui.monospace(s.runs.to_string());
                ui.end_row();
            }
        });
}

/// The notebook's experiment: ours epoch by epoch, beside what the notebook printed.
fn book_ui(ui: &mut Ui, r: &ExperimentRecord) {
    ui.label(
        "The notebook's protocol: 20,000 labels, 4 epochs of 133 steps (each batch the \
         head of a fresh permutation), L2 5e-4, every layer fine-tuned; one seed.",
    );
    let ours = |arm: Arm, epoch: u32| {
        r.epochs
            .iter()
            .find(|(run, e)| run.arm == arm && e.epoch == epoch)
            .map(|(_, e)| format!("{:.4}", e.test_accuracy))
            .unwrap_or_default()
    };
    egui::Grid::new("book")
        .striped(true)
        .spacing([20.0, 2.0])
        .show(ui, |ui| {
            for h in ["epoch", "scratch", "notebook", "pretrained", "notebook"] {
                ui.strong(h);
            }
            ui.end_row();
            for e in 0..4u32 {
                ui.monospace(e.to_string());
                ui.monospace(ours(Arm::Scratch, e));
                ui.weak(format!("{:.4}", NOTEBOOK_SCRATCH[e as usize]));
                ui.monospace(ours(Arm::FineTuned, e));
                ui.weak(format!("{:.4}", NOTEBOOK_PRETRAINED[e as usize]));
                ui.end_row();
            }
        });
    ui.weak(
        "One run per arm, as in the book: earlier outputs of the same notebook put the \
         difference anywhere from -0.9 to +1.3 points. The sweep above, with seeds, says more.",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_into_a_spec_or_say_what_is_wrong() {
        let c = ExperimentChoice::default();
        assert_eq!(c.spec().unwrap(), ExperimentSpec::default());
        let c = ExperimentChoice {
            labels: "100 1_000,, 20000".into(),
            arms: vec![Arm::Unfreeze, Arm::Scratch],
            ..Default::default()
        };
        let s = c.spec().unwrap();
        assert_eq!(s.budgets, vec![100, 1000, 20000]);
        assert_eq!(
            s.arms,
            vec![Arm::Scratch, Arm::Unfreeze],
            "in the usual order"
        );
        let bad = ExperimentChoice {
            labels: "100, lots".into(),
            ..Default::default()
        };
        assert_eq!(bad.spec().unwrap_err(), "labels: 'lots' is not a number");
        let none = ExperimentChoice {
            arms: vec![],
            ..Default::default()
        };
        assert!(none.spec().is_err());
        assert_eq!(thousands(55000), "55,000");
        assert_eq!(thousands(100), "100");
    }
}
