use super::*;
use ndarray::{Array1, arr2};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution, StandardNormal};

/// n rows of d columns, column j with standard deviation `scales[j]` around an
/// offset, then mixed by a fixed rotation-like matrix so the axes are not the
/// coordinate axes.
fn data(n: usize, scales: &[f64], seed: u64) -> Array2<f32> {
    let d = scales.len();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let raw = Array2::from_shape_fn((n, d), |(_, j)| {
        let z: f64 = StandardNormal.sample(&mut rng);
        z * scales[j]
    });
    let mix = Array2::from_shape_fn((d, d), |(i, j)| {
        if i == j {
            1.0
        } else {
            0.3 * ((i * 5 + j * 3) as f64).sin()
        }
    });
    Array2::from_shape_fn((n, d), |(r, c)| {
        let v: f64 = (0..d).map(|k| raw[[r, k]] * mix[[k, c]]).sum();
        (v + 3.0 + c as f64) as f32
    })
}

/// The covariance in f64, directly from the definition.
fn reference_covariance(x: &Array2<f32>) -> (Array1<f64>, Array2<f64>) {
    let xd = x.mapv(|v| v as f64);
    let mean = xd.mean_axis(ndarray::Axis(0)).expect("rows");
    let c = &xd - &mean;
    let cov = c.t().dot(&c) / (x.nrows() - 1) as f64;
    (mean, cov)
}

/// Eigenvalues (descending) and eigenvectors (columns) by cyclic Jacobi rotations.
fn jacobi(mut a: Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let d = a.nrows();
    let mut v = Array2::<f64>::eye(d);
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).map(move |j| (i, j)))
            .filter(|(i, j)| i != j)
            .map(|(i, j)| a[[i, j]].powi(2))
            .sum();
        if off < 1e-30 {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                if a[[p, q]].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * a[[p, q]]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (akp, akq) = (a[[k, p]], a[[k, q]]);
                    a[[k, p]] = c * akp - s * akq;
                    a[[k, q]] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[[p, k]], a[[q, k]]);
                    a[[p, k]] = c * apk - s * aqk;
                    a[[q, k]] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
                    v[[k, p]] = c * vkp - s * vkq;
                    v[[k, q]] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&i, &j| a[[j, j]].total_cmp(&a[[i, i]]));
    let values = order.iter().map(|&i| a[[i, i]]).collect();
    let vectors = Array2::from_shape_fn((d, d), |(r, c)| v[[r, order[c]]]);
    (values, vectors)
}

fn check_against_jacobi(x: &Array2<f32>) {
    let got = pca(x.view()).unwrap();
    let (mean, cov) = reference_covariance(x);
    let (values, vectors) = jacobi(cov);
    let total: f64 = values.iter().sum();
    for (k, value) in values.iter().take(2).enumerate() {
        let want = value / total;
        assert!(
            (got.explained[k] - want).abs() < 1e-5,
            "axis {k}: {} vs {want}",
            got.explained[k]
        );
        let axis = got.axes.row(k);
        let cos: f64 = axis
            .iter()
            .zip(vectors.column(k))
            .map(|(&a, &b)| a as f64 * b)
            .sum();
        assert!((cos.abs() - 1.0).abs() < 1e-5, "axis {k}: cos {cos}");
        // Coordinates are the centred rows projected on the axis.
        for r in [0, x.nrows() / 2, x.nrows() - 1] {
            let want: f64 = (0..x.ncols())
                .map(|c| (x[[r, c]] as f64 - mean[c]) * axis[c] as f64)
                .sum();
            assert!((got.coords[[r, k]] as f64 - want).abs() < 1e-4 * (1.0 + want.abs()));
        }
    }
}

#[test]
fn axes_and_variances_match_a_jacobi_eigendecomposition() {
    check_against_jacobi(&data(60, &[3.0, 2.0, 1.0, 0.5, 0.2], 1));
    // Several blocks of rows.
    check_against_jacobi(&data(2500, &[1.0, 4.0, 0.3, 2.5, 0.1, 0.7, 1.5], 2));
}

#[test]
fn a_line_in_the_plane_has_a_closed_form() {
    // Points t (cos a, sin a) for t = -2..=2: all variance along (cos a, sin a).
    let a = 0.4f64;
    let x = Array2::from_shape_fn((5, 2), |(r, c)| {
        let t = r as f64 - 2.0;
        (t * if c == 0 { a.cos() } else { a.sin() }) as f32
    });
    let got = pca(x.view()).unwrap();
    assert!(
        (got.explained[0] - 1.0).abs() < 1e-6 && got.explained[1] < 1e-6,
        "{:?}",
        got.explained
    );
    assert!((got.axes[[0, 0]] as f64 - a.cos()).abs() < 1e-6);
    assert!((got.axes[[0, 1]] as f64 - a.sin()).abs() < 1e-6);
    let t: Vec<f32> = got.coords.column(0).to_vec();
    for (r, &t) in t.iter().enumerate() {
        assert!((t - (r as f32 - 2.0)).abs() < 1e-6, "{t}");
    }
}

#[test]
fn explained_variance_sums_to_one() {
    let x = data(300, &[2.0, 1.0, 1.0, 0.5, 0.3, 0.3, 0.1], 3);
    let spectrum = variance_spectrum(x.view()).unwrap();
    assert_eq!(spectrum.len(), 7);
    assert!((spectrum.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(spectrum.windows(2).all(|w| w[0] >= w[1]));
    let map = pca(x.view()).unwrap();
    assert!((map.explained[0] - spectrum[0]).abs() < 1e-12);
    assert!((map.explained[1] - spectrum[1]).abs() < 1e-12);
    // With two columns the map explains everything.
    let two = data(300, &[2.0, 0.7], 4);
    let map = pca(two.view()).unwrap();
    assert!((map.explained[0] + map.explained[1] - 1.0).abs() < 1e-12);
}

#[test]
fn alignment_flips_an_axis_only_when_it_points_the_other_way() {
    let x = data(200, &[3.0, 1.0, 0.5], 5);
    let map = pca(x.view()).unwrap();
    // The same axes: nothing flips.
    let mut same = map.clone();
    assert_eq!(same.align_to(map.axes.view()), Ok([false, false]));
    assert_eq!(same, map);
    // The second axis reversed (and slightly perturbed): only it flips back.
    let mut previous = map.axes.clone();
    previous.row_mut(1).mapv_inplace(|v| -v + 0.01);
    let mut flipped = map.clone();
    flipped.axes.row_mut(1).mapv_inplace(|v| -v);
    flipped.coords.column_mut(1).mapv_inplace(|v| -v);
    assert_eq!(flipped.clone().align_to(map.axes.view()), Ok([false, true]));
    let mut aligned = map.clone();
    assert_eq!(aligned.align_to(previous.view()), Ok([false, true]));
    assert_eq!(aligned, flipped);
    // On a map made by hand: an orthogonal previous axis (dot product 0) is no
    // reason to flip; a slightly opposed one is.
    let mut hand = Pca {
        coords: arr2(&[[1.0, 2.0], [-3.0, 4.0]]),
        axes: arr2(&[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
        explained: [0.6, 0.3],
    };
    let previous = arr2(&[[0.0, 1.0, 0.0], [0.5, -0.01, 0.0]]);
    assert_eq!(hand.align_to(previous.view()), Ok([false, true]));
    assert_eq!(hand.axes, arr2(&[[1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]));
    assert_eq!(hand.coords, arr2(&[[1.0, -2.0], [-3.0, -4.0]]));
    let mut kept = map.clone();
    // Wrong width is an error.
    assert!(
        kept.align_to(arr2(&[[1.0f32, 0.0], [0.0, 1.0]]).view())
            .is_err()
    );
}

#[test]
fn maps_do_not_depend_on_the_thread_count() {
    // Several blocks, and products big enough to be split between threads.
    let x = data(2100, &[2.0, 1.5, 1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1], 6);
    let wide = Array2::from_shape_fn((2100, 160), |(r, c)| {
        x[[r, c % 10]] * (1.0 + c as f32 / 50.0)
    });
    let map_with = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool");
        pool.install(|| pca(wide.view()).unwrap())
    };
    assert_eq!(map_with(1), map_with(3));
}

#[test]
fn input_without_spread_has_a_defined_map() {
    let same = Array2::from_elem((40, 6), 0.7f32);
    for x in [
        same.view(),
        same.slice(s![..1, ..]),
        same.slice(s![..0, ..]),
    ] {
        let map = pca(x).unwrap();
        assert_eq!(map.coords, Array2::<f32>::zeros((x.nrows(), 2)));
        assert_eq!(map.axes, coordinate_axes(6));
        assert_eq!(map.explained, [0.0, 0.0]);
        assert_eq!(variance_spectrum(x).unwrap(), vec![0.0; 6]);
    }
    // Spread along a single direction: the second axis explains nothing.
    let line = Array2::from_shape_fn((30, 4), |(r, c)| if c == 2 { r as f32 } else { 1.0 });
    let map = pca(line.view()).unwrap();
    assert!((map.explained[0] - 1.0).abs() < 1e-12 && map.explained[1] == 0.0);
    assert!(map.coords.iter().all(|v| v.is_finite()));
    assert_eq!(map.axes.row(0).to_vec(), vec![0.0, 0.0, 1.0, 0.0]);
}

#[test]
fn bad_input_is_refused() {
    let narrow = Array2::<f32>::zeros((10, 1));
    assert_eq!(pca(narrow.view()), Err(PcaError::TooFewColumns(1)));
    let mut x = data(20, &[1.0, 2.0, 3.0], 7);
    x[[13, 2]] = f32::NAN;
    assert_eq!(pca(x.view()), Err(PcaError::NonFinite { row: 13 }));
    assert!(variance_spectrum(x.view()).is_err());
    x[[13, 2]] = 0.0;
    x[[4, 0]] = f32::NEG_INFINITY;
    assert_eq!(pca(x.view()), Err(PcaError::NonFinite { row: 4 }));
}
