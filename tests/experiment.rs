//! The classifier experiments against pretraining.md: what each arm trains, the book's
//! protocol landing where the notebook did, same seed same numbers, cancelling between
//! steps, and what a spec may ask for.
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use layerwise::model::{Arch, Params, Phase};
use layerwise::train::classify::{Arm, ArmRun, RunSpec, Sampling};
use layerwise::train::experiment::{self, ArmResult, ExperimentSpec, Protocol, Sweep};
use layerwise::train::{Hyperparams, Trainer, in_pool};

#[path = "support/mnist.rs"]
mod mnist;
use mnist::data;

/// An autoencoder after one short epoch of each phase: a trained encoder, quickly.
fn encoder() -> Arc<Params> {
    static ENCODER: OnceLock<Arc<Params>> = OnceLock::new();
    ENCODER
        .get_or_init(|| {
            let hp = Hyperparams {
                epochs: 1,
                batch_size: 1000,
                ..Hyperparams::default()
            };
            let mut t = Trainer::new(data(), hp).unwrap();
            for phase in [Phase::ONE, Phase::TWO] {
                t.begin_phase(phase, true).unwrap();
                t.run_phase(|_| {}).unwrap();
            }
            Arc::new(t.params().clone())
        })
        .clone()
}

fn arm_run(arm: Arm, steps: usize) -> ArmRun {
    let spec = RunSpec {
        arm,
        labels: 1000,
        seed: 1,
        steps,
        batch: 150,
        sampling: Sampling::Epochs,
    };
    ArmRun::new(data(), &encoder(), spec)
}

#[test]
fn the_frozen_arm_leaves_the_encoder_bit_identical_and_unfreeze_releases_it_halfway() {
    let encoder = encoder();
    let mut frozen = arm_run(Arm::Frozen, 40);
    let mut unfreeze = arm_run(Arm::Unfreeze, 40);
    let head = frozen.params().w[2].clone();
    in_pool(|| {
        for step in 0..40 {
            frozen.step().unwrap();
            unfreeze.step().unwrap();
            assert!(frozen.params().has_encoder_of(&encoder), "step {step}");
            assert_eq!(
                unfreeze.params().has_encoder_of(&encoder),
                step < 20,
                "step {step}"
            );
        }
    });
    assert_ne!(frozen.params().w[2], head, "the softmax layer trains");
    assert!(frozen.finished());
    // Scratch and fine-tuned move the encoder at once; scratch never had it.
    let mut scratch = arm_run(Arm::Scratch, 1);
    let mut tuned = arm_run(Arm::FineTuned, 1);
    assert!(!scratch.params().has_encoder_of(&encoder));
    assert!(tuned.params().has_encoder_of(&encoder));
    assert_eq!(
        scratch.params().w[2],
        head,
        "every arm starts from the seed's softmax layer"
    );
    in_pool(|| tuned.step().unwrap());
    scratch.step().unwrap();
    assert!(!tuned.params().has_encoder_of(&encoder));
}

#[test]
fn scratch_with_the_book_protocol_lands_in_the_notebooks_range() {
    let spec = ExperimentSpec {
        arms: vec![Arm::Scratch],
        ..ExperimentSpec::book()
    };
    let mut sweep = Sweep::new(data(), encoder(), spec).unwrap();
    let out = experiment::run(&mut sweep, &AtomicBool::new(false), |_, _| {}).unwrap();
    let r = &out.results[0];
    assert_eq!((r.arm, r.labels, r.steps), (Arm::Scratch, 20_000, 4 * 133));
    assert_eq!(r.epochs.len(), 4);
    let last = r.epochs[3];
    assert_eq!(last.test_accuracy, r.test_accuracy);
    // The notebook printed 0.9494 after 4 epochs; its history ranges 0.93-0.96.
    assert!(
        (0.93..=0.96).contains(&r.test_accuracy),
        "{}",
        r.test_accuracy
    );
    assert!(last.train_accuracy > 0.85, "{last:?}");
    assert_eq!(r.confusion.total(), 10_000);
}

/// Everything of a result but the seconds it took.
fn numbers(r: &ArmResult) -> (Arm, usize, u64, u64, usize, Vec<Vec<u32>>) {
    let acc = r.test_accuracy.to_bits();
    let c = r.confusion.counts.clone();
    (r.arm, r.labels, r.seed, acc, r.steps, c)
}

#[test]
fn the_same_seeds_give_the_same_numbers_and_other_seeds_others() {
    let spec = ExperimentSpec {
        budgets: vec![100, 300],
        arms: Arm::ALL.to_vec(),
        seeds: 2,
        protocol: Protocol::FixedSteps { steps: 30 },
    };
    let go = |spec: &ExperimentSpec| {
        let mut sweep = Sweep::new(data(), encoder(), spec.clone()).unwrap();
        let out = experiment::run(&mut sweep, &AtomicBool::new(false), |_, _| {}).unwrap();
        assert!(!out.cancelled);
        out.results
    };
    let results = go(&spec);
    let a: Vec<_> = results.iter().map(numbers).collect();
    assert_eq!(a.len(), 2 * 4 * 2);
    assert_eq!(a, go(&spec).iter().map(numbers).collect::<Vec<_>>());
    // Seed 2 of this sweep is not seed 1 again.
    let one = |s: u64| {
        a.iter()
            .filter(|r| r.2 == s)
            .map(|r| r.3)
            .collect::<Vec<_>>()
    };
    assert_ne!(one(1), one(2));
    // The table: a row per budget and arm, over both seeds.
    let table = experiment::summarize(&results);
    assert_eq!(table.len(), 8);
    for row in &table {
        let accs: Vec<f64> = results
            .iter()
            .filter(|r| (r.labels, r.arm) == (row.labels, row.arm))
            .map(|r| r.test_accuracy)
            .collect();
        assert_eq!(row.runs, 2);
        assert!((row.mean - (accs[0] + accs[1]) / 2.0).abs() < 1e-12);
        let sd = (accs[0] - accs[1]).abs() / 2f64.sqrt();
        assert!((row.sd - sd).abs() < 1e-12, "{row:?}");
        assert_eq!(row.vs_scratch.is_none(), row.arm == Arm::Scratch);
    }
    assert_eq!((table[0].labels, table[0].arm), (100, Arm::Scratch));
}

/// Two encoders, one sweep: the first's runs are exactly those of a sweep of it alone;
/// the second runs the pretrained arms only, each right after the first's same run,
/// and its rows say how far they differ, seed for seed.
#[test]
fn a_sweep_against_a_second_encoder_pairs_its_pretrained_runs_with_the_first() {
    let spec = ExperimentSpec {
        budgets: vec![100],
        arms: vec![Arm::Scratch, Arm::Frozen],
        seeds: 2,
        protocol: Protocol::FixedSteps { steps: 30 },
    };
    let other = {
        let hp = Hyperparams {
            epochs: 1,
            batch_size: 1000,
            seed: 7,
            ..Hyperparams::default()
        };
        let mut t = Trainer::new(data(), hp).unwrap();
        t.begin_phase(Phase::ONE, true).unwrap();
        t.run_phase(|_| {}).unwrap();
        Arc::new(t.params().clone())
    };
    let go = |against: Option<Arc<Params>>| {
        let mut sweep = Sweep::new(data(), encoder(), spec.clone()).unwrap();
        if let Some(b) = against {
            sweep = sweep.against(b).unwrap();
        }
        experiment::run(&mut sweep, &AtomicBool::new(false), |_, _| {})
            .unwrap()
            .results
    };
    let alone = go(None);
    let both = go(Some(other.clone()));
    let order: Vec<(Arm, u64, bool)> = both.iter().map(|r| (r.arm, r.seed, r.against)).collect();
    let f = Arm::Frozen;
    assert_eq!(
        order,
        [
            (Arm::Scratch, 1, false),
            (f, 1, false),
            (f, 1, true),
            (Arm::Scratch, 2, false),
            (f, 2, false),
            (f, 2, true)
        ]
    );
    let first: Vec<_> = both.iter().filter(|r| !r.against).map(numbers).collect();
    assert_eq!(first, alone.iter().map(numbers).collect::<Vec<_>>());
    let acc = |rs: &[ArmResult], seed, against| {
        rs.iter()
            .find(|r| (r.arm, r.seed, r.against) == (f, seed, against))
            .unwrap()
            .test_accuracy
    };
    assert_ne!(acc(&both, 1, true), acc(&both, 1, false), "another encoder");
    let table = experiment::summarize(&both);
    let keys: Vec<(Arm, bool)> = table.iter().map(|s| (s.arm, s.against)).collect();
    assert_eq!(keys, [(Arm::Scratch, false), (f, false), (f, true)]);
    let d = [1, 2].map(|seed| acc(&both, seed, true) - acc(&both, seed, false));
    let (mean, sd) = table[2].vs_first.unwrap();
    assert!((mean - (d[0] + d[1]) / 2.0).abs() < 1e-12);
    assert!((sd - (d[0] - d[1]).abs() / 2f64.sqrt()).abs() < 1e-12);
    assert!(table[1].vs_first.is_none() && table[2].vs_scratch.is_some());
    // The same encoder twice: the second's runs are the first's, bit for bit.
    let twice = go(Some(encoder()));
    assert_eq!(
        acc(&twice, 2, true).to_bits(),
        acc(&twice, 2, false).to_bits()
    );
    assert_eq!(experiment::summarize(&twice)[2].vs_first, Some((0.0, 0.0)));

    let refused = |spec: ExperimentSpec| {
        let sweep = Sweep::new(data(), encoder(), spec).unwrap();
        sweep.against(other.clone()).err().unwrap().to_string()
    };
    let scratch_only = ExperimentSpec {
        arms: vec![Arm::Scratch],
        ..spec.clone()
    };
    assert!(refused(scratch_only).contains("an arm besides scratch"));
    assert!(refused(ExperimentSpec::book()).contains("one encoder"));
}

#[test]
fn cancel_is_checked_before_every_step() {
    let spec = ExperimentSpec {
        budgets: vec![1000],
        arms: vec![Arm::Scratch],
        seeds: 1,
        protocol: Protocol::FixedSteps { steps: 10_000 },
    };
    let mut sweep = Sweep::new(data(), encoder(), spec).unwrap();
    let cancel = AtomicBool::new(false);
    let out = experiment::run(&mut sweep, &cancel, |s, _| {
        if s.progress().steps_done == 7 {
            cancel.store(true, Ordering::Relaxed);
        }
    })
    .unwrap();
    assert!(out.cancelled);
    assert!(out.results.is_empty());
    let p = sweep.progress();
    assert_eq!((p.steps_done, p.steps_total), (7, 10_000));
    assert_eq!((p.runs_done, p.runs_total), (0, 1));
    assert!(p.eta_seconds > 0.0);
}

#[test]
fn specs_that_cannot_run_are_refused_with_the_reason() {
    let refused = |spec: ExperimentSpec| {
        Sweep::new(data(), encoder(), spec)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let with = |budgets: Vec<usize>| ExperimentSpec {
        budgets,
        ..ExperimentSpec::default()
    };
    assert!(refused(with(vec![9])).contains("labels: 9 is not between 10 and"));
    assert!(refused(with(vec![55_001])).contains("55001"));
    let book_100 = ExperimentSpec {
        budgets: vec![100],
        ..ExperimentSpec::book()
    };
    assert!(refused(book_100).contains("between 150"));
    let no_steps = ExperimentSpec {
        protocol: Protocol::FixedSteps { steps: 0 },
        ..ExperimentSpec::default()
    };
    assert!(refused(no_steps).contains("steps: 0"));
    let no_seeds = ExperimentSpec {
        seeds: 0,
        ..ExperimentSpec::default()
    };
    assert!(refused(no_seeds).contains("needs a budget, an arm and a seed"));
    let wide = Arc::new(Params::zeros(Arch::two(100, 3, 2)));
    let err = Sweep::new(data(), wide, ExperimentSpec::default()).err();
    assert!(err.is_some_and(|e| e.to_string().contains("28x28")));
    // The default sweep's plan: 4 budgets x 4 arms x 3 seeds of 1,500 steps.
    let sweep = Sweep::new(data(), encoder(), ExperimentSpec::default()).unwrap();
    assert_eq!(sweep.runs(), 48);
    assert_eq!(sweep.progress().steps_total, 48 * 1_500);
}
