//! The training record of a session (loss curves, epochs, results, the experiment, and
//! the epoch-end snapshots of the history slider), kept beside the model and restored
//! with it: `session.json` for the record, `history.safetensors` for the snapshots'
//! parameters, `model.safetensors` for the model with its optimiser. The three are
//! gathered in a frame (`Keeping::of`: clones and shared snapshots) and encoded and
//! written as one unit off the UI thread (`ui::disk`, `keep`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::experiment_record::{ExperimentRecord, ExperimentState};
use super::session::{EpochRow, LossRun, PhaseResult, Restored, Session};
use crate::checkpoint::{self, Checkpoint, CheckpointError};
use crate::model::{Arch, Params, Phase, PhaseEpochs};
use crate::train::eval::Errors;
use crate::train::protocol::{ExperimentEnd, SecondEncoder, Snapshot};

/// The most recent epoch-end snapshots kept (2.2 MB each for the recipe's network).
pub const KEPT_SNAPSHOTS: usize = 16;
/// The files of a kept session, in its folder.
pub const MODEL: &str = "model.safetensors";
pub const RECORD: &str = "session.json";
pub const HISTORY: &str = "history.safetensors";
/// Encoder B's parameters, when the session held one.
pub const ENCODER_B: &str = "encoder-b.safetensors";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    runs: Vec<RunRecord>,
    epochs: Vec<EpochRow>,
    results: Vec<PhaseResult>,
    batches: u64,
    test: Option<Errors>,
    /// Which epoch each kept snapshot ended, and the epochs per phase then (two
    /// numbers in records from before phase 3, four since); their parameters are in
    /// the history file.
    history: Vec<(Phase, u32, PhaseEpochs)>,
    /// The latest experiment (absent in records from before it was kept).
    #[serde(default)]
    experiment: ExperimentRecord,
    /// Encoder B, whose parameters are in `ENCODER_B`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    second: Option<SecondEncoder>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RunRecord {
    phase: Phase,
    cached: bool,
    start: f64,
    losses: Vec<f32>,
    epoch_ends: Vec<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: not a session record ({1})")]
    Json(String, serde_json::Error),
    #[error(transparent)]
    History(#[from] CheckpointError),
}

/// The epoch-end snapshots the record keeps: the most recent ones.
fn kept(session: &Session) -> &[Snapshot] {
    let h = session.history();
    &h[h.len().saturating_sub(KEPT_SNAPSHOTS)..]
}

/// A session as it will be kept: gathered in a frame, encoded and written elsewhere.
pub struct Keeping {
    pub checkpoint: Box<Checkpoint>,
    record: SessionRecord,
    history: Vec<Snapshot>,
    second: Option<Arc<Params>>,
}

impl Keeping {
    pub fn of(session: &Session, checkpoint: Box<Checkpoint>) -> Self {
        let kept = kept(session);
        let record = SessionRecord {
            runs: session.runs().iter().map(RunRecord::of).collect(),
            epochs: session.epochs().clone(),
            results: session.results().clone(),
            batches: session.batches(),
            test: session.test(),
            history: kept
                .iter()
                .filter_map(|s| s.epoch_end.map(|(p, e)| (p, e, s.epochs_done)))
                .collect(),
            experiment: session.experiment().clone(),
            second: session.second().clone(),
        };
        Self {
            checkpoint,
            record,
            history: kept.to_vec(),
            second: session.second_params().clone(),
        }
    }

    /// The files' names and bytes: the model, the record, the history, encoder B's.
    pub fn encode(&self) -> Result<Vec<(&'static str, Vec<u8>)>, RecordError> {
        let model = checkpoint::to_bytes(&self.checkpoint)
            .map_err(|p| CheckpointError::new(Path::new(MODEL), p))?;
        let mut tensors = Vec::new();
        for (k, s) in self.history.iter().enumerate() {
            let arch = s.params.arch();
            let names = arch.tensor_names();
            for ((name, shape), t) in names.iter().zip(arch.shapes()).zip(s.params.tensors()) {
                tensors.push((format!("{k}.{name}"), shape, t));
            }
            if let Some(m) = s.class_means.as_deref().and_then(|m| m.as_slice()) {
                tensors.push((format!("{k}.class_means"), vec![10, m.len() / 10], m));
            }
        }
        let history = checkpoint::tensors_to_bytes(&tensors, HashMap::new())
            .map_err(|p| CheckpointError::new(Path::new(HISTORY), p))?;
        let json =
            serde_json::to_vec(&self.record).map_err(|e| RecordError::Json(RECORD.into(), e))?;
        let mut files = vec![(MODEL, model), (RECORD, json), (HISTORY, history)];
        if let Some(p) = &self.second {
            let b = checkpoint::to_bytes(&Checkpoint::bare(Params::clone(p)))
                .map_err(|p| CheckpointError::new(Path::new(ENCODER_B), p))?;
            files.push((ENCODER_B, b));
        }
        Ok(files)
    }
}

/// The record at `record_path`, with the snapshots at `history_path` that fit a model
/// of `arch`; `None` when there is none.
pub fn load(
    record_path: &Path,
    history_path: &Path,
    arch: Arch,
) -> Result<Option<(SessionRecord, Vec<Snapshot>)>, RecordError> {
    let name = record_path.display().to_string();
    let json = match std::fs::read(record_path) {
        Ok(j) => j,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RecordError::Io(name, e)),
    };
    let record: SessionRecord =
        serde_json::from_slice(&json).map_err(|e| RecordError::Json(name, e))?;
    let (tensors, _) = checkpoint::load_tensors(history_path)?;
    let snapshots = snapshots(&record, tensors, arch);
    Ok(Some((record, snapshots)))
}

/// Rebuilds the kept snapshots; one whose tensors are missing or of another shape ends
/// the list (the record still restores).
fn snapshots(record: &SessionRecord, tensors: Vec<checkpoint::Named>, arch: Arch) -> Vec<Snapshot> {
    let mut by_name: HashMap<String, (Vec<usize>, Vec<f32>)> =
        tensors.into_iter().map(|(n, s, v)| (n, (s, v))).collect();
    let mut out = Vec::new();
    for (k, (phase, epoch, counts)) in record.history.iter().enumerate() {
        let (phase, epoch, epochs_done) = (*phase, *epoch, *counts);
        let mut p = Params::zeros(arch);
        let complete = arch
            .tensor_names()
            .iter()
            .zip(arch.shapes())
            .zip(p.tensors_mut())
            .all(
                |((name, shape), dst)| match by_name.remove(&format!("{k}.{name}")) {
                    Some((s, v)) if s == shape => {
                        dst.copy_from_slice(&v);
                        true
                    }
                    _ => false,
                },
            );
        if !complete {
            break;
        }
        let class_means = by_name
            .remove(&format!("{k}.class_means"))
            .and_then(|(s, v)| Array2::from_shape_vec((s[0], s[1]), v).ok())
            .filter(|m| m.dim() == (10, arch.code()))
            .map(Arc::new);
        out.push(Snapshot {
            params: Arc::new(p),
            epochs_done,
            epoch_end: Some((phase, epoch)),
            class_means,
        });
    }
    out
}

impl SessionRecord {
    /// How many experiment results it holds, if any.
    pub fn experiment_results(&self) -> Option<usize> {
        Some(self.experiment.results.len()).filter(|&n| n > 0)
    }

    /// Encoder B, when the session held one.
    pub fn second(&self) -> Option<&SecondEncoder> {
        self.second.as_ref()
    }
}

impl RunRecord {
    fn of(run: &LossRun) -> Self {
        Self {
            phase: run.phase,
            cached: run.cached,
            start: run.start,
            losses: run.raw.iter().map(|p| p.y as f32).collect(),
            epoch_ends: run.epoch_ends.clone(),
        }
    }
}

impl SessionRecord {
    /// The record as the session takes it back, with the kept snapshots.
    pub fn into_parts(self, history: Vec<Snapshot>) -> Restored {
        let epochs = &self.epochs;
        let runs = self
            .runs
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let mut run = LossRun::new(r.phase, r.cached, r.start);
                for (i, loss) in r.losses.into_iter().enumerate() {
                    run.push(r.start + 1.0 + i as f64, loss);
                }
                // A run's epoch rows are its epoch ends, in order.
                let ends = epochs.iter().filter(|e| e.run == i);
                for (&x, l2) in r.epoch_ends.iter().zip(ends.map(|e| e.l2_term)) {
                    if let Some(l2) = l2 {
                        run.push_l2(x, l2);
                    }
                }
                run.epoch_ends = r.epoch_ends;
                run
            })
            .collect();
        let mut experiment = self.experiment;
        if experiment.is_running() {
            // Kept while it ran: what finished is here, the rest never will be.
            experiment.state = ExperimentState::Ended(ExperimentEnd::Cancelled);
        }
        Restored {
            runs,
            epochs: self.epochs,
            results: self.results,
            batches: self.batches,
            test: self.test,
            history,
            experiment,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TENSOR_NAMES;

    #[test]
    fn a_record_from_before_phase_3_still_restores_its_snapshots() {
        // Before phase 3, and before the experiment was kept.
        let json = r#"{"runs":[],"epochs":[],"results":[],"batches":0,"test":null,
            "history":[["Two",3,[4,4]]]}"#;
        let record: SessionRecord = serde_json::from_str(json).unwrap();
        let arch = Arch::two(6, 4, 2);
        let p = Params::he_init(arch, 1);
        let tensors = TENSOR_NAMES
            .iter()
            .zip(arch.shapes())
            .zip(p.tensors())
            .map(|((n, s), t)| (format!("0.{n}"), s, t.to_vec()))
            .collect();
        let kept = snapshots(&record, tensors, arch);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].epochs_done, [4, 4, 0, 0]);
        assert_eq!(kept[0].epoch_end, Some((Phase::TWO, 3)));
        assert_eq!(*kept[0].params, p);
    }
}
