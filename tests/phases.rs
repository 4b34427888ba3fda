//! Phase 3 (the layer-wise stack fine-tuned as a whole) and end-to-end training (the
//! whole stack from the initialisation): what they train, where they start, how long
//! they run, and that they learn.
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

use layerwise::checkpoint;
use layerwise::model::{Phase, TENSOR_NAMES};
use layerwise::train::Trainer;

// `steps` serves the depth and variant tests.
#[allow(dead_code)]
#[path = "support/engine.rs"]
mod engine;
#[path = "support/mnist.rs"]
mod mnist;
use engine::{changed, run, short};
use mnist::data;

#[test]
fn phase3_trains_every_layer_continues_adam_and_lowers_the_test_mse() {
    let mut t = Trainer::new(data(), short()).unwrap();
    run(&mut t, Phase::ONE, true);
    run(&mut t, Phase::TWO, true);
    let (before, mse2) = (t.params().clone(), t.test_mse());
    assert_eq!(t.adam_steps(), 110);
    let epochs = run(&mut t, Phase::FineTune, true);
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
    let e2e = run(&mut fresh, Phase::EndToEnd, true);
    assert_eq!(
        e2e.len(),
        2,
        "two epochs: as many as phases 1 and 2 together"
    );
    assert_eq!(fresh.adam_steps(), 110);
    assert_eq!(fresh.epochs_done(), [0, 0, 0, 2]);

    // After a layer-wise run, end-to-end re-initialises: the same bits as from fresh.
    let mut after = Trainer::new(data(), short()).unwrap();
    run(&mut after, Phase::ONE, true);
    run(&mut after, Phase::TWO, true);
    assert_eq!(run(&mut after, Phase::EndToEnd, true), e2e);
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
    run(&mut t, Phase::EndToEnd, true);
    run(&mut t, Phase::FineTune, true);
    let bytes = checkpoint::to_bytes(&t.checkpoint()).unwrap();
    let ck = checkpoint::from_bytes(&bytes, None).unwrap();
    assert_eq!(ck.epochs_done, [0, 0, 1, 2]);
    let mut u = Trainer::new(data(), short()).unwrap();
    u.restore(ck).unwrap();
    assert!(u.trained());
    assert_eq!(u.test_mse().to_bits(), t.test_mse().to_bits());
}

#[test]
fn fine_tuning_can_start_adam_afresh() {
    let hp = layerwise::train::Hyperparams {
        fine_tune_fresh_adam: true,
        ..short()
    };
    let mut t = Trainer::new(data(), hp).unwrap();
    run(&mut t, Phase::ONE, true);
    assert_eq!(t.adam_steps(), 55);
    t.begin_phase(Phase::FineTune, false).unwrap();
    assert_eq!(t.adam_steps(), 0, "a fresh optimiser: its counter restarts");
    t.stop();
}
