//! The training worker: a thread that owns the `Trainer` and talks to the app only
//! through two channels of the plain messages in `protocol`. It knows nothing of the UI
//! but a "wake" callback. Its side of the classifier experiments is in `experiment`; a
//! batch and what it tells the app, in `stepping`.

mod experiment;
mod stepping;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use super::eval;
use super::protocol::{Command, Event, ExperimentEnd, ExperimentEvent, RunState, Snapshot, Waker};
use super::{Trainer, in_pool};
use crate::checkpoint;
use crate::data::Mnist;
use crate::model::Phase;

/// The UI is woken at most this often while training (20 Hz): smooth enough to watch,
/// and each frame costs the training CPU time (most of a core under software GL).
const WAKE_INTERVAL: Duration = Duration::from_millis(50);
pub(super) struct Worker {
    trainer: Trainer,
    events: Sender<Event>,
    wake: Waker,
    cache_hidden1: bool,
    paused: bool,
    /// The running phase 2 uses the cache.
    cached_run: bool,
    /// A command or step panicked; the model may be half-updated until a Reset or Load.
    failed: bool,
    last_wake: Instant,
    last_snapshot: Instant,
    /// Moving average of the seconds per batch, for samples/s and the ETA.
    step_seconds: Option<f64>,
    last_step: Instant,
    /// A classifier experiment, running or waiting for the recipe's phases.
    experiment: Option<experiment::Stage>,
    /// The encoder later sweeps compare the model's with (`Command::SetSecondEncoder`).
    second: Option<(Arc<crate::model::Params>, super::protocol::SecondEncoder)>,
}

enum Flow {
    Continue,
    Exit,
}

impl Worker {
    pub(super) fn new(trainer: Trainer, events: Sender<Event>, wake: Waker) -> Self {
        let now = Instant::now();
        Self {
            trainer,
            events,
            wake,
            cache_hidden1: false,
            paused: false,
            cached_run: false,
            failed: false,
            last_wake: now,
            last_snapshot: now,
            step_seconds: None,
            last_step: now,
            experiment: None,
            second: None,
        }
    }

    pub(super) fn run(mut self, commands: Receiver<Command>) {
        self.send(Event::State(RunState::Idle), true);
        self.snapshot(None, true);
        self.measure_yardstick();
        let mut commands = commands;
        loop {
            // Idle or paused: wait outside rayon's pool, holding none of its threads.
            let Ok(c) = commands.recv() else { return };
            if let Flow::Exit = self.answer(c) {
                return;
            }
            if self.busy() {
                // Training runs on a pool thread (see `in_pool`) until the phase or the
                // experiment ends, pauses or stops; commands are answered between steps.
                let (flow, back) = in_pool(|| {
                    let flow = self.train(&commands);
                    (flow, commands)
                });
                commands = back;
                if let Flow::Exit = flow {
                    return;
                }
            }
        }
    }

    /// A phase is training (not paused), or an experiment is running.
    fn busy(&self) -> bool {
        (self.trainer.running().is_some() && !self.paused) || self.sweeping()
    }

    fn train(&mut self, commands: &Receiver<Command>) -> Flow {
        while self.busy() {
            let flow = match commands.try_recv() {
                Ok(c) => self.answer(c),
                Err(TryRecvError::Empty) => self.guarded(|w| {
                    if w.sweeping() {
                        w.sweep_step();
                    } else {
                        w.step_once();
                    }
                    Flow::Continue
                }),
                Err(TryRecvError::Disconnected) => Flow::Exit,
            };
            if let Flow::Exit = flow {
                return flow;
            }
        }
        Flow::Continue
    }

    /// Carries out a command (a panic in it becomes an error) and answers it.
    fn answer(&mut self, c: Command) -> Flow {
        let kind = c.kind();
        let flow = self.guarded(|w| w.handle(c));
        if let Flow::Continue = flow {
            self.send(Event::Handled(kind), false);
        }
        flow
    }

    /// Runs `f`, turning a panic into an Error event and a stopped phase.
    fn guarded(&mut self, f: impl FnOnce(&mut Self) -> Flow) -> Flow {
        match catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(flow) => flow,
            Err(payload) => {
                let what = crate::actor::panic_message(&*payload);
                self.trainer.stop();
                self.paused = false;
                self.failed = true;
                self.end_experiment(ExperimentEnd::Failed);
                self.error(
                    format!(
                        "internal error in the training worker ({what}); press Reset (or load a checkpoint) to continue"
                    ),
                );
                self.send(Event::State(RunState::Idle), true);
                Flow::Continue
            }
        }
    }

    fn send(&mut self, e: Event, urgent: bool) {
        let frequent = matches!(
            e,
            Event::BatchLoss { .. }
                | Event::Progress(_)
                | Event::Experiment(ExperimentEvent::Progress(_))
        );
        if frequent {
            log::trace!("event: {e:?}");
        } else {
            log::debug!("event: {e:?}");
        }
        // The UI may be gone already (closing); nothing to do then.
        let _ = self.events.send(e);
        if urgent || self.last_wake.elapsed() >= WAKE_INTERVAL {
            (self.wake)();
            self.last_wake = Instant::now();
        }
    }

    /// PCA's yardstick for the current data, off this thread so that commands are
    /// answered meanwhile. A failure only leaves the yardstick out (and is logged).
    fn measure_yardstick(&self) {
        let data = self.trainer.data().clone();
        let (events, wake) = (self.events.clone(), self.wake.clone());
        let measure = move || match eval::pca_yardstick_once(&data) {
            Ok(pca) => {
                if events.send(Event::Yardstick { data, pca }).is_ok() {
                    wake();
                }
            }
            Err(e) => log::warn!("no PCA yardstick for {}: {e}", data.source),
        };
        let spawned = std::thread::Builder::new()
            .name("layerwise-yardstick".into())
            .spawn(move || {
                if let Err(p) = catch_unwind(AssertUnwindSafe(measure)) {
                    log::warn!(
                        "the PCA yardstick panicked: {}",
                        crate::actor::panic_message(&*p)
                    );
                }
            });
        if let Err(e) = spawned {
            log::warn!("no thread for the PCA yardstick: {e}");
        }
    }

    fn error(&mut self, e: impl std::fmt::Display) {
        self.send(Event::Error(e.to_string()), true);
    }

    fn snapshot(&mut self, epoch_end: Option<(Phase, u32)>, with_means: bool) {
        let params = Arc::new(self.trainer.params().clone());
        let class_means = with_means
            .then(|| Arc::new(eval::class_mean_codes(&params, &self.trainer.data().test)));
        self.last_snapshot = Instant::now();
        let urgent = epoch_end.is_some() || class_means.is_some();
        let s = Snapshot {
            params,
            epochs_done: self.trainer.epochs_done(),
            epoch_end,
            class_means,
        };
        self.send(Event::Snapshot(s), urgent);
    }

    fn state(&self) -> RunState {
        if self.sweeping() {
            return RunState::Experimenting;
        }
        match self.trainer.running() {
            None => RunState::Idle,
            Some(p) if self.paused => RunState::Paused(p),
            Some(p) => RunState::Running(p),
        }
    }

    fn announce_state(&mut self) {
        let s = self.state();
        self.send(Event::State(s), true);
    }

    fn handle(&mut self, c: Command) -> Flow {
        log::debug!("command: {c:?}");
        match c {
            Command::Shutdown => return Flow::Exit,
            Command::StartPhase(_) if self.experiment.is_some() => {
                self.error("an experiment is running; cancel it first")
            }
            Command::StartPhase(phase) => self.start(phase),
            Command::Pause => self.pause(),
            Command::Resume => self.resume(),
            Command::Stop => self.stop(),
            Command::Reset => self.reset(),
            Command::SetCacheHidden1(on) => {
                self.cache_hidden1 = on;
                if !on && self.trainer.running().is_none() {
                    self.trainer.drop_cache();
                }
            }
            Command::SetHyperparams(hp) => {
                if let Err(e) = self.trainer.set_hyperparams(hp) {
                    self.error(e);
                }
            }
            Command::Evaluate => {
                let errors = self.trainer.test_errors();
                self.send(Event::Evaluated(errors), true);
            }
            Command::SaveCheckpoint(path) => {
                match checkpoint::save(&path, &self.trainer.checkpoint()) {
                    Ok(()) => self.send(Event::CheckpointSaved(path), true),
                    Err(e) => self.error(e),
                }
            }
            Command::Checkpoint => {
                let ck = Box::new(self.trainer.checkpoint());
                self.send(Event::Checkpointed(ck), true);
            }
            Command::Barrier => {}
            Command::LoadCheckpoint(path) => self.load(&path),
            Command::OpenData(dir) => self.open_data(&dir),
            Command::RunExperiment(spec) => self.run_experiment(spec),
            Command::CancelExperiment => self.cancel_experiment(),
            Command::SetSecondEncoder(source) => self.set_second(source),
            #[cfg(feature = "test-hooks")]
            Command::InjectPanic => panic!("injected by a test"),
            #[cfg(feature = "test-hooks")]
            Command::Hold(gate) => gate.meet(),
        }
        Flow::Continue
    }

    fn start(&mut self, phase: Phase) {
        if self.trainer.running().is_some() {
            return self.error("a phase is already running; stop it first");
        }
        if self.failed {
            return self.error("the worker failed earlier; press Reset or load a checkpoint first");
        }
        let cached = matches!(phase, Phase::Layer(k) if k >= 2) && self.cache_hidden1;
        match self.trainer.begin_phase(phase, cached) {
            Ok(cache) => {
                if let Some(info) = cache {
                    self.send(Event::CacheBuilt(info), true);
                }
                self.cached_run = cached;
                self.paused = false;
                self.step_seconds = None;
                self.last_step = Instant::now();
                let started = Event::PhaseStarted {
                    phase,
                    cached,
                    epochs: self.trainer.phase_epochs(phase),
                    batches: self.trainer.batches_per_epoch(),
                };
                self.send(started, true);
                self.announce_state();
            }
            Err(e) => self.error(e),
        }
    }

    fn pause(&mut self) {
        if self.trainer.running().is_some() && !self.paused {
            self.paused = true;
            self.announce_state();
            self.snapshot(None, false);
        }
    }

    fn resume(&mut self) {
        if self.paused {
            self.paused = false;
            self.step_seconds = None;
            self.last_step = Instant::now();
            self.announce_state();
        }
    }

    fn stop(&mut self) {
        match self.experiment {
            Some(_) => self.cancel_experiment(),
            None => self.stop_phase(),
        }
    }

    fn stop_phase(&mut self) {
        if let Some(phase) = self.trainer.running() {
            self.trainer.stop();
            self.paused = false;
            self.send(Event::Stopped(phase), true);
            self.announce_state();
            self.snapshot(None, true);
        }
    }

    fn reset(&mut self) {
        self.end_experiment(ExperimentEnd::Cancelled);
        self.trainer.stop();
        self.paused = false;
        self.failed = false;
        self.trainer.reset();
        self.send(Event::Reset, true);
        self.announce_state();
        self.snapshot(None, true);
    }

    fn load(&mut self, path: &Path) {
        if self.experiment.is_some() {
            return self.error("cancel the experiment before loading a checkpoint");
        }
        if self.trainer.running().is_some() {
            return self.error("stop the running phase before loading a checkpoint");
        }
        let arch = self.trainer.params().arch();
        let ck = match checkpoint::load(path, Some(arch)) {
            Ok(ck) => ck,
            Err(e) => return self.error(e),
        };
        match self.trainer.restore(ck) {
            Ok(note) => {
                self.failed = false;
                let path = path.to_path_buf();
                self.send(Event::CheckpointLoaded { path, note }, true);
                self.snapshot(None, true);
            }
            Err(e) => self.error(format!("{}: {e}", path.display())),
        }
    }

    fn open_data(&mut self, dir: &Path) {
        if self.experiment.is_some() {
            return self.error("cancel the experiment before opening another dataset");
        }
        if self.trainer.running().is_some() {
            return self.error("stop the running phase before opening another dataset");
        }
        let data = match Mnist::load_dir(dir) {
            Ok(m) => Arc::new(m),
            Err(e) => return self.error(e),
        };
        match self.trainer.set_data(data.clone()) {
            Ok(()) => {
                self.send(Event::DataLoaded(data), true);
                self.snapshot(None, true);
                self.measure_yardstick();
            }
            Err(e) => self.error(format!("{}: {e}", dir.display())),
        }
    }
}
