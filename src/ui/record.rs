//! The training record of a session (loss curves, epochs, results, and the epoch-end
//! snapshots of the history slider), kept beside the autosaved model when the window
//! closes and restored with it: `autosave-session.json` for the record,
//! `autosave-history.safetensors` for the snapshots' parameters.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::session::{EpochRow, LossRun, PhaseResult, Session};
use crate::checkpoint::{self, CheckpointError};
use crate::model::{Arch, Params, Phase, TENSOR_NAMES};
use crate::train::eval::Errors;
use crate::train::protocol::Snapshot;

/// The most recent epoch-end snapshots kept (2.2 MB each for the recipe's network).
pub const KEPT_SNAPSHOTS: usize = 16;
const RECORD: &str = "autosave-session.json";
const HISTORY: &str = "autosave-history.safetensors";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    runs: Vec<RunRecord>,
    epochs: Vec<EpochRow>,
    results: Vec<PhaseResult>,
    batches: u64,
    test: Option<Errors>,
    /// Which epoch each kept snapshot ended; their parameters are in the history file.
    history: Vec<(Phase, u32, [u32; 2])>,
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
    Io(String, #[source] std::io::Error),
    #[error("{0}: not a session record ({1})")]
    Json(String, #[source] serde_json::Error),
    #[error(transparent)]
    History(#[from] CheckpointError),
}

pub fn paths(dir: &Path) -> [PathBuf; 2] {
    [dir.join(RECORD), dir.join(HISTORY)]
}

/// The epoch-end snapshots the record keeps: the most recent ones.
fn kept(session: &Session) -> &[Snapshot] {
    let h = &session.history;
    &h[h.len().saturating_sub(KEPT_SNAPSHOTS)..]
}

/// Writes the record and the kept snapshots into `dir`.
pub fn save(dir: &Path, session: &Session) -> Result<(), RecordError> {
    let [record_path, history_path] = paths(dir);
    let kept = kept(session);
    let record = SessionRecord {
        runs: session.runs.iter().map(RunRecord::of).collect(),
        epochs: session.epochs.clone(),
        results: session.results.clone(),
        batches: session.batches,
        test: session.test,
        history: kept
            .iter()
            .filter_map(|s| s.epoch_end.map(|(p, e)| (p, e, s.epochs_done)))
            .collect(),
    };
    let mut tensors = Vec::new();
    for (k, s) in kept.iter().enumerate() {
        let shapes = s.params.arch().shapes();
        for ((name, shape), t) in TENSOR_NAMES.iter().zip(shapes).zip(s.params.tensors()) {
            tensors.push((format!("{k}.{name}"), shape, t));
        }
        if let Some(m) = s.class_means.as_deref().and_then(|m| m.as_slice()) {
            tensors.push((format!("{k}.class_means"), vec![10, m.len() / 10], m));
        }
    }
    checkpoint::save_tensors(&history_path, &tensors, HashMap::new())?;
    let json = serde_json::to_vec(&record).map_err(|e| RecordError::Json(RECORD.into(), e))?;
    std::fs::write(&record_path, json)
        .map_err(|e| RecordError::Io(record_path.display().to_string(), e))
}

/// The record kept in `dir`, with the snapshots that fit a model of `arch`; `None`
/// when there is none.
pub fn load(dir: &Path, arch: Arch) -> Result<Option<(SessionRecord, Vec<Snapshot>)>, RecordError> {
    let [record_path, history_path] = paths(dir);
    let name = record_path.display().to_string();
    let json = match std::fs::read(&record_path) {
        Ok(j) => j,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RecordError::Io(name, e)),
    };
    let record: SessionRecord =
        serde_json::from_slice(&json).map_err(|e| RecordError::Json(name, e))?;
    let (tensors, _) = checkpoint::load_tensors(&history_path)?;
    let snapshots = snapshots(&record, tensors, arch);
    Ok(Some((record, snapshots)))
}

/// Rebuilds the kept snapshots; one whose tensors are missing or of another shape ends
/// the list (the record still restores).
fn snapshots(record: &SessionRecord, tensors: Vec<checkpoint::Named>, arch: Arch) -> Vec<Snapshot> {
    let mut by_name: HashMap<String, (Vec<usize>, Vec<f32>)> =
        tensors.into_iter().map(|(n, s, v)| (n, (s, v))).collect();
    let mut out = Vec::new();
    for (k, &(phase, epoch, epochs_done)) in record.history.iter().enumerate() {
        let mut p = Params::zeros(arch);
        let complete = TENSOR_NAMES
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
            .filter(|m| m.dim() == (10, arch.hidden2))
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

impl Session {
    /// Puts a kept record back: curves, epochs, results, history. The model itself
    /// comes back through the worker, before this.
    pub fn restore(&mut self, record: SessionRecord, history: Vec<Snapshot>) {
        self.runs = record
            .runs
            .into_iter()
            .map(|r| {
                let mut run = LossRun::new(r.phase, r.cached, r.start);
                for (i, loss) in r.losses.into_iter().enumerate() {
                    run.push(r.start + 1.0 + i as f64, loss);
                }
                run.epoch_ends = r.epoch_ends;
                run
            })
            .collect();
        self.epochs = record.epochs;
        self.results = record.results;
        self.batches = record.batches;
        self.test = record.test;
        self.history = history;
    }
}
