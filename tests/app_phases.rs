//! The app's phase 3 and end-to-end buttons, driven through egui_kittest: each run is
//! its own curve in Losses and its own rows in the epoch table. The tests wait on the
//! worker's events (never sleep).

use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use layerwise::model::Phase;
use layerwise::train::Hyperparams;
use layerwise::ui::session::Session;
use layerwise::ui::{AppOptions, LayerwiseApp, Settings};

#[path = "support/mnist.rs"]
mod mnist;
use mnist::data;

const PHASE3: &str = "Phase 3 — fine-tune all";
const END_TO_END: &str = "End-to-end";
const TIMEOUT: Duration = Duration::from_secs(120);

/// The app with phases of one epoch of 55 batches, once its worker is up.
fn app() -> Harness<'static, LayerwiseApp> {
    let settings = Settings {
        hyperparams: Hyperparams {
            epochs: 1,
            batch_size: 1000,
            ..Hyperparams::default()
        },
        ..Settings::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1500.0, 950.0))
        .build_eframe(move |cc| {
            let options = AppOptions {
                settings: Some(settings),
                ..AppOptions::default()
            };
            LayerwiseApp::new(cc, data(), options)
        });
    assert!(wait(&mut h, |s| s.snapshot.is_some()));
    h
}

fn wait(h: &mut Harness<'static, LayerwiseApp>, until: impl Fn(&Session) -> bool) -> bool {
    let ok = h.state_mut().wait_until(TIMEOUT, until);
    h.run_steps(2);
    ok
}

fn phases_done(n: usize) -> impl Fn(&Session) -> bool {
    move |s| s.results.len() >= n && s.is_idle()
}

#[test]
fn end_to_end_then_phase_3_each_get_a_curve_and_rows_of_their_own() {
    let mut h = app();
    h.get_by_label(END_TO_END).click();
    h.run_steps(2);
    assert!(wait(&mut h, phases_done(1)));
    h.key_press(egui::Key::Num3);
    h.run_steps(2);
    assert!(wait(&mut h, phases_done(2)));
    h.run_steps(3);
    let s = h.state().session();
    let runs: Vec<(Phase, usize)> = s.runs.iter().map(|r| (r.phase, r.raw.len())).collect();
    // End-to-end runs as many epochs as phases 1 and 2 together.
    assert_eq!(runs, [(Phase::EndToEnd, 110), (Phase::Three, 55)]);
    let rows: Vec<(Phase, u32)> = s.epochs.iter().map(|r| (r.phase, r.epoch)).collect();
    assert_eq!(
        rows,
        [
            (Phase::EndToEnd, 0),
            (Phase::EndToEnd, 1),
            (Phase::Three, 0)
        ]
    );
    let snapshot = s.snapshot.as_ref().expect("a snapshot");
    assert_eq!(snapshot.epochs_done, [0, 0, 1, 2]);
    let e2e = s.epochs[1].train_mse;
    // The table shows them: the end-to-end row's train MSE and its tag.
    h.get_by_label(&format!("{e2e:.6}"));
    assert!(h.query_all_by_label("e2e").count() >= 2);
    assert!(!h.get_by_label(PHASE3).accesskit_node().is_disabled());
}
