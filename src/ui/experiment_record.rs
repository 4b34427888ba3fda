//! What the app knows about the classifier experiments, built only from the worker's
//! `ExperimentEvent`s: the spec, where it stands, every result so far. Panels read it;
//! nothing here draws.

use crate::train::classify::RunSpec;
use crate::train::experiment::{
    ArmResult, EpochAccuracy, ExperimentSpec, Summary, SweepProgress, summarize,
};
use crate::train::protocol::{ExperimentEnd, ExperimentEvent, SecondEncoder};

/// Where the latest experiment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum ExperimentState {
    /// None was asked for yet.
    #[default]
    None,
    /// The recipe's phases are training the autoencoder first.
    TrainingAutoencoder,
    Running,
    Ended(ExperimentEnd),
}

/// The latest experiment: a new one replaces it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExperimentRecord {
    pub state: ExperimentState,
    pub spec: Option<ExperimentSpec>,
    /// Runs and steps of the whole plan.
    pub runs: usize,
    pub steps: u64,
    /// Epochs per phase of the autoencoder the pretrained arms start from.
    pub encoder_epochs: crate::model::PhaseEpochs,
    /// Whether the recipe was trained for it first.
    pub trained_autoencoder: bool,
    /// The second encoder whose pretrained arms ran beside the model's.
    pub against: Option<SecondEncoder>,
    pub progress: Option<SweepProgress>,
    /// Every finished run, in the order they arrived.
    pub results: Vec<ArmResult>,
    /// Every notebook epoch (the book protocol), in order.
    pub epochs: Vec<(RunSpec, EpochAccuracy)>,
}

impl ExperimentRecord {
    pub fn is_running(&self) -> bool {
        matches!(
            self.state,
            ExperimentState::Running | ExperimentState::TrainingAutoencoder
        )
    }

    /// Mean ± sd per budget and arm of the results so far.
    pub fn summary(&self) -> Vec<Summary> {
        summarize(&self.results)
    }

    /// Every result as CSV, one line per run; the encoder A (the model) or B.
    pub fn results_csv(&self) -> String {
        let mut out = String::from("arm,labels,seed,test_accuracy,steps,seconds,encoder\n");
        for r in &self.results {
            out.push_str(&format!(
                "{},{},{},{},{},{:.3},{}\n",
                r.arm,
                r.labels,
                r.seed,
                r.test_accuracy,
                r.steps,
                r.seconds,
                if r.against { "B" } else { "A" }
            ));
        }
        out
    }

    pub fn apply(&mut self, e: ExperimentEvent) {
        match e {
            ExperimentEvent::TrainingAutoencoder => {
                *self = Self {
                    state: ExperimentState::TrainingAutoencoder,
                    trained_autoencoder: true,
                    ..Self::default()
                };
            }
            ExperimentEvent::Started {
                spec,
                runs,
                steps,
                encoder_epochs,
                against,
            } => {
                *self = Self {
                    state: ExperimentState::Running,
                    spec: Some(spec),
                    runs,
                    steps,
                    encoder_epochs,
                    against,
                    trained_autoencoder: self.state == ExperimentState::TrainingAutoencoder,
                    ..Self::default()
                };
            }
            ExperimentEvent::Progress(p) => self.progress = Some(p),
            ExperimentEvent::Epoch { run, epoch } => self.epochs.push((run, epoch)),
            ExperimentEvent::Result(r) => self.results.push(r),
            ExperimentEvent::Ended { end, progress } => {
                self.state = ExperimentState::Ended(end);
                if progress.is_some() {
                    self.progress = progress;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Confusion;
    use crate::train::classify::Arm;

    fn result(arm: Arm, seed: u64, acc: f64) -> ArmResult {
        ArmResult {
            arm,
            labels: 100,
            seed,
            test_accuracy: acc,
            steps: 10,
            seconds: 0.5,
            confusion: Confusion::new(10),
            epochs: Vec::new(),
            against: false,
        }
    }

    #[test]
    fn results_arrive_one_by_one_and_a_new_experiment_replaces_the_old() {
        let mut r = ExperimentRecord::default();
        r.apply(ExperimentEvent::TrainingAutoencoder);
        assert!(r.is_running() && r.trained_autoencoder);
        r.apply(ExperimentEvent::Started {
            spec: ExperimentSpec::default(),
            runs: 2,
            steps: 20,
            encoder_epochs: [4, 4, 0, 0].into(),
            against: None,
        });
        assert_eq!(r.state, ExperimentState::Running);
        assert!(r.trained_autoencoder, "kept from the stage before");
        r.apply(ExperimentEvent::Result(result(Arm::Scratch, 1, 0.5)));
        r.apply(ExperimentEvent::Result(result(Arm::Frozen, 1, 0.75)));
        let table = r.summary();
        assert_eq!(table.len(), 2);
        assert_eq!(table[1].vs_scratch, Some((0.25, 0.0)));
        assert_eq!(
            r.results_csv(),
            "arm,labels,seed,test_accuracy,steps,seconds,encoder\n\
             scratch,100,1,0.5,10,0.500,A\nfrozen,100,1,0.75,10,0.500,A\n"
        );
        r.apply(ExperimentEvent::Ended {
            end: ExperimentEnd::Done,
            progress: None,
        });
        assert!(!r.is_running());
        assert_eq!(r.results.len(), 2, "results stay after the end");
        r.apply(ExperimentEvent::Started {
            spec: ExperimentSpec::book(),
            runs: 2,
            steps: 1064,
            encoder_epochs: [4, 4, 0, 0].into(),
            against: None,
        });
        assert!(r.results.is_empty() && !r.trained_autoencoder);
    }
}
