//! The app's own colours, in one place: what trains, what is frozen, each phase's curve.

use egui::Color32;

use crate::model::Phase;

/// Weights a phase trains (and phase 1's curves).
pub const TRAINS: Color32 = Color32::from_rgb(235, 140, 40);
/// Weights a phase keeps fixed (and phase 2's curves: it trains against frozen hidden1).
pub const FROZEN: Color32 = Color32::from_rgb(80, 140, 215);
/// A result worth noticing (the test MSE).
pub const GOOD: Color32 = Color32::from_rgb(80, 170, 90);
/// Phase 3's curves: the layer-wise stack fine-tuned as a whole.
pub const FINE_TUNE: Color32 = Color32::from_rgb(175, 95, 200);
/// End-to-end's curves: the whole stack trained at once from the initialisation.
pub const END_TO_END: Color32 = Color32::from_rgb(210, 80, 110);

/// Layer-wise phases 3 and deeper, in turn.
const DEEPER: [Color32; 3] = [
    Color32::from_rgb(40, 165, 160),
    Color32::from_rgb(150, 120, 60),
    Color32::from_rgb(120, 120, 200),
];

/// The colour of a phase's curves and markers.
pub fn phase_color(phase: Phase) -> Color32 {
    match phase {
        Phase::Layer(1) => TRAINS,
        Phase::Layer(2) => FROZEN,
        Phase::Layer(k) => DEEPER[(k as usize - 3) % DEEPER.len()],
        Phase::FineTune => FINE_TUNE,
        Phase::EndToEnd => END_TO_END,
    }
}
