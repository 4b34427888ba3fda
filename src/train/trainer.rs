//! A phase as a sequence of steps: `begin_phase`, then `step` until the phase ends.
//! The CLI drives it in a loop; the app's worker thread between commands.

use std::sync::Arc;
use std::time::Instant;

use super::config::{CachedSampling, HyperparamError, Hyperparams};
use super::eval;
use crate::data::batch::{gather_pixels, gather_rows};
use crate::data::{Mnist, PIXELS, Sampler, SubsetSampler};
use crate::model::grad::{
    Phase2Input, phase1_backward, phase1_forward, phase1_loss, phase2_backward, phase2_forward,
    phase2_loss,
};
use crate::model::params::stream_seed;
use crate::model::{Adam, Arch, Params, Phase, Workspace};

/// A loss this many times the phase's first one means the run has blown up (at the
/// recipe's settings the loss never exceeds 5x its first value; at lr 0.1, 10,000x).
const DIVERGENCE_FACTOR: f32 = 1_000.0;

const INIT_STREAM: u64 = 1;
const BATCH_STREAM: u64 = 2;
const SUBSET_STREAM: u64 = 3;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error("invalid hyperparameter {0}")]
    Hyperparams(#[from] HyperparamError),
    #[error(
        "{phase} diverged in epoch {epoch} at batch {batch} of {batches}: {what}; \
         the parameters are back to their last good values"
    )]
    Diverged {
        phase: Phase,
        epoch: u32,
        /// 1-based, as a progress bar counts.
        batch: usize,
        batches: usize,
        what: String,
    },
    #[error("no phase is running")]
    NotRunning,
    #[error("a phase is running; stop it first")]
    Busy,
    #[error("cannot start the training worker: {0}")]
    Worker(String),
    #[error("the model is {model} but the data has {inputs} pixels per image")]
    InputMismatch { model: Arch, inputs: usize },
}

/// How the hidden1 cache was obtained at the start of a cached phase 2.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheInfo {
    pub seconds: f64,
    pub bytes: usize,
    /// The cache of an earlier phase 2 was still valid (W1 and b1 unchanged).
    pub reused: bool,
}

/// What one `step` did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub phase: Phase,
    pub epoch: u32,
    /// Batches done in this epoch, 1-based.
    pub batch: usize,
    pub batches: usize,
    /// The reconstruction loss of this batch before the update.
    pub loss: f32,
    pub epoch_end: Option<EpochEnd>,
    pub phase_end: Option<PhaseEnd>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochEnd {
    pub epoch: u32,
    /// The seed's "Train MSE": the reconstruction loss of the epoch's last batch,
    /// after its update.
    pub train_mse: f32,
    pub seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhaseEnd {
    pub phase: Phase,
    pub epochs: u32,
    /// Training time of the phase, without the cache build.
    pub seconds: f64,
}

#[derive(Debug, Clone)]
struct Run {
    phase: Phase,
    cached: bool,
    epoch: u32,
    batch: usize,
    batches: usize,
    epochs: u32,
    started: Instant,
    epoch_started: Instant,
    first_loss: Option<f32>,
    /// Updates applied in this run: after the first, `Workspace::grads` holds the
    /// parameters from before the last update until the next backward pass.
    updates: u64,
}

#[derive(Debug)]
struct Cache {
    hidden1: Vec<f32>,
    /// `Trainer::w1_version` when the cache was built.
    version: u64,
}

/// Everything a training session owns: data, parameters, optimiser, batch order,
/// buffers. Nothing here allocates per step.
pub struct Trainer {
    data: Arc<Mnist>,
    hp: Hyperparams,
    params: Params,
    adam: Adam,
    sampler: Sampler,
    subset: SubsetSampler,
    ws: Workspace,
    idx: Vec<u32>,
    cache: Option<Cache>,
    /// Bumped whenever W1 or b1 change, so a stale cache is never used.
    w1_version: u64,
    run: Option<Run>,
    /// Epochs completed per phase since the parameters were initialised or loaded.
    epochs_done: [u32; 2],
}

impl Trainer {
    /// A fresh model initialised from `hp.seed`.
    pub fn new(data: Arc<Mnist>, hp: Hyperparams) -> Result<Self, TrainError> {
        hp.validate(data.train.len())?;
        let arch = hp.arch(PIXELS);
        let n = data.train.len();
        Ok(Self {
            params: Params::he_init(arch, stream_seed(hp.seed, INIT_STREAM)),
            adam: Adam::new(hp.adam(), arch),
            sampler: Sampler::new(n, stream_seed(hp.seed, BATCH_STREAM)),
            subset: SubsetSampler::new(n, stream_seed(hp.seed, SUBSET_STREAM)),
            ws: Workspace::new(arch, hp.batch_size),
            idx: vec![0; hp.batch_size],
            cache: None,
            w1_version: 0,
            run: None,
            epochs_done: [0; 2],
            data,
            hp,
        })
    }

    pub fn hyperparams(&self) -> &Hyperparams {
        &self.hp
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn data(&self) -> &Arc<Mnist> {
        &self.data
    }

    pub fn adam_steps(&self) -> u64 {
        self.adam.steps()
    }

    pub fn epochs_done(&self) -> [u32; 2] {
        self.epochs_done
    }

    pub fn running(&self) -> Option<Phase> {
        self.run.as_ref().map(|r| r.phase)
    }

    /// Re-initialises parameters, optimiser and batch order from the seed.
    pub fn reset(&mut self) {
        let keep = (self.data.clone(), self.hp.clone());
        let version = self.w1_version + 1;
        // `new` cannot fail here: these hyperparameters were validated on this data.
        if let Ok(fresh) = Self::new(keep.0, keep.1) {
            *self = fresh;
            self.w1_version = version;
        }
    }

    /// New hyperparameters while idle. The learning rate, Adam's constants, L2, epochs
    /// and batch size take effect at the next phase; the seed and layer sizes at the next
    /// `reset`.
    pub fn set_hyperparams(&mut self, hp: Hyperparams) -> Result<(), TrainError> {
        if self.run.is_some() {
            return Err(TrainError::Busy);
        }
        hp.validate(self.data.train.len())?;
        if hp.batch_size != self.hp.batch_size {
            self.ws = Workspace::new(self.params.arch(), hp.batch_size);
            self.idx = vec![0; hp.batch_size];
        }
        self.adam.config = hp.adam();
        self.hp = hp;
        Ok(())
    }

    /// Trains on another dataset from now on; the parameters stay. The batch order
    /// restarts from the seed and the hidden1 cache is dropped.
    pub fn set_data(&mut self, data: Arc<Mnist>) -> Result<(), TrainError> {
        if self.run.is_some() {
            return Err(TrainError::Busy);
        }
        self.hp.validate(data.train.len())?;
        let n = data.train.len();
        self.sampler = Sampler::new(n, stream_seed(self.hp.seed, BATCH_STREAM));
        self.subset = SubsetSampler::new(n, stream_seed(self.hp.seed, SUBSET_STREAM));
        self.cache = None;
        self.w1_version += 1;
        self.data = data;
        Ok(())
    }

    /// Replaces the parameters (from a checkpoint): the optimiser's moments restart,
    /// its counter continues from `adam_steps`.
    pub fn load_params(
        &mut self,
        params: Params,
        adam_steps: u64,
        epochs_done: [u32; 2],
    ) -> Result<(), TrainError> {
        if self.run.is_some() {
            return Err(TrainError::Busy);
        }
        let arch = params.arch();
        if arch.inputs != PIXELS {
            return Err(TrainError::InputMismatch {
                model: arch,
                inputs: PIXELS,
            });
        }
        if arch != self.params.arch() {
            self.ws = Workspace::new(arch, self.hp.batch_size);
            self.hp.hidden1 = arch.hidden1;
            self.hp.hidden2 = arch.hidden2;
        }
        self.adam = Adam::new(self.hp.adam(), arch);
        self.adam.set_steps(adam_steps);
        self.params = params;
        self.epochs_done = epochs_done;
        self.w1_version += 1;
        Ok(())
    }

    /// Starts a phase. For a cached phase 2, builds the hidden1 cache of the training
    /// set first (or reuses a still valid one) and says what that took.
    pub fn begin_phase(
        &mut self,
        phase: Phase,
        cache_hidden1: bool,
    ) -> Result<Option<CacheInfo>, TrainError> {
        if self.run.is_some() {
            return Err(TrainError::Busy);
        }
        let cached = phase == Phase::Two && cache_hidden1;
        let info = if cached {
            Some(self.ensure_cache())
        } else {
            None
        };
        if self.hp.fresh_adam_counter {
            self.adam.restart_counter();
        }
        let now = Instant::now();
        self.run = Some(Run {
            phase,
            cached,
            epoch: 0,
            batch: 0,
            batches: self.data.train.len() / self.hp.batch_size,
            epochs: self.hp.epochs,
            started: now,
            epoch_started: now,
            first_loss: None,
            updates: 0,
        });
        Ok(info)
    }

    fn ensure_cache(&mut self) -> CacheInfo {
        let h = self.params.arch().hidden1;
        let bytes = self.data.train.len() * h * std::mem::size_of::<f32>();
        if let Some(c) = &self.cache
            && c.version == self.w1_version
            && c.hidden1.len() * 4 == bytes
        {
            return CacheInfo {
                seconds: 0.0,
                bytes,
                reused: true,
            };
        }
        let t = Instant::now();
        let mut hidden1 = self.cache.take().map(|c| c.hidden1).unwrap_or_default();
        hidden1.resize(self.data.train.len() * h, 0.0);
        eval::hidden1_all(&self.params, &self.data.train, &mut hidden1);
        self.cache = Some(Cache {
            hidden1,
            version: self.w1_version,
        });
        CacheInfo {
            seconds: t.elapsed().as_secs_f64(),
            bytes,
            reused: false,
        }
    }

    /// Drops the hidden1 cache (it can be rebuilt); frees its memory.
    pub fn drop_cache(&mut self) {
        self.cache = None;
    }

    /// Ends the running phase early; the parameters stay as the last step left them.
    pub fn stop(&mut self) {
        self.run = None;
    }

    /// One batch of the running phase.
    pub fn step(&mut self) -> Result<Step, TrainError> {
        let run = self.run.as_mut().ok_or(TrainError::NotRunning)?;
        let (phase, cached) = (run.phase, run.cached);
        let train = &self.data.train;
        let p = &mut self.params;
        let ws = &mut self.ws;
        if cached && self.hp.cached_sampling == CachedSampling::Seed {
            self.subset.next_batch(&mut self.idx);
        } else {
            self.sampler.next_batch(&mut self.idx);
        }
        let idx = &self.idx;
        // Each half of the batch is gathered by the thread that trains on it.
        let pixels = |start: usize, out: &mut [f32]| {
            gather_pixels(train, &idx[start..start + out.len() / PIXELS], out);
        };
        let loss = match phase {
            Phase::One => phase1_forward(p, &pixels, ws),
            Phase::Two => match (cached, &self.cache) {
                (true, Some(c)) => {
                    let width = p.arch().hidden1;
                    let cache = |start: usize, out: &mut [f32]| {
                        gather_rows(
                            &c.hidden1,
                            width,
                            &idx[start..start + out.len() / width],
                            out,
                        );
                    };
                    phase2_forward(p, Phase2Input::Hidden1(&cache), ws)
                }
                _ => phase2_forward(p, Phase2Input::Pixels(&pixels), ws),
            },
        };
        let diverged = |run: &Run, what: String| TrainError::Diverged {
            phase,
            epoch: run.epoch,
            batch: run.batch + 1,
            batches: run.batches,
            what,
        };
        let first = *run.first_loss.get_or_insert(loss);
        if !loss.is_finite() || loss > DIVERGENCE_FACTOR * first {
            let what = if loss.is_finite() {
                format!("the loss rose from {first} to {loss}")
            } else {
                format!("the loss became {loss}")
            };
            let e = diverged(run, what);
            if run.updates > 0 {
                // The update that led here is the culprit: take it back too.
                p.copy_tensors(&ws.grads, phase.tensors());
                self.adam.undo_last(phase);
                self.w1_version += 1;
            }
            self.run = None;
            return Err(e);
        }
        match phase {
            Phase::One => phase1_backward(ws),
            Phase::Two => phase2_backward(ws),
        }
        if self
            .adam
            .update(phase, self.hp.l2, p, &mut ws.grads)
            .is_err()
        {
            let e = diverged(run, "an update became non-finite".to_string());
            self.run = None;
            return Err(e);
        }
        if phase == Phase::One {
            self.w1_version += 1;
        }
        run.updates += 1;
        run.batch += 1;
        let mut step = Step {
            phase,
            epoch: run.epoch,
            batch: run.batch,
            batches: run.batches,
            loss,
            epoch_end: None,
            phase_end: None,
        };
        if run.batch == run.batches {
            let train_mse = match phase {
                Phase::One => phase1_loss(p, ws),
                Phase::Two => phase2_loss(p, ws),
            };
            step.epoch_end = Some(EpochEnd {
                epoch: run.epoch,
                train_mse,
                seconds: run.epoch_started.elapsed().as_secs_f64(),
            });
            self.epochs_done[phase.index()] += 1;
            run.epoch += 1;
            run.batch = 0;
            run.epoch_started = Instant::now();
            if run.epoch == run.epochs {
                step.phase_end = Some(PhaseEnd {
                    phase,
                    epochs: run.epochs,
                    seconds: run.started.elapsed().as_secs_f64(),
                });
                self.run = None;
            }
        }
        Ok(step)
    }

    /// Runs the running phase to its end, calling `on_step` after every batch.
    pub fn run_phase(&mut self, on_step: impl FnMut(&Step) + Send) -> Result<PhaseEnd, TrainError> {
        in_pool(|| {
            let mut on_step = on_step;
            loop {
                let step = self.step()?;
                on_step(&step);
                if let Some(end) = step.phase_end {
                    return Ok(end);
                }
            }
        })
    }

    /// The seed's "Test MSE": the full stack's reconstruction error on the test set.
    pub fn test_mse(&self) -> f64 {
        eval::reconstruction_mse(&self.params, &self.data.test)
    }

    /// Test-set reconstruction errors of the outer autoencoder and of the full stack.
    pub fn test_errors(&self) -> eval::Errors {
        eval::reconstruction_errors(&self.params, &self.data.test)
    }
}

/// Runs `f` on a thread of rayon's pool. A loop of `Trainer::step`s should run this way:
/// the GEMMs' `rayon::join`s then hand work to the other threads through the pool's
/// own queues, with no allocation and no wake-up of a thread outside the pool.
pub fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| f())
}
