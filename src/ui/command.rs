//! Every user action, with its one label, tooltip and shortcut, so that buttons, menus
//! and keys cannot drift apart (the rerun viewer's `UICommand`).

use egui::{Key, KeyboardShortcut, Modifiers};

/// Declares `UiCommand` and its `ALL` list from one table, so no command can be left
/// out of the list (of shortcuts, of tests) by hand.
macro_rules! commands {
    ($($name:ident => $label:literal, $tooltip:literal, $shortcut:expr;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum UiCommand {
            $($name,)*
        }

        impl UiCommand {
            pub const ALL: &[UiCommand] = &[$(UiCommand::$name,)*];

            pub fn label(self) -> &'static str {
                match self {
                    $(UiCommand::$name => $label,)*
                }
            }

            pub fn tooltip(self) -> &'static str {
                match self {
                    $(UiCommand::$name => $tooltip,)*
                }
            }

            pub fn shortcut(self) -> Option<KeyboardShortcut> {
                match self {
                    $(UiCommand::$name => $shortcut,)*
                }
            }
        }
    };
}

const fn key(k: Key) -> Option<KeyboardShortcut> {
    Some(KeyboardShortcut::new(Modifiers::NONE, k))
}

const fn ctrl(k: Key) -> Option<KeyboardShortcut> {
    Some(KeyboardShortcut::new(Modifiers::COMMAND, k))
}

commands! {
    // The phase commands' labels and tooltips at the model's depth are `phases`'; these
    // are what the shortcut list and the tests name them by.
    Phase1 => "Phase 1", "Train autoencoder 1 (hidden1 and the output layer)", key(Key::Num1);
    Phase2 => "Phase 2", "Train autoencoder 2 on hidden1", key(Key::Num2);
    Phase3 => "Phase 3", "Train autoencoder 3 (or fine-tune a two-stage stack)", key(Key::Num3);
    Phase4 => "Phase 4", "Train autoencoder 4 (or fine-tune a three-stage stack)", key(Key::Num4);
    Phase5 => "Phase 5", "Train autoencoder 5", key(Key::Num5);
    Phase6 => "Phase 6", "Train autoencoder 6", key(Key::Num6);
    Phase7 => "Phase 7", "Train autoencoder 7", key(Key::Num7);
    Phase8 => "Phase 8", "Train autoencoder 8", key(Key::Num8);
    FineTune => "Fine-tune all",
        "After the layer-wise phases: train every layer at once on the full stack's reconstruction error",
        key(Key::F);
    EndToEnd => "End-to-end",
        "Re-initialise from the seed and train the whole stack at once, for as many epochs as the layer-wise phases together: the race against layer-wise training",
        key(Key::E);
    PauseResume => "Pause / Resume", "Pause the running phase, or resume it", key(Key::Space);
    Stop => "Stop", "End the running phase now; the parameters stay as they are", None;
    Reset => "Reset", "Re-initialise every parameter from the seed", None;
    ToggleCache => "Cache hidden1",
        "Every phase k >= 2 computes its input, h(k-1) (phase 2: hidden1), once for the whole training set instead of for every batch: same numbers, faster",
        key(Key::C);
    ScrubPrevious => "<", "Show the previous test image", key(Key::ArrowLeft);
    ScrubNext => ">", "Show the next test image", key(Key::ArrowRight);
    PinImage => "Pin", "Keep this test image in the comparison (or let it go)", key(Key::P);
    ToggleLogScale => "Log-scale losses",
        "Plot log10 of the loss: both phases' ranges stay readable",
        key(Key::L);
    OpenData => "Open dataset folder…",
        "Train and test on another folder of MNIST-format IDX files",
        None;
    LoadCheckpoint => "Load checkpoint…",
        "Replace the model with one saved earlier (safetensors)",
        ctrl(Key::O);
    SaveCheckpoint => "Save checkpoint…", "Save the model (safetensors)", ctrl(Key::S);
    ExportImages => "Export images as PNG…",
        "Write the reconstructions, the code heatmaps and the features as PNG files",
        None;
    ExportLosses => "Export loss history as CSV…",
        "Write every batch loss and epoch figure as CSV",
        None;
    RunExperiment => "Run experiments",
        "Train the classifier of every arm on every label budget with every seed, from the current autoencoder",
        None;
    RunBook => "Run the book's experiment",
        "The notebook's own: 20,000 labels, scratch against pretrained, 4 epochs, one seed",
        None;
    CancelExperiment => "Cancel experiment", "Stop the experiment before its next step", None;
    KeepEncoderB => "Keep as encoder B",
        "Keep a copy of the model's encoder: later sweeps run its pretrained arms beside the model's, seed for seed. Then train another model (say, denoising) and run",
        None;
    LoadEncoderB => "Load encoder B…",
        "Compare the model's encoder with a checkpoint's: later sweeps run its pretrained arms beside the model's, seed for seed",
        None;
    ForgetEncoderB => "Forget encoder B", "Sweeps run the model's encoder alone again", None;
    ExportExperiment => "Export experiment…",
        "Write the chart as PNG and every run's result as CSV into a folder",
        None;
    RunTsne => "Run t-SNE",
        "Lay the test set out with t-SNE, in the background (warm-started from the last t-SNE of this layer)",
        None;
    CancelTsne => "Cancel t-SNE", "Stop the running t-SNE", None;
    ClearDrawing => "Clear", "Wipe the drawing pad", None;
    Quit => "Quit", "Close the window; a running phase stops within one batch", ctrl(Key::Q);
}

impl UiCommand {
    /// The tooltip with the shortcut appended, for hover texts.
    pub fn hover_text(self, ctx: &egui::Context) -> String {
        match self.shortcut() {
            Some(s) => format!("{} ({})", self.tooltip(), ctx.format_shortcut(&s)),
            None => self.tooltip().to_string(),
        }
    }

    /// A button for this command, with its label and hover text; true if clicked.
    pub fn button(self, ui: &mut egui::Ui, enabled: bool) -> bool {
        self.button_labelled(ui, enabled, self.label())
    }

    /// As `button`, with a label that shows the command's current sense.
    pub fn button_labelled(self, ui: &mut egui::Ui, enabled: bool, label: &str) -> bool {
        ui.add_enabled(enabled, egui::Button::new(label))
            .on_hover_text(self.hover_text(ui.ctx()))
            .clicked()
    }

    /// The commands whose shortcut was pressed this frame. Plain keys are ignored while
    /// a text field has the keyboard.
    pub fn pressed(ctx: &egui::Context) -> Vec<UiCommand> {
        let typing = ctx.egui_wants_keyboard_input();
        ctx.input_mut(|i| {
            UiCommand::ALL
                .iter()
                .copied()
                .filter(|c| match c.shortcut() {
                    Some(s) if typing && s.modifiers.is_none() => false,
                    Some(s) => i.consume_shortcut(&s),
                    None => false,
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_commands_share_a_shortcut_or_a_label() {
        let mut shortcuts = std::collections::HashMap::new();
        let mut labels = std::collections::HashMap::new();
        for &c in UiCommand::ALL {
            if let Some(s) = c.shortcut()
                && let Some(other) = shortcuts.insert(s, c)
            {
                panic!("{c:?} and {other:?} share a shortcut");
            }
            if let Some(other) = labels.insert(c.label(), c) {
                panic!("{c:?} and {other:?} share the label {}", c.label());
            }
            assert!(!c.tooltip().is_empty());
        }
    }
}
