//! The contract between the app and the training worker: plain messages in both
//! directions. Nothing here runs; `worker` implements the worker's side of it.

use std::path::PathBuf;
use std::sync::Arc;

use ndarray::Array2;

use super::classify::RunSpec;
use super::eval;
use super::experiment::{ArmResult, EpochAccuracy, ExperimentSpec, SweepProgress};
use super::{CacheInfo, Hyperparams};
use crate::data::Mnist;
use crate::model::{Params, Phase, PhaseEpochs};

/// Wakes the UI; the app passes `ctx.request_repaint()`.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

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
    /// The model as a checkpoint, in memory (`Event::Checkpointed`): what the app keeps
    /// of a session, written off the worker's thread.
    Checkpoint,
    OpenData(PathBuf),
    /// Run classifier experiments on the current model's encoder (training it layer-wise,
    /// phases 1 to K, first if no phase has trained it yet).
    RunExperiment(ExperimentSpec),
    /// Stop the experiment (or the recipe training it waits for) before its next step.
    CancelExperiment,
    /// The encoder whose pretrained arms every later sweep runs beside the model's
    /// (`Event::SecondEncoder`); `None` forgets it.
    SetSecondEncoder(Option<SecondSource>),
    /// Does nothing but get its `Handled`: everything sent before it has been carried
    /// out once that arrives.
    Barrier,
    /// Makes the worker panic, so tests can check that the app survives it.
    #[cfg(feature = "test-hooks")]
    InjectPanic,
    /// Makes the worker wait at the gate until the test does too: commands sent
    /// meanwhile are all queued when it goes on, as a user's quick clicks can be.
    #[cfg(feature = "test-hooks")]
    Hold(Gate),
    Shutdown,
}

/// What a command is, without its arguments: how `Event::Handled` names the command
/// it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    StartPhase,
    Pause,
    Resume,
    Stop,
    Reset,
    SetCacheHidden1,
    SetHyperparams,
    Evaluate,
    LoadCheckpoint,
    SaveCheckpoint,
    Checkpoint,
    OpenData,
    RunExperiment,
    CancelExperiment,
    SetSecondEncoder,
    Barrier,
    #[cfg(feature = "test-hooks")]
    InjectPanic,
    #[cfg(feature = "test-hooks")]
    Hold,
    Shutdown,
}

impl Command {
    /// What the command is, for its answer (`Event::Handled`) and the log.
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::StartPhase(_) => CommandKind::StartPhase,
            Command::Pause => CommandKind::Pause,
            Command::Resume => CommandKind::Resume,
            Command::Stop => CommandKind::Stop,
            Command::Reset => CommandKind::Reset,
            Command::SetCacheHidden1(_) => CommandKind::SetCacheHidden1,
            Command::SetHyperparams(_) => CommandKind::SetHyperparams,
            Command::Evaluate => CommandKind::Evaluate,
            Command::LoadCheckpoint(_) => CommandKind::LoadCheckpoint,
            Command::SaveCheckpoint(_) => CommandKind::SaveCheckpoint,
            Command::Checkpoint => CommandKind::Checkpoint,
            Command::OpenData(_) => CommandKind::OpenData,
            Command::RunExperiment(_) => CommandKind::RunExperiment,
            Command::CancelExperiment => CommandKind::CancelExperiment,
            Command::SetSecondEncoder(_) => CommandKind::SetSecondEncoder,
            Command::Barrier => CommandKind::Barrier,
            #[cfg(feature = "test-hooks")]
            Command::InjectPanic => CommandKind::InjectPanic,
            #[cfg(feature = "test-hooks")]
            Command::Hold(_) => CommandKind::Hold,
            Command::Shutdown => CommandKind::Shutdown,
        }
    }
}

/// Where a sweep's second encoder comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum SecondSource {
    /// A copy of the model as it is now (train another beside it next).
    Current,
    /// A checkpoint's encoder.
    File(PathBuf),
    /// The encoder B a kept session held, under the name it had.
    Kept { path: PathBuf, name: String },
}

/// The second encoder a sweep compares the model's with, as the app shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SecondEncoder {
    /// Where it came from, its shape and its training, in a line.
    pub name: String,
    pub test_mse: f64,
}

/// Where the worker and a test meet (`Command::Hold`): each waits for the other.
#[cfg(feature = "test-hooks")]
#[derive(Debug, Clone)]
pub struct Gate(std::sync::Arc<std::sync::Barrier>);

#[cfg(feature = "test-hooks")]
impl Gate {
    pub fn new() -> Self {
        Self(std::sync::Arc::new(std::sync::Barrier::new(2)))
    }

    /// Waits until the other side is here too.
    pub fn meet(&self) {
        self.0.wait();
    }
}

#[cfg(feature = "test-hooks")]
impl Default for Gate {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "test-hooks")]
impl PartialEq for Gate {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Idle,
    Running(Phase),
    Paused(Phase),
    /// Classifier experiments are running (the model itself does not change).
    Experimenting,
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

impl Progress {
    /// Batches of the phase still to train.
    pub fn batches_left(&self) -> usize {
        (self.epochs as usize * self.batches).saturating_sub(self.batches_done())
    }

    fn batches_done(&self) -> usize {
        self.epoch as usize * self.batches + self.batch
    }

    /// How much of the phase is done, in [0, 1].
    pub fn fraction(&self) -> f64 {
        self.batches_done() as f64 / (self.epochs as usize * self.batches).max(1) as f64
    }
}

/// The parameters at some point of training, shared with the views.
#[derive(Clone)]
pub struct Snapshot {
    pub params: Arc<Params>,
    /// Epochs trained per phase (`Phase::index` order) when it was taken.
    pub epochs_done: PhaseEpochs,
    /// Set for the snapshot taken at the end of an epoch (kept in the history).
    pub epoch_end: Option<(Phase, u32)>,
    /// Mean code of each class over the test set (10 x hidden2), when computed.
    pub class_means: Option<Arc<Array2<f32>>>,
}

/// What it is, not its numbers: snapshots travel in logged events.
impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("params", &self.params)
            .field("epochs_done", &self.epochs_done)
            .field("epoch_end", &self.epoch_end)
            .field("class_means", &self.class_means.is_some())
            .finish()
    }
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
        /// The loss's other term: L2 over the phase's weights (see `EpochEnd`).
        l2_term: f32,
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
    /// PCA's test MSE at every rank on `data`, measured on a thread of its own after
    /// the worker starts and after each dataset opened (a second or so).
    Yardstick {
        data: Arc<Mnist>,
        pca: Arc<crate::space::Yardstick>,
    },
    CheckpointLoaded {
        path: PathBuf,
        /// What could not be taken over (an older file, another training set).
        note: Option<String>,
    },
    CheckpointSaved(PathBuf),
    /// The answer to `Command::Checkpoint`.
    Checkpointed(Box<crate::checkpoint::Checkpoint>),
    Experiment(ExperimentEvent),
    /// The answer to `Command::SetSecondEncoder`: the encoder kept (and its parameters,
    /// for the app to keep with the session), or none.
    SecondEncoder(Option<(SecondEncoder, Arc<Params>)>),
    Error(String),
    /// Every command but `Shutdown` is answered by this, after the events it caused,
    /// in the order the commands were sent.
    Handled(CommandKind),
}

/// How an experiment is getting on; see `Command::RunExperiment`.
#[derive(Debug, Clone, PartialEq)]
pub enum ExperimentEvent {
    /// No phase had trained the model: phases 1 to K run first (their usual events
    /// follow), and the experiment starts when they end.
    TrainingAutoencoder,
    Started {
        spec: ExperimentSpec,
        runs: usize,
        steps: u64,
        /// Epochs per phase of the model whose encoder the pretrained arms start from.
        encoder_epochs: PhaseEpochs,
        /// The second encoder whose pretrained arms run beside, if any.
        against: Option<SecondEncoder>,
    },
    /// After every step.
    Progress(SweepProgress),
    /// A notebook epoch ended (the book protocol).
    Epoch { run: RunSpec, epoch: EpochAccuracy },
    /// A run ended: each result as it arrives.
    Result(ArmResult),
    Ended {
        end: ExperimentEnd,
        progress: Option<SweepProgress>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExperimentEnd {
    /// Every run of the plan finished.
    Done,
    Cancelled,
    /// A classifier or the recipe diverged, or the spec was refused (an `Error` says
    /// why).
    Failed,
}
