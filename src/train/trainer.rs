//! Everything a training session owns, and its life cycle: a fresh or loaded model,
//! settings, phases begun and stopped. The steps of a phase are in `step`.

use std::sync::Arc;

use super::cache::{CacheInfo, LayerVersions, LevelCache};
use super::config::{HyperparamError, Hyperparams};
use super::eval;
use super::step::Run;
use crate::checkpoint::{BatchOrder, Checkpoint, Optimizer};
use crate::data::{Mnist, OrderError, PIXELS, Sampler, SubsetSampler};
use crate::model::params::stream_seed;
use crate::model::{Adam, Arch, Params, Phase, PhaseEpochs, Workspace};

const INIT_STREAM: u64 = 1;
const BATCH_STREAM: u64 = 2;
const SUBSET_STREAM: u64 = 3;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error("invalid hyperparameter {0}")]
    Hyperparams(HyperparamError),
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
    #[error("{phase} is not a phase of a stack of {depth}")]
    NoSuchPhase { phase: Phase, depth: usize },
    #[error(
        "the cache of h{level} would take {:.0} MB and only {:.0} MB of memory is free; \
         train without the cache",
        *bytes as f64 / 1e6,
        *available as f64 / 1e6
    )]
    CacheTooLarge {
        level: usize,
        bytes: usize,
        available: usize,
    },
}

impl From<HyperparamError> for TrainError {
    fn from(e: HyperparamError) -> Self {
        Self::Hyperparams(e)
    }
}

/// Everything a training session owns: data, parameters, optimiser, batch order,
/// buffers. Nothing here allocates per step.
pub struct Trainer {
    pub(super) data: Arc<Mnist>,
    pub(super) hp: Hyperparams,
    pub(super) params: Params,
    pub(super) adam: Adam,
    pub(super) sampler: Sampler,
    pub(super) subset: SubsetSampler,
    pub(super) ws: Workspace,
    pub(super) idx: Vec<u32>,
    pub(super) cache: LevelCache,
    /// Bumped per encoder layer whenever it changes, so a stale cache is never used.
    pub(super) versions: LayerVersions,
    pub(super) run: Option<Run>,
    /// Epochs completed per phase (`Phase::index`) since the parameters were
    /// initialised or loaded.
    pub(super) epochs_done: PhaseEpochs,
}

/// Refuses a model whose input layer does not take one image's pixels.
pub fn check_inputs(arch: Arch) -> Result<(), TrainError> {
    if arch.inputs == PIXELS {
        Ok(())
    } else {
        Err(TrainError::InputMismatch {
            model: arch,
            inputs: PIXELS,
        })
    }
}

impl Trainer {
    /// A fresh model initialised from `hp.seed`.
    pub fn new(data: Arc<Mnist>, hp: Hyperparams) -> Result<Self, TrainError> {
        hp.validate(data.train.len())?;
        let arch = hp.arch(PIXELS);
        let n = data.train.len();
        Ok(Self {
            params: Params::init(arch, stream_seed(hp.seed, INIT_STREAM), hp.init),
            adam: Adam::new(hp.adam(), arch),
            sampler: Sampler::new(n, stream_seed(hp.seed, BATCH_STREAM)),
            subset: SubsetSampler::new(n, stream_seed(hp.seed, SUBSET_STREAM)),
            ws: Workspace::new(arch, hp.batch_size),
            idx: vec![0; hp.batch_size],
            cache: LevelCache::default(),
            versions: LayerVersions::default(),
            run: None,
            epochs_done: PhaseEpochs::default(),
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

    pub fn epochs_done(&self) -> PhaseEpochs {
        self.epochs_done
    }

    /// Whether any phase has trained the parameters since they were initialised (a
    /// loaded checkpoint counts what it says).
    pub fn trained(&self) -> bool {
        self.epochs_done.any()
    }

    /// Epochs a phase runs: the setting, except end-to-end, which runs as many as the
    /// layer-wise phases together, so both see every training image equally often.
    pub fn phase_epochs(&self, phase: Phase) -> u32 {
        match phase {
            Phase::EndToEnd => self.params.depth() as u32 * self.hp.epochs,
            Phase::FineTune => self.hp.fine_tune_epochs.unwrap_or(self.hp.epochs),
            Phase::Layer(_) => self.hp.epochs,
        }
    }

    pub fn running(&self) -> Option<Phase> {
        self.run.as_ref().map(|r| r.phase)
    }

    /// Batches in an epoch of the current data and batch size (the remainder of an
    /// epoch carries over into the next, as in TensorFlow's `next_batch`).
    pub fn batches_per_epoch(&self) -> usize {
        self.data.train.len() / self.hp.batch_size
    }

    /// Re-initialises parameters, optimiser and batch order from the seed.
    pub fn reset(&mut self) {
        let keep = (self.data.clone(), self.hp.clone());
        let mut versions = self.versions;
        versions.all_changed();
        // `new` cannot fail here: these hyperparameters were validated on this data.
        if let Ok(fresh) = Self::new(keep.0, keep.1) {
            *self = fresh;
            self.versions = versions;
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
        self.cache.clear();
        self.versions.all_changed();
        self.data = data;
        Ok(())
    }

    /// The model and its progress, as a checkpoint holds them: enough to go on bit for
    /// bit. The settings are the ones in effect, with the layer widths of the parameters.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            params: self.params.clone(),
            optimizer: Optimizer::Full(Box::new(self.adam.state())),
            order: Some(BatchOrder {
                epochs: self.sampler.state(),
                subset: self.subset.state(),
            }),
            epochs_done: self.epochs_done,
            settings: serde_json::to_string(&self.hp).ok(),
        }
    }

    /// Continues from a checkpoint: its parameters (of any widths that take one image's
    /// pixels), Adam's moments and counter, and the batch order. Returns a note when
    /// part of that could not be taken over (an old file, another training set).
    pub fn restore(&mut self, ck: Checkpoint) -> Result<Option<String>, TrainError> {
        if self.run.is_some() {
            return Err(TrainError::Busy);
        }
        let arch = ck.params.arch();
        check_inputs(arch)?;
        if arch != self.params.arch() {
            self.ws = Workspace::new(arch, self.hp.batch_size);
            self.hp.take_shape(arch);
        }
        self.adam = Adam::new(self.hp.adam(), arch);
        let mut note = None;
        match ck.optimizer {
            Optimizer::Full(state) => self.adam.restore(*state),
            Optimizer::Counter(steps) => {
                self.adam.set_steps(steps);
                note = Some(
                    "an older checkpoint without Adam's moments or the batch order: the \
                     moments restart at zero, the batch order from the seed"
                        .to_string(),
                );
            }
        }
        if let Some(order) = ck.order
            && let Err(e) = self.continue_order(order)
        {
            note = Some(format!(
                "the batch order cannot be continued ({e}); it restarts from the seed"
            ));
        }
        self.params = ck.params;
        self.epochs_done = ck.epochs_done;
        self.versions.all_changed();
        if let Some(n) = &note {
            log::info!("{n}");
        }
        Ok(note)
    }

    /// Takes over a saved batch order; on error, restarts the order from the seed.
    fn continue_order(&mut self, order: BatchOrder) -> Result<(), OrderError> {
        let n = self.data.train.len();
        let both = Sampler::from_state(order.epochs, n)
            .and_then(|s| SubsetSampler::from_state(order.subset, n).map(|t| (s, t)));
        match both {
            Ok((s, t)) => {
                (self.sampler, self.subset) = (s, t);
                Ok(())
            }
            Err(e) => {
                self.sampler = Sampler::new(n, stream_seed(self.hp.seed, BATCH_STREAM));
                self.subset = SubsetSampler::new(n, stream_seed(self.hp.seed, SUBSET_STREAM));
                Err(e)
            }
        }
    }

    /// Starts a phase. For a cached phase k >= 2, builds the cache of h(k-1) over the
    /// training set first (or reuses a still valid one) and says what that took; one
    /// that would not fit in free memory is refused. End-to-end starts from the seed's
    /// initialisation, with a fresh optimiser and batch order: the start the layer-wise
    /// phase 1 had.
    pub fn begin_phase(
        &mut self,
        phase: Phase,
        cache: bool,
    ) -> Result<Option<CacheInfo>, TrainError> {
        if self.run.is_some() {
            return Err(TrainError::Busy);
        }
        let depth = self.params.depth();
        if !phase.fits(depth) {
            return Err(TrainError::NoSuchPhase { phase, depth });
        }
        let cached_level = match phase {
            Phase::Layer(k) if k >= 2 && cache => Some(k as usize - 1),
            _ => None,
        };
        if let Some(level) = cached_level {
            self.check_cache_fits(level)?;
        }
        if phase == Phase::EndToEnd {
            self.reset();
        }
        // Fine-tuning goes on with the one optimiser (its moments and shared counter, as
        // a third training op in the seed's graph would) at its own, lower rate.
        self.adam.config = self.hp.adam_for(phase);
        if phase == Phase::FineTune && self.hp.fine_tune_fresh_adam {
            self.adam.restart(self.hp.adam_for(phase));
        }
        let info = cached_level.map(|level| {
            self.cache
                .ensure(&self.params, level, &self.data.train, &self.versions)
        });
        match (cached_level, info) {
            (Some(l), Some(c)) if c.reused => {
                log::info!("hidden{l} cache reused ({:.1} MB)", c.bytes as f64 / 1e6)
            }
            (Some(l), Some(c)) => log::info!(
                "hidden{l} cache built in {:.3} s ({:.1} MB)",
                c.seconds,
                c.bytes as f64 / 1e6
            ),
            _ => {}
        }
        let epochs = self.phase_epochs(phase);
        log::info!(
            "{phase} started: {epochs} epochs of {} batches of {}{}",
            self.batches_per_epoch(),
            self.hp.batch_size,
            match cached_level {
                Some(l) => format!(", hidden{l} cached"),
                None => String::new(),
            }
        );
        if self.hp.fresh_adam_counter {
            self.adam.restart_counter();
        }
        crate::model::linalg::warm_up();
        let cached = info.is_some();
        self.run = Some(Run::new(phase, cached, self.batches_per_epoch(), epochs));
        Ok(info)
    }

    /// Bytes the cache of phase `k`'s input would take (0 for phase 1, which reads the
    /// pixels), to be shown before it is built.
    pub fn cache_bytes(&self, k: usize) -> usize {
        match k {
            0 | 1 => 0,
            k => super::cache::cache_bytes(self.data.train.len(), self.params.arch().level(k - 1)),
        }
    }

    /// Refuses a cache of h(`level`) larger than the memory free now (less what an
    /// older cache, which is dropped first, gives back).
    fn check_cache_fits(&self, level: usize) -> Result<(), TrainError> {
        let bytes = self.cache_bytes(level + 1);
        match super::cache::available_memory() {
            Some(free) if bytes > free + self.cache.bytes() => Err(TrainError::CacheTooLarge {
                level,
                bytes,
                available: free + self.cache.bytes(),
            }),
            _ => Ok(()),
        }
    }

    /// Drops the cache (it can be rebuilt); frees its memory.
    pub fn drop_cache(&mut self) {
        self.cache.clear();
    }

    /// Leaves `d`, spent between two steps on something else (evaluating after an
    /// epoch), out of the running phase's seconds.
    pub fn exclude_time(&mut self, d: std::time::Duration) {
        if let Some(run) = &mut self.run {
            run.exclude(d);
        }
    }

    /// Ends the running phase early; the parameters stay as the last step left them.
    pub fn stop(&mut self) {
        self.run = None;
    }

    /// Runs the running phase to its end, calling `on_step` after every batch.
    pub fn run_phase(
        &mut self,
        on_step: impl FnMut(&super::Step) + Send,
    ) -> Result<super::PhaseEnd, TrainError> {
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
