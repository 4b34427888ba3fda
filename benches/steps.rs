//! One training step of each phase and of the classifier (every layer, or the softmax
//! layer alone), the hidden1 cache build, the test evaluation and the GEMM shapes they
//! are made of. Throughput is in FLOPs (2 per multiply-add), so
//! criterion's "elem/s" reads as FLOP/s.
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array2;

use layerwise::data::Mnist;
use layerwise::model::Phase;
use layerwise::model::linalg::matmul;
use layerwise::train::classify::{Arm, ArmRun, RunSpec, Sampling};
use layerwise::train::{Hyperparams, Trainer, eval, in_pool};

/// Times `iters` calls of `f` from inside rayon's pool, as training runs.
fn pooled(iters: u64, f: &mut (impl FnMut() + Send)) -> Duration {
    in_pool(|| {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        t.elapsed()
    })
}

fn trainer(data: &Arc<Mnist>) -> Trainer {
    let hp = Hyperparams {
        epochs: 10_000,
        ..Hyperparams::default()
    };
    Trainer::new(data.clone(), hp).expect("recipe hyperparameters")
}

fn steps(c: &mut Criterion) {
    let data = Arc::new(Mnist::embedded().expect("built-in MNIST"));
    let (b, i, h1, h2) = (150u64, 784u64, 300u64, 150u64);
    let mut g = c.benchmark_group("step");
    g.throughput(Throughput::Elements(2 * 5 * b * i * h1));
    let mut t = trainer(&data);
    t.begin_phase(Phase::ONE, false).unwrap();
    g.bench_function("phase1", |bench| {
        bench.iter_custom(|n| {
            pooled(n, &mut || {
                black_box(t.step().unwrap());
            })
        })
    });
    for cached in [true, false] {
        let mut t = trainer(&data);
        t.begin_phase(Phase::TWO, cached).unwrap();
        let inner = 2 * 5 * b * h1 * h2;
        let flops = if cached {
            inner
        } else {
            inner + 2 * b * i * h1
        };
        g.throughput(Throughput::Elements(flops));
        let name = if cached {
            "phase2_cached"
        } else {
            "phase2_uncached"
        };
        g.bench_function(name, |bench| {
            bench.iter_custom(|n| {
                pooled(n, &mut || {
                    black_box(t.step().unwrap());
                })
            })
        });
    }
    // Phase 3 and end-to-end: five products of the big shape, six of the inner.
    let mut t = trainer(&data);
    t.begin_phase(Phase::FineTune, false).unwrap();
    g.throughput(Throughput::Elements(2 * (5 * b * i * h1 + 6 * b * h1 * h2)));
    g.bench_function("full_stack", |bench| {
        bench.iter_custom(|n| {
            pooled(n, &mut || {
                black_box(t.step().unwrap());
            })
        })
    });
    let k = 10;
    for (arm, flops) in [
        (
            Arm::FineTuned,
            2 * (2 * b * i * h1 + 3 * b * h1 * h2 + 3 * b * h2 * k),
        ),
        (Arm::Frozen, 2 * (b * i * h1 + b * h1 * h2 + 2 * b * h2 * k)),
    ] {
        let spec = RunSpec {
            arm,
            labels: 55_000,
            seed: 1,
            steps: usize::MAX,
            batch: 150,
            sampling: Sampling::Epochs,
        };
        let mut run = ArmRun::new(data.clone(), t.params(), spec);
        g.throughput(Throughput::Elements(flops));
        g.bench_function(format!("classifier_{arm}"), |bench| {
            bench.iter_custom(|n| {
                pooled(n, &mut || {
                    black_box(run.step().unwrap());
                })
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("whole_set");
    g.sample_size(20);
    let t = trainer(&data);
    let n = data.train.len() as u64;
    let mut cache = vec![0f32; data.train.len() * h1 as usize];
    g.throughput(Throughput::Elements(2 * n * i * h1));
    g.bench_function("cache_build", |bench| {
        bench.iter(|| eval::hidden1_all(t.params(), &data.train, &mut cache))
    });
    let nt = data.test.len() as u64;
    g.throughput(Throughput::Elements(2 * nt * (2 * i * h1 + 2 * h1 * h2)));
    g.bench_function("test_eval", |bench| {
        bench.iter(|| black_box(eval::reconstruction_mse(t.params(), &data.test)))
    });
    g.finish();
}

fn gemm(c: &mut Criterion) {
    let mut g = c.benchmark_group("gemm");
    // The five products of a phase-1 step: (m, k, n, transpose a, transpose b)...
    let shapes = [
        ("x.w1", 150, 784, 300, false, false),
        ("h1.w4", 150, 300, 784, false, false),
        ("h1t.d", 300, 150, 784, true, false),
        ("d.w4t", 150, 784, 300, false, true),
        ("xt.dz", 784, 150, 300, true, false),
        // and of a phase-2 step
        ("h1.w2", 150, 300, 150, false, false),
        ("h2.w3", 150, 150, 300, false, false),
        ("h2t.dz3", 150, 150, 300, true, false),
        ("dz3.w3t", 150, 300, 150, false, true),
        ("h1t.dz2", 300, 150, 150, true, false),
    ];
    for (name, m, k, n, ta, tb) in shapes {
        let a = Array2::from_shape_fn(if ta { (k, m) } else { (m, k) }, |(r, c)| {
            ((r * 7 + c) % 13) as f32 * 0.1
        });
        let b = Array2::from_shape_fn(if tb { (n, k) } else { (k, n) }, |(r, c)| {
            ((r + c * 3) % 11) as f32 * 0.1
        });
        let mut out = Array2::<f32>::zeros((m, n));
        g.throughput(Throughput::Elements(2 * (m * k * n) as u64));
        g.bench_function(name, |bench| {
            bench.iter_custom(|n| {
                pooled(n, &mut || {
                    let av = if ta { a.t() } else { a.view() };
                    let bv = if tb { b.t() } else { b.view() };
                    matmul(out.view_mut(), av, bv, false);
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, steps, gemm);
criterion_main!(benches);
