//! The desktop app (eframe): one struct per panel, a session built from the worker's
//! events, and the shell that ties them together. Nothing below `ui` knows egui.

mod app;
mod autosave;
mod chrome;
mod codes;
mod command;
mod disk;
#[cfg(feature = "test-hooks")]
mod driving;
mod experiment_record;
mod experiments;
mod explore;
mod features;
mod file_dialog;
mod files;
mod layout;
mod losses;
mod notes;
mod pacing;
mod phases;
mod recon;
mod record;
mod seen;
mod session;
mod settings;
mod shown;
mod stack;
mod textures;
mod theme;
mod training;
mod views;
mod worker_link;

use std::sync::Arc;

// What the app's tests and the command line use; everything else stays inside `ui`.
pub use app::LayerwiseApp;
pub use autosave::folder as kept_session_folder;
pub use chrome::FrameStats;
pub use experiment_record::{ExperimentRecord, ExperimentState};
pub use experiments::ExperimentChoice;
pub use notes::Notes;
pub use recon::Selection;
pub use session::Session;
pub use settings::{AppOptions, Settings};

use crate::data::Mnist;

/// The app id: where eframe keeps the settings (`~/.local/share/layerwise` on Linux).
pub const APP_ID: &str = "layerwise";

/// Opens the window and runs until it is closed. With `frame_stats`, prints each phase
/// trained and the UI's frame times while training (p50/p95) to stderr at the end.
pub fn run(data: Arc<Mnist>, options: AppOptions, frame_stats: bool) -> eframe::Result {
    let icon = eframe::icon_data::from_png_bytes(include_bytes!("../../assets/icon.png"))
        .unwrap_or_default();
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("layerwise")
            .with_app_id(APP_ID)
            .with_inner_size([1500.0, 950.0])
            .with_min_inner_size([900.0, 600.0])
            .with_icon(Arc::new(icon)),
        ..Default::default()
    };
    eframe::run_native(
        APP_ID,
        native,
        Box::new(move |cc| {
            let mut options = options;
            options.data_dir = options.data_dir.or_else(|| eframe::storage_dir(APP_ID));
            let app = LayerwiseApp::new(cc, data, options);
            Ok(Box::new(StatsOnExit {
                app,
                frame_times: frame_stats.then(Vec::new),
            }))
        }),
    )
}

/// Prints the frame-time percentiles when the window closes, if asked to.
struct StatsOnExit {
    app: LayerwiseApp,
    /// Every frame's CPU time, when asked for.
    frame_times: Option<Vec<f32>>,
}

impl eframe::App for StatsOnExit {
    fn logic(&mut self, ctx: &egui::Context, frame: &mut eframe::Frame) {
        let training = !self.app.session().is_idle();
        if let (Some(all), Some(t), true) =
            (&mut self.frame_times, frame.info().cpu_usage, training)
        {
            all.push(t);
        }
        self.app.logic(ctx, frame);
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        self.app.ui(ui, frame);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.app.save(storage);
    }

    fn on_exit(&mut self, gl: Option<&eframe::glow::Context>) {
        self.app.on_exit(gl);
        if self.frame_times.is_none() {
            return;
        }
        for r in self.app.session().results() {
            eprintln!(
                "{}{}: {} epochs in {:.3} s",
                r.phase,
                if r.cached { " (cached)" } else { "" },
                r.epochs,
                r.seconds
            );
        }
        if let Some(all) = &self.frame_times
            && let Some((p50, p95)) = FrameStats::percentiles(all.iter().copied())
        {
            eprintln!(
                "frame time while training, over {} frames: p50 {p50:.2} ms, p95 {p95:.2} ms",
                all.len()
            );
        }
    }
}
