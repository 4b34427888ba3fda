//! What persists between launches, and how the app is started.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::experiments::ExperimentChoice;
use super::explore::ExploreSettings;
use super::recon::Selection;
use crate::train::Hyperparams;

/// Everything that persists between launches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub hyperparams: Hyperparams,
    pub cache_hidden1: bool,
    pub log_scale: bool,
    pub selection: Selection,
    /// Where the file dialog starts.
    pub last_dir: Option<PathBuf>,
    /// What the Experiments view runs.
    pub experiment: ExperimentChoice,
    /// Map, Walk and Draw.
    pub explore: ExploreSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            hyperparams: Hyperparams::default(),
            cache_hidden1: true,
            log_scale: true,
            selection: Selection {
                current: 0,
                digit: None,
                pinned: vec![1, 2, 3, 4, 8],
                clean: false,
            },
            last_dir: None,
            experiment: ExperimentChoice::default(),
            explore: ExploreSettings::default(),
        }
    }
}

/// How the app is started (command line, or a test).
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Use these settings instead of the persisted ones.
    pub settings: Option<Settings>,
    /// Phases to run one after the other as soon as the window is up, numbered as
    /// `--autostart` takes them: 1..K layer-wise, K+1 fine-tuning, at the model's depth.
    pub autostart: Vec<u8>,
    /// Start from these hyperparameters instead of the persisted ones.
    pub hyperparams: Option<crate::train::Hyperparams>,
    /// A checkpoint to open at launch, and its network (the settings' widths follow it).
    pub load: Option<(PathBuf, crate::model::Arch)>,
    /// Where the model is kept when the window closes (none: not kept).
    pub data_dir: Option<PathBuf>,
    /// Close the window once the autostarted phases are done.
    pub exit_when_done: bool,
}
