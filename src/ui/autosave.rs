//! The session kept while the app runs and when the window closes, and the offer to
//! restore it at the next launch. The kept set lives in `session/` of the app's data
//! folder (`keep`: replaced as one unit); a model kept by layerwise before that
//! (`autosave.safetensors` beside its record) is still offered.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::record::{self, SessionRecord};
use crate::checkpoint;
use crate::train::protocol::Snapshot;

/// Where the kept sets are, in the app's data folder.
pub fn folder(dir: &Path) -> PathBuf {
    dir.join("session")
}

/// The files of the layout before sets: the model, its record and its history.
fn legacy(dir: &Path) -> [PathBuf; 3] {
    [
        "autosave.safetensors",
        "autosave-session.json",
        "autosave-history.safetensors",
    ]
    .map(|f| dir.join(f))
}

/// The model, record and history files of the kept session, if there is one.
fn kept_files(dir: &Path) -> Result<Option<[PathBuf; 3]>, Unreadable> {
    match crate::keep::current(&folder(dir)) {
        Ok(Some(set)) => Ok(Some(
            [record::MODEL, record::RECORD, record::HISTORY].map(|f| set.join(f)),
        )),
        Ok(None) => {
            let old = legacy(dir);
            Ok(old[0].exists().then_some(old))
        }
        Err(e) => Err(Unreadable(e.to_string())),
    }
}

/// A model from an earlier session, waiting for the user's decision.
#[derive(Debug, Clone)]
pub struct Offer {
    pub path: PathBuf,
    /// The kept model's network, which the settings may not know (a kill loses them).
    pub arch: crate::model::Arch,
    pub summary: String,
    /// Its training record (curves, epochs, snapshots), when one was kept and reads.
    pub record: Option<(SessionRecord, Vec<Snapshot>)>,
    /// The training settings the model was kept with, when its file holds readable
    /// ones: after a kill, newer than the settings saved on the last clean exit.
    pub hyperparams: Option<crate::train::Hyperparams>,
    /// Encoder B's file and name, when the session held one.
    pub second: Option<(PathBuf, crate::train::protocol::SecondEncoder)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Restore,
    Discard,
}

/// The kept model is there but cannot be offered; it stays where it is.
#[derive(Debug, thiserror::Error)]
#[error("the model kept from the last session cannot be restored: {0}")]
pub struct Unreadable(String);

/// The session kept in `dir`, if there is one. An unreadable one is reported (and
/// kept, so nothing is lost).
pub fn find(dir: &Path) -> Result<Option<Offer>, Unreadable> {
    let Some([path, record_path, history_path]) = kept_files(dir)? else {
        return Ok(None);
    };
    let ck = checkpoint::load(&path, None).map_err(|e| Unreadable(e.to_string()))?;
    let age = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .map(|d| match d.as_secs() {
            s if s < 120 => format!("{s} s ago"),
            s if s < 7200 => format!("{} min ago", s / 60),
            s if s < 172_800 => format!("{} h ago", s / 3600),
            s => format!("{} days ago", s / 86_400),
        })
        .unwrap_or_else(|| "earlier".into());
    let mut summary = format!(
        "a {} model trained for {}, saved {age}",
        ck.params.arch(),
        ck.epochs_done
    );
    let record = match record::load(&record_path, &history_path, ck.params.arch()) {
        Ok(Some((r, snapshots))) => {
            summary += &format!(
                ", with its loss curves and {} epoch snapshot(s)",
                snapshots.len()
            );
            if let Some(n) = r.experiment_results() {
                summary += &format!(" and an experiment's {n} result(s)");
            }
            if let Some(b) = r.second() {
                summary += &format!("; encoder B: {}", b.name);
            }
            Some((r, snapshots))
        }
        Ok(None) => None,
        Err(e) => {
            summary += &format!(" (its training record cannot be restored: {e})");
            None
        }
    };
    let second = (record.as_ref())
        .and_then(|(r, _)| r.second())
        .zip(path.parent().map(|set| set.join(record::ENCODER_B)))
        .map(|(b, file)| (file, b.clone()));
    let hyperparams = (ck.settings.as_deref()).and_then(|s| serde_json::from_str(s).ok());
    Ok(Some(Offer {
        summary,
        hyperparams,
        arch: ck.params.arch(),
        path,
        record,
        second,
    }))
}

/// Removes the kept session from `dir`; says what could not be removed.
pub fn discard(dir: &Path) -> Vec<String> {
    let mut errors = Vec::new();
    let set = folder(dir);
    if let Err(e) = crate::keep::discard(&set) {
        errors.push(format!("{}: {e}", set.display()));
    }
    for f in legacy(dir) {
        match std::fs::remove_file(&f) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                errors.push(format!("{}: {e}", f.display()));
            }
            _ => {}
        }
    }
    errors
}

/// The restore dialog; returns the user's choice once made.
pub fn offer_ui(ctx: &egui::Context, offer: &Offer) -> Option<Choice> {
    let mut choice = None;
    egui::Modal::new(egui::Id::unique("layerwise-restore")).show(ctx, |ui| {
        ui.set_max_width(460.0);
        ui.heading("Restore the last session?");
        ui.label(format!("layerwise kept {}.", offer.summary));
        ui.horizontal(|ui| {
            if ui.button("Restore").clicked() {
                choice = Some(Choice::Restore);
            }
            if ui
                .button("Discard")
                .on_hover_text("Delete the kept model and start fresh")
                .clicked()
            {
                choice = Some(Choice::Discard);
            }
        });
    });
    choice
}
