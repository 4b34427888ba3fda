//! The training step does not allocate: a counting global allocator around many steps
//! of each phase and of each arm's classifier, on pools of 2 and 8 threads. It counts
//! on the test's thread and the pool's only: the harness's own thread allocates when it
//! says a test has run over 60 s, as this one does on a loaded machine (3 allocations
//! once failed it so, while a build ran beside it).
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use layerwise::data::Mnist;
use layerwise::model::{Activation, Noise, Phase, Sparsity, Widths};
use layerwise::train::classify::{Arm, ArmRun, RunSpec, Sampling};
use layerwise::train::{Hyperparams, Trainer, in_pool};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Const-initialised and without a destructor: reading it never allocates.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTED.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn training_steps_do_not_allocate_on_any_number_of_threads() {
    let data = Arc::new(Mnist::embedded().unwrap());
    let hp = Hyperparams {
        epochs: 3,
        ..Hyperparams::default()
    };
    for threads in [2, 8] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        COUNTED.set(true);
        pool.broadcast(|_| COUNTED.set(true));
        let mut t = Trainer::new(data.clone(), hp.clone()).unwrap();
        // As `Trainer::run_phase` and the app's worker drive it: from inside the pool.
        pool.install(|| in_pool(|| steps_do_not_allocate(&mut t, &RECIPE_PHASES, threads)));
        // A deeper stack: every layer-wise phase, cached and not, and fine-tuning.
        let deep = Hyperparams {
            layers: Widths::new(&[96, 64, 48, 32]).unwrap(),
            ..hp.clone()
        };
        let mut d = Trainer::new(data.clone(), deep).unwrap();
        let phases: Vec<(Phase, bool)> = (1..=4)
            .flat_map(|k| [(Phase::Layer(k), false), (Phase::Layer(k), true)])
            .chain([(Phase::FineTune, false)])
            .collect();
        pool.install(|| in_pool(|| steps_do_not_allocate(&mut d, &phases, threads)));
        // The variants: tied, denoising and sparse, sigmoid with a KL penalty.
        let variants = [
            Hyperparams {
                layers: Widths::new(&[96, 64, 48]).unwrap(),
                tied_weights: true,
                noise: Noise::Mask { fraction: 0.25 },
                sparsity: Sparsity::L1 { weight: 1e-5 },
                ..hp.clone()
            },
            Hyperparams {
                layers: Widths::new(&[96, 64]).unwrap(),
                activation: Activation::Sigmoid,
                noise: Noise::Gaussian { sd: 0.3 },
                sparsity: Sparsity::Kl {
                    target: 0.1,
                    weight: 0.2,
                },
                ..hp.clone()
            },
        ];
        for v in variants {
            let depth = v.layers.depth() as u8;
            let mut d = Trainer::new(data.clone(), v).unwrap();
            let phases: Vec<(Phase, bool)> = (1..=depth)
                .flat_map(|k| [(Phase::Layer(k), false), (Phase::Layer(k), true)])
                .chain([(Phase::FineTune, false)])
                .collect();
            pool.install(|| in_pool(|| steps_do_not_allocate(&mut d, &phases, threads)));
        }
        let encoder = t.params().clone();
        for (arm, sampling) in Arm::ALL
            .map(|a| (a, Sampling::Epochs))
            .into_iter()
            .chain([(Arm::FineTuned, Sampling::Fresh)])
        {
            let spec = RunSpec {
                arm,
                labels: 55_000,
                seed: 1,
                steps: 800,
                batch: 150,
                sampling,
            };
            let mut run = ArmRun::new(data.clone(), &encoder, spec);
            pool.install(|| in_pool(|| classifier_steps_do_not_allocate(&mut run, threads)));
        }
    }
}

fn classifier_steps_do_not_allocate(run: &mut ArmRun, threads: usize) {
    for _ in 0..20 {
        run.step().unwrap();
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    // Past an epoch's end (366 batches), and past the unfreeze arm's switch (400).
    while !run.finished() {
        run.step().unwrap();
    }
    let n = ALLOCATIONS.load(Ordering::Relaxed) - before;
    let spec = run.spec();
    assert_eq!(
        n, 0,
        "{} classifier ({:?}, {threads} threads): {n} allocations in 780 steps",
        spec.arm, spec.sampling
    );
}

const RECIPE_PHASES: [(Phase, bool); 5] = [
    (Phase::ONE, false),
    (Phase::TWO, false),
    (Phase::TWO, true),
    (Phase::FineTune, false),
    (Phase::EndToEnd, false),
];

fn steps_do_not_allocate(t: &mut Trainer, phases: &[(Phase, bool)], threads: usize) {
    for &(phase, cached) in phases {
        t.begin_phase(phase, cached).unwrap();
        // Warm-up: thread pools and per-thread GEMM scratch are created lazily once.
        for _ in 0..20 {
            t.step().unwrap();
        }
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        // Two epoch boundaries (366 batches each) are crossed, with their extra loss.
        for _ in 0..800 {
            t.step().unwrap();
        }
        let n = ALLOCATIONS.load(Ordering::Relaxed) - before;
        assert_eq!(
            n, 0,
            "{phase} (cached: {cached}, {threads} threads): {n} allocations in 800 steps"
        );
        t.stop();
    }
}
