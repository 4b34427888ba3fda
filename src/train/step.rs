//! One batch of a running phase: pick the batch, forward, check for divergence,
//! backward, update, and say where the phase is.

use std::time::Instant;

use super::config::CachedSampling;
use super::trainer::{TrainError, Trainer};
use crate::data::PIXELS;
use crate::data::batch::gather_pixels;
use crate::model::grad::{
    StageInput, l2_penalty, phase_backward, phase_loss, stack_forward, stage_forward,
};
use crate::model::params::stream_seed;
use crate::model::{Noise, Phase};

/// Where a denoising batch's key starts (the other streams are the trainer's).
const NOISE_STREAM: u64 = 4;

/// A loss this many times the phase's first one means the run has blown up (at the
/// recipe's settings the loss never exceeds 5x its first value; at lr 0.1, 10,000x).
const DIVERGENCE_FACTOR: f32 = 1_000.0;

/// What one `step` did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub phase: Phase,
    pub epoch: u32,
    /// Batches done in this epoch, 1-based.
    pub batch: usize,
    pub batches: usize,
    /// Epochs of the running phase.
    pub epochs: u32,
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
    /// The other term of the loss the phase minimises: L2 over the weights it trains,
    /// after the same update. At the recipe's end it is as large as the train MSE in
    /// phase 1 and four times it in phase 2: what holds the stack back.
    pub l2_term: f32,
    pub seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhaseEnd {
    pub phase: Phase,
    pub epochs: u32,
    /// Training time of the phase, without the cache build.
    pub seconds: f64,
}

/// Where a running phase is.
#[derive(Debug, Clone)]
pub(super) struct Run {
    pub(super) phase: Phase,
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

impl Run {
    pub(super) fn new(phase: Phase, cached: bool, batches: usize, epochs: u32) -> Self {
        let now = Instant::now();
        Self {
            phase,
            cached,
            epoch: 0,
            batch: 0,
            batches,
            epochs,
            started: now,
            epoch_started: now,
            first_loss: None,
            updates: 0,
        }
    }

    /// Leaves `d` out of the phase's and the epoch's seconds (time spent on something
    /// else between two steps, such as evaluating).
    pub(super) fn exclude(&mut self, d: std::time::Duration) {
        self.started += d;
        self.epoch_started += d;
    }

    fn diverged(&self, what: String) -> TrainError {
        TrainError::Diverged {
            phase: self.phase,
            epoch: self.epoch,
            batch: self.batch + 1,
            batches: self.batches,
            what,
        }
    }

    /// A reason to stop if `loss` shows that the run has blown up.
    fn blown_up(&mut self, loss: f32) -> Option<String> {
        let first = *self.first_loss.get_or_insert(loss);
        if !loss.is_finite() {
            Some(format!("the loss became {loss}"))
        } else if loss > DIVERGENCE_FACTOR * first {
            Some(format!("the loss rose from {first} to {loss}"))
        } else {
            None
        }
    }
}

fn diverged(run: &Run, what: String) -> TrainError {
    let e = run.diverged(what);
    log::warn!("{e}");
    e
}

impl Trainer {
    /// One batch of the running phase.
    pub fn step(&mut self) -> Result<Step, TrainError> {
        // Taken out for the step: a phase that ends (or fails) is simply not put back.
        let mut run = self.run.take().ok_or(TrainError::NotRunning)?;
        self.next_batch(run.cached);
        self.ws.noise = self.noise_of(&run);
        self.ws.sparsity = self.hp.sparsity;
        let loss = self.forward(run.phase, run.cached);
        if let Some(what) = run.blown_up(loss) {
            self.take_back_last_update(&run);
            return Err(diverged(&run, what));
        }
        if !self.backward_and_update(run.phase) {
            return Err(diverged(&run, "an update became non-finite".into()));
        }
        let step = self.advance(&mut run, loss);
        if step.phase_end.is_none() {
            self.run = Some(run);
        }
        Ok(step)
    }

    /// The indices of the next batch, in `self.idx`.
    fn next_batch(&mut self, cached: bool) {
        if cached && self.hp.cached_sampling == CachedSampling::Seed {
            self.subset.next_batch(&mut self.idx);
        } else {
            self.sampler.next_batch(&mut self.idx);
        }
    }

    /// A denoising phase's noise for this batch: drawn from the batch itself (which
    /// images, in which order), the phase and the number of the batch among all the
    /// phase has trained. All three come back with a checkpoint, so a resumed run draws
    /// the noise a straight one does whatever seed it was started with, and a cached
    /// phase the noise of an uncached one.
    fn noise_of(&self, run: &Run) -> Option<(Noise, u64)> {
        let Phase::Layer(k) = run.phase else {
            return None;
        };
        if self.hp.noise.is_none() {
            return None;
        }
        let done = self.epochs_done[run.phase] as u64 * run.batches as u64 + run.batch as u64;
        let which = self
            .idx
            .iter()
            .fold(NOISE_STREAM, |h, &i| stream_seed(h, i as u64));
        Some((
            self.hp.noise,
            stream_seed(stream_seed(which, k as u64), done),
        ))
    }

    /// The forward pass and the row-local backward pass of the batch; returns its loss.
    fn forward(&mut self, phase: Phase, cached: bool) -> f32 {
        let (train, idx, p) = (&self.data.train, &self.idx, &self.params);
        // Each part of the batch is gathered by the thread that trains on it.
        let pixels = |start: usize, out: &mut [f32]| {
            gather_pixels(train, &idx[start..start + out.len() / PIXELS], out);
        };
        match phase {
            Phase::Layer(k) if cached && self.cache.is_valid(k as usize, &self.versions) => {
                let cache = &self.cache;
                let width = cache.width();
                let rows = |start: usize, out: &mut [f32]| {
                    cache.gather(&idx[start..start + out.len() / width], out);
                };
                stage_forward(p, k as usize, StageInput::Level(&rows), &mut self.ws)
            }
            Phase::Layer(k) => {
                let input = StageInput::Pixels(&pixels);
                stage_forward(p, k as usize, input, &mut self.ws)
            }
            Phase::FineTune | Phase::EndToEnd => stack_forward(p, &pixels, &mut self.ws),
        }
    }

    /// After a blow-up: the update that led to it is the culprit, so the parameters go
    /// back to before it (`Workspace::grads` holds them until the next backward pass).
    fn take_back_last_update(&mut self, run: &Run) {
        if run.updates > 0 {
            let depth = self.params.depth();
            self.params
                .copy_tensors(&self.ws.grads, &run.phase.tensors(depth));
            self.adam.undo_last(run.phase);
            self.versions.changed(run.phase.layers(depth));
        }
    }

    /// The rest of the backward pass and Adam's update; false if the update would have
    /// made a parameter non-finite (nothing was changed then).
    fn backward_and_update(&mut self, phase: Phase) -> bool {
        phase_backward(phase, &mut self.ws);
        let updated = self
            .adam
            .update(phase, self.hp.l2, &mut self.params, &mut self.ws.grads);
        self.versions.changed(phase.layers(self.params.depth()));
        updated.is_ok()
    }

    /// Counts the batch; at an epoch's end, computes the seed's train MSE.
    fn advance(&mut self, run: &mut Run, loss: f32) -> Step {
        run.updates += 1;
        run.batch += 1;
        let mut step = Step {
            phase: run.phase,
            epoch: run.epoch,
            batch: run.batch,
            batches: run.batches,
            epochs: run.epochs,
            loss,
            epoch_end: None,
            phase_end: None,
        };
        if run.batch < run.batches {
            return step;
        }
        let train_mse = phase_loss(&self.params, run.phase, &mut self.ws);
        step.epoch_end = Some(EpochEnd {
            epoch: run.epoch,
            train_mse,
            l2_term: l2_penalty(&self.params, run.phase, self.hp.l2) as f32,
            seconds: run.epoch_started.elapsed().as_secs_f64(),
        });
        self.epochs_done[run.phase] += 1;
        run.epoch += 1;
        run.batch = 0;
        run.epoch_started = Instant::now();
        log::debug!(
            "{} epoch {} done: train MSE {train_mse}",
            run.phase,
            run.epoch - 1
        );
        if run.epoch == run.epochs {
            let end = PhaseEnd {
                phase: run.phase,
                epochs: run.epochs,
                seconds: run.started.elapsed().as_secs_f64(),
            };
            log::info!(
                "{} ended: {} epochs in {:.3} s",
                end.phase,
                end.epochs,
                end.seconds
            );
            step.phase_end = Some(end);
        }
        step
    }
}
