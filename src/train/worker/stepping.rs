//! A batch taken between commands, and what it tells the app: the loss, progress with
//! samples/s and ETA, epoch and phase ends, and live snapshots at a steady pace.

use std::time::{Duration, Instant};

use super::Worker;
use crate::train::Step;
use crate::train::protocol::{Event, ExperimentEnd, Progress, RunState};

/// Live parameter snapshots for the views, at most this often (4 Hz): each redraws
/// the features, codes and reconstructions, which the eye does not need faster.
const SNAPSHOT_INTERVAL: Duration = Duration::from_millis(250);

impl Worker {
    pub(super) fn step_once(&mut self) {
        match self.trainer.step() {
            Ok(step) => self.report(step),
            Err(e) => {
                self.paused = false;
                self.error(e);
                self.send(Event::State(RunState::Idle), true);
                self.snapshot(None, true);
                self.end_experiment(ExperimentEnd::Failed);
            }
        }
    }

    fn report(&mut self, s: Step) {
        let avg = self.time_step();
        self.send(
            Event::BatchLoss {
                phase: s.phase,
                loss: s.loss,
            },
            false,
        );
        let hp = self.trainer.hyperparams();
        let mut progress = Progress {
            phase: s.phase,
            epoch: s.epoch,
            epochs: s.epochs,
            batch: s.batch,
            batches: s.batches,
            samples_per_sec: hp.batch_size as f64 / avg.max(1e-9),
            eta_seconds: 0.0,
        };
        progress.eta_seconds = progress.batches_left() as f64 * avg;
        self.send(Event::Progress(progress), false);
        if let Some(e) = s.epoch_end {
            let done = Event::EpochDone {
                phase: s.phase,
                epoch: e.epoch,
                train_mse: e.train_mse,
                l2_term: e.l2_term,
                seconds: e.seconds,
            };
            self.send(done, true);
            // The mean code per class costs a pass over the test set (a fifth of a
            // cached phase-2 epoch): only at the phase's end, not every epoch.
            self.snapshot(Some((s.phase, e.epoch)), s.phase_end.is_some());
        } else if self.last_snapshot.elapsed() >= SNAPSHOT_INTERVAL {
            self.snapshot(None, false);
        }
        if let Some(end) = s.phase_end {
            let done = Event::PhaseDone {
                phase: end.phase,
                epochs: end.epochs,
                seconds: end.seconds,
                cached: self.cached_run,
                test: self.trainer.test_errors(),
            };
            self.send(done, true);
            self.send(Event::State(RunState::Idle), true);
            self.phase_ended();
        }
    }

    /// Times the step just taken; returns the moving average of seconds per step.
    fn time_step(&mut self) -> f64 {
        let now = Instant::now();
        let dt = now.duration_since(self.last_step).as_secs_f64();
        self.last_step = now;
        let avg = self.step_seconds.map_or(dt, |a| 0.95 * a + 0.05 * dt);
        self.step_seconds = Some(avg);
        avg
    }
}
