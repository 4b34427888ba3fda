//! TF-1 `AdamOptimizer`, as the seed uses it: per-variable moments, one shared step
//! counter, epsilon outside the bias correction, and the L2 term fused in.

use serde::{Deserialize, Serialize};

use super::kernels::{self, AdamStep};
use super::linalg::cut;
use super::params::is_weight;
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
pub struct Adam {
    pub config: AdamConfig,
    m: Params,
    v: Params,
    beta1_power: f32,
    beta2_power: f32,
    steps: u64,
}

/// An update would have made some parameter non-finite; nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonFinite;

impl Adam {
    pub fn new(config: AdamConfig, arch: super::Arch) -> Self {
        Self {
            config,
            m: Params::zeros(arch),
            v: Params::zeros(arch),
            beta1_power: config.beta1,
            beta2_power: config.beta2,
            steps: 0,
        }
    }

    /// How many updates the shared counter has seen (TF's `t - 1`).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Restarts the shared counter (an option; the seed never does this).
    pub fn restart_counter(&mut self) {
        self.set_steps(0);
    }

    /// Sets the counter to `steps` updates, e.g. when resuming from a checkpoint.
    pub fn set_steps(&mut self, steps: u64) {
        self.beta1_power = self.config.beta1;
        self.beta2_power = self.config.beta2;
        for _ in 0..steps {
            self.advance();
        }
        self.steps = steps;
    }

    fn advance(&mut self) {
        self.beta1_power *= self.config.beta1;
        self.beta2_power *= self.config.beta2;
    }

    /// The step size of the next update: `lr * sqrt(1 - beta2^t) / (1 - beta1^t)`.
    pub fn lr_t(&self) -> f32 {
        self.config.learning_rate * (1.0 - self.beta2_power).sqrt() / (1.0 - self.beta1_power)
    }

    /// One update of the tensors `phase` trains, from the data gradients in `grads`
    /// (the L2 gradient `l2 * w` of the weights is added here). `grads` is used as
    /// scratch: if any parameter or moment would become non-finite, every tensor is put
    /// back as it was, the moments of the phase are cleared, and `NonFinite` returned.
    pub fn update(
        &mut self,
        phase: Phase,
        l2: f32,
        params: &mut Params,
        grads: &mut Params,
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
            let t = phase.tensors();
            let [w0, b0, w1, b1] = pick(params.tensors_mut(), t);
            let [gw0, gb0, gw1, gb1] = pick(grads.tensors_mut(), t);
            let [mw0, mb0, mw1, mb1] = pick(self.m.tensors_mut(), t);
            let [vw0, vb0, vw1, vb1] = pick(self.v.tensors_mut(), t);
            let weights = AdamStep { l2, ..step };
            // The phase's two weight matrices (with their biases) side by side, each
            // cut in blocks for half the threads.
            let threads = rayon::current_num_threads();
            let (p0, p1) = ((threads / 2).max(1), threads - threads / 2);
            let (a, b) = rayon::join(
                || {
                    blocks(weights, [w0, gw0, mw0, vw0], p0)
                        & kernels::adam(step, b0, gb0, mb0, vb0)
                },
                || {
                    blocks(weights, [w1, gw1, mw1, vw1], p1)
                        & kernels::adam(step, b1, gb1, mb1, vb1)
                },
            );
            a & b
        };
        if !finite {
            // `grads` holds the old parameters now.
            params.copy_tensors(grads, phase.tensors());
            self.clear_moments(phase);
            return Err(NonFinite);
        }
        self.advance();
        self.steps += 1;
        Ok(())
    }

    /// Takes back the counter of the last update and clears the phase's moments (the
    /// old ones are not kept): after the caller restored the parameters from before it.
    pub fn undo_last(&mut self, phase: Phase) {
        self.set_steps(self.steps.saturating_sub(1));
        self.clear_moments(phase);
    }

    fn clear_moments(&mut self, phase: Phase) {
        let (m, v) = (self.m.tensors_mut(), self.v.tensors_mut());
        for &t in phase.tensors() {
            m[t].fill(0.0);
            v[t].fill(0.0);
        }
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

/// The four tensors at `indices` (ascending: weight, bias, weight, bias), by value.
fn pick<'a>(tensors: [&'a mut [f32]; 8], indices: &[usize]) -> [&'a mut [f32]; 4] {
    let mut it = tensors
        .into_iter()
        .enumerate()
        .filter(|(i, _)| indices.contains(i))
        .map(|(_, t)| t);
    let mut next = || it.next().expect("a phase trains four tensors");
    let picked = [next(), next(), next(), next()];
    debug_assert!(is_weight(indices[0]) && !is_weight(indices[1]) && is_weight(indices[2]));
    picked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Arch;

    const TINY: Arch = Arch {
        inputs: 3,
        hidden1: 2,
        hidden2: 1,
    };

    #[test]
    fn matches_the_tf1_formula_with_l2_and_a_shared_counter() {
        let cfg = AdamConfig::default();
        let mut adam = Adam::new(cfg, TINY);
        let mut p = Params::he_init(TINY, 1);
        let w0 = p.w1[[1, 1]];
        let g0 = 0.3f32;
        let l2 = 1e-4f32;
        let mut g = Params::zeros(TINY);
        g.w1[[1, 1]] = g0;
        adam.update(Phase::One, l2, &mut p, &mut g).unwrap();
        // t = 1
        let grad = g0 + l2 * w0;
        let m = 0.1 * grad;
        let v = 0.001 * grad * grad;
        let lr_t = 0.01 * (1.0f32 - 0.999).sqrt() / (1.0 - 0.9);
        let want = w0 - lr_t * m / (v.sqrt() + 1e-8);
        assert!(
            (p.w1[[1, 1]] - want).abs() < 1e-7,
            "{} {}",
            p.w1[[1, 1]],
            want
        );
        // Phase 2 tensors were not touched, but the counter is shared.
        assert_eq!(p.w2, Params::he_init(TINY, 1).w2);
        assert_eq!(adam.steps(), 1);
        let lr_t2 = 0.01 * (1.0f32 - 0.999 * 0.999).sqrt() / (1.0 - 0.9 * 0.9);
        assert!((adam.lr_t() - lr_t2).abs() < 1e-7);
        // Biases get no L2: a zero gradient on a bias leaves it where it is.
        assert_eq!(p.b1, Params::zeros(TINY).b1);
    }

    #[test]
    fn non_finite_update_restores_everything() {
        let mut adam = Adam::new(AdamConfig::default(), TINY);
        let mut p = Params::he_init(TINY, 2);
        let before = p.clone();
        let mut g = Params::zeros(TINY);
        g.w4[[0, 0]] = f32::NAN;
        g.w1[[0, 0]] = 1.0;
        assert_eq!(adam.update(Phase::One, 0.0, &mut p, &mut g), Err(NonFinite));
        assert_eq!(p, before);
        assert_eq!(adam.steps(), 0);
    }

    #[test]
    fn counter_can_be_set_and_restarted() {
        let mut a = Adam::new(AdamConfig::default(), TINY);
        a.set_steps(1464);
        let t = 1465;
        let want = 0.01 * (1.0 - 0.999f64.powi(t)).sqrt() / (1.0 - 0.9f64.powi(t));
        // f32 powers multiplied 1464 times drift by ~1e-4 relative, as TF's do.
        assert!((a.lr_t() as f64 - want).abs() < 1e-3 * want);
        a.restart_counter();
        assert_eq!(a.steps(), 0);
    }
}
