//! The worker's side of the classifier experiments: a sweep stepped between commands
//! like a phase's batches, on the current model's encoder, after the recipe's phases
//! when no phase has trained the model yet.

use std::path::Path;
use std::sync::Arc;

use super::Worker;
use crate::checkpoint;
use crate::model::{Params, Phase};
use crate::train::experiment::{ExperimentSpec, SpecError, Sweep};
use crate::train::protocol::{
    Event, ExperimentEnd, ExperimentEvent, RunState, SecondEncoder, SecondSource,
};
use crate::train::{check_inputs, eval};

/// Where an experiment stands.
pub(super) enum Stage {
    /// Waiting for the recipe's phases to train the autoencoder: the spec, and the
    /// phases still to start after the running one.
    Pending(ExperimentSpec, Vec<Phase>),
    Running(Box<Sweep>),
}

impl Worker {
    pub(super) fn sweeping(&self) -> bool {
        matches!(self.experiment, Some(Stage::Running(_)))
    }

    fn tell(&mut self, e: ExperimentEvent, urgent: bool) {
        self.send(Event::Experiment(e), urgent);
    }

    pub(super) fn run_experiment(&mut self, spec: ExperimentSpec) {
        if self.experiment.is_some() || self.trainer.running().is_some() {
            return self.error("training or an experiment is running; stop it first");
        }
        if self.failed {
            return self.error("the worker failed earlier; press Reset or load a checkpoint first");
        }
        if let Err(e) = spec.validate(self.trainer.data().train.len()) {
            return self.error(e);
        }
        if self.trainer.trained() {
            return self.begin_sweep(spec);
        }
        self.tell(ExperimentEvent::TrainingAutoencoder, true);
        let later = (2..=self.trainer.params().depth()).map(|k| Phase::Layer(k as u8));
        self.experiment = Some(Stage::Pending(spec, later.collect()));
        self.start(Phase::ONE);
        if self.trainer.running().is_none() {
            // `start` refused (and said why).
            self.end_experiment(ExperimentEnd::Failed);
        }
    }

    /// After a phase's end: the next of the layer-wise phases, or the experiment that
    /// waited for them.
    pub(super) fn phase_ended(&mut self) {
        let Some(Stage::Pending(spec, mut phases)) = self.experiment.take() else {
            return;
        };
        if phases.is_empty() {
            return self.begin_sweep(spec);
        }
        let next = phases.remove(0);
        self.experiment = Some(Stage::Pending(spec, phases));
        self.start(next);
        if self.trainer.running().is_none() {
            self.end_experiment(ExperimentEnd::Failed);
        }
    }

    /// Keeps (or forgets) the encoder later sweeps compare the model's with.
    pub(super) fn set_second(&mut self, source: Option<SecondSource>) {
        if self.experiment.is_some() {
            return self.error("cancel the experiment before changing the second encoder");
        }
        let second = match source {
            None => None,
            Some(SecondSource::Current) => {
                if self.trainer.running().is_some() {
                    return self.error("stop the running phase before keeping its encoder");
                }
                if self.failed || !self.trainer.trained() {
                    return self.error(
                        "train the model first: an untrained encoder compares with nothing",
                    );
                }
                let hp = self.trainer.hyperparams();
                let mut name = self.trainer.params().arch().to_string();
                if !hp.noise.is_none() {
                    name += &format!(", denoising {}", hp.noise);
                }
                if !hp.sparsity.is_none() {
                    name += &format!(", sparsity {}", hp.sparsity);
                }
                name += &format!(", {}", self.trainer.epochs_done());
                Some((self.trainer.params().clone(), name))
            }
            Some(SecondSource::File(path)) => match encoder_file(&path) {
                Ok(second) => Some(second),
                Err(e) => return self.error(e),
            },
            Some(SecondSource::Kept { path, name }) => match encoder_file(&path) {
                Ok((params, _)) => Some((params, name)),
                Err(e) => return self.error(format!("encoder B of the kept session: {e}")),
            },
        };
        self.second = second.map(|(params, name)| {
            let test_mse = eval::reconstruction_mse(&params, &self.trainer.data().test);
            (Arc::new(params), SecondEncoder { name, test_mse })
        });
        let info = self.second.as_ref().map(|(p, e)| (e.clone(), p.clone()));
        self.send(Event::SecondEncoder(info), true);
    }

    fn begin_sweep(&mut self, spec: ExperimentSpec) {
        let (data, encoder) = (self.trainer.data().clone(), self.trainer.params().clone());
        // The notebook's experiment and a scratch-only sweep run one encoder.
        let second = self
            .second
            .clone()
            .filter(|_| !spec.is_book() && spec.arms.iter().any(|a| a.pretrained()));
        let sweep = Sweep::new(data, Arc::new(encoder), spec.clone()).and_then(|s| match &second {
            Some((params, _)) => s.against(params.clone()),
            None => Ok(s),
        });
        match sweep {
            Ok(sweep) => {
                let started = ExperimentEvent::Started {
                    spec,
                    runs: sweep.runs(),
                    steps: sweep.progress().steps_total,
                    encoder_epochs: self.trainer.epochs_done(),
                    against: second.map(|(_, e)| e),
                };
                self.experiment = Some(Stage::Running(Box::new(sweep)));
                self.tell(started, true);
                self.announce_state();
            }
            Err(e) => {
                self.error(e);
                self.tell(
                    ExperimentEvent::Ended {
                        end: ExperimentEnd::Failed,
                        progress: None,
                    },
                    true,
                );
            }
        }
    }

    /// One step of the running sweep, and what it brought.
    pub(super) fn sweep_step(&mut self) {
        let Some(Stage::Running(sweep)) = &mut self.experiment else {
            return;
        };
        let happened = match sweep.step() {
            Ok(h) => h,
            Err(e) => {
                self.error(e);
                return self.end_experiment(ExperimentEnd::Failed);
            }
        };
        let (progress, done) = (sweep.progress(), sweep.is_done());
        self.tell(ExperimentEvent::Progress(progress), false);
        if let Some((run, epoch)) = happened.epoch {
            self.tell(ExperimentEvent::Epoch { run, epoch }, true);
        }
        if let Some(r) = happened.finished {
            self.tell(ExperimentEvent::Result(r), true);
        }
        if done {
            self.end_experiment(ExperimentEnd::Done);
        }
    }

    /// Stops the experiment before its next step (and the recipe's phase it waits
    /// for, if any).
    pub(super) fn cancel_experiment(&mut self) {
        if let Some(Stage::Pending(..)) = self.experiment {
            self.experiment = None;
            self.stop_phase();
            return self.tell(
                ExperimentEvent::Ended {
                    end: ExperimentEnd::Cancelled,
                    progress: None,
                },
                true,
            );
        }
        self.end_experiment(ExperimentEnd::Cancelled);
    }

    /// Ends the experiment, if there is one, saying how; the worker is idle after.
    pub(super) fn end_experiment(&mut self, end: ExperimentEnd) {
        let progress = match self.experiment.take() {
            None => return,
            Some(Stage::Pending(..)) => None,
            Some(Stage::Running(sweep)) => Some(sweep.progress()),
        };
        self.tell(ExperimentEvent::Ended { end, progress }, true);
        if progress.is_some() {
            self.send(Event::State(RunState::Idle), true);
        }
    }
}

/// A checkpoint's parameters as a second encoder, and its name.
fn encoder_file(path: &Path) -> Result<(Params, String), SpecError> {
    let ck = checkpoint::load(path, None).map_err(|e| SpecError(e.to_string()))?;
    check_inputs(ck.params.arch()).map_err(|e| SpecError(format!("{}: {e}", path.display())))?;
    let file = path
        .file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy();
    let name = format!("{file}: {}, {}", ck.params.arch(), ck.epochs_done);
    Ok((ck.params, name))
}
