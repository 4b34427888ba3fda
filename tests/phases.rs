//! Phase 3 (the layer-wise stack fine-tuned as a whole) and end-to-end training (the
//! whole stack from the initialisation): what they train, where they start, how long
//! they run, and that they learn.

use layerwise::checkpoint;
use layerwise::model::{Params, Phase, TENSOR_NAMES};
use layerwise::train::{Hyperparams, Trainer};

#[path = "support/mnist.rs"]
mod mnist;
use mnist::data;

/// One epoch of large batches: the recipe's code paths, quickly.
fn short() -> Hyperparams {
    Hyperparams {
        epochs: 1,
        batch_size: 1000,
        ..Hyperparams::default()
    }
}

fn run(t: &mut Trainer, phase: Phase) -> Vec<f32> {
    t.begin_phase(phase, true).unwrap();
    let mut epoch_mse = Vec::new();
    t.run_phase(|s| epoch_mse.extend(s.epoch_end.map(|e| e.train_mse)))
        .unwrap();
    epoch_mse
}

fn changed(a: &Params, b: &Params) -> Vec<&'static str> {
    TENSOR_NAMES
        .iter()
        .zip(a.tensors().iter().zip(b.tensors()))
        .filter(|(_, (x, y))| *x != y)
        .map(|(n, _)| *n)
        .collect()
}

#[test]
fn phase3_trains_every_layer_continues_adam_and_lowers_the_test_mse() {
    let mut t = Trainer::new(data(), short()).unwrap();
    run(&mut t, Phase::One);
    run(&mut t, Phase::Two);
    let (before, mse2) = (t.params().clone(), t.test_mse());
    assert_eq!(t.adam_steps(), 110);
    let epochs = run(&mut t, Phase::Three);
    assert_eq!(epochs.len(), 1);
    assert_eq!(changed(&before, t.params()), TENSOR_NAMES);
    // One optimiser for every phase, as in the seed's single graph: the counter goes on.
    assert_eq!(t.adam_steps(), 165);
    assert_eq!(t.epochs_done(), [1, 1, 1, 0]);
    let mse3 = t.test_mse();
    assert!(mse3 < 0.9 * mse2, "phase 3: {mse3} after {mse2}");
    // The epoch's train MSE is the full stack's, near its test MSE.
    assert!(
        (epochs[0] as f64 / mse3 - 1.0).abs() < 0.3,
        "{epochs:?} {mse3}"
    );
}

#[test]
fn end_to_end_starts_from_the_seed_whatever_came_before_and_runs_both_phases_epochs() {
    let mut fresh = Trainer::new(data(), short()).unwrap();
    let (init, init_mse) = (fresh.params().clone(), fresh.test_mse());
    assert_eq!(fresh.phase_epochs(Phase::EndToEnd), 2);
    fresh.begin_phase(Phase::EndToEnd, false).unwrap();
    assert_eq!(fresh.params(), &init, "no step yet: the initialisation");
    fresh.stop();
    let e2e = run(&mut fresh, Phase::EndToEnd);
    assert_eq!(
        e2e.len(),
        2,
        "two epochs: as many as phases 1 and 2 together"
    );
    assert_eq!(fresh.adam_steps(), 110);
    assert_eq!(fresh.epochs_done(), [0, 0, 0, 2]);

    // After a layer-wise run, end-to-end re-initialises: the same bits as from fresh.
    let mut after = Trainer::new(data(), short()).unwrap();
    run(&mut after, Phase::One);
    run(&mut after, Phase::Two);
    assert_eq!(run(&mut after, Phase::EndToEnd), e2e);
    assert!(after.params() == fresh.params());
    assert_eq!(after.epochs_done(), [0, 0, 0, 2]);
    let mse = after.test_mse();
    assert!(
        mse < 0.5 * init_mse,
        "end-to-end learns: test MSE {init_mse} -> {mse}"
    );
}

#[test]
fn phase3_and_end_to_end_epochs_survive_a_checkpoint() {
    let mut t = Trainer::new(data(), short()).unwrap();
    run(&mut t, Phase::EndToEnd);
    run(&mut t, Phase::Three);
    let bytes = checkpoint::to_bytes(&t.checkpoint()).unwrap();
    let ck = checkpoint::from_bytes(&bytes, None).unwrap();
    assert_eq!(ck.epochs_done, [0, 0, 1, 2]);
    let mut u = Trainer::new(data(), short()).unwrap();
    u.restore(ck).unwrap();
    assert!(u.trained());
    assert_eq!(u.test_mse().to_bits(), t.test_mse().to_bits());
}
