//! Gradient descent on KL(P || Q), one iteration at a time.
//!
//! The gradient (paper, eq. 5, split as in section 4) is
//! `4 (e Σ_j p_ij q_ij Z (yi - yj) - Σ_j q_ij² Z² (yi - yj) / Z)` with the unnormalised
//! `q_ij Z = 1 / (1 + |yi - yj|²)` and `e` the exaggeration: the attractive sum runs
//! over P's sparse row, the repulsive one and Z through the quadtree. The update is
//! the reference's: momentum, and per-coordinate gains that grow while the gradient
//! keeps its sign against the last step and shrink when it flips.

use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use super::quadtree::QuadTree;
use super::{Affinities, Plan, TsneError, check_init};

/// Momentum while the exaggeration lasts, and after.
const MOMENTUM: (f64, f64) = (0.5, 0.8);
/// The standard deviation of a random initial layout, as in the reference.
const INIT_STD: f64 = 1e-4;
const MIN_GAIN: f64 = 0.01;
/// Points per parallel task of the force computation.
const POINTS_PER_TASK: usize = 64;

/// The state of a t-SNE run: the layout, the last step and the gains.
#[derive(Debug, Clone)]
pub struct Optimizer {
    p: Affinities,
    plan: Plan,
    y: Vec<[f64; 2]>,
    step: Vec<[f64; 2]>,
    gains: Vec<[f64; 2]>,
    /// Indexed by the point's position in the tree's order.
    forces: Vec<Forces>,
    tree: QuadTree,
    iteration: usize,
}

/// One point's sums for one iteration.
#[derive(Debug, Clone, Copy, Default)]
struct Forces {
    attraction: [f64; 2],
    repulsion: [f64; 2],
    z: f64,
}

impl Optimizer {
    /// Starts from `init` (n x 2) if given, else from a random layout drawn from the
    /// plan's seed.
    pub fn new(
        p: Affinities,
        plan: &Plan,
        init: Option<ArrayView2<f32>>,
    ) -> Result<Self, TsneError> {
        let n = p.points();
        plan.check_points(n)?;
        let y = match init {
            Some(init) => {
                check_init(init, n)?;
                init.rows()
                    .into_iter()
                    .map(|r| [r[0] as f64, r[1] as f64])
                    .collect()
            }
            None => random_layout(n, plan.seed),
        };
        Ok(Self {
            p,
            plan: plan.clone(),
            y,
            step: vec![[0.0; 2]; n],
            gains: vec![[1.0; 2]; n],
            forces: vec![Forces::default(); n],
            tree: QuadTree::default(),
            iteration: 0,
        })
    }

    /// Iterations done.
    pub fn iteration(&self) -> usize {
        self.iteration
    }

    /// The current layout, n x 2.
    pub fn layout(&self) -> Array2<f32> {
        Array2::from_shape_fn((self.y.len(), 2), |(i, a)| self.y[i][a] as f32)
    }

    /// One iteration of gradient descent.
    pub fn step(&mut self) {
        let early = self.iteration < self.plan.exaggeration_iterations;
        let (exaggeration, momentum) = if early {
            (self.plan.exaggeration, MOMENTUM.0)
        } else {
            (1.0, MOMENTUM.1)
        };
        self.compute_forces();
        // Z summed in a fixed order on this thread: the same bits for any thread count.
        let z: f64 = self.forces.iter().map(|f| f.z).sum();
        let inv_z = if z > 0.0 { 1.0 / z } else { 0.0 };
        let lr = self.plan.learning_rate;
        for (((y, step), gains), &pos) in self
            .y
            .iter_mut()
            .zip(&mut self.step)
            .zip(&mut self.gains)
            .zip(self.tree.positions())
        {
            let f = &self.forces[pos as usize];
            for a in 0..2 {
                let grad = 4.0 * (exaggeration * f.attraction[a] - f.repulsion[a] * inv_z);
                gains[a] = next_gain(gains[a], grad, step[a]);
                step[a] = momentum * step[a] - lr * gains[a] * grad;
                y[a] += step[a];
            }
        }
        centre(&mut self.y);
        self.iteration += 1;
    }

    /// Every point's attractive and repulsive sums, in parallel; each point's own sums
    /// run in a fixed order. Points are taken in the tree's order, stored at their
    /// position in it: successive points are near each other, so their traversals
    /// take the same branches and touch the same nodes.
    fn compute_forces(&mut self) {
        self.tree.build(&self.y);
        let theta2 = self.plan.theta * self.plan.theta;
        let (y, p, tree) = (&self.y, &self.p, &self.tree);
        self.forces
            .par_iter_mut()
            .zip(tree.order())
            .with_min_len(POINTS_PER_TASK)
            .for_each(|(f, &i)| {
                let i = i as usize;
                let (repulsion, z) = tree.repulsion(i, y[i], theta2);
                *f = Forces {
                    attraction: attraction(p, y, i),
                    repulsion,
                    z,
                };
            });
    }
}

#[cfg(test)]
impl Optimizer {
    /// The gradient at the current layout without exaggeration, as `step` uses it.
    pub(super) fn gradient(&mut self) -> Vec<[f64; 2]> {
        self.compute_forces();
        let z: f64 = self.forces.iter().map(|f| f.z).sum();
        let f = |f: &Forces, a: usize| 4.0 * (f.attraction[a] - f.repulsion[a] / z);
        let at = |&pos: &u32| &self.forces[pos as usize];
        self.tree
            .positions()
            .iter()
            .map(at)
            .map(|x| [f(x, 0), f(x, 1)])
            .collect()
    }

    pub(super) fn points(&self) -> &[[f64; 2]] {
        &self.y
    }
}

/// `Σ_j p_ij (yi - yj) / (1 + |yi - yj|²)` over row i of P.
fn attraction(p: &Affinities, y: &[[f64; 2]], i: usize) -> [f64; 2] {
    let (columns, values) = p.row(i);
    let yi = y[i];
    let mut f = [0f64; 2];
    for (&j, &pij) in columns.iter().zip(values) {
        let yj = y[j as usize];
        let (dx, dy) = (yi[0] - yj[0], yi[1] - yj[1]);
        let w = pij / (1.0 + dx * dx + dy * dy);
        f[0] += w * dx;
        f[1] += w * dy;
    }
    f
}

/// The reference's gain rule: +0.2 while the gradient points against the last step
/// (the step goes on downhill), x0.8 when they agree (it overshot), at least 0.01.
fn next_gain(gain: f64, grad: f64, last_step: f64) -> f64 {
    let g = if sign(grad) != sign(last_step) {
        gain + 0.2
    } else {
        gain * 0.8
    };
    g.max(MIN_GAIN)
}

fn sign(x: f64) -> i8 {
    if x > 0.0 {
        1
    } else if x < 0.0 {
        -1
    } else {
        0
    }
}

/// Moves the layout's mean to the origin (t-SNE's objective does not see it, and
/// without this the layout drifts).
fn centre(y: &mut [[f64; 2]]) {
    let mut mean = [0f64; 2];
    for p in y.iter() {
        mean[0] += p[0];
        mean[1] += p[1];
    }
    let inv = 1.0 / y.len().max(1) as f64;
    for p in y.iter_mut() {
        p[0] -= mean[0] * inv;
        p[1] -= mean[1] * inv;
    }
}

/// Points drawn from N(0, INIT_STD² I).
fn random_layout(n: usize, seed: u64) -> Vec<[f64; 2]> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let x: f64 = StandardNormal.sample(&mut rng);
            let y: f64 = StandardNormal.sample(&mut rng);
            [x * INIT_STD, y * INIT_STD]
        })
        .collect()
}
