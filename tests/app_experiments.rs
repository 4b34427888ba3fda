//! The Experiments view, driven through egui_kittest: Run fills the chart and the
//! table, result by result; Cancel stops the sweep; the book button runs the
//! notebook's experiment with its printed numbers beside ours.
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use layerwise::train::Hyperparams;
use layerwise::ui::ExperimentChoice;
use layerwise::ui::ExperimentState;
use layerwise::ui::{LayerwiseApp, Settings};

use layerwise::train::classify::Arm;
use layerwise::train::protocol::ExperimentEnd;

#[path = "support/mnist.rs"]
mod mnist;
#[path = "support/app.rs"]
mod ui_app;
use ui_app::{launch, short, wait};

/// A small model's settings (784-64-32, one short epoch a phase) and `choice`.
fn settings(choice: ExperimentChoice) -> Settings {
    Settings {
        hyperparams: Hyperparams {
            layers: layerwise::model::Widths::two(64, 32),
            ..short()
        },
        experiment: choice,
        ..Settings::default()
    }
}

/// The app with a small model already trained (one short epoch of each phase), the
/// Experiments view in front, and `choice` as its settings.
fn app(choice: ExperimentChoice) -> Harness<'static, LayerwiseApp> {
    let mut h = launch(settings(choice), None);
    // The view's tab, behind Losses at first.
    h.get_by_label("Experiments").click();
    h.run_steps(3);
    h
}

#[test]
fn run_fills_the_chart_result_by_result_and_the_table_shows_the_numbers() {
    let mut h = app(ExperimentChoice {
        labels: "100, 1000".into(),
        arms: vec![Arm::Scratch, Arm::Frozen],
        seeds: 2,
        steps: 30,
    });
    h.get_by_label_contains("Each run trains a 784-64-32-10 classifier");
    h.get_by_label("Run experiments").click();
    h.run_steps(2);
    // No phase had trained the model: the recipe's phases run first, then 8 runs.
    assert!(wait(&mut h, |s| s.experiment().trained_autoencoder));
    assert!(wait(&mut h, |s| s.experiment().results.len() == 1));
    assert!(wait(&mut h, |s| s.experiment().state
        == ExperimentState::Ended(ExperimentEnd::Done)));
    let summary = h.state().session().experiment().summary();
    assert_eq!(summary.len(), 4, "2 budgets x 2 arms");
    assert!(
        summary
            .iter()
            .all(|s| s.runs == 2 && (0.0..=1.0).contains(&s.mean))
    );
    // The table shows what the worker measured.
    let frozen_1000 = summary
        .iter()
        .find(|s| s.arm == Arm::Frozen && s.labels == 1000)
        .unwrap();
    h.get_by_label(&format!("{:.4} ± {:.4}", frozen_1000.mean, frozen_1000.sd));
    assert_eq!(h.get_all_by_label("1,000").count(), 2, "a row per arm");

    // Export: the chart as PNG and every run as a CSV line.
    let dir = tempfile::tempdir().unwrap();
    h.get_by_label("Export experiment…").click();
    h.run_steps(3);
    h.get_by_label("Path")
        .set_text_value_accesskit(dir.path().to_str().unwrap());
    h.run_steps(2);
    h.get_by_label("Export here").click();
    h.run_steps(2);
    assert!(h.state_mut().wait_for_disk(ui_app::TIMEOUT));
    let csv = std::fs::read_to_string(dir.path().join("experiment.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 8);
    assert!(csv.starts_with("arm,labels,seed,test_accuracy,steps,seconds,encoder\n"));
    let (w, _) = image::image_dimensions(dir.path().join("experiment.png")).unwrap();
    assert!(w > 800);
}

#[test]
fn cancel_stops_a_long_sweep_and_says_so() {
    let mut h = app(ExperimentChoice {
        labels: "55000".into(),
        arms: vec![Arm::Scratch],
        seeds: 1,
        steps: 100_000,
    });
    h.get_by_label("Run experiments").click();
    h.run_steps(2);
    assert!(wait(&mut h, |s| s
        .experiment()
        .progress
        .is_some_and(|p| p.steps_done >= 3)));
    h.get_by_label("Cancel experiment").click();
    h.run_steps(2);
    assert!(wait(&mut h, |s| s.is_idle()
        && s.experiment().state
            == ExperimentState::Ended(ExperimentEnd::Cancelled)));
    let done = h
        .state()
        .session()
        .experiment()
        .progress
        .unwrap()
        .steps_done;
    assert!(done < 100_000);
    h.get_by_label("Cancelled.");
}

/// The app keeping its session in `dir`, after a one-budget sweep (the recipe's phases
/// first) has ended and been kept; and the settings it was launched with.
fn kept_sweep(dir: &std::path::Path) -> (Harness<'static, LayerwiseApp>, Settings) {
    let settings = settings(ExperimentChoice {
        labels: "100".into(),
        arms: vec![Arm::Scratch, Arm::Frozen],
        seeds: 1,
        steps: 20,
    });
    let mut h = launch(settings.clone(), Some(dir.to_path_buf()));
    h.get_by_label("Experiments").click();
    h.run_steps(3);
    h.get_by_label("Run experiments").click();
    h.run_steps(2);
    assert!(wait(&mut h, |s| s.is_idle()
        && s.experiment().state
            == ExperimentState::Ended(ExperimentEnd::Done)));
    assert!(
        h.state_mut().wait_for_disk(ui_app::TIMEOUT),
        "the session was kept"
    );
    (h, settings)
}

/// A finished experiment is kept at once, not only when the window closes: an app that
/// dies without closing (here: dropped, as a kill would leave it) offers the phases and
/// the experiment's results at the next launch.
#[test]
fn a_finished_experiment_is_kept_at_once_and_restores_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (h, settings) = kept_sweep(dir.path());
    let results = h.state().session().experiment().results.clone();
    let epochs = h.state().session().epochs().clone();
    assert_eq!(results.len(), 2);
    // No close: the process "dies" here.
    drop(h);

    let mut h = launch(settings, Some(dir.path().to_path_buf()));
    assert!(h.state().restore_offered());
    h.run_steps(2);
    h.get_by_label_contains("and an experiment's 2 result(s)");
    h.get_by_label("Restore").click();
    h.run_steps(2);
    assert!(wait(&mut h, |s| s.experiment().results.len() == results.len()));
    for (back, kept) in h
        .state()
        .session()
        .experiment()
        .results
        .iter()
        .zip(&results)
    {
        assert_eq!(
            (back.arm, back.labels, back.seed),
            (kept.arm, kept.labels, kept.seed)
        );
        assert!((back.test_accuracy - kept.test_accuracy).abs() < 1e-12);
        assert_eq!(back.confusion, kept.confusion);
    }
    assert_eq!(h.state().session().epochs().len(), epochs.len());
    h.get_by_label("Experiments").click();
    h.run_steps(3);
    let frozen = h
        .state()
        .session()
        .experiment()
        .summary()
        .into_iter()
        .find(|s| s.arm == Arm::Frozen)
        .unwrap();
    h.get_by_label(&format!("{:.4} ± {:.4}", frozen.mean, frozen.sd));
}

/// Encoder B through the buttons: refused (visibly) before any training; kept after
/// the first sweep trained the model; the model trained further is A; the next sweep
/// runs B's frozen arm beside A's and the table says by how much they differ.
#[test]
fn encoder_b_is_kept_and_its_runs_appear_beside_the_models_with_their_difference() {
    let mut h = app(ExperimentChoice {
        labels: "100".into(),
        arms: vec![Arm::Scratch, Arm::Frozen],
        seeds: 2,
        steps: 20,
    });
    h.get_by_label("none: sweeps run the model's encoder alone");
    h.get_by_label("Keep as encoder B").click();
    h.run_steps(2);
    assert!(ui_app::wait_notes(&mut h, |n| n
        .errors()
        .iter()
        .any(|e| e.contains("train the model first"))));
    assert!(h.state().session().second().is_none());

    h.get_by_label("Run experiments").click();
    h.run_steps(2);
    // Idle too: the buttons are enabled from the worker's Idle, which follows the end.
    assert!(wait(&mut h, |s| s.is_idle()
        && s.experiment().state
            == ExperimentState::Ended(ExperimentEnd::Done)));
    assert!(h.query_by_label("vs A (points)").is_none(), "one encoder");
    h.get_by_label("Keep as encoder B").click();
    h.run_steps(2);
    assert!(wait(&mut h, |s| s.second().is_some()));
    let b = h.state().session().second().clone().unwrap();
    let name = b.name.clone();
    assert!(
        name.starts_with("784-64-32-64-784, 1 epoch(s) of phase 1 and 1 of phase 2"),
        "{name}"
    );
    h.get_by_label(&format!("{name} (test MSE {:.6})", b.test_mse));
    h.get_by_label_contains("to compare encoders with");

    // A trains on: one more epoch of phase 2.
    h.key_press(egui::Key::Num2);
    h.run_steps(2);
    assert!(wait(&mut h, ui_app::phases_done(3)));
    h.get_by_label("Run experiments").click();
    h.run_steps(2);
    assert!(wait(&mut h, |s| s.is_idle()
        && s.experiment().results.len() == 6
        && s.experiment().state
            == ExperimentState::Ended(ExperimentEnd::Done)));
    let summary = h.state().session().experiment().summary();
    let b = summary.iter().find(|s| s.against).unwrap();
    assert_eq!((b.arm, b.runs), (Arm::Frozen, 2));
    let (m, sd) = b.vs_first.unwrap();
    h.get_by_label("vs A (points)");
    for series in ["frozen (A)", "frozen (B)"] {
        assert_eq!(h.get_all_by_label(series).count(), 2, "legend and table");
    }
    h.get_by_label(&format!("{:+.2} ± {:.2}", m * 100.0, sd * 100.0));
    h.get_by_label_contains("A is the model; B is 784-64-32-64-784");

    h.get_by_label("Forget encoder B").click();
    h.run_steps(2);
    assert!(wait(&mut h, |s| s.second().is_none()));
    h.get_by_label("none: sweeps run the model's encoder alone");
}

/// Encoder B is kept with the session as soon as it is set: after a crash the restored
/// session has it back, under its name, and the next sweep runs it beside the model.
#[test]
fn encoder_b_is_kept_with_the_session_and_comes_back_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, settings) = kept_sweep(dir.path());
    h.get_by_label("Keep as encoder B").click();
    h.run_steps(2);
    assert!(wait(&mut h, |s| s.second().is_some()));
    assert!(h.state_mut().wait_for_disk(ui_app::TIMEOUT), "kept at once");
    let b = h.state().session().second().clone().unwrap();
    drop(h);

    let mut h = launch(settings, Some(dir.path().to_path_buf()));
    assert!(h.state().restore_offered());
    h.run_steps(2);
    h.get_by_label_contains(&format!("encoder B: {}", b.name));
    h.get_by_label("Restore").click();
    h.run_steps(2);
    assert!(wait(&mut h, |s| s.second().is_some()));
    assert_eq!(
        h.state().session().second().as_ref(),
        Some(&b),
        "same name, same MSE"
    );
    h.get_by_label("Experiments").click();
    h.run_steps(3);
    h.get_by_label("Run experiments").click();
    h.run_steps(2);
    assert!(wait(&mut h, |s| s.is_idle()
        && s.experiment().results.len() == 3
        && s.experiment().state
            == ExperimentState::Ended(ExperimentEnd::Done)));
    let rs = &h.state().session().experiment().results;
    assert!(rs[2].against && rs[2].arm == Arm::Frozen);
    // The same encoder on both sides: B's run is A's, bit for bit.
    assert_eq!(rs[2].test_accuracy.to_bits(), rs[1].test_accuracy.to_bits());
}
