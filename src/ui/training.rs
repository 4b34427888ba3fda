//! The left panel: the stack drawing, hyperparameters, phase buttons, the cache switch,
//! progress, and the table of epochs.

use egui::{RichText, Ui};

use super::command::UiCommand;
use super::phases;
use super::session::{PcaFigure, PhaseResult, Session};
use super::stack::{StackView, stack_ui};
use crate::model::{Activation, Arch, Init, Phase, Widths};
use crate::train::protocol::RunState;
use crate::train::{Hyperparams, Loss, Preset};

/// Text being edited in the float fields, so that "0." or "1e-" can be typed.
#[derive(Debug, Default)]
pub struct TrainingPanel {
    lr_text: Option<String>,
    l2_text: Option<String>,
    fine_tune_text: Option<String>,
    /// The encoder widths being typed ("1000,500,250,30"), taken on Enter or leaving.
    layers_text: Option<String>,
    /// A denoising noise being typed ("mask:0.25"), and a sparsity penalty ("l1:1e-5").
    noise_text: Option<String>,
    sparsity_text: Option<String>,
    /// Phase previewed in the drawing while a phase button is hovered.
    preview: Option<Phase>,
}

impl TrainingPanel {
    /// Draws the panel; edits `hp` in place and returns the commands clicked.
    #[must_use]
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        session: &Session,
        hp: &mut Hyperparams,
        cache_hidden1: bool,
    ) -> Vec<UiCommand> {
        let mut clicked = Vec::new();
        let shown = self.preview.take().or(match session.state() {
            RunState::Running(p) | RunState::Paused(p) => Some(p),
            RunState::Idle | RunState::Experimenting => session.results().last().map(|r| r.phase),
        });
        ui.heading("Training");
        // What the buttons train: the worker's model, which new widths replace at Reset.
        let arch = session
            .arch()
            .unwrap_or_else(|| hp.arch(crate::data::PIXELS));
        stack_ui(
            ui,
            StackView {
                arch,
                phase: shown,
                running: !session.is_idle(),
                noise: hp.noise,
            },
        );
        ui.add_space(6.0);
        let idle = session.is_idle();
        let before = hp.arch(arch.inputs);
        let problem = ui
            .add_enabled_ui(idle, |ui| self.hyperparams_ui(ui, session, hp))
            .inner;
        if let Some(msg) = &problem {
            ui.colored_label(ui.visuals().error_fg_color, msg.as_str());
        }
        let wanted = hp.arch(arch.inputs);
        if wanted != arch {
            if wanted != before && idle && session.untrained() {
                // Nothing trained yet: nothing is lost by building the new stack now.
                clicked.push(UiCommand::Reset);
            } else {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!(
                        "The model is {arch}; Reset builds {} (save the trained one first)",
                        hp.arch(arch.inputs)
                    ),
                );
            }
        }
        ui.add_space(6.0);
        self.buttons_ui(ui, session, arch, idle && problem.is_none(), &mut clicked);
        ui.add_space(4.0);
        self.cache_ui(ui, session, arch, cache_hidden1, &mut clicked);
        ui.separator();
        progress_ui(ui, session);
        if let Some(o) = session.subspace_overlap() {
            ui.label(format!(
                "Decoder's subspace against PCA-{}'s: overlap {o:.4}",
                arch.code()
            ))
            .on_hover_text(
                "||P^T Q||^2 / k: Q an orthonormal basis of the decoder weights' rows, P the \
                 top k principal axes of the training images; 1 = the same subspace, \
                 k/784 what random ones average. A linear autoencoder's optimum spans PCA's.",
            );
        }
        ui.separator();
        epochs_ui(ui, session);
        clicked
    }

    /// The phase buttons (hovering one previews its phase in the drawing) and the
    /// run controls.
    fn buttons_ui(
        &mut self,
        ui: &mut Ui,
        session: &Session,
        arch: Arch,
        can_start: bool,
        clicked: &mut Vec<UiCommand>,
    ) {
        for o in phases::offered(arch) {
            let b = ui
                .add_enabled(
                    can_start,
                    egui::Button::new(o.label.as_str())
                        .min_size(egui::vec2(ui.available_width(), 0.0)),
                )
                .on_hover_text(o.hover_text(ui.ctx()));
            if b.hovered() {
                self.preview = Some(o.phase);
            }
            if b.clicked() {
                clicked.push(o.cmd);
            }
        }
        let running = !session.is_idle();
        let phase_running = matches!(session.state(), RunState::Running(_) | RunState::Paused(_));
        ui.horizontal(|ui| {
            let pause = if matches!(session.state(), RunState::Paused(_)) {
                "Resume"
            } else {
                "Pause"
            };
            let controls = [
                (UiCommand::PauseResume, phase_running, pause),
                (UiCommand::Stop, running, UiCommand::Stop.label()),
                (UiCommand::Reset, true, UiCommand::Reset.label()),
            ];
            for (cmd, enabled, label) in controls {
                if cmd.button_labelled(ui, enabled, label) {
                    clicked.push(cmd);
                }
            }
        });
    }

    fn hyperparams_ui(
        &mut self,
        ui: &mut Ui,
        session: &Session,
        hp: &mut Hyperparams,
    ) -> Option<String> {
        let mut problem = None;
        egui::Grid::new("hyperparams")
            .num_columns(2)
            .spacing([12.0, 4.0])
            .show(ui, |ui| {
                preset_field(ui, hp);
                let layers = self.layers_field(ui, hp);
                let lr = float_field(
                    ui,
                    "Learning rate",
                    &mut self.lr_text,
                    &mut hp.learning_rate,
                );
                let l2 = float_field(ui, "L2", &mut self.l2_text, &mut hp.l2);
                let ft = float_field(
                    ui,
                    "Fine-tune learning rate",
                    &mut self.fine_tune_text,
                    &mut hp.fine_tune_learning_rate,
                );
                problem = layers.or(lr).or(l2).or(ft);
                int_field(ui, "Epochs per phase", None, &mut hp.epochs);
                let mut ft_epochs = hp.fine_tune_epochs.unwrap_or(hp.epochs);
                int_field(
                    ui,
                    "Fine-tune epochs",
                    Some("Epochs of fine-tuning all layers (the recipe: as many as a phase)"),
                    &mut ft_epochs,
                );
                if ft_epochs != hp.fine_tune_epochs.unwrap_or(hp.epochs) {
                    hp.fine_tune_epochs = Some(ft_epochs);
                }
                ui.label("Fine-tune Adam");
                ui.checkbox(&mut hp.fine_tune_fresh_adam, "fresh")
                    .on_hover_text(
                        "Fine-tuning starts Adam with zero moments instead of going on with \
                         the layer-wise phases' (the deep stack needs it: going on doubles \
                         its error)",
                    );
                ui.end_row();
                int_field(ui, "Batch size", None, &mut hp.batch_size);
                int_field(
                    ui,
                    "Seed",
                    Some("Takes effect at the next Reset"),
                    &mut hp.seed,
                );
                let variant = self.variant_ui(ui, hp);
                problem = problem.take().or(variant);
            });
        problem.or_else(|| {
            hp.validate(session.data().train.len())
                .err()
                .map(|e| e.to_string())
        })
    }

    fn cache_ui(
        &mut self,
        ui: &mut Ui,
        session: &Session,
        arch: Arch,
        cache_hidden1: bool,
        clicked: &mut Vec<UiCommand>,
    ) {
        if arch.depth() < 2 {
            return;
        }
        let mb = |level: usize| {
            let bytes = crate::train::cache_bytes(session.data().train.len(), arch.level(level));
            format!("{:.0} MB", bytes as f64 / 1e6)
        };
        let label = match arch.depth() {
            2 => UiCommand::ToggleCache.label(),
            _ => "Cache each phase's input",
        };
        ui.horizontal(|ui| {
            let mut on = cache_hidden1;
            if ui
                .checkbox(&mut on, label)
                .on_hover_text(UiCommand::ToggleCache.hover_text(ui.ctx()))
                .changed()
            {
                clicked.push(UiCommand::ToggleCache);
            }
            if arch.depth() == 2 {
                ui.weak(mb(1));
            }
        });
        if arch.depth() > 2 {
            // Each phase k >= 2 caches h(k-1) over the training set, built when it starts.
            let sizes: Vec<String> = (2..=arch.depth())
                .map(|k| format!("phase {k}: {}", mb(k - 1)))
                .collect();
            ui.weak(sizes.join(" · "));
        }
        if let Some(c) = session.cache() {
            let how = if c.reused {
                "reused".to_string()
            } else {
                format!("built in {:.2} s", c.seconds)
            };
            let mb = c.bytes as f64 / 1e6;
            ui.weak(format!("hidden{} cache {how} ({mb:.0} MB)", c.level));
        }
        if let [Some(uncached), Some(cached)] = session.phase2_epoch_seconds() {
            ui.label(format!(
                "Phase 2 per epoch: {uncached:.2} s uncached, {cached:.2} s cached ({:.1}x)",
                uncached / cached
            ));
        }
    }
}

impl TrainingPanel {
    /// The chapter's variants: the activation, the initialisation and tying (what the
    /// network is: a new one is built at Reset), noise and sparsity (taken at the next
    /// phase).
    fn variant_ui(&mut self, ui: &mut Ui, hp: &mut Hyperparams) -> Option<String> {
        let label = ui
            .label("Activation")
            .on_hover_text(
                "The hidden layers' nonlinearity (the output stays linear); a linear code \
                 keeps the innermost layer linear, as the 2006 paper's",
            )
            .id;
        ui.horizontal(|ui| {
            egui::ComboBox::from_id_salt("activation")
                .selected_text(hp.activation.name())
                .show_ui(ui, |ui| {
                    for a in Activation::ALL {
                        ui.selectable_value(&mut hp.activation, a, a.name());
                    }
                })
                .response
                .labelled_by(label);
            ui.checkbox(&mut hp.linear_code, "linear code");
            let bce = hp.loss == Loss::Bce;
            let mut on = bce;
            ui.checkbox(&mut on, "BCE").on_hover_text(
                "Binary cross-entropy through a sigmoid output instead of MSE through a \
                     linear one (every phase's target must lie in [0, 1]: sigmoid layers)",
            );
            if on != bce {
                hp.loss = if on { Loss::Bce } else { Loss::Mse };
            }
        });
        ui.end_row();
        let label = ui.label("Init").id;
        ui.horizontal(|ui| {
            egui::ComboBox::from_id_salt("init")
                .selected_text(hp.init.to_string())
                .show_ui(ui, |ui| {
                    for i in Init::ALL {
                        ui.selectable_value(&mut hp.init, i, i.to_string());
                    }
                })
                .response
                .labelled_by(label);
            ui.checkbox(&mut hp.tied_weights, "tied weights")
                .on_hover_text(
                    "Each decoder layer uses its mirror encoder layer's weights, \
                     transposed (own biases): one matrix trained by both uses",
                );
        });
        ui.end_row();
        let noise = parsed_field(
            ui,
            "Noise",
            "Denoising: each layer-wise phase corrupts its own input, the target stays \
             clean. none, gaussian:SD (the notebook's gaussian:1.0), mask:FRACTION (to \
             zero; Vincent 2010's mask:0.25) or dropout:RATE (to zero, the rest scaled)",
            &mut self.noise_text,
            &mut hp.noise,
        );
        let sparsity = parsed_field(
            ui,
            "Sparsity",
            "A penalty on each phase's code: none, kl:TARGET:WEIGHT (a sigmoid code's \
             firing rate; the notebook's kl:0.1:0.2) or l1:WEIGHT",
            &mut self.sparsity_text,
            &mut hp.sparsity,
        );
        noise.or(sparsity)
    }

    /// The encoder widths as text; the widths change when the text is left or Enter is
    /// pressed, so that typing "1000" does not build a 1-, 10- and 100-unit stack first.
    fn layers_field(&mut self, ui: &mut Ui, hp: &mut Hyperparams) -> Option<String> {
        let label = "Layers";
        let label_id = ui
            .label(label)
            .on_hover_text(
                "The encoder's widths, hidden1 first, e.g. 1000,500,250,30 (1 to 8 layers of \
                 1 to 4096 units); the decoder mirrors them. A new stack is built at Reset \
                 (at once while nothing is trained)",
            )
            .id;
        let t = self
            .layers_text
            .get_or_insert_with(|| hp.layers.to_string());
        let resp = ui
            .add(egui::TextEdit::singleline(t).desired_width(130.0))
            .labelled_by(label_id);
        let parsed = t.trim().parse::<Widths>();
        // (Set without focus, as by a screen reader: taken at once.)
        if resp.lost_focus() || (resp.changed() && !resp.has_focus()) {
            if let Ok(w) = &parsed {
                hp.layers = *w;
            }
        } else if !resp.has_focus() && parsed.as_ref().is_ok_and(|w| *w != hp.layers) {
            *t = hp.layers.to_string();
        }
        ui.end_row();
        match parsed {
            Ok(_) => None,
            Err(e) => Some(format!("{label}: {e}")),
        }
    }
}

/// The presets as a choice; "custom" once any setting differs from every preset.
fn preset_field(ui: &mut Ui, hp: &mut Hyperparams) {
    let label = ui
        .label("Preset")
        .on_hover_text(
            "recipe: the book's 784-300-150-300-784; hinton2006: the 2006 paper's \
             784-1000-500-250-30, four phases, then fine-tuning; linear: one linear \
             784-150 autoencoder without L2, which meets PCA-150 (as `--preset`)",
        )
        .id;
    let current = Preset::ALL.into_iter().find(|p| p.hyperparams() == *hp);
    egui::ComboBox::from_id_salt("preset")
        .selected_text(current.map_or("custom", |p| p.name()))
        .show_ui(ui, |ui| {
            for p in Preset::ALL {
                if ui.selectable_label(current == Some(p), p.name()).clicked() {
                    *hp = p.hyperparams();
                }
            }
        })
        .response
        .labelled_by(label);
    ui.end_row();
}

/// A text field for a float: `value` follows the text while it parses; outside changes
/// of `value` show up while the field is not being edited. Returns a problem.
fn float_field(
    ui: &mut Ui,
    label: &str,
    text: &mut Option<String>,
    value: &mut f32,
) -> Option<String> {
    let label_id = ui.label(label).id;
    let t = text.get_or_insert_with(|| value.to_string());
    let resp = ui
        .add(egui::TextEdit::singleline(t).desired_width(90.0))
        .labelled_by(label_id);
    let parsed = t.trim().parse::<f32>();
    if resp.changed() {
        if let Ok(v) = parsed {
            *value = v;
        }
    } else if !resp.has_focus() && parsed.is_ok() && parsed != Ok(*value) {
        *t = value.to_string();
    }
    ui.end_row();
    match t.trim().parse::<f32>() {
        Ok(_) => None,
        Err(_) => Some(format!("{label}: '{}' is not a number", t.trim())),
    }
}

/// A text field for a setting that reads from text (a noise, a penalty): the setting
/// follows the text while it parses. Returns why it does not.
fn parsed_field<T>(
    ui: &mut Ui,
    label: &str,
    hover: &str,
    text: &mut Option<String>,
    value: &mut T,
) -> Option<String>
where
    T: std::str::FromStr<Err = String> + std::fmt::Display + PartialEq + Copy,
{
    let label_id = ui.label(label).on_hover_text(hover).id;
    let t = text.get_or_insert_with(|| value.to_string());
    let resp = ui
        .add(egui::TextEdit::singleline(t).desired_width(130.0))
        .labelled_by(label_id);
    let parsed = t.trim().parse::<T>();
    match &parsed {
        Ok(v) if resp.changed() => *value = *v,
        Ok(v) if !resp.has_focus() && v != value => *t = value.to_string(),
        _ => {}
    }
    ui.end_row();
    parsed.err().map(|e| format!("{label}: {e}"))
}

/// A labelled drag value for an integer setting.
fn int_field<T: egui::emath::Numeric>(
    ui: &mut Ui,
    label: &str,
    hover: Option<&str>,
    value: &mut T,
) {
    let l = ui.label(label);
    if let Some(h) = hover {
        l.clone().on_hover_text(h);
    }
    ui.add(egui::DragValue::new(value).speed(0.2))
        .labelled_by(l.id);
    ui.end_row();
}

fn progress_ui(ui: &mut Ui, s: &Session) {
    if let (RunState::Experimenting, Some(p)) = (s.state(), s.experiment().progress) {
        ui.label(format!(
            "Experiment · run {}/{} · step {}/{}",
            (p.runs_done + 1).min(p.runs_total),
            p.runs_total,
            p.steps_done,
            p.steps_total
        ));
        ui.add(egui::ProgressBar::new(p.fraction() as f32).show_percentage());
        ui.label(format!("ETA {:.0} s", p.eta_seconds));
        return;
    }
    match (s.state(), s.progress()) {
        (RunState::Idle, _) | (_, None) => {
            ui.weak("Idle");
        }
        (state, Some(p)) => {
            let paused = matches!(state, RunState::Paused(_));
            ui.label(RichText::new(format!(
                "{}{} · epoch {}/{} · batch {}/{}",
                p.phase,
                if paused { " (paused)" } else { "" },
                p.epoch + 1,
                p.epochs,
                p.batch,
                p.batches
            )));
            ui.add(egui::ProgressBar::new(p.fraction() as f32).show_percentage());
            ui.label(format!(
                "{:.0} samples/s · ETA {:.1} s",
                p.samples_per_sec, p.eta_seconds
            ));
        }
    }
}

fn epochs_ui(ui: &mut Ui, s: &Session) {
    ui.strong("Epochs");
    egui::ScrollArea::vertical()
        .auto_shrink([false, true])
        .stick_to_bottom(true)
        .show(ui, |ui| {
            let mut table = EpochTable::new(ui);
            let head = ["phase", "epoch", "train MSE", "seconds"];
            table.row(ui, head.map(|h| RichText::new(h).strong()));
            let mono = |t: String| RichText::new(t).monospace();
            for (i, run) in s.runs().iter().enumerate() {
                for row in s.epochs().iter().filter(|r| r.run == i) {
                    table.row(
                        ui,
                        [
                            RichText::new(row.phase.tag()),
                            RichText::new(row.epoch.to_string()),
                            mono(format!("{:.6}", row.train_mse)),
                            mono(format!("{:.2}", row.seconds)),
                        ],
                    );
                }
                if let Some(r) = s.results().iter().find(|r| r.run == i) {
                    result_rows(ui, &mut table, r, run.cached, s);
                }
            }
        });
}

/// A phase's test MSEs under its epochs: the one the phase is judged by first, in the
/// colour of a result. After phase 1 on fresh inner layers that is the outer
/// autoencoder's; the full stack's is then the price of random inner layers, and says so.
fn result_rows(ui: &mut Ui, table: &mut EpochTable, r: &PhaseResult, cached: bool, s: &Session) {
    let mono = |t: String| RichText::new(t).monospace();
    let tag = if cached { " (cached)" } else { "" };
    let seconds = mono(format!("{:.2}{tag}", r.seconds));
    let (full, outer) = (
        mono(format!("{:.6}", r.test.full)),
        mono(format!("{:.6}", r.test.outer)),
    );
    let blank = || RichText::new("");
    if r.inner_untrained {
        let good = outer.color(super::theme::GOOD).strong();
        table
            .row(ui, [blank(), RichText::new("test").strong(), good, seconds])
            .on_hover_text(
                "Test-set MSE of the outer autoencoder (hidden1 and the output), which phase \
                 1 trains. Below, the full stack's: its inner layers are still at their \
                 random start until phase 2, so that number is not a result yet",
            );
        let untrained = RichText::new("inner untrained").weak();
        table.row(
            ui,
            [
                blank(),
                RichText::new("full").weak(),
                full.weak(),
                untrained,
            ],
        );
        pca_row(ui, table, s.outer_yardstick(), r.test.outer);
    } else {
        let good = full.color(super::theme::GOOD).strong();
        table
            .row(ui, [blank(), RichText::new("test").strong(), good, seconds])
            .on_hover_text(
                "Test-set MSE of the full stack (the seed's figure) and, below, of the outer \
                 autoencoder alone",
            );
        table.row(ui, [blank(), RichText::new("outer").weak(), outer, blank()]);
        // Phase k's own loss on the test set (records from before it have none).
        if let Phase::Layer(k @ 2..) = r.phase {
            let k = k as usize;
            let own = match r.test.own[k - 1] {
                0.0 if k == 2 => r.test.inner,
                v => v,
            };
            if own > 0.0 {
                let name = if s.arch().map(|a| a.depth()) == Some(2) {
                    "inner".to_string()
                } else {
                    format!("AE {k}")
                };
                let value = mono(format!("{own:.6}")).weak();
                let on = RichText::new(format!("on hidden{}", k - 1)).weak();
                table
                    .row(ui, [blank(), RichText::new(name).weak(), value, on])
                    .on_hover_text(format!(
                        "Test-set MSE of autoencoder {k} (hidden{k} and its mirror), which \
                         phase {k} trains: its reconstruction of hidden{} of the test images",
                        k - 1
                    ));
            }
        }
        pca_row(ui, table, s.code_yardstick(), r.test.full);
    }
}

/// PCA's test MSE at the width of the layer the row above is judged by, beside `mse`.
fn pca_row(ui: &mut Ui, table: &mut EpochTable, pca: Option<PcaFigure>, mse: f64) {
    let Some(pca) = pca else { return };
    table
        .row(
            ui,
            [
                RichText::new(""),
                RichText::new("PCA").weak(),
                RichText::new(format!("{:.6}", pca.mse)).monospace().weak(),
                RichText::new(format!("{} comps · {}", pca.components, pca.compared(mse))).weak(),
            ],
        )
        .on_hover_text(super::losses::YARDSTICK_HOVER);
}

/// The epoch table, striped, in columns as wide as their widest possible text. Not an
/// `egui::Grid`: a Grid that gains a row asks egui for two more frames to lay itself
/// out again, at every epoch's end, and under software GL every frame costs training.
struct EpochTable {
    widths: [f32; 4],
    rows: usize,
}

impl EpochTable {
    fn new(ui: &Ui) -> Self {
        let width = |text: &str, style: egui::TextStyle| {
            let font = style.resolve(ui.style());
            let color = egui::Color32::PLACEHOLDER;
            ui.fonts_mut(|f| f.layout_no_wrap(text.into(), font, color).size().x)
        };
        let gap = 14.0;
        let widths = [
            width("phase", egui::TextStyle::Body) + gap,
            width("epoch", egui::TextStyle::Body) + gap,
            width("0.000000", egui::TextStyle::Monospace) + gap,
            width("00000.00 (cached)", egui::TextStyle::Monospace),
        ];
        Self { widths, rows: 0 }
    }

    fn row(&mut self, ui: &mut Ui, cells: [RichText; 4]) -> egui::Response {
        let background = ui.painter().add(egui::Shape::Noop);
        let height = ui.text_style_height(&egui::TextStyle::Body) + 2.0;
        let response = ui
            .horizontal(|ui| {
                ui.spacing_mut().item_spacing.x = 0.0;
                for (cell, width) in cells.into_iter().zip(self.widths) {
                    let size = egui::vec2(width, height);
                    let layout = egui::Layout::left_to_right(egui::Align::Center);
                    ui.allocate_ui_with_layout(size, layout, |ui| {
                        ui.set_min_size(size);
                        ui.label(cell);
                    });
                }
            })
            .response;
        if self.rows % 2 == 1 {
            let fill = ui.visuals().faint_bg_color;
            let rect = response.rect.expand2(egui::vec2(2.0, 1.0));
            ui.painter()
                .set(background, egui::Shape::rect_filled(rect, 2.0, fill));
        }
        self.rows += 1;
        response
    }
}

#[cfg(test)]
mod tests;
