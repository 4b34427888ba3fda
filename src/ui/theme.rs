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

/// The colour of a phase's curves and markers.
pub fn phase_color(phase: Phase) -> Color32 {
    match phase {
        Phase::One => TRAINS,
        Phase::Two => FROZEN,
        Phase::Three => FINE_TUNE,
        Phase::EndToEnd => END_TO_END,
    }
}
