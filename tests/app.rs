//! The real app, driven through egui_kittest without a GPU: clicks go through egui, the
//! worker trains for real, and the tests wait on its event channel (never sleep).
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use layerwise::train::Hyperparams;
use layerwise::train::protocol::RunState;
use layerwise::ui::Selection;
use layerwise::ui::{LayerwiseApp, Settings};

#[path = "support/mnist.rs"]
mod mnist;
use mnist::data;
#[path = "support/app.rs"]
mod ui_app;
use ui_app::{TIMEOUT, launch, phases_done, short, wait, wait_app, wait_notes};

const PHASE1: &str = "Phase 1 — outer autoencoder";
const PHASE2: &str = "Phase 2 — inner autoencoder";

fn app(hp: Hyperparams, cache_hidden1: bool) -> Harness<'static, LayerwiseApp> {
    launch(
        Settings {
            hyperparams: hp,
            cache_hidden1,
            ..Settings::default()
        },
        None,
    )
}

#[test]
fn phase1_click_fills_the_plot_and_the_epoch_table() {
    let mut h = app(short(), false);
    // A first look says how to begin, and goes once there are losses.
    let hint = "No losses yet: \"Phase 1 — outer autoencoder\" (or 1) starts training";
    h.get_by_label_contains(hint);
    h.get_by_label(PHASE1).click();
    h.run_steps(2);
    assert!(wait(&mut h, phases_done(1)));
    h.run_steps(3);
    assert!(h.query_by_label_contains("No losses yet").is_none());
    let s = &h.state().session();
    assert_eq!(s.runs().len(), 1);
    assert_eq!(s.runs()[0].raw.len(), 55, "one plot point per batch");
    assert_eq!(s.runs()[0].epoch_ends, vec![55.0]);
    assert_eq!(s.epochs().len(), 1);
    let row = s.epochs()[0].clone();
    let test = s.results()[0].test;
    assert!(row.train_mse > 0.0 && row.train_mse < 0.1);
    // What the table shows is what the worker measured.
    h.get_by_label(&format!("{:.6}", row.train_mse));
    h.get_by_label(&format!("{:.6}", test.full));
    assert_eq!(h.state().session().state(), RunState::Idle);
}

#[test]
fn cache_checkbox_then_phase2_reports_the_cache_build() {
    let mut h = app(short(), false);
    h.get_by_label("Cache hidden1").click();
    h.run_steps(2);
    assert!(h.state().settings().cache_hidden1);
    h.get_by_label(PHASE2).click();
    h.run_steps(2);
    assert!(wait(&mut h, |s| s.cache().is_some()));
    assert!(wait(&mut h, phases_done(1)));
    h.run_steps(3);
    let s = &h.state().session();
    let cache = s.cache().expect("CacheBuilt reached the UI");
    assert_eq!(cache.bytes, 55_000 * 300 * 4);
    assert!(!cache.reused);
    assert!(s.results()[0].cached);
    let shown = format!("hidden1 cache built in {:.2} s (66 MB)", cache.seconds);
    h.get_by_label(&shown);
    // Phase 2's own test error, on hidden1, under the full stack's.
    let inner = s.results()[0].test.inner;
    assert!(inner > 0.0 && inner < 1.0, "{inner}");
    h.get_by_label(&format!("{inner:.6}"));
    h.get_by_label("on hidden1");
}

#[test]
fn pause_resume_and_stop_from_the_buttons() {
    // Big batches (0.1-0.2 s each), so that the phase is still running when we click.
    // That a command is carried out before the next batch is tested on the worker
    // itself (tests/worker.rs), where it can be tested without a race.
    let hp = Hyperparams {
        epochs: 50,
        batch_size: 20_000,
        ..Hyperparams::default()
    };
    let mut h = app(hp, false);
    h.get_by_label(PHASE1).click();
    h.run_steps(1);
    assert!(wait(&mut h, |s| s.batches() >= 1));
    h.get_by_label("Pause").click();
    h.run_steps(1);
    assert!(wait(&mut h, |s| matches!(s.state(), RunState::Paused(_))));
    let at_pause = h.state().session().batches();
    // Nothing trains while paused: a command answered after the pause is a barrier.
    assert!(h.state_mut().barrier(TIMEOUT));
    assert_eq!(h.state().session().batches(), at_pause);

    h.get_by_label("Resume").click();
    h.run_steps(1);
    assert!(wait(&mut h, |s| s.batches() > at_pause));
    h.get_by_label("Stop").click();
    h.run_steps(1);
    assert!(wait(&mut h, |s| s.is_idle()));
    h.get_by_label_contains("phase 1 stopped");
    let stopped = h.state().session().batches();
    assert!(h.state_mut().barrier(TIMEOUT));
    assert_eq!(
        h.state().session().batches(),
        stopped,
        "nothing trains once stopped"
    );
}

#[test]
fn invalid_hyperparameters_disable_the_phase_buttons_with_a_message() {
    let mut h = app(short(), false);
    h.get_by_label("Learning rate")
        .set_text_value_accesskit("-1");
    h.run_steps(3);
    h.get_by_label_contains("learning rate: must be a finite number > 0");
    assert!(h.get_by_label(PHASE1).accesskit_node().is_disabled());
    assert!(h.get_by_label(PHASE2).accesskit_node().is_disabled());
    // Clicking a disabled button starts nothing.
    h.get_by_label(PHASE1).click();
    h.run_steps(3);
    assert!(h.state().session().runs().is_empty());

    h.get_by_label("Learning rate")
        .set_text_value_accesskit("abc");
    h.run_steps(3);
    h.get_by_label_contains("'abc' is not a number");

    h.get_by_label("Learning rate")
        .set_text_value_accesskit("0.02");
    h.run_steps(3);
    assert!(!h.get_by_label(PHASE1).accesskit_node().is_disabled());
    assert_eq!(h.state().settings().hyperparams.learning_rate, 0.02);
}

#[test]
fn keyboard_starts_a_phase() {
    let mut h = app(short(), false);
    h.key_press(egui::Key::Num1);
    h.run_steps(2);
    assert!(wait(&mut h, phases_done(1)));
    assert_eq!(h.state().session().runs().len(), 1);
    // Idle, the app stops repainting: `run` settles instead of hitting its step limit.
    h.run();
}

#[test]
fn a_worker_panic_is_shown_and_reset_recovers() {
    let mut h = app(short(), false);
    h.state_mut().inject_worker_panic();
    assert!(wait_notes(&mut h, |n| n.errors().len() == 1));
    h.get_by_label_contains("internal error in the training worker");
    // A new phase is refused until Reset...
    h.get_by_label(PHASE1).click();
    h.run_steps(2);
    assert!(wait_notes(&mut h, |n| n.errors().len() == 2));
    assert!(h.state().session().runs().is_empty());
    // ...and works after it.
    h.get_by_label("Reset").click();
    h.run_steps(2);
    assert!(wait_notes(&mut h, |n| n.latest()
        == Some("model re-initialised from the seed")));
    h.get_by_label(PHASE1).click();
    h.run_steps(2);
    assert!(wait(&mut h, phases_done(1)));
    assert_eq!(h.state().session().results().len(), 1);
}

fn no_pins() -> Settings {
    Settings {
        hyperparams: short(),
        cache_hidden1: false,
        selection: Selection::default(),
        ..Settings::default()
    }
}

fn app_with(settings: Settings) -> Harness<'static, LayerwiseApp> {
    launch(settings, None)
}

#[test]
fn every_image_error_shows_without_scrolling_in_the_default_window() {
    // The default layout in the default window, six images shown: the last row of
    // the Reconstructions grid (each image's full-stack MSE) ends above the status bar.
    // With pictures of a fixed 84 px it fell below the panel's edge, cut off.
    let mut h = app_with(Settings::default());
    h.run_steps(2);
    let seen = h.state().inspection().recons.clone();
    assert!(seen.len() >= 6, "{} images shown", seen.len());
    let status_top = h.get_by_label_contains("55000 train").rect().top();
    let header = h.get_by_label("full MSE").rect();
    assert!(header.bottom() <= status_top, "{header:?} vs {status_top}");
    for r in &seen {
        let value = h.get_by_label(&format!("{:.5}", r.mse_full())).rect();
        assert!(value.bottom() <= status_top, "{value:?} vs {status_top}");
        assert!(
            value.left() >= header.right(),
            "under its picture, right of the header"
        );
    }
}

#[test]
fn scrubbing_and_pinning_change_the_shown_images() {
    let mut h = app_with(no_pins());
    let test = data().test.clone();
    h.get_by_label_contains("image #0 · digit 7");
    h.key_press(egui::Key::ArrowRight);
    h.run_steps(2);
    let label = test.labels[1];
    h.get_by_label_contains(&format!("image #1 · digit {label}"));
    assert_eq!(h.state().inspection().recons[0].index, 1);
    h.get_by_label("Pin").click();
    h.run_steps(2);
    assert_eq!(h.state().settings().selection.pinned, vec![1]);
    h.key_press(egui::Key::ArrowRight);
    h.run_steps(2);
    // The current image leads, the pinned one follows.
    let shown: Vec<usize> = h
        .state()
        .inspection()
        .recons
        .iter()
        .map(|r| r.index)
        .collect();
    assert_eq!(shown, vec![2, 1]);
    h.get_by_label(&format!("#1 · {label}"));
    h.get_by_label(&format!("#2 · {}", test.labels[2]));

    // Only 7s: the scrubber jumps to the next 7.
    h.get_by_label("Show").click();
    h.run_steps(2);
    h.get_by_label("only 7s").click();
    h.run_steps(2);
    let current = h.state().settings().selection.current;
    assert_eq!(test.labels[current], 7);
    let next7 = (current + 1..test.len())
        .find(|&i| test.labels[i] == 7)
        .unwrap();
    h.key_press(egui::Key::ArrowRight);
    h.run_steps(2);
    assert_eq!(h.state().settings().selection.current, next7);
    h.get_by_label_contains(&format!("image #{next7} · digit 7"));
}

/// Opens a File menu item's dialog, types `path` and presses the dialog's button.
fn through_dialog(
    h: &mut Harness<'static, LayerwiseApp>,
    item: &str,
    path: &std::path::Path,
    button: &str,
) {
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label(item).click();
    h.run_steps(3);
    assert!(h.state().dialog_open());
    h.get_by_label("Path")
        .set_text_value_accesskit(path.to_str().unwrap());
    h.run_steps(2);
    h.get_by_label(button).click();
    h.run_steps(2);
    assert!(
        !h.state().dialog_open(),
        "the dialog closes once a path is chosen"
    );
}

#[test]
fn a_bad_checkpoint_shows_an_error_and_keeps_the_model() {
    let mut h = app_with(no_pins());
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.safetensors");
    std::fs::write(&bad, b"not a checkpoint at all").unwrap();
    let before = h.state().session().snapshot().clone().unwrap().params;
    through_dialog(&mut h, "Load checkpoint…", &bad, "Load");
    assert!(wait_notes(&mut h, |n| !n.errors().is_empty()));
    h.get_by_label_contains("broken.safetensors: not a safetensors file");
    let after = h.state().session().snapshot().clone().unwrap().params;
    assert!(
        std::sync::Arc::ptr_eq(&before, &after),
        "no new model was taken"
    );
    // The worker still has the old model: training from it works.
    h.get_by_label(PHASE1).click();
    h.run_steps(2);
    assert!(wait(&mut h, phases_done(1)));
}

#[test]
fn export_writes_pngs_of_the_expected_size() {
    let mut settings = no_pins();
    settings.selection.pinned = vec![3, 5];
    let mut h = app_with(settings);
    let dir = tempfile::tempdir().unwrap();
    through_dialog(&mut h, "Export images as PNG…", dir.path(), "Export here");
    // Written off the UI thread (the class means are computed there too).
    assert!(h.state_mut().wait_for_disk(TIMEOUT));
    h.run_steps(2);
    h.get_by_label_contains("wrote 6 PNG files");
    let size = |name: &str| image::image_dimensions(dir.path().join(name)).unwrap();
    // 3 images (current + 2 pinned): 4 columns of 28x4 px with 8 px gaps.
    assert_eq!(
        size("reconstructions.png"),
        (4 * 112 + 5 * 8, 3 * (112 + 8) + 8)
    );
    assert_eq!(size("codes.png"), (150 * 4, 3 * 16));
    assert_eq!(size("class_means.png"), (150 * 4, 10 * 16));
    assert_eq!(size("features.png"), ((20 * 29 + 1) * 2, (15 * 29 + 1) * 2));
    // As `layerwise export`: the code map, and the walk between the first two shown.
    let (w, h) = size("code_map.png");
    assert!(w > 640 && h > 640, "{w} x {h}");
    assert_eq!(size("walk.png").1, 2 * 16 + 3 * 84 + 2 * 6);
    let img = image::open(dir.path().join("reconstructions.png")).unwrap();
    assert!(
        img.to_rgba8().pixels().any(|p| p.0[0] > 200),
        "the digits are drawn"
    );
}

#[test]
fn loss_history_exports_as_csv() {
    let mut h = app_with(no_pins());
    h.get_by_label(PHASE1).click();
    h.run_steps(2);
    assert!(wait(&mut h, phases_done(1)));
    let dir = tempfile::tempdir().unwrap();
    through_dialog(&mut h, "Export loss history as CSV…", dir.path(), "Save");
    assert!(h.state_mut().wait_for_disk(TIMEOUT));
    let csv = std::fs::read_to_string(dir.path().join("losses.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 55);
    assert!(lines[55].starts_with("0,1,0,55,"), "{}", lines[55]);
    let row = &h.state().session().epochs()[0];
    let (epoch_mse, l2) = (row.train_mse, row.l2_term.unwrap());
    assert!(
        lines[55].ends_with(&format!(",{epoch_mse},{l2}")),
        "{}",
        lines[55]
    );
}

#[test]
fn checkpoints_of_another_network_or_with_nan_are_refused_and_the_model_kept() {
    use layerwise::checkpoint::{self, Checkpoint};
    use layerwise::model::{Arch, Params};
    let mut h = app_with(no_pins());
    let dir = tempfile::tempdir().unwrap();
    let other = Arch::two(784, 8, 4);
    let save = |name: &str, params: Params| {
        let path = dir.path().join(name);
        let ck = Checkpoint::bare(params);
        checkpoint::save(&path, &ck).unwrap();
        path
    };
    let small = save("small.safetensors", Params::he_init(other, 1));
    let mut p = Params::he_init(layerwise::model::Arch::RECIPE, 1);
    p.w[2][[2, 7]] = f32::INFINITY;
    let inf = save("inf.safetensors", p);
    let before = h.state().session().snapshot().clone().unwrap().params;
    through_dialog(&mut h, "Load checkpoint…", &small, "Load");
    assert!(wait_notes(&mut h, |n| n.errors().len() == 1));
    h.get_by_label_contains(
        "the checkpoint's network is 784-8-4-8-784, the current one is 784-300-150-300-784",
    );
    through_dialog(&mut h, "Load checkpoint…", &inf, "Load");
    assert!(wait_notes(&mut h, |n| n.errors().len() == 2));
    h.get_by_label_contains("tensor 'weights3' holds inf at index 607");
    let after = h.state().session().snapshot().clone().unwrap().params;
    assert!(std::sync::Arc::ptr_eq(&before, &after));
}

#[test]
fn a_diverging_run_is_reported_and_the_app_stays_usable() {
    let hp = Hyperparams {
        learning_rate: 10.0,
        ..short()
    };
    let mut h = app_with(Settings {
        hyperparams: hp,
        ..no_pins()
    });
    h.get_by_label(PHASE1).click();
    h.run_steps(2);
    assert!(wait_app(&mut h, |a| !a.notes().errors().is_empty()
        && a.session().is_idle()));
    h.get_by_label_contains("phase 1 diverged in epoch 0 at batch");
    let params = h.state().session().snapshot().clone().unwrap().params;
    assert!(params.all_finite());
    // Dismiss, pick a sane learning rate, train.
    h.get_by_label("Dismiss").click();
    h.get_by_label("Learning rate")
        .set_text_value_accesskit("0.01");
    h.run_steps(3);
    h.get_by_label(PHASE1).click();
    h.run_steps(2);
    assert!(wait(&mut h, phases_done(1)));
    assert!(h.state().notes().errors().is_empty());
}

fn app_keeping_models_in(dir: &std::path::Path, hp: Hyperparams) -> Harness<'static, LayerwiseApp> {
    let settings = Settings {
        hyperparams: hp,
        ..no_pins()
    };
    launch(settings, Some(dir.to_path_buf()))
}

#[test]
fn closing_mid_phase_keeps_the_model_and_the_next_launch_offers_it() {
    use layerwise::checkpoint;
    let dir = tempfile::tempdir().unwrap();
    let slow = Hyperparams {
        epochs: 50,
        batch_size: 10_000,
        ..Hyperparams::default()
    };
    let mut h = app_keeping_models_in(dir.path(), slow.clone());
    assert!(!h.state().restore_offered());
    h.get_by_label(PHASE1).click();
    h.run_steps(1);
    // Past the first epoch (5 batches), so there is an epoch row and a snapshot to keep.
    assert!(wait(&mut h, |s| s.batches() >= 7 && s.history().len() == 1));
    // The window closes: the worker stops within a batch, keeps the model, and ends.
    // (`close` takes the events that arrived just before it sends Stop.)
    h.state_mut().close();
    let seen = h.state().session().batches();
    let (runs, epochs) = (
        h.state().session().runs().clone(),
        h.state().session().epochs().clone(),
    );
    let set = layerwise::keep::current(&layerwise::ui::kept_session_folder(dir.path()))
        .unwrap()
        .expect("a kept session");
    let kept = checkpoint::load(&set.join("model.safetensors"), None).unwrap();
    assert!(
        kept.optimizer.steps() >= seen && kept.optimizer.steps() <= seen + 1,
        "{} vs {seen}",
        kept.optimizer.steps()
    );
    drop(h);

    let mut h = app_keeping_models_in(dir.path(), slow);
    assert!(h.state().restore_offered());
    h.run_steps(2);
    h.get_by_label_contains("trained for 1 epoch(s) of phase 1");
    h.get_by_label_contains("with its loss curves and 1 epoch snapshot(s)");
    h.get_by_label("Restore").click();
    h.run_steps(2);
    assert!(wait_notes(&mut h, |n| n.latest()
        == Some(
            "restored the last session: 1 phase run(s), 1 epoch(s)"
        )));
    assert!(wait(&mut h, |s| s
        .snapshot()
        .as_ref()
        .is_some_and(|p| *p.params == kept.params)));
    // The session comes back whole: every batch loss, the epoch table, the snapshot.
    let s = h.state().session();
    assert_eq!(s.batches(), seen);
    assert_eq!(s.runs().len(), 1);
    assert_eq!(s.runs()[0].raw, runs[0].raw);
    assert_eq!(s.runs()[0].smooth, runs[0].smooth);
    assert_eq!(*s.epochs(), epochs);
    assert_eq!(s.history().len(), 1);
    assert_eq!(
        s.history()[0].epoch_end,
        Some((layerwise::model::Phase::ONE, 0))
    );
}

#[test]
fn opening_a_dataset_folder_reports_errors_and_switches_on_success() {
    let mut h = app_with(no_pins());
    let empty = tempfile::tempdir().unwrap();
    through_dialog(&mut h, "Open dataset folder…", empty.path(), "Open folder");
    assert!(wait_notes(&mut h, |n| !n.errors().is_empty()));
    h.get_by_label_contains("missing file train-images-idx3-ubyte");
    assert_eq!(h.state().session().data().source, "built-in MNIST");

    let fashion = std::path::Path::new("/usr/share/datasets/fashion-mnist");
    if !fashion.exists() {
        assert!(
            std::env::var_os("LAYERWISE_CI").is_none(),
            "CI must install dataset-fashion-mnist"
        );
        eprintln!("skipped the second half: apt-get install dataset-fashion-mnist");
        return;
    }
    h.get_by_label("Dismiss").click();
    h.run_steps(2);
    through_dialog(&mut h, "Open dataset folder…", fashion, "Open folder");
    assert!(wait(&mut h, |s| s.data().source.contains("fashion-mnist")));
    assert_eq!(h.state().session().data().test.len(), 10_000);
    // The shown images are Fashion-MNIST's now, and training runs on them.
    h.run_steps(2);
    let first: Vec<f32> = h
        .state()
        .session()
        .data()
        .test
        .image(0)
        .iter()
        .map(|&b| b as f32 / 255.0)
        .collect();
    let shown = &h.state().inspection().recons[0].original;
    assert!(shown.iter().zip(&first).all(|(a, b)| (a - b).abs() < 1e-6));
    assert_ne!(
        h.state().session().data().test.image(0),
        data().test.image(0)
    );
    h.get_by_label(PHASE1).click();
    h.run_steps(2);
    assert!(wait(&mut h, phases_done(1)));
}

/// Opens the Map tab and waits for the worker's first map of the shown parameters.
fn map_shown(h: &mut Harness<'static, LayerwiseApp>) {
    h.get_by_label("Map").click();
    h.run_steps(2);
    assert!(h.state_mut().wait_for_maps(TIMEOUT, |s| s.pca.is_some()));
    h.run_steps(2);
}

/// A test image whose dot on the map has no other dot within 4 points, and where it is.
fn lone_point(h: &Harness<'static, LayerwiseApp>) -> (usize, egui::Pos2) {
    let app = h.state();
    let settings = &app.settings().explore;
    let area = h.get_by_label("Map of the test set").rect().shrink(10.0);
    let at: Vec<Option<egui::Pos2>> = (0..data().test.len())
        .map(|i| app.explore().map_point_on_screen(i, settings))
        .collect();
    let on_screen: Vec<(usize, egui::Pos2)> = at
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.filter(|p| area.contains(*p)).map(|p| (i, p)))
        .collect();
    on_screen
        .iter()
        .copied()
        .find(|&(i, p)| {
            on_screen
                .iter()
                .all(|&(j, q)| j == i || p.distance(q) > 4.0)
        })
        .expect("a dot with room around it")
}

#[test]
fn map_hover_shows_the_image_and_a_click_pins_it() {
    let mut h = app_with(no_pins());
    map_shown(&mut h);
    let (i, at) = lone_point(&h);
    h.hover_at(at);
    h.run_steps(4);
    let digit = data().test.labels[i];
    h.get_by_label(&format!("test image #{i} · digit {digit}"));
    h.get_by_label("click to pin it in Reconstructions");
    // A click: press and release where the pointer is.
    h.drag_at(at);
    h.drop_at(at);
    h.run_steps(2);
    assert_eq!(h.state().settings().selection.pinned, vec![i]);
    // Reconstructions shows it.
    assert!(h.state().inspection().recons.iter().any(|r| r.index == i));
}

#[test]
fn map_box_selection_pins_up_to_eight_from_inside_the_box() {
    let mut h = app_with(no_pins());
    map_shown(&mut h);
    let area = h.get_by_label("Map of the test set").rect();
    let (from, to) = (
        area.center() - egui::vec2(60.0, 40.0),
        area.center() + egui::vec2(60.0, 40.0),
    );
    let right = |pos, pressed| egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Secondary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    };
    h.hover_at(from);
    h.event(right(from, true));
    for k in 1..=4 {
        h.hover_at(from + (to - from) * (k as f32 / 4.0));
    }
    h.event(right(to, false));
    h.run_steps(2);
    let pinned = h.state().settings().selection.pinned.clone();
    assert_eq!(pinned.len(), 8, "{pinned:?}");
    let boxed = egui::Rect::from_two_pos(from, to);
    let settings = h.state().settings().explore.clone();
    for i in pinned {
        let p = h
            .state()
            .explore()
            .map_point_on_screen(i, &settings)
            .unwrap();
        assert!(boxed.contains(p), "#{i} at {p:?} is outside {boxed:?}");
    }
}

#[test]
fn drawing_on_the_pad_produces_a_reconstruction() {
    let mut h = app_with(no_pins());
    h.get_by_label("Draw").click();
    h.run_steps(2);
    let pad = h.get_by_label("Drawing pad").rect();
    // A "1": a stroke down the middle.
    let (top, bottom) = (
        pad.center_top() + egui::vec2(0.0, 40.0),
        pad.center_bottom() - egui::vec2(0.0, 40.0),
    );
    h.drag_at(top);
    for k in 1..=8 {
        h.hover_at(top + (bottom - top) * (k as f32 / 8.0));
    }
    h.drop_at(bottom);
    h.run_steps(2);
    // MNIST-style: a centred vertical bar, 20 pixels tall. (Drawings are sent as the
    // stroke grows, so the answers to its first parts may come first.)
    let bar = |d: &[f32]| {
        let ink = |r: usize, c: usize| d[r * 28 + c];
        ink(14, 14) > 0.5 && ink(14, 4) == 0.0 && ink(2, 14) == 0.0
    };
    assert!(
        h.state_mut()
            .wait_for_maps(TIMEOUT, |s| s.drawn.as_ref().is_some_and(|d| bar(&d.input)))
    );
    h.run_steps(2);
    let drawn = h.state().explore().state.drawn.clone().unwrap();
    let mean = drawn.full.iter().sum::<f32>() / 784.0;
    assert!(mean > 0.0 && drawn.full.iter().all(|v| v.is_finite()));
    h.get_by_label("what the encoder sees");
    h.get_by_label("full stack");
    h.get_by_label_contains("nearest test images in code space");
    // Every neighbour shows in the panel, wrapped into rows, none past its right edge
    // (where the Features column begins): no scrolling sideways to find the last ones.
    let edge = h.get_by_label("Features").rect().left();
    let near = &drawn.neighbours[layerwise::explore::layer::Layer::Code.index()];
    assert_eq!(near.len(), 10);
    for n in near {
        let caption = format!("#{} · {}", n.index, data().test.labels[n.index]);
        let right = h.get_by_label(&caption).rect().right();
        assert!(
            right <= edge,
            "{caption} ends at {right}, the panel at {edge}"
        );
    }
    // Clear wipes it.
    h.get_by_label("Clear").click();
    h.run_steps(2);
    assert!(h.state().explore().state.drawn.is_none());
}

#[test]
fn the_history_choice_drives_the_map() {
    let mut h = app_with(no_pins());
    h.get_by_label(PHASE1).click();
    h.run_steps(2);
    assert!(wait(&mut h, phases_done(1)));
    map_shown(&mut h);
    h.get_by_label("after epoch").click();
    h.run_steps(2);
    assert!(h.state_mut().wait_for_maps(TIMEOUT, |s| {
        s.pca
            .as_ref()
            .is_some_and(|m| m.source == "after phase 1, epoch 0")
    }));
}

/// `layerwise model.safetensors` (or `--load`): the window opens on that model, its
/// widths taken from the file, and does not offer the kept session over it.
#[test]
fn a_model_given_at_launch_is_opened_with_its_widths() {
    let arch = layerwise::model::Arch::two(784, 48, 24);
    let (mut h, _dir) = launch_with_model(arch);
    let hp = &h.state().settings().hyperparams;
    assert_eq!(hp.layers.to_vec(), [48, 24]);
    assert!(
        h.state().notes().errors().is_empty(),
        "{:?}",
        h.state().notes().errors()
    );
    h.get_by_label(PHASE1).click();
    h.run_steps(2);
    assert!(wait(&mut h, |s| s.batches() > 0));
}

#[test]
fn a_deeper_model_opens_and_trains_its_first_phase() {
    let arch =
        layerwise::model::Arch::new(784, layerwise::model::Widths::new(&[32, 24, 16]).unwrap());
    let (mut h, _dir) = launch_with_model(arch);
    assert_eq!(
        h.state().settings().hyperparams.layers.to_vec(),
        [32, 24, 16]
    );
    h.get_by_label(PHASE1).click();
    h.run_steps(2);
    assert!(wait(&mut h, |s| s.batches() > 0));
    // Phase 1 ends with its result (its test errors through all three stages).
    assert!(wait(&mut h, |s| !s.results().is_empty()));
    let shown = h
        .state()
        .session()
        .snapshot()
        .as_ref()
        .map(|s| s.params.arch());
    assert_eq!(shown, Some(arch));
    assert!(
        h.state().notes().errors().is_empty(),
        "{:?}",
        h.state().notes().errors()
    );
    // Map offers each hidden layer; the innermost is the code.
    map_shown(&mut h);
    for label in ["codes (hidden3)", "hidden1", "hidden2", "pixels"] {
        h.get_by_label(label);
    }
    assert!(h.query_by_label("hidden3").is_none(), "hidden3 is the code");
    h.get_by_label("hidden2").click();
    h.run_steps(2);
    use layerwise::explore::layer::Layer;
    assert!(h.state_mut().wait_for_maps(TIMEOUT, |s| {
        s.pca.as_ref().is_some_and(|m| {
            m.layer == Layer::Hidden(2) && m.projection.as_ref().is_some_and(|p| p.mean.len() == 24)
        })
    }));
}

/// The app launched with a fresh model of `arch` given on the command line, once it
/// shows that model (the folder holding the file is kept alive beside it).
fn launch_with_model(
    arch: layerwise::model::Arch,
) -> (Harness<'static, LayerwiseApp>, tempfile::TempDir) {
    use layerwise::checkpoint::{self, Checkpoint};
    use layerwise::model::Params;
    use layerwise::ui::AppOptions;
    let dir = tempfile::tempdir().unwrap();
    let params = Params::he_init(arch, 9);
    let path = dir.path().join("model.safetensors");
    checkpoint::save(&path, &Checkpoint::bare(params.clone())).unwrap();
    let options = AppOptions {
        settings: Some(no_pins()),
        load: Some((path, arch)),
        ..AppOptions::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1500.0, 950.0))
        .build_eframe(move |cc| LayerwiseApp::new(cc, data(), options));
    assert!(wait(&mut h, |s| s
        .snapshot()
        .as_ref()
        .is_some_and(|p| *p.params == params)));
    (h, dir)
}

/// New widths build the new stack at once while nothing is trained: a button and a key
/// per phase, the cache's memory per phase, each phase's own error in the epoch table, a
/// reconstruction row per autoencoder. Once trained, a preset's widths wait for Reset.
#[test]
fn new_widths_offer_a_phase_per_autoencoder_and_wait_for_reset_once_trained() {
    use layerwise::model::{Arch, Phase, Widths};
    let mut h = app(short(), false);
    h.get_by_label("Layers")
        .set_text_value_accesskit("32,24,16");
    h.run_steps(2);
    let arch = Arch::new(784, Widths::new(&[32, 24, 16]).unwrap());
    assert!(wait(&mut h, |s| s.arch() == Some(arch)));
    for label in [
        PHASE1,
        "Phase 2 — 32-24-32",
        "Phase 3 — 24-16-24",
        "Fine-tune all",
    ] {
        h.get_by_label(label);
    }
    h.get_by_label_contains("phase 2: 7 MB · phase 3: 5 MB");
    h.get_by_label("through\nAEs 1-2");
    // Key 3 is phase 3 here (on the recipe it fine-tunes).
    h.key_press(egui::Key::Num3);
    h.run_steps(2);
    assert!(wait(&mut h, phases_done(1)));
    let r = &h.state().session().results()[0];
    assert_eq!(r.phase, Phase::Layer(3));
    assert!(r.test.own[2] > 0.0);
    h.get_by_label("AE 3");
    h.get_by_label("on hidden2");
    h.get_by_label(&format!("{:.6}", r.test.own[2]));
    // Trained now: the preset's deep stack waits for Reset, and says so.
    h.get_by_label("Preset").click();
    h.run_steps(2);
    h.get_by_label("hinton2006").click();
    h.run_steps(3);
    assert_eq!(h.state().session().arch(), Some(arch));
    h.get_by_label_contains("Reset builds 784-1000-500-250-30-250-500-1000-784");
    h.get_by_label("Reset").click();
    h.run_steps(2);
    let deep = layerwise::train::Preset::Hinton2006.hyperparams().arch(784);
    assert!(wait(&mut h, |s| s.arch() == Some(deep)));
    h.get_by_label("Phase 4 — 250-30-250");
    assert!(
        h.state().notes().errors().is_empty(),
        "{:?}",
        h.state().notes().errors()
    );
}

/// The chapter's variants are settings of the Training panel: tying weights rebuilds
/// the untrained stack at once, a noise is taken as typed, nonsense is shown and keeps
/// the phase buttons off, and a denoising phase trains.
#[test]
fn the_variants_are_set_in_the_training_panel_and_nonsense_is_shown() {
    use layerwise::model::{Arch, Noise};
    let mut h = app(short(), false);
    h.get_by_label("tied weights").click();
    h.run_steps(2);
    let tied = Arch::RECIPE.with_tied(true);
    assert!(wait(&mut h, |s| s.arch() == Some(tied)));
    h.get_by_label_contains("decoder weights tied");
    h.get_by_label("Noise").set_text_value_accesskit("mask:2");
    h.run_steps(2);
    h.get_by_label_contains("Noise: the masked fraction must lie strictly between 0 and 1, not 2");
    assert!(h.get_by_label(PHASE1).accesskit_node().is_disabled());
    h.get_by_label("Noise")
        .set_text_value_accesskit("mask:0.25");
    h.run_steps(2);
    assert_eq!(
        h.state().settings().hyperparams.noise,
        Noise::Mask { fraction: 0.25 }
    );
    h.get_by_label_contains("denoising: mask:0.25 on each phase's input");
    // Reconstructions gives the stack the shown images corrupted, in a row of their own,
    // until told to keep them clean.
    h.run_steps(2);
    h.get_by_label("corrupted");
    let r = &h.state().inspection().recons[0];
    assert!(r.corrupted.as_ref().is_some_and(|c| *c != r.original));
    h.get_by_label("corrupt (mask:0.25)").click();
    h.run_steps(2);
    assert!(h.query_by_label("corrupted").is_none());
    assert!(h.state().inspection().recons[0].corrupted.is_none());
    h.get_by_label(PHASE1).click();
    h.run_steps(2);
    assert!(wait(&mut h, phases_done(1)));
    let p = h.state().session().snapshot().clone().unwrap().params;
    assert!(p.tied && p.ties_hold());
    assert!(
        h.state().notes().errors().is_empty(),
        "{:?}",
        h.state().notes().errors()
    );
}

/// The linear preset's stack is shown against PCA's subspace as it trains: the overlap
/// starts near what random rows give (150/784) and climbs with the first epoch.
#[test]
fn a_linear_autoencoder_shows_its_overlap_with_pcas_subspace() {
    let hp = Hyperparams {
        epochs: 1,
        ..layerwise::train::Preset::Linear.hyperparams()
    };
    let mut h = app(hp, false);
    assert!(wait(&mut h, |s| s.subspace_overlap().is_some()));
    let before = h.state().session().subspace_overlap().unwrap();
    assert!((0.1..0.3).contains(&before), "{before}");
    h.get_by_label_contains("Decoder's subspace against PCA-150's: overlap");
    h.get_by_label(PHASE1).click();
    h.run_steps(2);
    assert!(wait(&mut h, phases_done(1)));
    let after = h.state().session().subspace_overlap().unwrap();
    assert!(after > before + 0.4, "{before} -> {after}");
    h.get_by_label_contains(&format!("overlap {after:.4}"));
}

/// A kill loses the settings but not the kept model: restoring a tied, denoising model
/// into an app whose settings say plain builds the kept network first, takes the model,
/// and the settings it was trained with.
#[test]
fn a_kept_model_of_another_network_than_the_settings_restores_whole() {
    use layerwise::checkpoint;
    let dir = tempfile::tempdir().unwrap();
    let tied = Hyperparams {
        tied_weights: true,
        noise: layerwise::model::Noise::Mask { fraction: 0.25 },
        epochs: 2,
        ..short()
    };
    let mut h = app_keeping_models_in(dir.path(), tied.clone());
    h.get_by_label(PHASE1).click();
    h.run_steps(2);
    assert!(wait(&mut h, phases_done(1)));
    h.state_mut().close();
    drop(h);
    let set = layerwise::keep::current(&layerwise::ui::kept_session_folder(dir.path()))
        .unwrap()
        .expect("a kept session");
    let kept = checkpoint::load(&set.join("model.safetensors"), None).unwrap();
    assert!(kept.params.tied);

    let mut h = app_keeping_models_in(dir.path(), short());
    assert!(h.state().restore_offered());
    h.run_steps(2);
    h.get_by_label_contains("784-300-150-300-784 tied model");
    h.get_by_label("Restore").click();
    h.run_steps(2);
    assert!(wait(&mut h, |s| s
        .snapshot()
        .as_ref()
        .is_some_and(|p| *p.params == kept.params)));
    // The kept model's settings, not the older ones the app was launched with.
    assert_eq!(h.state().settings().hyperparams, tied);
    assert!(
        h.state().notes().errors().is_empty(),
        "{:?}",
        h.state().notes().errors()
    );
}
