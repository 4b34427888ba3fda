//! What the engine tests share: short runs of the recipe's code paths, and which
//! tensors a run changed.

use layerwise::model::{Params, Phase};
use layerwise::train::{Hyperparams, Trainer};

/// One epoch of large batches: the same code paths as the recipe, a fraction of the time.
pub fn short() -> Hyperparams {
    Hyperparams {
        epochs: 1,
        batch_size: 1000,
        ..Hyperparams::default()
    }
}

/// Runs `phase` to its end; returns each epoch's train MSE.
pub fn run(t: &mut Trainer, phase: Phase, cache: bool) -> Vec<f32> {
    t.begin_phase(phase, cache).unwrap();
    let mut epoch_mse = Vec::new();
    t.run_phase(|s| epoch_mse.extend(s.epoch_end.map(|e| e.train_mse)))
        .unwrap();
    epoch_mse
}

/// `n` steps of `phase`, then stopped: a fraction of an epoch.
pub fn steps(t: &mut Trainer, phase: Phase, cache: bool, n: usize) {
    t.begin_phase(phase, cache).unwrap();
    for _ in 0..n {
        t.step().unwrap();
    }
    t.stop();
}

/// The names of the tensors that differ between `a` and `b`.
pub fn changed(a: &Params, b: &Params) -> Vec<String> {
    a.arch()
        .tensor_names()
        .into_iter()
        .zip(a.tensors().zip(b.tensors()))
        .filter(|(_, (x, y))| x != y)
        .map(|(n, _)| n)
        .collect()
}
