//! Every user action, with its one label, tooltip and shortcut, so that buttons, menus
//! and keys cannot drift apart (the rerun viewer's `UICommand`).

use egui::{Key, KeyboardShortcut, Modifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiCommand {
    Phase1,
    Phase2,
    PauseResume,
    Stop,
    Reset,
    ToggleCache,
    ScrubPrevious,
    ScrubNext,
    PinImage,
    OpenData,
    LoadCheckpoint,
    SaveCheckpoint,
    ExportImages,
    ExportLosses,
    Quit,
}

impl UiCommand {
    pub const ALL: [UiCommand; 15] = [
        UiCommand::Phase1,
        UiCommand::Phase2,
        UiCommand::PauseResume,
        UiCommand::Stop,
        UiCommand::Reset,
        UiCommand::ToggleCache,
        UiCommand::ScrubPrevious,
        UiCommand::ScrubNext,
        UiCommand::PinImage,
        UiCommand::OpenData,
        UiCommand::LoadCheckpoint,
        UiCommand::SaveCheckpoint,
        UiCommand::ExportImages,
        UiCommand::ExportLosses,
        UiCommand::Quit,
    ];

    pub fn label(self) -> &'static str {
        match self {
            UiCommand::Phase1 => "Phase 1 — outer autoencoder",
            UiCommand::Phase2 => "Phase 2 — inner autoencoder",
            UiCommand::PauseResume => "Pause / Resume",
            UiCommand::Stop => "Stop",
            UiCommand::Reset => "Reset",
            UiCommand::ToggleCache => "Cache hidden1",
            UiCommand::ScrubPrevious => "Previous image",
            UiCommand::ScrubNext => "Next image",
            UiCommand::PinImage => "Pin",
            UiCommand::OpenData => "Open dataset folder…",
            UiCommand::LoadCheckpoint => "Load checkpoint…",
            UiCommand::SaveCheckpoint => "Save checkpoint…",
            UiCommand::ExportImages => "Export images as PNG…",
            UiCommand::ExportLosses => "Export loss history as CSV…",
            UiCommand::Quit => "Quit",
        }
    }

    pub fn tooltip(self) -> &'static str {
        match self {
            UiCommand::Phase1 => {
                "Train hidden1 and the output layer to reconstruct the input, bypassing the middle"
            }
            UiCommand::Phase2 => "Freeze hidden1 and train hidden2 and hidden3 to reconstruct it",
            UiCommand::PauseResume => "Pause the running phase, or resume it",
            UiCommand::Stop => "End the running phase now; the parameters stay as they are",
            UiCommand::Reset => "Re-initialise every parameter from the seed",
            UiCommand::ToggleCache => {
                "Phase 2 computes hidden1 once for the whole training set instead of for every batch: same numbers, faster"
            }
            UiCommand::ScrubPrevious => "Show the previous test image",
            UiCommand::ScrubNext => "Show the next test image",
            UiCommand::PinImage => "Keep this test image in the comparison",
            UiCommand::OpenData => "Train and test on another folder of MNIST-format IDX files",
            UiCommand::LoadCheckpoint => "Replace the model with one saved earlier (safetensors)",
            UiCommand::SaveCheckpoint => "Save the model (safetensors)",
            UiCommand::ExportImages => {
                "Write the reconstructions, the code heatmaps and the features as PNG files"
            }
            UiCommand::ExportLosses => "Write every batch loss and epoch figure as CSV",
            UiCommand::Quit => "Close the window; a running phase stops within one batch",
        }
    }

    pub fn shortcut(self) -> Option<KeyboardShortcut> {
        let key = |k| Some(KeyboardShortcut::new(Modifiers::NONE, k));
        match self {
            UiCommand::Phase1 => key(Key::Num1),
            UiCommand::Phase2 => key(Key::Num2),
            UiCommand::PauseResume => key(Key::Space),
            UiCommand::ToggleCache => key(Key::C),
            UiCommand::ScrubPrevious => key(Key::ArrowLeft),
            UiCommand::ScrubNext => key(Key::ArrowRight),
            UiCommand::PinImage => key(Key::P),
            UiCommand::SaveCheckpoint => Some(KeyboardShortcut::new(Modifiers::COMMAND, Key::S)),
            UiCommand::LoadCheckpoint => Some(KeyboardShortcut::new(Modifiers::COMMAND, Key::O)),
            UiCommand::Quit => Some(KeyboardShortcut::new(Modifiers::COMMAND, Key::Q)),
            _ => None,
        }
    }

    /// The tooltip with the shortcut appended, for hover texts.
    pub fn hover_text(self, ctx: &egui::Context) -> String {
        match self.shortcut() {
            Some(s) => format!("{} ({})", self.tooltip(), ctx.format_shortcut(&s)),
            None => self.tooltip().to_string(),
        }
    }

    /// The commands whose shortcut was pressed this frame. Plain keys are ignored while
    /// a text field has the keyboard.
    pub fn pressed(ctx: &egui::Context) -> Vec<UiCommand> {
        let typing = ctx.egui_wants_keyboard_input();
        ctx.input_mut(|i| {
            UiCommand::ALL
                .into_iter()
                .filter(|c| match c.shortcut() {
                    Some(s) if typing && s.modifiers.is_none() => false,
                    Some(s) => i.consume_shortcut(&s),
                    None => false,
                })
                .collect()
        })
    }
}
