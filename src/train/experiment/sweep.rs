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
    plan: Vec<RunSpec>,
    next: usize,
    current: Option<Current>,
    started: Instant,
    steps_done: u64,
    steps_total: u64,
}

struct Current {
    run: ArmRun,
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
        if encoder.arch().inputs != PIXELS {
            let arch = encoder.arch();
            return Err(SpecError(format!(
                "the autoencoder {arch} does not take 28x28 images"
            )));
        }
        let plan = spec.plan();
        let steps_total = plan.iter().map(|r| r.steps as u64).sum();
        Ok(Self {
            spec,
            data,
            encoder,
            plan,
            next: 0,
            current: None,
            started: Instant::now(),
            steps_done: 0,
            steps_total,
        })
    }

    pub fn spec(&self) -> &ExperimentSpec {
        &self.spec
    }

    /// The shape of the encoder the pretrained arms start from.
    pub fn encoder_arch(&self) -> Arch {
        self.encoder.arch()
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
            });
            self.current = None;
        }
        Ok(happened)
    }

    /// Starts the plan's next run when none is in progress.
    fn start_next(&mut self) {
        if self.current.is_none() && self.next < self.plan.len() {
            let spec = self.plan[self.next];
            self.next += 1;
            crate::model::linalg::warm_up();
            self.current = Some(Current {
                run: ArmRun::new(self.data.clone(), &self.encoder, spec),
                seconds: 0.0,
                epochs: Vec::new(),
            });
        }
    }
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

/// One row of the table: a budget and an arm over its seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub labels: usize,
    pub arm: Arm,
    pub runs: usize,
    pub mean: f64,
    /// The sample standard deviation over seeds (0 for one run).
    pub sd: f64,
    /// The mean and standard deviation, over the seeds both ran, of this arm's test
    /// accuracy minus scratch's with the same seed (same initialisation of the
    /// softmax layer, same batches).
    pub vs_scratch: Option<(f64, f64)>,
}

/// Mean ± standard deviation per budget and arm, budgets ascending, arms in
/// `Arm::ALL` order.
pub fn summarize(results: &[ArmResult]) -> Vec<Summary> {
    let mut keys: Vec<(usize, Arm)> = results.iter().map(|r| (r.labels, r.arm)).collect();
    keys.sort();
    keys.dedup();
    let accuracy = |labels, arm, seed| {
        results
            .iter()
            .find(|r| (r.labels, r.arm, r.seed) == (labels, arm, seed))
            .map(|r| r.test_accuracy)
    };
    keys.into_iter()
        .map(|(labels, arm)| {
            let runs: Vec<&ArmResult> = results
                .iter()
                .filter(|r| (r.labels, r.arm) == (labels, arm))
                .collect();
            let (mean, sd) = mean_sd(runs.iter().map(|r| r.test_accuracy));
            let paired: Vec<f64> = runs
                .iter()
                .filter_map(|r| Some(r.test_accuracy - accuracy(labels, Arm::Scratch, r.seed)?))
                .collect();
            Summary {
                labels,
                arm,
                runs: runs.len(),
                mean,
                sd,
                vs_scratch: (arm != Arm::Scratch && !paired.is_empty())
                    .then(|| mean_sd(paired.into_iter())),
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
