//! An experiment's plan run one step at a time, evaluated as its runs end, and the
//! table of results it comes to.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::Serialize;

use super::{ArmResult, EpochAccuracy, ExperimentSpec, Happened, SpecError, SweepProgress};
use crate::data::{Mnist, PIXELS};
use crate::model::{Arch, Params};
use crate::train::classify::{Arm, ArmRun, Diverged, RunSpec};
use crate::train::{eval, in_pool};

/// An experiment under way: the plan, the run in progress, the clock.
pub struct Sweep {
    spec: ExperimentSpec,
    data: Arc<Mnist>,
    encoder: Arc<Params>,
    /// The second encoder whose pretrained arms run beside the first's.
    against: Option<Arc<Params>>,
    /// Each run, and whether it starts from `against`.
    plan: Vec<(RunSpec, bool)>,
    next: usize,
    current: Option<Current>,
    started: Instant,
    steps_done: u64,
    steps_total: u64,
}

struct Current {
    run: ArmRun,
    against: bool,
    seconds: f64,
    epochs: Vec<EpochAccuracy>,
}

impl Sweep {
    /// Plans `spec` with `encoder` as the pretrained arms' encoder layers. Refuses a spec that
    /// does not fit the data, and an encoder that does not take its images.
    pub fn new(
        data: Arc<Mnist>,
        encoder: Arc<Params>,
        spec: ExperimentSpec,
    ) -> Result<Self, SpecError> {
        spec.validate(data.train.len())?;
        check_inputs(&encoder)?;
        let plan: Vec<(RunSpec, bool)> = spec.plan().into_iter().map(|r| (r, false)).collect();
        Ok(Self {
            steps_total: steps(&plan),
            spec,
            data,
            encoder,
            against: None,
            plan,
            next: 0,
            current: None,
            started: Instant::now(),
            steps_done: 0,
        })
    }

    /// Also runs every pretrained arm from `encoder`, each right after the same run
    /// from the first encoder (same budget, arm and seed: paired, and in step with it).
    /// Scratch runs once: it does not depend on the encoder.
    pub fn against(mut self, encoder: Arc<Params>) -> Result<Self, SpecError> {
        check_inputs(&encoder)?;
        if self.spec.is_book() {
            return Err(SpecError(
                "the notebook's experiment runs one encoder; compare encoders with a sweep".into(),
            ));
        }
        if !self.spec.arms.iter().any(|a| a.pretrained()) {
            return Err(SpecError(
                "comparing encoders needs an arm besides scratch".into(),
            ));
        }
        self.plan = (self.plan.into_iter())
            .flat_map(|(run, _)| {
                std::iter::once((run, false)).chain(run.arm.pretrained().then_some((run, true)))
            })
            .collect();
        self.steps_total = steps(&self.plan);
        self.against = Some(encoder);
        Ok(self)
    }

    pub fn spec(&self) -> &ExperimentSpec {
        &self.spec
    }

    /// The shape of the encoder the pretrained arms start from.
    pub fn encoder_arch(&self) -> Arch {
        self.encoder.arch()
    }

    /// The second encoder's shape, when the sweep compares two.
    pub fn against_arch(&self) -> Option<Arch> {
        self.against.as_ref().map(|p| p.arch())
    }

    pub fn runs(&self) -> usize {
        self.plan.len()
    }

    pub fn is_done(&self) -> bool {
        self.next == self.plan.len() && self.current.is_none()
    }

    /// The run in progress.
    pub fn current(&self) -> Option<&RunSpec> {
        self.current.as_ref().map(|c| c.run.spec())
    }

    pub fn progress(&self) -> SweepProgress {
        let elapsed = self.started.elapsed().as_secs_f64();
        let left = self.steps_total - self.steps_done;
        let per_step = elapsed / self.steps_done.max(1) as f64;
        SweepProgress {
            steps_done: self.steps_done,
            steps_total: self.steps_total,
            runs_done: self.next - self.current.is_some() as usize,
            runs_total: self.plan.len(),
            elapsed_seconds: elapsed,
            eta_seconds: left as f64 * per_step,
        }
    }

    /// One step of the run in progress (starting the next run if none is); at a
    /// notebook epoch's end and at the run's end, the test-set evaluation.
    pub fn step(&mut self) -> Result<Happened, Diverged> {
        self.start_next();
        let Some(cur) = self.current.as_mut() else {
            return Ok(Happened::default());
        };
        let t = Instant::now();
        cur.run.step()?;
        cur.seconds += t.elapsed().as_secs_f64();
        self.steps_done += 1;
        let spec = *cur.run.spec();
        let every = self.spec.epoch_steps(&spec);
        let epoch_end = self.spec.is_book() && cur.run.done().is_multiple_of(every);
        let finished = cur.run.finished();
        let mut happened = Happened::default();
        if !(epoch_end || finished) {
            return Ok(happened);
        }
        let confusion = eval::confusion(cur.run.params(), &self.data.test);
        if epoch_end {
            let e = EpochAccuracy {
                epoch: (cur.run.done() / every - 1) as u32,
                train_accuracy: cur.run.last_batch_accuracy(),
                test_accuracy: confusion.accuracy(),
            };
            cur.epochs.push(e);
            happened.epoch = Some((spec, e));
        }
        if finished {
            happened.finished = Some(ArmResult {
                arm: spec.arm,
                labels: spec.labels,
                seed: spec.seed,
                test_accuracy: confusion.accuracy(),
                steps: cur.run.done(),
                seconds: cur.seconds,
                confusion,
                epochs: std::mem::take(&mut cur.epochs),
                against: cur.against,
            });
            self.current = None;
        }
        Ok(happened)
    }

    /// Starts the plan's next run when none is in progress.
    fn start_next(&mut self) {
        if self.current.is_none() && self.next < self.plan.len() {
            let (spec, against) = self.plan[self.next];
            self.next += 1;
            let encoder = match (&self.against, against) {
                (Some(b), true) => b,
                _ => &self.encoder,
            };
            crate::model::linalg::warm_up();
            self.current = Some(Current {
                run: ArmRun::new(self.data.clone(), encoder, spec),
                against,
                seconds: 0.0,
                epochs: Vec::new(),
            });
        }
    }
}

fn check_inputs(encoder: &Params) -> Result<(), SpecError> {
    match encoder.arch() {
        arch if arch.inputs != PIXELS => Err(SpecError(format!(
            "the autoencoder {arch} does not take 28x28 images"
        ))),
        _ => Ok(()),
    }
}

fn steps(plan: &[(RunSpec, bool)]) -> u64 {
    plan.iter().map(|(r, _)| r.steps as u64).sum()
}

/// How a sweep ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub results: Vec<ArmResult>,
    /// Stopped by the cancel flag before the plan's end.
    pub cancelled: bool,
    pub seconds: f64,
}

/// Runs the sweep to its end on rayon's pool, calling `on_step` after every step and
/// checking `cancel` before every step.
pub fn run(
    sweep: &mut Sweep,
    cancel: &AtomicBool,
    mut on_step: impl FnMut(&Sweep, &Happened) + Send,
) -> Result<Outcome, Diverged> {
    in_pool(|| {
        let mut results = Vec::new();
        let cancelled = loop {
            if sweep.is_done() {
                break false;
            }
            if cancel.load(Ordering::Relaxed) {
                break true;
            }
            let happened = sweep.step()?;
            on_step(sweep, &happened);
            results.extend(happened.finished);
        };
        let seconds = sweep.progress().elapsed_seconds;
        Ok(Outcome {
            results,
            cancelled,
            seconds,
        })
    })
}

/// One row of the table: a budget and an arm (and encoder) over its seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub labels: usize,
    pub arm: Arm,
    /// The second encoder's row (`Sweep::against`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub against: bool,
    pub runs: usize,
    pub mean: f64,
    /// The sample standard deviation over seeds (0 for one run).
    pub sd: f64,
    /// The mean and standard deviation, over the seeds both ran, of this arm's test
    /// accuracy minus scratch's with the same seed (same initialisation of the
    /// softmax layer, same batches).
    pub vs_scratch: Option<(f64, f64)>,
    /// The second encoder's rows: the same, minus the first encoder's same arm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vs_first: Option<(f64, f64)>,
}

/// Mean ± standard deviation per budget, arm and encoder, budgets ascending, arms in
/// `Arm::ALL` order, the second encoder's row after the first's.
pub fn summarize(results: &[ArmResult]) -> Vec<Summary> {
    let key = |r: &ArmResult| (r.labels, r.arm, r.against);
    let mut keys: Vec<(usize, Arm, bool)> = results.iter().map(key).collect();
    keys.sort();
    keys.dedup();
    let accuracy = |k: (usize, Arm, bool), seed| {
        results
            .iter()
            .find(|r| key(r) == k && r.seed == seed)
            .map(|r| r.test_accuracy)
    };
    // Paired differences of the runs `k` against the run of `other` with the same seed.
    let paired = |runs: &[&ArmResult], other| {
        let d: Vec<f64> = runs
            .iter()
            .filter_map(|r| Some(r.test_accuracy - accuracy(other, r.seed)?))
            .collect();
        (!d.is_empty()).then(|| mean_sd(d.into_iter()))
    };
    keys.into_iter()
        .map(|k @ (labels, arm, against)| {
            let runs: Vec<&ArmResult> = results.iter().filter(|r| key(r) == k).collect();
            let (mean, sd) = mean_sd(runs.iter().map(|r| r.test_accuracy));
            Summary {
                labels,
                arm,
                against,
                runs: runs.len(),
                mean,
                sd,
                vs_scratch: (arm != Arm::Scratch)
                    .then(|| paired(&runs, (labels, Arm::Scratch, false)))
                    .flatten(),
                vs_first: against
                    .then(|| paired(&runs, (labels, arm, false)))
                    .flatten(),
            }
        })
        .collect()
}

fn mean_sd(xs: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = xs.clone().count() as f64;
    let mean = xs.clone().sum::<f64>() / n.max(1.0);
    let var = xs.map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}
