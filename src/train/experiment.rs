//! Does layer-wise pretraining help? A sweep of classifier runs (label budgets x arms
//! x seeds) from one trained autoencoder, stepped one batch at a time so that a caller
//! can report progress and cancel between any two steps.
//!
//! The stopping rule is the same for every budget and arm: a fixed number of steps
//! (`DEFAULT_STEPS`, about four epochs of all 55,000 labels), the test accuracy
//! taken once, at the end. No labels beyond the budget are used to pick anything (early
//! stopping on the 5,000 validation images would hand the smallest budgets 50 times
//! their own labels). The "book" protocol is the notebook's instead (`Protocol`).

use serde::{Deserialize, Serialize};

use super::classify::{Arm, BATCH_SIZE, RunSpec, Sampling};
use crate::model::Confusion;

/// The default sweep: these label budgets x every arm x 3 seeds, 1,500 steps each.
pub const DEFAULT_BUDGETS: [usize; 4] = [100, 1_000, 10_000, 55_000];
pub const DEFAULT_SEEDS: u32 = 3;
pub const DEFAULT_STEPS: usize = 1_500;
/// The fewest labels a run may have.
pub const MIN_LABELS: usize = 10;
/// More steps than this would be a typo (and hours).
pub const MAX_STEPS: usize = 1_000_000;
/// The notebook's test accuracy after each of its 4 epochs, as published.
pub const NOTEBOOK_SCRATCH: [f64; 4] = [0.9334, 0.9360, 0.9382, 0.9494];
pub const NOTEBOOK_PRETRAINED: [f64; 4] = [0.9266, 0.9400, 0.9460, 0.9401];

/// When runs stop and what is measured on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    /// `steps` steps of batch min(150, labels), batches from shuffled epochs; the
    /// test accuracy at the end. The same for every budget and arm.
    FixedSteps { steps: usize },
    /// The notebook's: `epochs` epochs of labels / 150 steps, each batch the head of a
    /// fresh permutation; the test accuracy after every epoch.
    Notebook { epochs: u32 },
}

/// What to run: every budget x arm x seed (seeds 1..=`seeds`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperimentSpec {
    pub budgets: Vec<usize>,
    pub arms: Vec<Arm>,
    pub seeds: u32,
    pub protocol: Protocol,
}

impl Default for ExperimentSpec {
    fn default() -> Self {
        Self {
            budgets: DEFAULT_BUDGETS.to_vec(),
            arms: Arm::ALL.to_vec(),
            seeds: DEFAULT_SEEDS,
            protocol: Protocol::FixedSteps {
                steps: DEFAULT_STEPS,
            },
        }
    }
}

/// A spec that cannot run on this data, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(pub String);

impl ExperimentSpec {
    /// The notebook's experiment: 20,000 labels, scratch against pretrained (every
    /// layer fine-tuned), 4 epochs of 133 steps, one seed.
    pub fn book() -> Self {
        Self {
            budgets: vec![20_000],
            arms: vec![Arm::Scratch, Arm::FineTuned],
            seeds: 1,
            protocol: Protocol::Notebook { epochs: 4 },
        }
    }

    pub fn is_book(&self) -> bool {
        matches!(self.protocol, Protocol::Notebook { .. })
    }

    /// Checks everything once, up front, against a training set of `train` images.
    pub fn validate(&self, train: usize) -> Result<(), SpecError> {
        let fail = |m: String| Err(SpecError(m));
        let min = match self.protocol {
            Protocol::Notebook { .. } => BATCH_SIZE,
            Protocol::FixedSteps { .. } => MIN_LABELS,
        };
        if let Some(b) = self.budgets.iter().find(|&&b| b < min || b > train) {
            return fail(format!(
                "labels: {b} is not between {min} and the training set's {train}"
            ));
        }
        if self.budgets.is_empty() || self.arms.is_empty() || self.seeds == 0 {
            return fail("an experiment needs a budget, an arm and a seed".into());
        }
        match self.protocol {
            Protocol::FixedSteps { steps } if !(1..=MAX_STEPS).contains(&steps) => {
                fail(format!("steps: {steps} is not between 1 and {MAX_STEPS}"))
            }
            Protocol::Notebook { epochs } if !(1..=1_000).contains(&epochs) => {
                fail(format!("epochs: {epochs} is not between 1 and 1000"))
            }
            _ => Ok(()),
        }
    }

    /// Every run, budget by budget, seed by seed, arm by arm.
    pub fn plan(&self) -> Vec<RunSpec> {
        let mut plan = Vec::new();
        for &labels in &self.budgets {
            for seed in 1..=self.seeds as u64 {
                for &arm in &self.arms {
                    plan.push(self.run(arm, labels, seed));
                }
            }
        }
        plan
    }

    fn run(&self, arm: Arm, labels: usize, seed: u64) -> RunSpec {
        let batch = BATCH_SIZE.min(labels);
        let (steps, sampling) = match self.protocol {
            Protocol::FixedSteps { steps } => (steps, Sampling::Epochs),
            Protocol::Notebook { epochs } => (epochs as usize * (labels / batch), Sampling::Fresh),
        };
        RunSpec {
            arm,
            labels,
            seed,
            steps,
            batch,
            sampling,
        }
    }

    /// Steps between two test evaluations: an epoch for the notebook, else the run.
    fn epoch_steps(&self, run: &RunSpec) -> usize {
        match self.protocol {
            Protocol::Notebook { .. } => run.labels / run.batch,
            Protocol::FixedSteps { .. } => run.steps,
        }
    }
}

/// The accuracies after one epoch of the notebook's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochAccuracy {
    pub epoch: u32,
    /// On the epoch's last batch, after its update (the notebook's "Train accuracy").
    pub train_accuracy: f64,
    pub test_accuracy: f64,
}

/// One finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmResult {
    pub arm: Arm,
    pub labels: usize,
    pub seed: u64,
    pub test_accuracy: f64,
    pub steps: usize,
    /// Seconds of training (evaluations not counted).
    pub seconds: f64,
    /// On the 10,000 test images: rows the true digit, columns the predicted one.
    pub confusion: Confusion,
    /// After each epoch (the notebook's protocol only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub epochs: Vec<EpochAccuracy>,
    /// Pretrained from the second encoder a sweep compares (`Sweep::against`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub against: bool,
}

/// Where a sweep stands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SweepProgress {
    pub steps_done: u64,
    pub steps_total: u64,
    pub runs_done: usize,
    pub runs_total: usize,
    pub elapsed_seconds: f64,
    /// Seconds left at the pace so far.
    pub eta_seconds: f64,
}

impl SweepProgress {
    /// How much of the sweep is done, in [0, 1].
    pub fn fraction(&self) -> f64 {
        self.steps_done as f64 / self.steps_total.max(1) as f64
    }
}

/// What one `Sweep::step` did beyond the step itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Happened {
    /// A notebook epoch ended, of this run.
    pub epoch: Option<(RunSpec, EpochAccuracy)>,
    /// A run ended.
    pub finished: Option<ArmResult>,
}

mod sweep;

/// "784-300-150-10": the classifier an encoder of `arch` puts under the softmax.
pub fn classifier_shape(arch: crate::model::Arch) -> String {
    let mut s = arch.inputs.to_string();
    for w in arch.widths.iter() {
        s += &format!("-{w}");
    }
    s + &format!("-{}", crate::data::CLASSES)
}

pub use sweep::{Outcome, Summary, Sweep, run, summarize};
