//! The app's phase 3 and end-to-end buttons, driven through egui_kittest: each run is
//! its own curve in Losses and its own rows in the epoch table. The tests wait on the
//! worker's events (never sleep).
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use layerwise::model::Phase;
use layerwise::ui::{LayerwiseApp, Settings};

#[path = "support/mnist.rs"]
mod mnist;
#[path = "support/app.rs"]
mod ui_app;
use ui_app::{launch, phases_done, short, wait};

const PHASE3: &str = "Phase 3 — fine-tune all";
const END_TO_END: &str = "End-to-end";

/// The app with phases of one epoch of 55 batches, once its worker is up.
fn app() -> Harness<'static, LayerwiseApp> {
    let settings = Settings {
        hyperparams: short(),
        ..Settings::default()
    };
    launch(settings, None)
}

#[test]
fn end_to_end_then_phase_3_each_get_a_curve_and_rows_of_their_own() {
    let mut h = app();
    h.get_by_label(END_TO_END).click();
    h.run_steps(2);
    assert!(wait(&mut h, phases_done(1)));
    // Beside the full stack's test MSE, PCA's at the code's width: in the table and
    // the status bar (measured on its own thread, which may still be at it).
    assert!(wait(&mut h, |s| s.yardstick().is_some()));
    let full = h.state().session().results()[0].test.full;
    let pca = h.state().session().yardstick().as_ref().unwrap().mse(150);
    assert!((pca - 0.003424).abs() < 5e-7, "{pca}");
    h.get_by_label("0.003424");
    let ratio = format!("{:.2}x lower", full / pca);
    h.get_by_label(&format!("150 comps · {ratio}"));
    h.get_by_label(&format!("PCA-150 0.003424 ({ratio})"));
    h.key_press(egui::Key::Num3);
    h.run_steps(2);
    assert!(wait(&mut h, phases_done(2)));
    h.run_steps(3);
    let s = h.state().session();
    let runs: Vec<(Phase, usize)> = s.runs().iter().map(|r| (r.phase, r.raw.len())).collect();
    // End-to-end runs as many epochs as phases 1 and 2 together.
    assert_eq!(runs, [(Phase::EndToEnd, 110), (Phase::FineTune, 55)]);
    let rows: Vec<(Phase, u32)> = s.epochs().iter().map(|r| (r.phase, r.epoch)).collect();
    assert_eq!(
        rows,
        [
            (Phase::EndToEnd, 0),
            (Phase::EndToEnd, 1),
            (Phase::FineTune, 0)
        ]
    );
    let snapshot = s.snapshot().as_ref().expect("a snapshot");
    assert_eq!(snapshot.epochs_done, [0, 0, 1, 2]);
    let e2e = s.epochs()[1].train_mse;
    // The table shows them: the end-to-end row's train MSE and its tag.
    h.get_by_label(&format!("{e2e:.6}"));
    assert!(h.query_all_by_label("e2e").count() >= 2);
    assert!(!h.get_by_label(PHASE3).accesskit_node().is_disabled());
}
