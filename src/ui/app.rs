//! The app shell: owns the worker link, the session built from its events, the
//! persisted settings and the panels; lays the panels out and carries out the commands
//! they return. Menus and bars are in `chrome`, files and dialogs in `files`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::autosave;
use super::chrome::FrameStats;
use super::codes::CodesPanel;
use super::command::UiCommand;
use super::disk::{Disk, Done, Job};
use super::experiments::ExperimentsPanel;
use super::explore::Explore;
use super::features::FeaturesPanel;
use super::file_dialog::{FileDialog, Purpose};
use super::layout::{self, Pane};
use super::losses::LossesPanel;
use super::notes::{Note, Notes};
use super::pacing::Pacing;
use super::recon::ReconPanel;
use super::record::{Keeping, SessionRecord};
use super::session::Session;
use super::settings::{AppOptions, Settings};
use super::shown::{self, Inspection};
use super::training::TrainingPanel;
use super::views::Views;
use super::worker_link::{Received, WorkerLink};
use crate::checkpoint::Checkpoint;
use crate::data::Mnist;
use crate::model::{Noise, Phase};
use crate::train::Hyperparams;
use crate::train::experiment::ExperimentSpec;
use crate::train::protocol::{
    Command, Event, ExperimentEvent, RunState, SecondSource, Snapshot, Waker,
};

/// While a phase trains, the session is kept at least this often (and after every
/// phase and experiment): a kill loses at most this much of the phase in progress.
const KEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(120);
/// How long closing waits for the worker's last checkpoint.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub struct LayerwiseApp {
    pub(super) settings: Settings,
    pub(super) session: Session,
    /// Errors and notices for the user (not part of the training record).
    pub(super) notes: Notes,
    pub(super) link: WorkerLink,
    training: TrainingPanel,
    losses: LossesPanel,
    recon: ReconPanel,
    codes: CodesPanel,
    features: FeaturesPanel,
    experiments: ExperimentsPanel,
    /// Map, Walk and Draw, with the map worker behind them.
    pub(super) explore: Explore,
    pub(super) inspection: Inspection,
    /// `None`: the views follow training; else an index into `Session::history`.
    pub(super) history_pick: Option<usize>,
    pub(super) dialog: Option<FileDialog>,
    pub(super) data_dir: Option<PathBuf>,
    /// A model kept by an earlier session, offered for restoring.
    pub(super) restore_offer: Option<autosave::Offer>,
    autostart: VecDeque<Phase>,
    /// Close the window when the autostarted phases are done (and the close is due).
    exit_when_done: bool,
    quit: bool,
    pub(super) frames: FrameStats,
    /// The window title last sent, to send only changes.
    pub(super) title: String,
    pub(super) title_at: Instant,
    /// How often the workers may make the window repaint.
    pacing: Pacing,
    /// How the views are docked (persisted apart from the settings).
    pub(super) layout: egui_tiles::Tree<Pane>,
    /// The kept training record of the model being restored (from that file), put
    /// back once the worker has loaded the model.
    pub(super) pending_record: Option<(PathBuf, (SessionRecord, Vec<Snapshot>))>,
    /// Disk and whole-set work: the kept session, the exports.
    pub(super) disk: Disk,
    /// When the session was last asked to be kept; how many checkpoints for it are on
    /// their way.
    kept_at: Instant,
    pub(super) keep_asked: u32,
}

/// Where the views' arrangement is kept between launches.
const LAYOUT_KEY: &str = "layout";

impl LayerwiseApp {
    pub fn new(cc: &eframe::CreationContext<'_>, data: Arc<Mnist>, options: AppOptions) -> Self {
        let mut settings = options.settings.unwrap_or_else(|| {
            cc.storage
                .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
                .unwrap_or_default()
        });
        settings.selection.fit(data.test.len());
        if let Some(hp) = &options.hyperparams {
            settings.hyperparams = hp.clone();
        }
        if let Some((_, arch)) = &options.load {
            // The worker's model must have the file's shape to take it.
            settings.hyperparams.take_shape(*arch);
        }
        let mut layout = cc
            .storage
            .and_then(|s| eframe::get_value(s, LAYOUT_KEY))
            .unwrap_or_else(layout::default_tree);
        layout::ensure_all(&mut layout);
        let pacing = Pacing::for_window(cc);
        let wake: Waker = pacing.waker(cc.egui_ctx.clone());
        let explore = Explore::new(data.clone(), wake.clone());
        let disk = Disk::new(wake.clone());
        let depth = settings.hyperparams.layers.depth();
        let (autostart, beyond): (Vec<_>, Vec<_>) = options
            .autostart
            .iter()
            .map(|&n| (n, Phase::from_number(n as usize, depth)))
            .partition(|(_, p)| p.is_some());
        let mut app = Self {
            settings,
            session: Session::new(data),
            notes: Notes::default(),
            link: WorkerLink::new(wake),
            training: TrainingPanel::default(),
            losses: LossesPanel,
            recon: ReconPanel::default(),
            codes: CodesPanel::default(),
            features: FeaturesPanel::default(),
            experiments: ExperimentsPanel,
            explore,
            inspection: Inspection::default(),
            history_pick: None,
            dialog: None,
            data_dir: options.data_dir,
            restore_offer: None,
            autostart: autostart.into_iter().filter_map(|(_, p)| p).collect(),
            exit_when_done: options.exit_when_done,
            quit: false,
            frames: FrameStats::default(),
            title: String::new(),
            title_at: Instant::now(),
            layout,
            pacing,
            pending_record: None,
            disk,
            kept_at: Instant::now(),
            keep_asked: 0,
        };
        for (n, _) in beyond {
            app.notes.error(format!(
                "--autostart {n}: the model has {depth} autoencoder(s), so 1 to {depth} \
                 train them and {} fine-tunes",
                depth + 1
            ));
        }
        app.start_worker();
        let opened = options
            .load
            .map(|(path, _)| app.send(Command::LoadCheckpoint(path)));
        // Sent now, behind the worker's first command: a frame could not tell that a
        // start is on its way and would start the next phase too.
        if let Some(first) = app.autostart.pop_front() {
            app.start_phase(first);
        }
        // A model given at launch is what the user wants now; the kept one waits.
        if let (Some(dir), None) = (&app.data_dir, opened) {
            match autosave::find(dir) {
                Ok(offer) => app.restore_offer = offer,
                Err(e) => app.notes.error(e.to_string()),
            }
        }
        app
    }

    /// Starts a worker on a fresh model from the current settings (at launch, and after
    /// a worker died).
    fn start_worker(&mut self) {
        if self
            .settings
            .hyperparams
            .validate(self.session.data().train.len())
            .is_err()
        {
            // Persisted nonsense must not keep the app from starting.
            self.notes
                .error("the saved hyperparameters were invalid; the recipe's are used");
            self.settings.hyperparams = Hyperparams::default();
        }
        let (data, hp) = (
            self.session.data().clone(),
            self.settings.hyperparams.clone(),
        );
        if let Err(e) = self.link.start(data, hp, self.settings.cache_hidden1) {
            self.notes.error(e.to_string());
        }
    }

    /// What the app knows of training (read by the window's frame statistics and tests).
    pub fn session(&self) -> &Session {
        &self.session
    }

    pub(super) fn send(&mut self, c: Command) {
        if let Err(e) = self.link.send(c) {
            self.notes.error(e.to_string());
        }
    }

    /// Applies every event the worker has sent so far.
    pub fn pump(&mut self) {
        loop {
            match self.link.try_next() {
                Received::Event(e) => self.apply(e),
                Received::Nothing => return,
                Received::Gone => return self.worker_gone(),
            }
        }
    }

    /// Stops training within one batch, keeps the session if this one trained a model,
    /// and joins the workers. (The window's close; callable from tests.)
    pub fn close(&mut self) {
        self.pump();
        let mut errors: Vec<String> = self.explore.close().into_iter().collect();
        self.send(Command::Stop);
        if self.keeping_allowed() {
            self.send(Command::Checkpoint);
            self.keep_asked += 1;
            // Waits for that checkpoint (applying what comes before it), which the
            // disk thread then writes before it ends.
            let deadline = Instant::now() + CLOSE_TIMEOUT;
            while self.keep_asked > 0 {
                match self
                    .link
                    .next_within(deadline.saturating_duration_since(Instant::now()))
                {
                    Received::Event(e) => self.apply(e),
                    Received::Nothing | Received::Gone => break,
                }
            }
        }
        errors.extend(self.link.close());
        for done in self.disk.close() {
            errors.extend(self.finished(done));
        }
        // Nobody will see the window again: report what went wrong on the terminal.
        for e in errors {
            eprintln!("layerwise: error: {e}");
        }
    }

    /// Whether the session may be kept now: there is a folder for it, this session
    /// trained a model, and no kept session waits for the user's decision (keeping would
    /// replace it).
    fn keeping_allowed(&self) -> bool {
        self.data_dir.is_some() && self.session.batches() > 0 && self.restore_offer.is_none()
    }

    /// Asks the worker for the checkpoint the session will be kept with.
    fn keep_session(&mut self) {
        if self.keeping_allowed() && self.keep_asked == 0 {
            self.keep_asked += 1;
            self.kept_at = Instant::now();
            self.send(Command::Checkpoint);
        }
    }

    /// Hands the session, with the worker's checkpoint, to the disk thread.
    fn keep_with(&mut self, checkpoint: Box<Checkpoint>) {
        self.keep_asked = self.keep_asked.saturating_sub(1);
        let Some(dir) = self.data_dir.as_deref().map(autosave::folder) else {
            return;
        };
        if self.keeping_allowed() {
            let keeping = Box::new(Keeping::of(&self.session, checkpoint));
            if let Some(done) = self.disk.send(Job::Keep { dir, keeping }) {
                let errors = self.finished(done);
                self.notes.extend(errors);
            }
        }
    }

    /// Takes what the disk thread finished; returns the errors (the caller shows them).
    pub(super) fn finished(&mut self, done: Done) -> Option<String> {
        match done {
            Done::Kept(Ok((folder, seconds))) => {
                log::info!("kept the session in {} ({seconds:.2} s)", folder.display());
                None
            }
            Done::Exported(Ok(notice)) => {
                self.notes.notice(notice);
                None
            }
            Done::Kept(Err(e)) | Done::Exported(Err(e)) => Some(e),
        }
    }

    /// Keeps the session while a phase trains, every `KEEP_INTERVAL`, and takes what the
    /// disk thread finished.
    fn follow_disk(&mut self) {
        if matches!(self.session.state(), RunState::Running(_))
            && self.kept_at.elapsed() >= KEEP_INTERVAL
        {
            self.keep_session();
        }
        for done in self.disk.finished() {
            if let Some(e) = self.finished(done) {
                self.notes.error(e);
            }
        }
    }

    pub(super) fn worker_gone(&mut self) {
        self.session.worker_gone();
        self.notes
            .error("the training worker stopped unexpectedly; press Reset to start a new one");
    }

    pub(super) fn apply(&mut self, e: Event) {
        let restored = match (&e, &self.pending_record) {
            (Event::CheckpointLoaded { path, .. }, Some((pending, _))) => path == pending,
            _ => false,
        };
        let phase_done = matches!(e, Event::PhaseDone { .. });
        // Encoder B is kept with the session at once, as a phase's end is: a kill must
        // not lose it.
        let keep_now = phase_done
            || matches!(
                e,
                Event::Experiment(ExperimentEvent::Ended { .. }) | Event::SecondEncoder(_)
            );
        if let Event::Checkpointed(ck) = e {
            return self.keep_with(ck);
        }
        let failed = matches!(e, Event::Error(_) | Event::Stopped(_));
        if let Event::DataLoaded(d) = &e {
            self.settings.selection.fit(d.test.len());
        }
        if let Some(note) = self.session.apply(e) {
            self.notes.take(note);
        }
        if restored && let Some((_, (record, history))) = self.pending_record.take() {
            self.session.restore(record.into_parts(history));
            // Said as what it is, not as the kept set's inner file.
            let (runs, epochs) = (self.session.runs().len(), self.session.epochs().len());
            let what = format!("restored the last session: {runs} phase run(s), {epochs} epoch(s)");
            self.notes.take(Note::Notice(what));
        }
        if failed {
            self.autostart.clear();
        }
        if keep_now {
            self.keep_session();
        }
        if phase_done {
            match self.autostart.pop_front() {
                Some(next) => self.send(Command::StartPhase(next)),
                None => self.quit = self.exit_when_done,
            }
        }
        if failed && self.exit_when_done {
            self.quit = true;
        }
    }

    /// Carries out a user's command, however it was given (button, menu, key).
    pub fn dispatch(&mut self, ctx: &egui::Context, cmd: UiCommand) {
        let sel = &mut self.settings.selection;
        match cmd {
            UiCommand::Phase1
            | UiCommand::Phase2
            | UiCommand::Phase3
            | UiCommand::Phase4
            | UiCommand::Phase5
            | UiCommand::Phase6
            | UiCommand::Phase7
            | UiCommand::Phase8
            | UiCommand::FineTune
            | UiCommand::EndToEnd => {
                let depth = self.model_arch().depth();
                match super::phases::phase_of(cmd, depth) {
                    Some(phase) => self.start_phase(phase),
                    None => self.notes.notice(format!(
                        "the model has {depth} autoencoder(s): keys 1 to {depth} train them, \
                         {} fine-tunes",
                        depth + 1
                    )),
                }
            }
            UiCommand::PauseResume => match self.session.state() {
                RunState::Running(_) => self.send(Command::Pause),
                RunState::Paused(_) => self.send(Command::Resume),
                RunState::Idle | RunState::Experimenting => {}
            },
            UiCommand::Stop => {
                if !self.session.is_idle() {
                    self.send(Command::Stop);
                }
            }
            UiCommand::Reset => self.reset(),
            UiCommand::ToggleCache => {
                self.settings.cache_hidden1 = !self.settings.cache_hidden1;
                self.send(Command::SetCacheHidden1(self.settings.cache_hidden1));
            }
            UiCommand::ScrubPrevious => sel.step(&self.session.data().test, -1),
            UiCommand::ScrubNext => sel.step(&self.session.data().test, 1),
            UiCommand::PinImage => sel.toggle_pin(sel.current),
            UiCommand::ToggleLogScale => self.settings.log_scale = !self.settings.log_scale,
            UiCommand::OpenData => self.open_dialog(Purpose::OpenData),
            UiCommand::LoadCheckpoint => self.open_dialog(Purpose::LoadCheckpoint),
            UiCommand::SaveCheckpoint => self.open_dialog(Purpose::SaveCheckpoint),
            UiCommand::ExportImages => self.open_dialog(Purpose::ExportImages),
            UiCommand::ExportLosses => self.open_dialog(Purpose::ExportLosses),
            UiCommand::RunExperiment => match self.settings.experiment.spec() {
                Ok(spec) => self.send(Command::RunExperiment(spec)),
                Err(e) => self.notes.error(e),
            },
            UiCommand::RunBook => self.send(Command::RunExperiment(ExperimentSpec::book())),
            UiCommand::CancelExperiment => self.send(Command::CancelExperiment),
            UiCommand::ExportExperiment => self.open_dialog(Purpose::ExportExperiment),
            UiCommand::KeepEncoderB => {
                self.send(Command::SetSecondEncoder(Some(SecondSource::Current)))
            }
            UiCommand::LoadEncoderB => self.open_dialog(Purpose::LoadEncoderB),
            UiCommand::ForgetEncoderB => self.send(Command::SetSecondEncoder(None)),
            UiCommand::RunTsne => self.explore.run_tsne(&self.settings.explore),
            UiCommand::CancelTsne => self.explore.cancel_tsne(),
            UiCommand::ClearDrawing => self.explore.clear_drawing(),
            UiCommand::Quit => ctx.send_viewport_cmd(egui::ViewportCommand::Close),
        }
    }

    /// The worker's model's shape (the settings' until it has shown it).
    pub(super) fn model_arch(&self) -> crate::model::Arch {
        model_arch(&self.session, &self.settings.hyperparams)
    }

    fn start_phase(&mut self, phase: Phase) {
        if self.session.is_idle() && self.hyperparams_valid() {
            self.sync_hyperparams();
            self.send(Command::StartPhase(phase));
        }
    }

    pub(super) fn reset(&mut self) {
        self.autostart.clear();
        if self.link.is_up() {
            self.sync_hyperparams();
            self.send(Command::Reset);
        } else {
            self.start_worker();
            if let Some(note) = self.session.apply(Event::Reset) {
                self.notes.take(note);
            }
        }
    }

    fn hyperparams_valid(&self) -> bool {
        self.settings
            .hyperparams
            .validate(self.session.data().train.len())
            .is_ok()
    }

    /// Sends edited hyperparameters to the idle worker once they are valid.
    fn sync_hyperparams(&mut self) {
        if self.session.is_idle()
            && self.hyperparams_valid()
            && let Err(e) = self.link.sync_hyperparams(&self.settings.hyperparams)
        {
            self.notes.error(e.to_string());
        }
    }

    /// The views of the shown parameters, as the user has docked them, under the
    /// choice of which parameters they show.
    fn views_ui(&mut self, ui: &mut egui::Ui, clicked: &mut Vec<UiCommand>) {
        if self
            .history_pick
            .is_some_and(|i| i >= self.session.history().len())
        {
            self.history_pick = None;
        }
        let ctx = ui.ctx().clone();
        let shown = shown::pick(&self.session, self.history_pick);
        if let Some(shown) = &shown {
            let noise = match self.settings.selection.clean {
                true => Noise::None,
                false => self.settings.hyperparams.noise,
            };
            let indices = self.settings.selection.shown();
            self.inspection
                .update(shown, self.session.data(), indices, noise);
            self.recon.update(&ctx, &self.inspection);
            self.codes.update(&ctx, shown, &self.inspection);
            self.features.update(&ctx, shown);
        }
        egui::CentralPanel::default().show(ui, |ui| {
            shown::history_ui(ui, &self.session, &mut self.history_pick);
            let mut views = Views {
                session: &self.session,
                settings: &mut self.settings,
                inspection: &self.inspection,
                losses: &mut self.losses,
                recon: &mut self.recon,
                codes: &mut self.codes,
                features: &mut self.features,
                experiments: &mut self.experiments,
                explore: &mut self.explore,
                clicked,
            };
            self.layout.ui(&mut views, ui);
        });
        let s = &self.settings;
        let data = &self.session.data();
        let live_epochs = self.session.snapshot().as_ref().map(|s| s.epochs_done);
        self.explore
            .follow(shown.as_ref(), live_epochs, data, &s.explore, &s.selection);
    }
}

impl eframe::App for LayerwiseApp {
    fn logic(&mut self, ctx: &egui::Context, frame: &mut eframe::Frame) {
        self.pacing.frame();
        if let Some(t) = frame.info().cpu_usage {
            self.frames.push(t);
        }
        self.pump();
        self.follow_disk();
        self.explore.pump();
        self.notes.extend(self.explore.state.errors.drain(..));
        for cmd in UiCommand::pressed(ctx) {
            self.dispatch(ctx, cmd);
        }
        if self.quit {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
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
        self.views_ui(ui, &mut clicked);
        let ctx = ui.ctx().clone();
        self.restore_ui(&ctx);
        self.dialog_ui(&ctx);
        self.errors_ui(&ctx);
        for cmd in clicked {
            self.dispatch(&ctx, cmd);
        }
        self.sync_hyperparams();
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
        eframe::set_value(storage, LAYOUT_KEY, &self.layout);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.close();
    }
}

/// The worker's model's shape (the settings' until it has shown it).
pub(super) fn model_arch(session: &Session, hp: &Hyperparams) -> crate::model::Arch {
    session
        .arch()
        .unwrap_or_else(|| hp.arch(crate::data::PIXELS))
}
