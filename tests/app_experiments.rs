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

/// The app with a small model already trained (one short epoch of each phase), the
/// Experiments view in front, and `choice` as its settings.
fn app(choice: ExperimentChoice) -> Harness<'static, LayerwiseApp> {
    let settings = Settings {
        hyperparams: Hyperparams {
            layers: layerwise::model::Widths::two(64, 32),
            ..short()
        },
        experiment: choice,
        ..Settings::default()
    };
    let mut h = launch(settings, None);
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

/// A finished experiment is kept at once, not only when the window closes: an app that
/// dies without closing (here: dropped, as a kill would leave it) offers the phases and
/// the experiment's results at the next launch.
#[test]
fn a_finished_experiment_is_kept_at_once_and_restores_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        hyperparams: Hyperparams {
            layers: layerwise::model::Widths::two(64, 32),
            ..short()
        },
        experiment: ExperimentChoice {
            labels: "100".into(),
            arms: vec![Arm::Scratch, Arm::Frozen],
            seeds: 1,
            steps: 20,
        },
        ..Settings::default()
    };
    let mut h = launch(settings.clone(), Some(dir.path().to_path_buf()));
    h.get_by_label("Experiments").click();
    h.run_steps(3);
    h.get_by_label("Run experiments").click();
    h.run_steps(2);
    assert!(wait(&mut h, |s| s.experiment().state
        == ExperimentState::Ended(ExperimentEnd::Done)));
    assert!(
        h.state_mut().wait_for_disk(ui_app::TIMEOUT),
        "the session was kept"
    );
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
