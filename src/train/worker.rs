//! The training worker: a thread that owns the `Trainer` and talks to the app only
//! through two channels of plain enums. It knows nothing of the UI but a "wake" callback.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ndarray::Array2;

use super::eval;
use super::{CacheInfo, Hyperparams, Step, TrainError, Trainer, in_pool};
use crate::checkpoint::{self, Checkpoint};
use crate::data::Mnist;
use crate::model::{Params, Phase};

/// Wakes the UI; the app passes `ctx.request_repaint()`.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// The UI is woken at most this often while training (about 30 Hz).
const WAKE_INTERVAL: Duration = Duration::from_millis(33);
/// Live parameter snapshots for the views, at most this often.
const SNAPSHOT_INTERVAL: Duration = Duration::from_millis(100);

/// What the UI asks of the worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    StartPhase(Phase),
    Pause,
    Resume,
    Stop,
    /// Re-initialise the model from the seed (and recover from a worker failure).
    Reset,
    SetCacheHidden1(bool),
    SetHyperparams(Hyperparams),
    /// Compute the test MSE of the current parameters.
    Evaluate,
    LoadCheckpoint(PathBuf),
    SaveCheckpoint(PathBuf),
    OpenData(PathBuf),
    /// Test only: makes the worker panic, to check that the app survives it.
    #[doc(hidden)]
    InjectPanic,
    Shutdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Idle,
    Running(Phase),
    Paused(Phase),
}

/// Where a running phase is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub phase: Phase,
    pub epoch: u32,
    pub epochs: u32,
    /// Batches done in this epoch.
    pub batch: usize,
    pub batches: usize,
    pub samples_per_sec: f64,
    pub eta_seconds: f64,
}

/// The parameters at some point of training, shared with the views.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub params: Arc<Params>,
    /// Epochs trained per phase when it was taken.
    pub epochs_done: [u32; 2],
    /// Set for the snapshot taken at the end of an epoch (kept in the history).
    pub epoch_end: Option<(Phase, u32)>,
    /// Mean code of each class over the test set (10 x hidden2), when computed.
    pub class_means: Option<Arc<Array2<f32>>>,
}

/// What the worker tells the UI.
#[derive(Debug, Clone)]
pub enum Event {
    State(RunState),
    PhaseStarted {
        phase: Phase,
        cached: bool,
        epochs: u32,
        batches: usize,
    },
    BatchLoss {
        phase: Phase,
        loss: f32,
    },
    Progress(Progress),
    EpochDone {
        phase: Phase,
        epoch: u32,
        train_mse: f32,
        seconds: f64,
    },
    CacheBuilt(CacheInfo),
    PhaseDone {
        phase: Phase,
        epochs: u32,
        seconds: f64,
        cached: bool,
        /// Test-set reconstruction errors of the outer autoencoder and the full stack.
        test: eval::Errors,
    },
    /// The phase was stopped before its end.
    Stopped(Phase),
    Snapshot(Snapshot),
    Evaluated(eval::Errors),
    /// The model was re-initialised.
    Reset,
    DataLoaded(Arc<Mnist>),
    CheckpointLoaded(PathBuf),
    CheckpointSaved(PathBuf),
    Error(String),
}

/// The app's end of the worker.
pub struct WorkerHandle {
    commands: Sender<Command>,
    events: Receiver<Event>,
    thread: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Starts a worker on a fresh model.
    pub fn spawn(data: Arc<Mnist>, hp: Hyperparams, wake: Waker) -> Result<Self, TrainError> {
        let trainer = Trainer::new(data, hp)?;
        let (commands, command_rx) = mpsc::channel();
        let (event_tx, events) = mpsc::channel();
        let worker = Worker {
            trainer,
            events: event_tx,
            wake,
            cache_hidden1: false,
            paused: false,
            cached_run: false,
            failed: false,
            last_wake: Instant::now(),
            last_snapshot: Instant::now(),
            step_seconds: None,
            last_step: Instant::now(),
        };
        let thread = std::thread::Builder::new()
            .name("layerwise-training".into())
            .spawn(move || worker.run(command_rx))
            .map_err(|e| TrainError::Worker(e.to_string()))?;
        Ok(Self {
            commands,
            events,
            thread: Some(thread),
        })
    }

    /// Sends a command; false if the worker is gone.
    pub fn send(&self, c: Command) -> bool {
        self.commands.send(c).is_ok()
    }

    /// The next event if there is one, without waiting. `Err` if the worker is gone.
    pub fn try_recv(&self) -> Result<Option<Event>, WorkerGone> {
        match self.events.try_recv() {
            Ok(e) => Ok(Some(e)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(WorkerGone),
        }
    }

    /// Waits up to `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Event>, WorkerGone> {
        match self.events.recv_timeout(timeout) {
            Ok(e) => Ok(Some(e)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(WorkerGone),
        }
    }

    /// Stops the worker within one batch and waits for its thread to end.
    pub fn shutdown(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The worker thread ended (it panicked outside a command, or was shut down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerGone;

struct Worker {
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
}

enum Flow {
    Continue,
    Exit,
}

impl Worker {
    fn run(mut self, commands: Receiver<Command>) {
        self.send(Event::State(RunState::Idle), true);
        self.snapshot(None, true);
        let mut commands = commands;
        loop {
            // Idle or paused: wait outside rayon's pool, holding none of its threads.
            let Ok(c) = commands.recv() else { return };
            if let Flow::Exit = self.guarded(|w| w.handle(c)) {
                return;
            }
            if self.training() {
                // Training runs on a pool thread (see `in_pool`) until the phase ends,
                // pauses or stops; commands are answered between batches.
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

    fn training(&self) -> bool {
        self.trainer.running().is_some() && !self.paused
    }

    fn train(&mut self, commands: &Receiver<Command>) -> Flow {
        while self.training() {
            let flow = match commands.try_recv() {
                Ok(c) => self.guarded(|w| w.handle(c)),
                Err(TryRecvError::Empty) => self.guarded(|w| {
                    w.step_once();
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

    /// Runs `f`, turning a panic into an Error event and a stopped phase.
    fn guarded(&mut self, f: impl FnOnce(&mut Self) -> Flow) -> Flow {
        match catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(flow) => flow,
            Err(payload) => {
                let what = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                self.trainer.stop();
                self.paused = false;
                self.failed = true;
                self.send(
                    Event::Error(format!(
                        "internal error in the training worker ({what}); press Reset (or load a checkpoint) to continue"
                    )),
                    true,
                );
                self.send(Event::State(RunState::Idle), true);
                Flow::Continue
            }
        }
    }

    fn send(&mut self, e: Event, urgent: bool) {
        // The UI may be gone already (closing); nothing to do then.
        let _ = self.events.send(e);
        if urgent || self.last_wake.elapsed() >= WAKE_INTERVAL {
            (self.wake)();
            self.last_wake = Instant::now();
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
        match self.trainer.running() {
            None => RunState::Idle,
            Some(p) if self.paused => RunState::Paused(p),
            Some(p) => RunState::Running(p),
        }
    }

    fn handle(&mut self, c: Command) -> Flow {
        let idle = self.trainer.running().is_none();
        match c {
            Command::Shutdown => return Flow::Exit,
            Command::StartPhase(phase) => {
                if !idle {
                    self.error("a phase is already running; stop it first");
                } else if self.failed {
                    self.error("the worker failed earlier; press Reset or load a checkpoint first");
                } else {
                    self.start(phase);
                }
            }
            Command::Pause => {
                if !idle && !self.paused {
                    self.paused = true;
                    let s = self.state();
                    self.send(Event::State(s), true);
                    self.snapshot(None, false);
                }
            }
            Command::Resume => {
                if self.paused {
                    self.paused = false;
                    self.step_seconds = None;
                    self.last_step = Instant::now();
                    let s = self.state();
                    self.send(Event::State(s), true);
                }
            }
            Command::Stop => {
                if let Some(phase) = self.trainer.running() {
                    self.trainer.stop();
                    self.paused = false;
                    self.send(Event::Stopped(phase), true);
                    self.send(Event::State(RunState::Idle), true);
                    self.snapshot(None, true);
                }
            }
            Command::Reset => {
                self.trainer.stop();
                self.paused = false;
                self.failed = false;
                self.trainer.reset();
                self.send(Event::Reset, true);
                self.send(Event::State(RunState::Idle), true);
                self.snapshot(None, true);
            }
            Command::SetCacheHidden1(on) => {
                self.cache_hidden1 = on;
                if !on && idle {
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
                let ck = Checkpoint {
                    params: self.trainer.params().clone(),
                    hyperparams: Some(self.trainer.hyperparams().clone()),
                    adam_steps: self.trainer.adam_steps(),
                    epochs_done: self.trainer.epochs_done(),
                };
                match checkpoint::save(&path, &ck) {
                    Ok(()) => self.send(Event::CheckpointSaved(path), true),
                    Err(e) => self.error(e),
                }
            }
            Command::LoadCheckpoint(path) => {
                if !idle {
                    self.error("stop the running phase before loading a checkpoint");
                    return Flow::Continue;
                }
                let arch = self.trainer.params().arch();
                let loaded = checkpoint::load(&path, Some(arch)).and_then(|ck| {
                    self.trainer
                        .load_params(ck.params, ck.adam_steps, ck.epochs_done)
                        .map_err(|e| checkpoint::CheckpointError {
                            file: path.display().to_string(),
                            problem: e.to_string(),
                        })
                });
                match loaded {
                    Ok(()) => {
                        self.failed = false;
                        self.send(Event::CheckpointLoaded(path), true);
                        self.snapshot(None, true);
                    }
                    Err(e) => self.error(e),
                }
            }
            Command::OpenData(dir) => {
                if !idle {
                    self.error("stop the running phase before opening another dataset");
                    return Flow::Continue;
                }
                match Mnist::load_dir(&dir) {
                    Ok(m) => {
                        let m = Arc::new(m);
                        match self.trainer.set_data(m.clone()) {
                            Ok(()) => {
                                self.send(Event::DataLoaded(m), true);
                                self.snapshot(None, true);
                            }
                            Err(e) => self.error(format!("{}: {e}", dir.display())),
                        }
                    }
                    Err(e) => self.error(e),
                }
            }
            Command::InjectPanic => panic!("injected by a test"),
        }
        Flow::Continue
    }

    fn start(&mut self, phase: Phase) {
        let cached = phase == Phase::Two && self.cache_hidden1;
        match self.trainer.begin_phase(phase, cached) {
            Ok(cache) => {
                if let Some(info) = cache {
                    self.send(Event::CacheBuilt(info), true);
                }
                self.cached_run = cached;
                self.paused = false;
                self.step_seconds = None;
                self.last_step = Instant::now();
                let hp = self.trainer.hyperparams();
                let (epochs, batches) =
                    (hp.epochs, self.trainer.data().train.len() / hp.batch_size);
                self.send(
                    Event::PhaseStarted {
                        phase,
                        cached,
                        epochs,
                        batches,
                    },
                    true,
                );
                self.send(Event::State(RunState::Running(phase)), true);
            }
            Err(e) => self.error(e),
        }
    }

    fn step_once(&mut self) {
        match self.trainer.step() {
            Ok(step) => self.report(step),
            Err(e) => {
                self.paused = false;
                self.error(e);
                self.send(Event::State(RunState::Idle), true);
                self.snapshot(None, true);
            }
        }
    }

    fn report(&mut self, s: Step) {
        let now = Instant::now();
        let dt = now.duration_since(self.last_step).as_secs_f64();
        self.last_step = now;
        let avg = match self.step_seconds {
            Some(a) => 0.95 * a + 0.05 * dt,
            None => dt,
        };
        self.step_seconds = Some(avg);
        self.send(
            Event::BatchLoss {
                phase: s.phase,
                loss: s.loss,
            },
            false,
        );
        let hp = self.trainer.hyperparams();
        let (epochs, batch_size) = (hp.epochs, hp.batch_size);
        let left =
            (epochs.saturating_sub(s.epoch + 1) as usize) * s.batches + (s.batches - s.batch);
        let progress = Progress {
            phase: s.phase,
            epoch: s.epoch,
            epochs,
            batch: s.batch,
            batches: s.batches,
            samples_per_sec: batch_size as f64 / avg.max(1e-9),
            eta_seconds: left as f64 * avg,
        };
        self.send(Event::Progress(progress), false);
        if let Some(e) = s.epoch_end {
            self.send(
                Event::EpochDone {
                    phase: s.phase,
                    epoch: e.epoch,
                    train_mse: e.train_mse,
                    seconds: e.seconds,
                },
                true,
            );
            self.snapshot(Some((s.phase, e.epoch)), true);
        } else if self.last_snapshot.elapsed() >= SNAPSHOT_INTERVAL {
            self.snapshot(None, false);
        }
        if let Some(end) = s.phase_end {
            let test = self.trainer.test_errors();
            self.send(
                Event::PhaseDone {
                    phase: end.phase,
                    epochs: end.epochs,
                    seconds: end.seconds,
                    cached: self.cached_run,
                    test,
                },
                true,
            );
            self.send(Event::State(RunState::Idle), true);
        }
    }
}
