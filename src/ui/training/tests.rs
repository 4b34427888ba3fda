use std::sync::Arc;

use super::*;
use crate::data::Mnist;
use crate::train::protocol::Event;

#[test]
fn a_new_epoch_row_asks_for_no_frame_of_its_own() {
    let mut s = Session::new(Arc::new(Mnist::embedded().unwrap()));
    s.apply(Event::PhaseStarted {
        phase: Phase::ONE,
        cached: false,
        epochs: 4,
        batches: 10,
    });
    let ctx = egui::Context::default();
    let frame = |s: &Session| {
        let _ = ctx.run_ui(egui::RawInput::default(), |ui| epochs_ui(ui, s));
        ctx.has_requested_repaint()
    };
    // The first frames of a new context settle its layout.
    for _ in 0..3 {
        frame(&s);
    }
    for epoch in 0..4 {
        s.apply(Event::EpochDone {
            phase: Phase::ONE,
            epoch,
            train_mse: 0.01,
            l2_term: 0.01,
            seconds: 1.0,
        });
        assert!(
            !frame(&s),
            "epoch {epoch}: the table asked for another frame"
        );
    }
}
