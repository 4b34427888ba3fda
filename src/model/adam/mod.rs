//! TF-1 `AdamOptimizer`, as the seed uses it: per-variable moments, one shared step
//! counter, epsilon outside the bias correction, and the L2 term fused in. It trains
//! any `TensorSet`: the stack's parameters, or the classifier's.

use serde::{Deserialize, Serialize};

use super::kernels::{self, AdamStep};
use super::linalg::cut;
use super::parallel::share;
use super::tensors::TensorSet;
use super::{Params, Phase};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    pub learning_rate: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub epsilon: f32,
}

impl AdamConfig {
    /// The seed's `AdamOptimizer(learning_rate=0.01)` with TF's defaults.
    pub const RECIPE: AdamConfig = AdamConfig {
        learning_rate: 0.01,
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
    };
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self::RECIPE
    }
}

/// Moments for every tensor and the optimiser's shared step counter. The counter is
/// kept as TF keeps it, as f32 powers multiplied once per step (`beta1_power`), so
/// phase 2 continues from phase 1's `t`.
#[derive(Debug, Clone)]
pub struct Adam<P = Params> {
    pub config: AdamConfig,
    m: P,
    v: P,
    /// TF's `beta1_power` and `beta2_power`: `beta^t` as running f32 products.
    powers: [f32; 2],
    /// The powers before the last update, for `undo_last`.
    previous: [f32; 2],
    steps: u64,
}

/// All an optimiser needs to go on exactly where it stopped: what a checkpoint keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamState {
    pub steps: u64,
    /// `beta1_power`, `beta2_power` as they are: a resumed run multiplies on from
    /// the same bits.
    pub powers: [f32; 2],
    pub m: Params,
    pub v: Params,
}

/// Counters up to this many steps are replayed multiplication by multiplication (the
/// exact f32 products, ~1 ms); beyond, the closed form is used, so that a counter read
/// from a file is set in bounded time.
const REPLAY_LIMIT: u64 = 1 << 20;
/// The most tensors one update trains (the stack's eight).
const MAX_TENSORS: usize = 4 * super::MAX_STAGES;

/// An update would have made some parameter non-finite; nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonFinite;

impl Adam<Params> {
    pub fn new(config: AdamConfig, arch: super::Arch) -> Self {
        Self::for_tensors(config, &Params::zeros(arch))
    }

    /// The moments and the counter, for a checkpoint.
    pub fn state(&self) -> AdamState {
        AdamState {
            steps: self.steps,
            powers: self.powers,
            m: self.m.clone(),
            v: self.v.clone(),
        }
    }

    /// Goes on from `state` (of the same architecture, finite: checked by the reader).
    pub fn restore(&mut self, state: AdamState) {
        self.steps = state.steps;
        self.powers = state.powers;
        self.previous = state.powers;
        self.m = state.m;
        self.v = state.v;
    }

    /// One update of the tensors `phase` trains (see `update_tensors`).
    pub fn update(
        &mut self,
        phase: Phase,
        l2: f32,
        params: &mut Params,
        grads: &mut Params,
    ) -> Result<(), NonFinite> {
        let trained = phase.tensors(params.layers() / 2);
        self.update_tensors(&trained, l2, params, grads)
    }

    /// `undo_tensors` for the tensors of `phase`.
    pub fn undo_last(&mut self, phase: Phase) {
        let trained = phase.tensors(self.m.layers() / 2);
        self.undo_tensors(&trained);
    }
}

impl<P: TensorSet> Adam<P> {
    /// A fresh optimiser for tensors shaped like `like`: zero moments, `t` = 1.
    pub fn for_tensors(config: AdamConfig, like: &P) -> Self {
        Self {
            config,
            m: like.zeros_like(),
            v: like.zeros_like(),
            powers: [config.beta1, config.beta2],
            previous: [config.beta1, config.beta2],
            steps: 0,
        }
    }

    /// Starts afresh with `config`: zero moments, the counter at 0 (a new optimiser,
    /// without allocating one).
    pub fn restart(&mut self, config: AdamConfig) {
        self.config = config;
        for t in self.m.slices_mut().chain(self.v.slices_mut()) {
            t.fill(0.0);
        }
        self.set_steps(0);
    }

    /// How many updates the shared counter has seen (TF's `t - 1`).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Restarts the shared counter (an option; the seed never does this).
    pub fn restart_counter(&mut self) {
        self.set_steps(0);
    }

    /// Sets the counter to `steps` updates, e.g. from a checkpoint that kept only the
    /// counter. Takes bounded time however large `steps` is.
    pub fn set_steps(&mut self, steps: u64) {
        let betas = [self.config.beta1, self.config.beta2];
        self.powers = if steps <= REPLAY_LIMIT {
            let mut p = betas;
            for _ in 0..steps {
                p = [p[0] * betas[0], p[1] * betas[1]];
            }
            p
        } else {
            betas.map(|b| (b as f64).powf(steps as f64 + 1.0) as f32)
        };
        self.previous = self.powers;
        self.steps = steps;
    }

    fn advance(&mut self) {
        self.previous = self.powers;
        self.powers = [
            self.powers[0] * self.config.beta1,
            self.powers[1] * self.config.beta2,
        ];
        self.steps += 1;
    }

    /// The step size of the next update: `lr * sqrt(1 - beta2^t) / (1 - beta1^t)`.
    pub fn lr_t(&self) -> f32 {
        let [b1, b2] = self.powers;
        self.config.learning_rate * (1.0 - b2).sqrt() / (1.0 - b1)
    }

    /// One update of the tensors at `trained` (indices into the set, ascending), from
    /// the data gradients in `grads` (the L2 gradient `l2 * w` of the weights is added
    /// here). `grads` is used as scratch: if any parameter or moment would become
    /// non-finite, every tensor is put back as it was, the moments of the trained
    /// tensors are cleared, and `NonFinite` returned.
    pub fn update_tensors(
        &mut self,
        trained: &[usize],
        l2: f32,
        params: &mut P,
        grads: &mut P,
    ) -> Result<(), NonFinite> {
        let c = self.config;
        let step = AdamStep {
            lr_t: self.lr_t(),
            one_minus_b1: 1.0 - c.beta1,
            one_minus_b2: 1.0 - c.beta2,
            eps: c.epsilon,
            l2: 0.0,
        };
        let finite = {
            let mut slots: [Slot<'_>; MAX_TENSORS] = Default::default();
            let tensors = params.slices_mut().zip(grads.slices_mut());
            let moments = self.m.slices_mut().zip(self.v.slices_mut());
            let mut n = 0;
            for (i, ((w, g), (m, v))) in tensors.zip(moments).enumerate() {
                if trained.contains(&i) {
                    let l2 = if P::is_weight(i) { l2 } else { 0.0 };
                    slots[n] = Slot { w, g, m, v, l2 };
                    n += 1;
                }
            }
            // The tensors side by side, each big one cut in blocks: see `share`.
            let threads = rayon::current_num_threads();
            share(&mut slots[..n], threads, &|s| s.w.len(), &|s, parts| {
                blocks(AdamStep { l2: s.l2, ..step }, s.buffers(), parts)
            })
        };
        if !finite {
            // `grads` holds the old parameters now.
            params.copy_from(grads, trained);
            self.clear_moments(trained);
            return Err(NonFinite);
        }
        self.advance();
        Ok(())
    }

    /// Takes back the counter of the last update and clears the moments of `trained`
    /// (the old ones are not kept): after the caller restored the parameters from
    /// before it.
    pub fn undo_tensors(&mut self, trained: &[usize]) {
        self.powers = self.previous;
        self.steps = self.steps.saturating_sub(1);
        self.clear_moments(trained);
    }

    fn clear_moments(&mut self, trained: &[usize]) {
        let moments = self.m.slices_mut().zip(self.v.slices_mut());
        for (i, (m, v)) in moments.enumerate() {
            if trained.contains(&i) {
                m.fill(0.0);
                v.fill(0.0);
            }
        }
    }
}

/// One tensor of an update: parameters, gradient (scratch), moments, its L2.
#[derive(Default)]
struct Slot<'a> {
    w: &'a mut [f32],
    g: &'a mut [f32],
    m: &'a mut [f32],
    v: &'a mut [f32],
    l2: f32,
}

impl Slot<'_> {
    fn buffers(&mut self) -> [&mut [f32]; 4] {
        [&mut *self.w, &mut *self.g, &mut *self.m, &mut *self.v]
    }
}

/// Parameters per block below which cutting the update further does not pay.
const MIN_BLOCK: usize = 4096;

/// `kernels::adam` on `[w, g, m, v]`, cut into about `parts` blocks run in parallel
/// (element-wise: the bits do not depend on the cut).
fn blocks(k: AdamStep, [w, g, m, v]: [&mut [f32]; 4], parts: usize) -> bool {
    let Some(at) = cut(w.len(), parts, 64, MIN_BLOCK) else {
        return kernels::adam(k, w, g, m, v);
    };
    let (w0, w1) = w.split_at_mut(at);
    let (g0, g1) = g.split_at_mut(at);
    let (m0, m1) = m.split_at_mut(at);
    let (v0, v1) = v.split_at_mut(at);
    let (a, b) = rayon::join(
        || blocks(k, [w0, g0, m0, v0], parts / 2),
        || blocks(k, [w1, g1, m1, v1], parts - parts / 2),
    );
    a & b
}

#[cfg(test)]
mod tests;
