//! The code-space math on the test set: PCA of 10,000 codes and of 10,000 images, the
//! t-SNE affinities (exact kNN + perplexity search) of 10,000 codes, and one t-SNE
//! iteration of 10,000 points.
//!
//! The codes come from a He-initialised (untrained) stack: the shapes and the cost are
//! those of the app's, the clusters are not. A whole 1000-iteration t-SNE is too long
//! for criterion's repetitions; `SPACE_TSNE_FULL=1 cargo bench --bench space` times one
//! run after the benches and prints it.
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use criterion::{Criterion, criterion_group};
use ndarray::Array2;

use layerwise::data::batch::convert_range;
use layerwise::data::{Mnist, PIXELS};
use layerwise::model::{Arch, Params};
use layerwise::space::tsne::{Affinities, Optimizer};
use layerwise::space::{TsneConfig, encode, pca, tsne};
use layerwise::train::in_pool;

/// The 10,000 test images as f32 pixels, and their codes under a fresh stack.
fn test_set() -> (Array2<f32>, Array2<f32>) {
    let data = Mnist::embedded().expect("built-in MNIST");
    let n = data.test.len();
    let mut pixels = Array2::zeros((n, PIXELS));
    let flat = pixels.as_slice_mut().expect("standard layout");
    convert_range(&data.test, 0, flat);
    let params = Params::he_init(Arch::RECIPE, 42);
    let codes = encode(&params, pixels.view())
        .expect("784 pixels")
        .code()
        .clone();
    (pixels, codes)
}

fn space(c: &mut Criterion) {
    let (pixels, codes) = test_set();
    let mut g = c.benchmark_group("pca");
    g.sample_size(20);
    g.bench_function("10000x150", |b| {
        b.iter(|| in_pool(|| black_box(pca(codes.view()).expect("finite"))))
    });
    g.bench_function("10000x784", |b| {
        b.iter(|| in_pool(|| black_box(pca(pixels.view()).expect("finite"))))
    });
    g.finish();

    let plan = TsneConfig::default()
        .check(codes.nrows(), false)
        .expect("valid settings");
    let no = AtomicBool::new(false);
    let mut g = c.benchmark_group("tsne");
    g.sample_size(10);
    g.bench_function("affinities 10000x150", |b| {
        b.iter(|| in_pool(|| black_box(Affinities::new(codes.view(), &plan, &no))))
    });
    // Set up on first use, so that a filter that skips the benchmark skips it too
    // (criterion calls the closure once per sample).
    let mut opt = None;
    g.bench_function("iteration 10000", |b| {
        let opt = opt.get_or_insert_with(|| {
            let p = Affinities::new(codes.view(), &plan, &no)
                .expect("finite codes")
                .expect("not cancelled");
            let mut opt = Optimizer::new(p, &plan, None).expect("no initial layout");
            // Past the early exaggeration, where the layout is still a speck.
            in_pool(|| (0..300).for_each(|_| opt.step()));
            opt
        });
        b.iter(|| in_pool(|| opt.step()))
    });
    g.finish();
}

/// One full default t-SNE of the 10,000 codes, timed once, with the time each quarter
/// of the iterations took.
fn full_tsne() {
    let (_, codes) = test_set();
    let no = AtomicBool::new(false);
    let start = Instant::now();
    let mut marks = Vec::new();
    let outcome = in_pool(|| {
        tsne(
            codes.view(),
            &TsneConfig::default(),
            None,
            |done, _| {
                if done == 1 || done % 250 == 0 {
                    marks.push((done, start.elapsed().as_secs_f64()));
                }
            },
            &no,
        )
    });
    let total = start.elapsed().as_secs_f64();
    assert!(matches!(outcome, Ok(layerwise::space::Outcome::Done(_))));
    println!(
        "full t-SNE of 10000x150 (perplexity 30, 1000 iterations, {} threads): {total:.1} s",
        rayon::current_num_threads()
    );
    for w in marks.windows(2) {
        let ((from, t0), (to, t1)) = (w[0], w[1]);
        let per = (t1 - t0) * 1000.0 / (to - from) as f64;
        println!("  iterations {from}..{to}: {per:.1} ms each");
    }
    if let Some(&(_, first)) = marks.first() {
        println!("  affinities and the first iteration: {first:.2} s");
    }
}

criterion_group!(benches, space);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if std::env::var_os("SPACE_TSNE_FULL").is_some_and(|v| v == "1") {
        full_tsne();
    }
}
