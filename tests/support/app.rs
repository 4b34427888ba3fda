//! The app under egui_kittest, as the UI tests drive it. (Each test file uses a part.)
#![allow(dead_code)]

use std::time::Duration;

use egui_kittest::Harness;
use layerwise::train::Hyperparams;
use layerwise::ui::Session;
use layerwise::ui::{AppOptions, LayerwiseApp, Notes, Settings};

use crate::mnist::data;

/// How long a test waits for the worker before it fails.
pub const TIMEOUT: Duration = Duration::from_secs(300);

/// The real app on the built-in MNIST with these settings, once its worker is up.
/// With `data_dir`, it keeps its model there on close (and offers one it finds).
pub fn launch(
    settings: Settings,
    data_dir: Option<std::path::PathBuf>,
) -> Harness<'static, LayerwiseApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1500.0, 950.0))
        .build_eframe(move |cc| {
            LayerwiseApp::new(
                cc,
                data(),
                AppOptions {
                    settings: Some(settings),
                    data_dir,
                    ..AppOptions::default()
                },
            )
        });
    // The worker's first events: idle, and the initial snapshot.
    assert!(wait(&mut h, |s| s.snapshot().is_some()));
    h
}

/// One epoch of 55 batches: the recipe's code paths, quickly.
pub fn short() -> Hyperparams {
    Hyperparams {
        epochs: 1,
        batch_size: 1000,
        ..Hyperparams::default()
    }
}

/// Applies worker events until `until` holds, then draws a frame.
pub fn wait(h: &mut Harness<'static, LayerwiseApp>, until: impl Fn(&Session) -> bool) -> bool {
    let ok = h.state_mut().wait_until(TIMEOUT, until);
    // Two frames: a new floating area is measured in its first, shown in its second.
    h.run_steps(2);
    ok
}

/// Applies worker events until `until` holds for what the app shows (its errors and
/// notices too), then draws a frame.
pub fn wait_app(
    h: &mut Harness<'static, LayerwiseApp>,
    until: impl Fn(&LayerwiseApp) -> bool,
) -> bool {
    let ok = h.state_mut().wait_for(TIMEOUT, until);
    h.run_steps(2);
    ok
}

/// As `wait_app`, on the errors and notices alone.
pub fn wait_notes(h: &mut Harness<'static, LayerwiseApp>, until: impl Fn(&Notes) -> bool) -> bool {
    wait_app(h, |a| until(a.notes()))
}

/// `n` phases have ended and the worker is idle again.
pub fn phases_done(n: usize) -> impl Fn(&Session) -> bool {
    move |s| s.results().len() >= n && s.is_idle()
}
