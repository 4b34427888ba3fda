//! Hyperparameters, with the recipe's values as defaults, and their validation.

use serde::{Deserialize, Serialize};

use crate::model::{AdamConfig, Arch, Phase};

/// How a cached phase 2 draws its batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CachedSampling {
    /// The same per-epoch shuffling as every other phase, so cached == uncached.
    #[default]
    Epoch,
    /// The seed's: each batch is the head of a fresh permutation of the training set.
    Seed,
}

impl CachedSampling {
    pub const ALL: [CachedSampling; 2] = [CachedSampling::Epoch, CachedSampling::Seed];

    pub fn name(self) -> &'static str {
        match self {
            CachedSampling::Epoch => "epoch",
            CachedSampling::Seed => "seed",
        }
    }
}

impl std::fmt::Display for CachedSampling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for CachedSampling {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("'{s}' is not one of: epoch, seed"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Hyperparams {
    pub learning_rate: f32,
    /// Adam's learning rate in phase 3, which fine-tunes a trained stack: at the
    /// phases' 0.01 it diverges within 50 batches (every seed tried).
    pub fine_tune_learning_rate: f32,
    pub l2: f32,
    /// Epochs of each phase.
    pub epochs: u32,
    pub batch_size: usize,
    pub seed: u64,
    pub beta1: f32,
    pub beta2: f32,
    pub epsilon: f32,
    pub hidden1: usize,
    pub hidden2: usize,
    /// Restart Adam's step counter at each phase (the seed shares one counter).
    pub fresh_adam_counter: bool,
    pub cached_sampling: CachedSampling,
}

impl Hyperparams {
    /// The recipe's settings: every default of the app and the command line.
    pub const RECIPE: Hyperparams = Hyperparams {
        learning_rate: AdamConfig::RECIPE.learning_rate,
        // A tenth of the recipe's rate: at 0.01 phase 3 diverged on every seed tried.
        fine_tune_learning_rate: 0.001,
        l2: 1e-4,
        epochs: 4,
        batch_size: 150,
        seed: 42,
        beta1: AdamConfig::RECIPE.beta1,
        beta2: AdamConfig::RECIPE.beta2,
        epsilon: AdamConfig::RECIPE.epsilon,
        hidden1: Arch::RECIPE.hidden1,
        hidden2: Arch::RECIPE.hidden2,
        fresh_adam_counter: false,
        cached_sampling: CachedSampling::Epoch,
    };
}

impl Default for Hyperparams {
    fn default() -> Self {
        Self::RECIPE
    }
}

/// A hyperparameter that makes no sense, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct HyperparamError {
    pub name: &'static str,
    pub problem: String,
}

/// Layers wider than this would only be a typo, and would allocate gigabytes.
pub const MAX_LAYER_WIDTH: usize = 4096;
/// Likewise for epochs.
pub const MAX_EPOCHS: u32 = 10_000;

impl Hyperparams {
    pub fn arch(&self, inputs: usize) -> Arch {
        Arch {
            inputs,
            hidden1: self.hidden1,
            hidden2: self.hidden2,
        }
    }

    pub fn adam(&self) -> AdamConfig {
        AdamConfig {
            learning_rate: self.learning_rate,
            beta1: self.beta1,
            beta2: self.beta2,
            epsilon: self.epsilon,
        }
    }

    /// Adam's settings for `phase`: phase 3 has its own learning rate.
    pub fn adam_for(&self, phase: Phase) -> AdamConfig {
        match phase {
            Phase::Three => AdamConfig {
                learning_rate: self.fine_tune_learning_rate,
                ..self.adam()
            },
            _ => self.adam(),
        }
    }

    /// Checks every setting once, up front, so training can assume they make sense.
    pub fn validate(&self, train_size: usize) -> Result<(), HyperparamError> {
        let err = |name, problem: String| Err(HyperparamError { name, problem });
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return err(
                "learning rate",
                format!("must be a finite number > 0, not {}", self.learning_rate),
            );
        }
        let ft = self.fine_tune_learning_rate;
        if !(ft.is_finite() && ft > 0.0) {
            return err(
                "fine-tune learning rate",
                format!("must be a finite number > 0, not {ft}"),
            );
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return err(
                "L2",
                format!("must be a finite number >= 0, not {}", self.l2),
            );
        }
        if !(1..=MAX_EPOCHS).contains(&self.epochs) {
            return err(
                "epochs",
                format!("must be between 1 and {MAX_EPOCHS}, not {}", self.epochs),
            );
        }
        if !(1..=train_size).contains(&self.batch_size) {
            return err(
                "batch size",
                format!(
                    "must be between 1 and the training set size {train_size}, not {}",
                    self.batch_size
                ),
            );
        }
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return err(name, format!("must be in [0, 1), not {b}"));
            }
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return err(
                "epsilon",
                format!("must be a finite number > 0, not {}", self.epsilon),
            );
        }
        for (name, w) in [("hidden1", self.hidden1), ("hidden2", self.hidden2)] {
            if !(1..=MAX_LAYER_WIDTH).contains(&w) {
                return err(
                    name,
                    format!("must have between 1 and {MAX_LAYER_WIDTH} units, not {w}"),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_sampling_names_round_trip() {
        for c in CachedSampling::ALL {
            assert_eq!(c.to_string().parse::<CachedSampling>(), Ok(c));
        }
        assert!("often".parse::<CachedSampling>().is_err());
    }

    #[test]
    fn recipe_defaults_are_valid() {
        let h = Hyperparams::default();
        assert_eq!(h.arch(784), Arch::RECIPE);
        assert!(h.validate(55_000).is_ok());
    }

    #[test]
    fn nonsense_is_refused_with_the_setting_named() {
        let bad = [
            Hyperparams {
                learning_rate: 0.0,
                ..Default::default()
            },
            Hyperparams {
                learning_rate: f32::NAN,
                ..Default::default()
            },
            Hyperparams {
                learning_rate: f32::INFINITY,
                ..Default::default()
            },
            Hyperparams {
                fine_tune_learning_rate: -0.1,
                ..Default::default()
            },
            Hyperparams {
                l2: -1.0,
                ..Default::default()
            },
            Hyperparams {
                epochs: 0,
                ..Default::default()
            },
            Hyperparams {
                batch_size: 0,
                ..Default::default()
            },
            Hyperparams {
                batch_size: 55_001,
                ..Default::default()
            },
            Hyperparams {
                beta2: 1.0,
                ..Default::default()
            },
            Hyperparams {
                epsilon: 0.0,
                ..Default::default()
            },
            Hyperparams {
                hidden1: 0,
                ..Default::default()
            },
        ];
        let names = [
            "learning rate",
            "learning rate",
            "learning rate",
            "fine-tune learning rate",
            "L2",
            "epochs",
            "batch size",
            "batch size",
            "beta2",
            "epsilon",
            "hidden1",
        ];
        for (h, name) in bad.iter().zip(names) {
            let e = h.validate(55_000).unwrap_err();
            assert_eq!(e.name, name, "{e}");
        }
    }
}
