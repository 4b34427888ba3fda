use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution, StandardNormal};

use super::*;
use crate::space::nearest::nearest;

/// `per` points around each of `clusters` centres 10 apart in `d` dimensions (unit
/// noise), and each point's cluster.
pub(super) fn clusters(
    clusters: usize,
    per: usize,
    d: usize,
    seed: u64,
) -> (Array2<f32>, Vec<usize>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let n = clusters * per;
    let labels: Vec<usize> = (0..n).map(|i| i % clusters).collect();
    let x = Array2::from_shape_fn((n, d), |(i, j)| {
        let noise: f64 = StandardNormal.sample(&mut rng);
        let centre = if j == labels[i] { 10.0 } else { 0.0 };
        (centre + noise) as f32
    });
    (x, labels)
}

fn run(x: ArrayView2<f32>, config: &TsneConfig, init: Option<ArrayView2<f32>>) -> Array2<f32> {
    match tsne(x, config, init, |_, _| {}, &AtomicBool::new(false)) {
        Ok(Outcome::Done(layout)) => layout,
        other => panic!("expected a layout, got {other:?}"),
    }
}

pub(super) fn config(iterations: usize, seed: u64) -> TsneConfig {
    TsneConfig {
        iterations,
        seed,
        ..TsneConfig::default()
    }
}

/// The index of each row's nearest other row in the 2-D layout.
fn nearest_in_layout(y: &Array2<f32>) -> Vec<usize> {
    (0..y.nrows())
        .map(|i| nearest(y.view(), y.row(i), 2).expect("2 columns")[1].index)
        .collect()
}

/// The mean distance from each point to its cluster's centroid, over the smallest
/// distance between two centroids.
fn spread_over_separation(y: &Array2<f32>, labels: &[usize], clusters: usize) -> f64 {
    let mut centroids = vec![[0f64; 3]; clusters];
    for (r, &c) in y.rows().into_iter().zip(labels) {
        centroids[c] = [
            centroids[c][0] + r[0] as f64,
            centroids[c][1] + r[1] as f64,
            centroids[c][2] + 1.0,
        ];
    }
    let centroids: Vec<[f64; 2]> = centroids
        .iter()
        .map(|c| [c[0] / c[2], c[1] / c[2]])
        .collect();
    let spread = y
        .rows()
        .into_iter()
        .zip(labels)
        .map(|(r, &c)| (r[0] as f64 - centroids[c][0]).hypot(r[1] as f64 - centroids[c][1]))
        .sum::<f64>()
        / labels.len() as f64;
    let mut separation = f64::INFINITY;
    for a in 0..clusters {
        for b in a + 1..clusters {
            let d = (centroids[a][0] - centroids[b][0]).hypot(centroids[a][1] - centroids[b][1]);
            separation = separation.min(d);
        }
    }
    spread / separation
}

#[test]
fn three_gaussian_clusters_end_separated() {
    let (x, labels) = clusters(3, 50, 20, 1);
    let y = run(x.view(), &config(1000, 7), None);
    assert_eq!(y.dim(), (150, 2));
    for (i, j) in nearest_in_layout(&y).into_iter().enumerate() {
        assert_eq!(labels[i], labels[j], "point {i}'s nearest neighbour {j}");
    }
    let ratio = spread_over_separation(&y, &labels, 3);
    assert!(
        ratio < 0.2,
        "clusters overlap: spread / separation = {ratio}"
    );
    // Sanity of the measure: the random start has no structure.
    let start = run(x.view(), &config(0, 7), None);
    assert!(spread_over_separation(&start, &labels, 3) > 2.0);
}

#[test]
fn same_seed_same_layout_different_seed_different_layout() {
    let (x, _) = clusters(3, 40, 10, 2);
    let a = run(x.view(), &config(300, 5), None);
    let b = run(x.view(), &config(300, 5), None);
    let c = run(x.view(), &config(300, 6), None);
    assert_eq!(a, b);
    let moved = (&a - &c).iter().map(|d| d.abs()).fold(0f32, f32::max);
    assert!(moved > 1.0, "different seeds, largest difference {moved}");
}

#[test]
fn layouts_do_not_depend_on_the_thread_count() {
    // 700 points: several blocks of the neighbour search and many tasks per iteration.
    let (x, _) = clusters(5, 140, 12, 3);
    let layout_with = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool");
        pool.install(|| run(x.view(), &config(120, 9), None))
    };
    let one = layout_with(1);
    assert_eq!(one, layout_with(3));
    assert!(one.iter().all(|v| v.is_finite()));
}

#[test]
fn cancelling_from_the_progress_callback_stops_at_that_iteration() {
    let (x, _) = clusters(3, 40, 10, 4);
    let cancel = AtomicBool::new(false);
    let mut seen = Vec::new();
    let outcome = tsne(
        x.view(),
        &config(1000, 1),
        None,
        |done, total| {
            seen.push((done, total));
            if done == 10 {
                cancel.store(true, Ordering::Relaxed);
            }
        },
        &cancel,
    );
    assert_eq!(outcome, Ok(Outcome::Cancelled { iterations: 10 }));
    assert_eq!(seen, (1..=10).map(|i| (i, 1000)).collect::<Vec<_>>());
}

#[test]
fn a_cancel_flag_set_before_the_start_stops_during_the_affinities() {
    let (x, _) = clusters(3, 40, 10, 4);
    let mut calls = 0;
    let outcome = tsne(
        x.view(),
        &config(1000, 1),
        None,
        |_, _| calls += 1,
        &AtomicBool::new(true),
    );
    assert_eq!(outcome, Ok(Outcome::Cancelled { iterations: 0 }));
    assert_eq!(calls, 0);
}

#[test]
fn bad_settings_are_refused_and_named() {
    let (x, _) = clusters(3, 50, 5, 5);
    let refuse = |c: TsneConfig| {
        tsne(x.view(), &c, None, |_, _| {}, &AtomicBool::new(false)).expect_err("refused")
    };
    // (150 - 1) / 3 = 49.67
    for p in [0.0, -3.0, f64::NAN, f64::INFINITY, 49.7, 1000.0] {
        let err = refuse(TsneConfig {
            perplexity: p,
            ..TsneConfig::default()
        });
        assert!(
            matches!(err, TsneError::Perplexity { n: 150, .. }),
            "{p}: {err:?}"
        );
        assert!(err.to_string().starts_with("perplexity"), "{err}");
    }
    assert!(config(1, 0).check(150, false).is_ok());
    let ok = TsneConfig {
        perplexity: 49.6,
        ..TsneConfig::default()
    };
    assert_eq!(ok.check(150, false).map(|p| p.neighbours()), Ok(148));
    let err = refuse(TsneConfig {
        theta: -0.1,
        ..TsneConfig::default()
    });
    assert!(err.to_string().contains("theta"), "{err}");
    let err = refuse(TsneConfig {
        learning_rate: Some(f64::NAN),
        ..TsneConfig::default()
    });
    assert!(err.to_string().contains("learning rate"), "{err}");
    let err = refuse(TsneConfig {
        exaggeration: 0.0,
        ..TsneConfig::default()
    });
    assert!(err.to_string().contains("exaggeration"), "{err}");
    // Two points cannot have any perplexity.
    let two = Array2::<f32>::zeros((2, 3));
    let err = tsne(
        two.view(),
        &TsneConfig::default(),
        None,
        |_, _| {},
        &AtomicBool::new(false),
    );
    assert!(matches!(err, Err(TsneError::Perplexity { n: 2, .. })));
}

#[test]
fn bad_inputs_are_refused() {
    let (mut x, _) = clusters(3, 50, 5, 5);
    let no = AtomicBool::new(false);
    let plan = TsneConfig::default().check(150, false).expect("valid");
    let other = Array2::<f32>::zeros((149, 5));
    assert_eq!(
        Affinities::new(other.view(), &plan, &no),
        Err(TsneError::PointCount {
            expected: 150,
            got: 149
        })
    );
    let wrong = Array2::<f32>::zeros((149, 2));
    let err = tsne(
        x.view(),
        &TsneConfig::default(),
        Some(wrong.view()),
        |_, _| {},
        &no,
    );
    assert_eq!(
        err,
        Err(TsneError::InitShape {
            rows: 149,
            cols: 2,
            n: 150
        })
    );
    let mut init = Array2::<f32>::zeros((150, 2));
    init[[17, 1]] = f32::INFINITY;
    let err = tsne(
        x.view(),
        &TsneConfig::default(),
        Some(init.view()),
        |_, _| {},
        &no,
    );
    assert_eq!(err, Err(TsneError::InitNonFinite { row: 17 }));
    x[[33, 4]] = f32::NAN;
    let err = tsne(x.view(), &TsneConfig::default(), None, |_, _| {}, &no);
    assert_eq!(err, Err(TsneError::NonFinite { row: 33 }));
}

#[test]
fn a_warm_start_keeps_the_layout() {
    let (x, labels) = clusters(3, 50, 20, 6);
    let cold = run(x.view(), &config(1000, 3), None);
    let radius = cold.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt() / (150f64).sqrt();
    let moved = |y: &Array2<f32>| {
        let sq: f64 = (y - &cold).iter().map(|d| (*d as f64).powi(2)).sum();
        sq.sqrt() / 150f64.sqrt() / radius
    };
    let warm = run(x.view(), &config(50, 99), Some(cold.view()));
    assert!(
        moved(&warm) < 0.05,
        "a warm start moved points by {} of the radius",
        moved(&warm)
    );
    for (i, j) in nearest_in_layout(&warm).into_iter().enumerate() {
        assert_eq!(labels[i], labels[j]);
    }
    // Started cold instead, 50 iterations end nowhere near that layout.
    let fresh = run(x.view(), &config(50, 3), None);
    assert!(moved(&fresh) > 0.5, "{}", moved(&fresh));
}
