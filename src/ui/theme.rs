//! The app's own colours, in one place: what trains, what is frozen, each phase's curve.

use egui::Color32;

use crate::model::Phase;

/// Weights a phase trains (and phase 1's curves).
pub const TRAINS: Color32 = Color32::from_rgb(235, 140, 40);
/// Weights a phase keeps fixed (and phase 2's curves: it trains against frozen hidden1).
pub const FROZEN: Color32 = Color32::from_rgb(80, 140, 215);
/// A result worth noticing (the test MSE).
pub const GOOD: Color32 = Color32::from_rgb(80, 170, 90);

/// The colour of a phase's curves and markers.
pub fn phase_color(phase: Phase) -> Color32 {
    match phase {
        Phase::One => TRAINS,
        Phase::Two => FROZEN,
    }
}
