//! The app shell: owns the worker, the session built from its events, the persisted
//! settings and the panels; applies the commands the panels return.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::autosave;
use super::codes::CodesPanel;
use super::command::UiCommand;
use super::features::FeaturesPanel;
use super::file_dialog::{FileDialog, Outcome, Purpose};
use super::losses::LossesPanel;
use super::recon::{ReconPanel, Selection};
use super::session::Session;
use super::shown;
use super::training::TrainingPanel;
use crate::data::Mnist;
use crate::model::Phase;
use crate::train::Hyperparams;
use crate::train::worker::{Command, Event, RunState, Waker, WorkerHandle};

/// Everything that persists between launches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub hyperparams: Hyperparams,
    pub cache_hidden1: bool,
    pub log_scale: bool,
    pub selection: Selection,
    /// Where the file dialog starts.
    pub last_dir: Option<std::path::PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            hyperparams: Hyperparams::default(),
            cache_hidden1: true,
            log_scale: true,
            selection: Selection {
                current: 0,
                digit: None,
                pinned: vec![1, 2, 3, 4, 8],
            },
            last_dir: None,
        }
    }
}

/// How the app is started (command line, or a test).
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Use these settings instead of the persisted ones.
    pub settings: Option<Settings>,
    /// Phases to run one after the other as soon as the window is up.
    pub autostart: Vec<Phase>,
    /// Where the model is kept when the window closes (none: not kept).
    pub data_dir: Option<std::path::PathBuf>,
}

/// The last few hundred UI frame times (CPU seconds per frame), for the status bar.
#[derive(Debug, Default)]
pub struct FrameStats {
    recent: VecDeque<f32>,
}

impl FrameStats {
    const WINDOW: usize = 300;

    fn push(&mut self, seconds: f32) {
        if self.recent.len() == Self::WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(seconds);
    }

    /// (p50, p95) in milliseconds of `samples`.
    pub fn percentiles(samples: impl Iterator<Item = f32>) -> Option<(f32, f32)> {
        let mut v: Vec<f32> = samples.collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f32::total_cmp);
        let at = |q: f32| v[((v.len() - 1) as f32 * q).round() as usize] * 1000.0;
        Some((at(0.5), at(0.95)))
    }

    fn recent_ms(&self) -> Option<(f32, f32)> {
        Self::percentiles(self.recent.iter().copied())
    }
}

pub struct LayerwiseApp {
    pub settings: Settings,
    pub session: Session,
    worker: Option<WorkerHandle>,
    wake: Waker,
    /// The hyperparameters the worker has; a changed valid set is sent while idle.
    sent_hyperparams: Hyperparams,
    training: TrainingPanel,
    losses: LossesPanel,
    pub recon: ReconPanel,
    codes: CodesPanel,
    features: FeaturesPanel,
    /// `None`: the views follow training; else an index into `Session::history`.
    pub history_pick: Option<usize>,
    pub dialog: Option<FileDialog>,
    data_dir: Option<std::path::PathBuf>,
    /// A model kept by an earlier session, offered for restoring.
    pub restore_offer: Option<autosave::Offer>,
    autostart: VecDeque<Phase>,
    pub frames: FrameStats,
    /// The window title last sent, to send only changes.
    title: String,
}

impl LayerwiseApp {
    pub fn new(cc: &eframe::CreationContext<'_>, data: Arc<Mnist>, options: AppOptions) -> Self {
        let settings = options.settings.unwrap_or_else(|| {
            cc.storage
                .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
                .unwrap_or_default()
        });
        let ctx = cc.egui_ctx.clone();
        let wake: Waker = Arc::new(move || ctx.request_repaint());
        let mut settings = settings;
        settings.selection.fit(data.test.len());
        let mut app = Self {
            sent_hyperparams: settings.hyperparams.clone(),
            session: Session::new(data),
            worker: None,
            wake,
            training: TrainingPanel::default(),
            losses: LossesPanel,
            recon: ReconPanel::default(),
            codes: CodesPanel::default(),
            features: FeaturesPanel::default(),
            history_pick: None,
            dialog: None,
            data_dir: options.data_dir.clone(),
            restore_offer: None,
            autostart: options.autostart.into(),
            frames: FrameStats::default(),
            title: String::new(),
            settings,
        };
        app.spawn_worker();
        if let Some(dir) = &app.data_dir {
            match autosave::find(dir) {
                Ok(offer) => app.restore_offer = offer,
                Err(e) => app.session.errors.push(e),
            }
        }
        app
    }

    /// Starts a worker on a fresh model from the current settings (at launch, and after
    /// a worker died).
    fn spawn_worker(&mut self) {
        let mut hp = self.settings.hyperparams.clone();
        if hp.validate(self.session.data.train.len()).is_err() {
            // Persisted nonsense must not keep the app from starting.
            self.session
                .errors
                .push("the saved hyperparameters were invalid; the recipe's are used".into());
            hp = Hyperparams::default();
            self.settings.hyperparams = hp.clone();
        }
        match WorkerHandle::spawn(self.session.data.clone(), hp.clone(), self.wake.clone()) {
            Ok(w) => {
                w.send(Command::SetCacheHidden1(self.settings.cache_hidden1));
                self.worker = Some(w);
                self.sent_hyperparams = hp;
            }
            Err(e) => self.session.errors.push(e.to_string()),
        }
    }

    fn send(&mut self, c: Command) {
        let sent = self.worker.as_ref().is_some_and(|w| w.send(c));
        if !sent {
            self.session
                .errors
                .push("the training worker is not running; press Reset to restart it".into());
        }
    }

    /// Applies every event the worker has sent so far.
    pub fn pump(&mut self) {
        loop {
            let next = match &self.worker {
                Some(w) => w.try_recv(),
                None => return,
            };
            match next {
                Ok(Some(e)) => self.apply(e),
                Ok(None) => return,
                Err(_) => {
                    self.worker_died();
                    return;
                }
            }
        }
    }

    /// Applies the worker's events, blocking, until `until` holds for the session or
    /// `timeout` passes. For tests: they wait on the channel instead of sleeping, and
    /// events the frames already applied count too.
    pub fn wait_until(&mut self, timeout: Duration, until: impl Fn(&Session) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while !until(&self.session) {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(w) = &self.worker else {
                return false;
            };
            if left.is_zero() {
                return false;
            }
            match w.recv_timeout(left) {
                Ok(Some(e)) => self.apply(e),
                Ok(None) => return false,
                Err(_) => {
                    self.worker_died();
                    return false;
                }
            }
        }
        true
    }

    /// Stops training within one batch, keeps the model if this session trained it, and
    /// joins the worker. (The window's close; callable from tests.)
    pub fn close(&mut self) {
        self.pump();
        let keep = self.session.batches > 0;
        let Some(mut w) = self.worker.take() else {
            return;
        };
        let path = self.data_dir.as_deref().map(autosave::path);
        w.send(Command::Stop);
        if let (true, Some(p)) = (keep, &path) {
            if let Some(dir) = p.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            w.send(Command::SaveCheckpoint(p.clone()));
        }
        w.shutdown();
        // Nobody will see the window again: report what went wrong on the terminal.
        while let Ok(Some(e)) = w.try_recv() {
            if let Event::Error(msg) = e {
                eprintln!("layerwise: error: {msg}");
            }
        }
    }

    /// Asks the worker for the test-set errors of the current parameters.
    pub fn evaluate_now(&mut self) {
        self.send(Command::Evaluate);
    }

    /// Test only: makes the worker panic, to check that the app survives it.
    #[doc(hidden)]
    pub fn inject_worker_panic(&mut self) {
        self.send(Command::InjectPanic);
    }

    fn worker_died(&mut self) {
        self.worker = None;
        self.session.state = RunState::Idle;
        self.session.progress = None;
        self.session.errors.push(
            "the training worker stopped unexpectedly; press Reset to start a new one".into(),
        );
    }

    fn apply(&mut self, e: Event) {
        let phase_done = matches!(e, Event::PhaseDone { .. });
        let failed = matches!(e, Event::Error(_) | Event::Stopped(_));
        if let Event::DataLoaded(d) = &e {
            self.settings.selection.fit(d.test.len());
        }
        self.session.apply(e);
        if failed {
            self.autostart.clear();
        }
        if phase_done && let Some(next) = self.autostart.pop_front() {
            self.send(Command::StartPhase(next));
        }
    }

    pub fn dispatch(&mut self, ctx: &egui::Context, cmd: UiCommand) {
        let idle = self.session.is_idle();
        match cmd {
            UiCommand::Quit => ctx.send_viewport_cmd(egui::ViewportCommand::Close),
            UiCommand::Phase1 | UiCommand::Phase2 if idle => {
                let phase = if cmd == UiCommand::Phase1 {
                    Phase::One
                } else {
                    Phase::Two
                };
                if self.hyperparams_valid() {
                    self.sync_hyperparams();
                    self.send(Command::StartPhase(phase));
                }
            }
            UiCommand::PauseResume => match self.session.state {
                RunState::Running(_) => self.send(Command::Pause),
                RunState::Paused(_) => self.send(Command::Resume),
                RunState::Idle => {}
            },
            UiCommand::Stop if !idle => self.send(Command::Stop),
            UiCommand::Reset => {
                self.autostart.clear();
                if self.worker.is_none() {
                    self.spawn_worker();
                    self.session.apply(Event::Reset);
                } else {
                    self.sync_hyperparams();
                    self.send(Command::Reset);
                }
            }
            UiCommand::ToggleCache => {
                self.settings.cache_hidden1 = !self.settings.cache_hidden1;
                let on = self.settings.cache_hidden1;
                self.send(Command::SetCacheHidden1(on));
            }
            UiCommand::ScrubPrevious | UiCommand::ScrubNext => {
                let delta = if cmd == UiCommand::ScrubNext { 1 } else { -1 };
                self.settings.selection.step(&self.session.data.test, delta);
            }
            UiCommand::PinImage => {
                let current = self.settings.selection.current;
                self.settings.selection.toggle_pin(current);
            }
            UiCommand::OpenData => self.open_dialog(Purpose::OpenData),
            UiCommand::LoadCheckpoint => self.open_dialog(Purpose::LoadCheckpoint),
            UiCommand::SaveCheckpoint => self.open_dialog(Purpose::SaveCheckpoint),
            UiCommand::ExportImages => self.open_dialog(Purpose::ExportImages),
            UiCommand::ExportLosses => self.open_dialog(Purpose::ExportLosses),
            _ => {}
        }
    }

    fn open_dialog(&mut self, purpose: Purpose) {
        let start = self
            .settings
            .last_dir
            .clone()
            .filter(|d| d.is_dir())
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| std::path::PathBuf::from("/"));
        self.dialog = Some(FileDialog::new(purpose, &start));
    }

    /// Carries out what the file dialog chose.
    fn chosen(&mut self, purpose: Purpose, path: std::path::PathBuf) {
        match purpose {
            Purpose::OpenData => self.send(Command::OpenData(path)),
            Purpose::LoadCheckpoint => self.send(Command::LoadCheckpoint(path)),
            Purpose::SaveCheckpoint => self.send(Command::SaveCheckpoint(path)),
            Purpose::ExportImages => {
                let result = self.export_images(&path);
                self.report(result);
            }
            Purpose::ExportLosses => {
                let result = std::fs::write(&path, self.session.losses_csv())
                    .map(|()| format!("wrote {}", path.display()))
                    .map_err(|e| format!("{}: {e}", path.display()));
                self.report(result);
            }
        }
    }

    fn report(&mut self, result: Result<String, String>) {
        match result {
            Ok(notice) => self.session.notice = Some(notice),
            Err(e) => self.session.errors.push(e),
        }
    }

    /// Writes the shown parameters' views as PNG files into `dir`.
    pub fn export_images(&mut self, dir: &std::path::Path) -> Result<String, String> {
        let shown =
            shown::pick(&self.session, self.history_pick).ok_or("no model to export yet")?;
        let test = &self.session.data.test;
        let means = match &shown.class_means {
            Some(m) => m.as_ref().clone(),
            None => crate::train::eval::class_mean_codes(&shown.params, test),
        };
        let indices = self.settings.selection.shown();
        let written = crate::export::write_pngs(dir, &shown.params, test, &indices, &means)?;
        Ok(format!(
            "wrote {} PNG files to {}",
            written.len(),
            dir.display()
        ))
    }

    fn hyperparams_valid(&self) -> bool {
        self.settings
            .hyperparams
            .validate(self.session.data.train.len())
            .is_ok()
    }

    /// Sends edited hyperparameters to the idle worker once they are valid.
    fn sync_hyperparams(&mut self) {
        if self.session.is_idle()
            && self.settings.hyperparams != self.sent_hyperparams
            && self.hyperparams_valid()
        {
            self.sent_hyperparams = self.settings.hyperparams.clone();
            self.send(Command::SetHyperparams(self.sent_hyperparams.clone()));
        }
    }

    /// The window title shows a running phase's progress, also in a task bar. In steps
    /// of 5%: every change of title costs a frame of its own.
    fn update_title(&mut self, ctx: &egui::Context) {
        let title = match (self.session.state, self.session.progress) {
            (RunState::Idle, _) | (_, None) => "layerwise".to_string(),
            (state, Some(p)) => {
                let done = (p.epoch as usize * p.batches + p.batch) * 100
                    / (p.epochs as usize * p.batches).max(1);
                let paused = if matches!(state, RunState::Paused(_)) {
                    " paused"
                } else {
                    ""
                };
                format!("layerwise · {}{paused} · {}%", p.phase, done / 5 * 5)
            }
        };
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }

    fn menu_ui(&mut self, ui: &mut egui::Ui) -> Vec<UiCommand> {
        let mut clicked = Vec::new();
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                use UiCommand::*;
                let items = [
                    OpenData,
                    LoadCheckpoint,
                    SaveCheckpoint,
                    ExportImages,
                    ExportLosses,
                    Quit,
                ];
                menu_items(ui, &items, &mut clicked);
            });
            ui.menu_button("Training", |ui| {
                use UiCommand::*;
                menu_items(
                    ui,
                    &[Phase1, Phase2, PauseResume, Stop, Reset],
                    &mut clicked,
                );
            });
            ui.menu_button("View", |ui| {
                ui.checkbox(&mut self.settings.log_scale, "Log-scale losses");
                egui::widgets::global_theme_preference_buttons(ui);
            });
        });
        clicked
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.weak(format!(
                "{} · {} train / {} test images",
                self.session.data.source,
                self.session.data.train.len(),
                self.session.data.test.len()
            ));
            if let Some(t) = self.session.test {
                ui.separator();
                ui.label(format!(
                    "test MSE: full stack {:.6} · outer autoencoder {:.6}",
                    t.full, t.outer
                ));
            }
            if let Some(n) = &self.session.notice {
                ui.separator();
                ui.weak(n);
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if let Some((p50, p95)) = self.frames.recent_ms() {
                    ui.weak(format!("frame {p50:.1} ms (p95 {p95:.1})"));
                }
            });
        });
    }

    /// Errors float over the bottom of the plot, so that no control moves when one
    /// appears; they stay until dismissed.
    fn errors_ui(&mut self, ctx: &egui::Context) {
        if self.session.errors.is_empty() {
            return;
        }
        let mut dismiss = false;
        egui::Area::new(egui::Id::unique("layerwise-errors"))
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -36.0))
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                let color = ui.visuals().error_fg_color;
                egui::Frame::popup(ui.style())
                    .stroke(egui::Stroke::new(1.5, color))
                    .show(ui, |ui| {
                        ui.set_max_width(520.0);
                        ui.colored_label(color, egui::RichText::new("Error").strong());
                        let n = self.session.errors.len();
                        for e in self.session.errors.iter().skip(n.saturating_sub(3)) {
                            ui.colored_label(color, e.as_str());
                        }
                        dismiss = ui.button("Dismiss").clicked();
                    });
            });
        if dismiss {
            self.session.errors.clear();
        }
    }
}

/// One menu button per command; a click closes the menu.
fn menu_items(ui: &mut egui::Ui, commands: &[UiCommand], clicked: &mut Vec<UiCommand>) {
    for &cmd in commands {
        if ui
            .button(cmd.label())
            .on_hover_text(cmd.hover_text(ui.ctx()))
            .clicked()
        {
            clicked.push(cmd);
            ui.close();
        }
    }
}

impl eframe::App for LayerwiseApp {
    fn logic(&mut self, ctx: &egui::Context, frame: &mut eframe::Frame) {
        if let Some(t) = frame.info().cpu_usage {
            self.frames.push(t);
        }
        self.pump();
        if self.session.is_idle()
            && self.session.runs.is_empty()
            && let Some(first) = self.autostart.pop_front()
        {
            let cmd = if first == Phase::One {
                UiCommand::Phase1
            } else {
                UiCommand::Phase2
            };
            self.dispatch(ctx, cmd);
        }
        for cmd in UiCommand::pressed(ctx) {
            self.dispatch(ctx, cmd);
        }
        self.update_title(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let mut clicked = Vec::new();
        egui::Panel::top("menu").show(ui, |ui| clicked.extend(self.menu_ui(ui)));
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui));
        egui::Panel::left("training")
            .resizable(true)
            .default_size(330.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    let Settings {
                        hyperparams,
                        cache_hidden1,
                        ..
                    } = &mut self.settings;
                    clicked.extend(self.training.ui(
                        ui,
                        &self.session,
                        hyperparams,
                        *cache_hidden1,
                    ));
                });
            });
        if self
            .history_pick
            .is_some_and(|i| i >= self.session.history.len())
        {
            self.history_pick = None;
        }
        let shown = shown::pick(&self.session, self.history_pick);
        let ctx = ui.ctx().clone();
        if let Some(shown) = &shown {
            let test = &self.session.data.test;
            self.recon
                .update(&ctx, shown, test, &self.settings.selection);
            self.codes
                .update(&ctx, shown, &self.recon.recons, self.recon.generation);
            self.features.update(&ctx, shown);
        }
        egui::Panel::right("views")
            .resizable(true)
            .default_size(440.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.features.ui(ui);
                    ui.separator();
                    self.codes.ui(ui);
                });
            });
        egui::CentralPanel::default().show(ui, |ui| {
            egui::Panel::top("losses")
                .resizable(true)
                .default_size(360.0)
                .show(ui, |ui| {
                    self.losses
                        .ui(ui, &self.session, &mut self.settings.log_scale)
                });
            shown::history_ui(ui, &self.session, &mut self.history_pick);
            self.recon
                .ui(ui, &self.session.data.test, &mut self.settings.selection);
        });
        if let Some(offer) = &self.restore_offer
            && let Some(choice) = autosave::offer_ui(&ctx, offer)
        {
            let path = offer.path.clone();
            self.restore_offer = None;
            match choice {
                autosave::Choice::Restore => self.send(Command::LoadCheckpoint(path)),
                autosave::Choice::Discard => {
                    if let Err(e) = std::fs::remove_file(&path) {
                        self.session.errors.push(format!("{}: {e}", path.display()));
                    }
                }
            }
        }
        if let Some(d) = &mut self.dialog {
            let purpose = d.purpose;
            let dir = d.dir().to_path_buf();
            match d.show(&ctx) {
                Outcome::Open => {}
                Outcome::Cancelled => self.dialog = None,
                Outcome::Chosen(path) => {
                    self.dialog = None;
                    self.settings.last_dir = Some(dir);
                    self.chosen(purpose, path);
                }
            }
        }
        self.errors_ui(ui.ctx());
        for cmd in clicked {
            self.dispatch(ui.ctx(), cmd);
        }
        self.sync_hyperparams();
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.close();
    }
}
