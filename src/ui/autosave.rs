//! The model kept when the window closes, and the offer to restore it at the next
//! launch.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::record::{self, SessionRecord};
use crate::checkpoint;
use crate::train::protocol::Snapshot;

pub const FILE_NAME: &str = "autosave.safetensors";

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// Every file the autosave keeps in `dir`: the model and its training record.
pub fn files(dir: &Path) -> [PathBuf; 3] {
    let [record, history] = record::paths(dir);
    [path(dir), record, history]
}

/// A model from an earlier session, waiting for the user's decision.
#[derive(Debug, Clone)]
pub struct Offer {
    pub path: PathBuf,
    pub summary: String,
    /// Its training record (curves, epochs, snapshots), when one was kept and reads.
    pub record: Option<(SessionRecord, Vec<Snapshot>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Restore,
    Discard,
}

/// The kept model is there but cannot be offered; it stays where it is.
#[derive(Debug, thiserror::Error)]
#[error("the model kept from the last session cannot be restored: {0}")]
pub struct Unreadable(#[from] checkpoint::CheckpointError);

/// The autosave in `dir`, if there is one. An unreadable one is reported (and kept, so
/// nothing is lost).
pub fn find(dir: &Path) -> Result<Option<Offer>, Unreadable> {
    let path = path(dir);
    if !path.exists() {
        return Ok(None);
    }
    let ck = checkpoint::load(&path, None)?;
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
    let [e1, e2] = ck.epochs_done;
    let mut summary = format!(
        "a {} model trained for {e1} epoch(s) of phase 1 and {e2} of phase 2, saved {age}",
        ck.params.arch()
    );
    let record = match record::load(dir, ck.params.arch()) {
        Ok(Some((r, snapshots))) => {
            summary += &format!(
                ", with its loss curves and {} epoch snapshot(s)",
                snapshots.len()
            );
            Some((r, snapshots))
        }
        Ok(None) => None,
        Err(e) => {
            summary += &format!(" (its training record cannot be restored: {e})");
            None
        }
    };
    Ok(Some(Offer {
        summary,
        path,
        record,
    }))
}

/// The restore dialog; returns the user's choice once made.
pub fn offer_ui(ctx: &egui::Context, offer: &Offer) -> Option<Choice> {
    let mut choice = None;
    egui::Modal::new(egui::Id::unique("layerwise-restore")).show(ctx, |ui| {
        ui.set_max_width(460.0);
        ui.heading("Restore the last session?");
        ui.label(format!(
            "When the window closed, layerwise kept {}.",
            offer.summary
        ));
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
