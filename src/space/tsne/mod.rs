//! Barnes-Hut t-SNE to two dimensions (van der Maaten, "Accelerating t-SNE using
//! tree-based algorithms", JMLR 2014).
//!
//! - [`Affinities`]: the input similarities P, from the exact `3 * perplexity`
//!   nearest neighbours of every point (squared distances from GEMMs over blocks of
//!   rows), a binary search for each point's Gaussian width, then symmetrised;
//! - [`Optimizer`]: gradient descent on KL(P || Q), the attractive forces over P's
//!   sparse rows and the repulsive ones through a Barnes-Hut quadtree, with the
//!   reference schedule (early exaggeration, momentum 0.5 then 0.8, gains);
//! - [`tsne`]: both, with progress reports and cancellation between iterations.
//!
//! Every point's forces are summed in a fixed order on whatever thread computes them,
//! and what is summed over points (Z, the layout's mean) is summed in a fixed order on
//! one thread, so a layout depends on the seed alone, not on the number of threads.

mod affinities;
mod optimizer;
mod quadtree;

use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

pub use affinities::Affinities;
pub use optimizer::Optimizer;

/// The user's settings, defaults as in the reference implementation.
#[derive(Debug, Clone, PartialEq)]
pub struct TsneConfig {
    /// The effective number of neighbours each point attends to.
    pub perplexity: f64,
    pub iterations: usize,
    /// Barnes-Hut accuracy: a cell whose side is below `theta` times its distance is
    /// summarised by its centre of mass; 0 computes every pair exactly. This is
    /// scikit-learn's and openTSNE's reading; the reference C++ compares half the
    /// side, so its 0.5 is about 1.0 here (coarser and about twice as fast).
    pub theta: f64,
    /// `None`: scikit-learn's "auto", `max(n / exaggeration / 4, 50)` (about the
    /// reference's 200 for 10,000 points), in units where the gradient carries the
    /// paper's factor 4.
    pub learning_rate: Option<f64>,
    /// Factor on P while the layout forms, which lets clusters separate early.
    pub exaggeration: f64,
    /// How long the exaggeration (and the low momentum) lasts from a random start.
    pub exaggeration_iterations: usize,
    /// The same from a previous layout, where the clusters have formed already.
    pub warm_exaggeration_iterations: usize,
    /// Seeds the random initial layout.
    pub seed: u64,
}

impl Default for TsneConfig {
    fn default() -> Self {
        Self {
            perplexity: 30.0,
            iterations: 1000,
            theta: 0.5,
            learning_rate: None,
            exaggeration: 12.0,
            exaggeration_iterations: 250,
            warm_exaggeration_iterations: 0,
            seed: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TsneError {
    #[error(
        "perplexity {value} is out of range: for {n} points it must be finite, above 0 \
         and below (n - 1) / 3 = {max}"
    )]
    Perplexity { value: f64, n: usize, max: f64 },
    #[error("theta {0} must be finite and at least 0")]
    Theta(f64),
    #[error("learning rate {0} must be finite and above 0")]
    LearningRate(f64),
    #[error("exaggeration {0} must be finite and above 0")]
    Exaggeration(f64),
    #[error("row {row} of the input has a value that is not finite")]
    NonFinite { row: usize },
    #[error("the initial layout is {rows} x {cols}, expected {n} x 2")]
    InitShape { rows: usize, cols: usize, n: usize },
    #[error("row {row} of the initial layout has a value that is not finite")]
    InitNonFinite { row: usize },
    #[error("the settings were checked for {expected} points, not {got}")]
    PointCount { expected: usize, got: usize },
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The final layout, n x 2.
    Done(Array2<f32>),
    /// The cancel flag was seen after this many iterations (0: while computing P).
    Cancelled { iterations: usize },
}

/// A checked [`TsneConfig`] for `n` points, cold or warm: what the algorithm runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    n: usize,
    perplexity: f64,
    iterations: usize,
    theta: f64,
    learning_rate: f64,
    exaggeration: f64,
    exaggeration_iterations: usize,
    seed: u64,
}

impl TsneConfig {
    /// Checks the settings for `n` points, from a previous layout (`warm`) or not.
    pub fn check(&self, n: usize, warm: bool) -> Result<Plan, TsneError> {
        let max = n.saturating_sub(1) as f64 / 3.0;
        let p = self.perplexity;
        if !(p.is_finite() && p > 0.0 && p < max) {
            return Err(TsneError::Perplexity { value: p, n, max });
        }
        if !(self.theta.is_finite() && self.theta >= 0.0) {
            return Err(TsneError::Theta(self.theta));
        }
        let e = self.exaggeration;
        if !(e.is_finite() && e > 0.0) {
            return Err(TsneError::Exaggeration(e));
        }
        let lr = self.learning_rate.unwrap_or((n as f64 / e / 4.0).max(50.0));
        if !(lr.is_finite() && lr > 0.0) {
            return Err(TsneError::LearningRate(lr));
        }
        let exaggeration_iterations = if warm {
            self.warm_exaggeration_iterations
        } else {
            self.exaggeration_iterations
        };
        Ok(Plan {
            n,
            perplexity: p,
            iterations: self.iterations,
            theta: self.theta,
            learning_rate: lr,
            exaggeration: e,
            exaggeration_iterations,
            seed: self.seed,
        })
    }
}

impl Plan {
    pub fn points(&self) -> usize {
        self.n
    }

    pub fn perplexity(&self) -> f64 {
        self.perplexity
    }

    /// Neighbours per point in P: three times the perplexity, as in the paper.
    pub fn neighbours(&self) -> usize {
        ((3.0 * self.perplexity) as usize).clamp(1, self.n.saturating_sub(1).max(1))
    }

    pub fn iterations(&self) -> usize {
        self.iterations
    }

    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    fn check_points(&self, got: usize) -> Result<(), TsneError> {
        if got == self.n {
            Ok(())
        } else {
            Err(TsneError::PointCount {
                expected: self.n,
                got,
            })
        }
    }
}

/// t-SNE of the rows of `x` (n x d) to n x 2.
///
/// Starts from `init` (n x 2, a previous layout, e.g. of the same points under an
/// earlier model) when given, else from a random layout drawn from `config.seed`.
/// Calls `progress(done, total)` after every iteration, on this thread. Checks
/// `cancel` before every iteration (one takes about 15-20 ms for 10,000 points on two
/// cores) and before every block of the neighbour search (about 1 ms each), and then
/// returns [`Outcome::Cancelled`].
pub fn tsne(
    x: ArrayView2<f32>,
    config: &TsneConfig,
    init: Option<ArrayView2<f32>>,
    mut progress: impl FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Outcome, TsneError> {
    let plan = config.check(x.nrows(), init.is_some())?;
    if let Some(init) = init {
        check_init(init, plan.n)?;
    }
    let Some(p) = Affinities::new(x, &plan, cancel)? else {
        return Ok(Outcome::Cancelled { iterations: 0 });
    };
    let mut opt = Optimizer::new(p, &plan, init)?;
    while opt.iteration() < plan.iterations {
        if cancel.load(Ordering::Relaxed) {
            return Ok(Outcome::Cancelled {
                iterations: opt.iteration(),
            });
        }
        opt.step();
        progress(opt.iteration(), plan.iterations);
    }
    Ok(Outcome::Done(opt.layout()))
}

fn check_input(x: ArrayView2<f32>) -> Result<(), TsneError> {
    match first_non_finite(x) {
        Some(row) => Err(TsneError::NonFinite { row }),
        None => Ok(()),
    }
}

fn check_init(init: ArrayView2<f32>, n: usize) -> Result<(), TsneError> {
    let (rows, cols) = init.dim();
    if (rows, cols) != (n, 2) {
        return Err(TsneError::InitShape { rows, cols, n });
    }
    match first_non_finite(init) {
        Some(row) => Err(TsneError::InitNonFinite { row }),
        None => Ok(()),
    }
}

fn first_non_finite(x: ArrayView2<f32>) -> Option<usize> {
    (0..x.nrows())
        .into_par_iter()
        .with_min_len(256)
        .find_first(|&r| !x.row(r).iter().all(|v| v.is_finite()))
}

#[cfg(test)]
mod math_tests;
#[cfg(test)]
mod tests;
