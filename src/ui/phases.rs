//! The phases a model of some depth offers, as buttons, menu items and keys say them:
//! phase k (1..K) trains autoencoder k, key K+1 fine-tunes as the command line's
//! `--phases K+1` does (the recipe's 3), and the recipe keeps its seed-era labels.

use super::command::UiCommand;
use crate::model::{Arch, Phase};

/// The phase commands, phase k at index k-1.
const LAYERS: [UiCommand; crate::model::MAX_STAGES] = [
    UiCommand::Phase1,
    UiCommand::Phase2,
    UiCommand::Phase3,
    UiCommand::Phase4,
    UiCommand::Phase5,
    UiCommand::Phase6,
    UiCommand::Phase7,
    UiCommand::Phase8,
];

/// One phase as the user is offered it.
#[derive(Debug, Clone, PartialEq)]
pub struct Offered {
    pub cmd: UiCommand,
    pub phase: Phase,
    pub label: String,
    pub tooltip: String,
}

/// What `cmd` starts on a stack of `depth` autoencoders, if it is a phase command.
pub fn phase_of(cmd: UiCommand, depth: usize) -> Option<Phase> {
    match cmd {
        UiCommand::FineTune => Some(Phase::FineTune),
        UiCommand::EndToEnd => Some(Phase::EndToEnd),
        _ => {
            let k = LAYERS.iter().position(|&c| c == cmd)? + 1;
            Phase::from_number(k, depth)
        }
    }
}

/// Every phase of `arch`, in training order: 1..K, fine-tune, end-to-end.
pub fn offered(arch: Arch) -> Vec<Offered> {
    let depth = arch.depth();
    let name = |l: usize| match l {
        0 => "the input".to_string(),
        l => format!("hidden{l}"),
    };
    let mut v: Vec<Offered> = (1..=depth)
        .map(|k| {
            let (input, width) = (arch.level(k - 1), arch.level(k));
            let label = match (k, depth) {
                (1, _) => "Phase 1 — outer autoencoder".to_string(),
                (2, 2) => "Phase 2 — inner autoencoder".to_string(),
                _ => format!("Phase {k} — {input}-{width}-{input}"),
            };
            let tooltip = match k {
                1 => "Train hidden1 and the output layer to reconstruct the input, bypassing \
                      the middle"
                    .to_string(),
                _ => format!(
                    "Freeze the layers below and train hidden{k} ({width} units) and its \
                     mirror to reconstruct {} ({input} units)",
                    name(k - 1)
                ),
            };
            Offered {
                cmd: LAYERS[k - 1],
                phase: Phase::Layer(k as u8),
                label,
                tooltip,
            }
        })
        .collect();
    let fine_tune = match depth {
        2 => "Phase 3 — fine-tune all".to_string(),
        _ => UiCommand::FineTune.label().to_string(),
    };
    v.push(Offered {
        cmd: UiCommand::FineTune,
        phase: Phase::FineTune,
        label: fine_tune,
        tooltip: format!(
            "After phases 1..{depth}: train every layer at once on the full stack's \
             reconstruction error (key {} too)",
            depth + 1
        ),
    });
    v.push(Offered {
        cmd: UiCommand::EndToEnd,
        phase: Phase::EndToEnd,
        label: UiCommand::EndToEnd.label().to_string(),
        tooltip: format!(
            "Re-initialise from the seed and train the whole stack at once, for as many \
             epochs as the {depth} layer-wise phases together: the race against layer-wise \
             training"
        ),
    });
    v
}

impl Offered {
    /// The tooltip with the command's shortcut appended.
    pub fn hover_text(&self, ctx: &egui::Context) -> String {
        match self.cmd.shortcut() {
            Some(s) => format!("{} ({})", self.tooltip, ctx.format_shortcut(&s)),
            None => self.tooltip.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Widths;

    #[test]
    fn the_recipe_keeps_its_labels_and_its_key_3_fine_tunes() {
        let labels: Vec<String> = offered(Arch::RECIPE).into_iter().map(|o| o.label).collect();
        assert_eq!(
            labels,
            [
                "Phase 1 — outer autoencoder",
                "Phase 2 — inner autoencoder",
                "Phase 3 — fine-tune all",
                "End-to-end"
            ]
        );
        assert_eq!(phase_of(UiCommand::Phase3, 2), Some(Phase::FineTune));
        assert_eq!(phase_of(UiCommand::Phase4, 2), None);
        assert_eq!(phase_of(UiCommand::Stop, 2), None);
    }

    #[test]
    fn a_deep_stack_offers_a_phase_per_autoencoder() {
        let arch = Arch::new(784, Widths::new(&[1000, 500, 250, 30]).unwrap());
        let o = offered(arch);
        assert_eq!(o.len(), 6);
        assert_eq!(o[3].label, "Phase 4 — 250-30-250");
        assert_eq!(o[3].phase, Phase::Layer(4));
        assert!(o[1].tooltip.contains("reconstruct hidden1 (1000 units)"));
        assert_eq!(o[4].label, "Fine-tune all");
        for (k, c) in LAYERS.iter().enumerate().take(4) {
            assert_eq!(phase_of(*c, 4), Some(Phase::Layer(k as u8 + 1)));
        }
        assert_eq!(phase_of(UiCommand::Phase5, 4), Some(Phase::FineTune));
        assert_eq!(phase_of(UiCommand::Phase6, 4), None);
    }
}
