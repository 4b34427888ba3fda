//! Training (the autoencoder in every phase, the classifier in every arm) on pools of
//! 1, 2, 3 and 8 threads, for the tests that compare them.

use std::sync::Arc;

use layerwise::data::Mnist;
use layerwise::model::{Classifier, Params, Phase};
use layerwise::train::classify::{Arm, ArmRun, RunSpec, Sampling};
use layerwise::train::{Hyperparams, Trainer, eval, in_pool};

/// A few dozen steps of each phase at the recipe's batch size (so the rows are cut as
/// the recipe's are), the parameters after each, then the test MSE.
fn train_on(threads: usize, data: &Arc<Mnist>) -> (Vec<Params>, f64, Vec<f32>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    pool.install(|| {
        let mut t = Trainer::new(data.clone(), Hyperparams::default()).unwrap();
        let mut losses = Vec::new();
        let mut params = Vec::new();
        let phases = [
            (Phase::ONE, false),
            (Phase::TWO, false),
            (Phase::TWO, true),
            (Phase::FineTune, false),
            // Re-initialises, then trains every layer: last, so the others count.
            (Phase::EndToEnd, false),
        ];
        for (phase, cached) in phases {
            t.begin_phase(phase, cached).unwrap();
            for _ in 0..25 {
                losses.push(t.step().unwrap().loss);
            }
            t.stop();
            params.push(t.params().clone());
        }
        (params, t.test_mse(), losses)
    })
}

/// 40 steps of each arm's classifier (the unfreeze arm switches at 20) from `encoder`,
/// the parameters after each run, and the test accuracy of the last.
fn classify_on(threads: usize, data: &Arc<Mnist>, encoder: &Params) -> (Vec<Classifier>, u64) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    pool.install(|| {
        let mut params = Vec::new();
        for arm in Arm::ALL {
            let spec = RunSpec {
                arm,
                labels: 1000,
                seed: 3,
                steps: 40,
                batch: 150,
                sampling: Sampling::Epochs,
            };
            let mut run = ArmRun::new(data.clone(), encoder, spec);
            in_pool(|| {
                while !run.finished() {
                    run.step().unwrap();
                }
            });
            params.push(run.params().clone());
        }
        let last = params.last().expect("four arms");
        let correct = eval::confusion(last, &data.test).correct();
        (params, correct)
    })
}

/// Asserts that every pool trains the bits the one-thread pool trains.
pub fn same_bits_on_any_number_of_threads() {
    let data = Arc::new(Mnist::embedded().unwrap());
    let (params, mse, losses) = train_on(1, &data);
    let encoder = &params[2];
    let classifiers = classify_on(1, &data, encoder);
    for threads in [2, 3, 8] {
        assert!(
            classify_on(threads, &data, encoder) == classifiers,
            "{threads} threads: other classifiers"
        );
        let (p, m, l) = train_on(threads, &data);
        assert_eq!(l, losses, "{threads} threads: other losses");
        assert!(p == params, "{threads} threads: other parameters");
        assert_eq!(
            m.to_bits(),
            mse.to_bits(),
            "{threads} threads: other test MSE"
        );
    }
}
