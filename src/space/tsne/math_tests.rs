//! The math under the layout, against direct computation: the affinities' perplexity,
//! symmetry and neighbours, and the Barnes-Hut gradient against the dense one.

use ndarray::Array2;

use super::affinities::{gaussian_row, nearest_neighbours};
use super::tests::{clusters, config};
use super::*;
use crate::space::nearest::nearest;

#[test]
fn each_row_of_p_has_the_wanted_perplexity() {
    let d2: Vec<f32> = (0..90)
        .map(|j| 3.0 + (j as f32 * 0.37).sin() * 2.0 + j as f32 * 0.1)
        .collect();
    for perplexity in [2.0, 10.0, 30.0] {
        let mut p = vec![0f64; 90];
        gaussian_row(&d2, perplexity, &mut p);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let entropy: f64 = -p
            .iter()
            .filter(|&&p| p > 0.0)
            .map(|&p| p * p.ln())
            .sum::<f64>();
        assert!(
            (entropy.exp() / perplexity - 1.0).abs() < 1e-4,
            "{perplexity}: {}",
            entropy.exp()
        );
    }
    // Every neighbour at the same distance: the row is uniform, not NaN.
    let mut p = vec![0f64; 4];
    gaussian_row(&[2.0; 4], 2.0, &mut p);
    assert_eq!(p, vec![0.25; 4]);
}

#[test]
fn p_is_symmetric_and_sums_to_one() {
    let (x, _) = clusters(3, 50, 8, 7);
    let plan = config(0, 0).check(150, false).expect("valid");
    let p = Affinities::new(x.view(), &plan, &AtomicBool::new(false))
        .expect("valid")
        .expect("not cancelled");
    assert_eq!(p.points(), 150);
    let mut dense = Array2::<f64>::zeros((150, 150));
    for i in 0..150 {
        let (cols, vals) = p.row(i);
        assert!(
            cols.len() >= plan.neighbours(),
            "row {i} has {} entries",
            cols.len()
        );
        assert!(
            cols.windows(2).all(|w| w[0] < w[1]),
            "columns sorted and distinct"
        );
        for (&j, &v) in cols.iter().zip(vals) {
            dense[[i, j as usize]] = v;
        }
    }
    assert_eq!(dense, dense.t());
    assert!((dense.sum() - 1.0).abs() < 1e-12);
    assert!(dense.diag().iter().all(|&v| v == 0.0));
}

#[test]
fn neighbours_are_the_exact_nearest() {
    let (x, _) = clusters(4, 60, 16, 8);
    let k = 20;
    let nb = nearest_neighbours(x.view(), k, &AtomicBool::new(false)).expect("not cancelled");
    for i in 0..x.nrows() {
        // The brute-force k + 1 nearest, the point itself first.
        let want = nearest(x.view(), x.row(i), k + 1).expect("same width");
        assert_eq!(want[0].index, i);
        for (m, w) in want[1..].iter().enumerate() {
            let got = nb.distance2[i * k + m] as f64;
            let want = w.distance * w.distance;
            assert!(
                (got - want).abs() < 1e-4 * want,
                "point {i}, neighbour {m}: {got} vs {want}"
            );
            let j = nb.index[i * k + m] as usize;
            let exact = crate::space::nearest::squared_distance(x.row(i), x.row(j));
            assert!((got - exact).abs() < 1e-4 * exact);
        }
    }
}

#[test]
fn barnes_hut_with_theta_zero_gives_the_exact_gradient() {
    let (x, _) = clusters(3, 30, 6, 9);
    let exact_config = TsneConfig {
        theta: 0.0,
        perplexity: 10.0,
        ..config(0, 4)
    };
    let plan = exact_config.check(90, false).expect("valid");
    let p = Affinities::new(x.view(), &plan, &AtomicBool::new(false))
        .expect("valid")
        .expect("not cancelled");
    // A spread-out layout, so that the gradient is not dominated by rounding.
    let init = Array2::from_shape_fn((90, 2), |(i, a)| {
        ((i * 7 + a * 3) % 11) as f32 + 0.1 * i as f32
    });
    let mut opt = Optimizer::new(p.clone(), &plan, Some(init.view())).expect("valid init");
    let got = opt.gradient();
    let want = dense_gradient(&p, opt.points());
    let scale = want.iter().map(|g| g[0].hypot(g[1])).fold(0f64, f64::max);
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (g[0] - w[0]).hypot(g[1] - w[1]) < 1e-10 * scale,
            "{g:?} vs {w:?}"
        );
    }
    // theta 0.5 approximates it.
    let approx_plan = TsneConfig {
        perplexity: 10.0,
        ..config(0, 4)
    }
    .check(90, false)
    .expect("valid");
    let mut approx = Optimizer::new(p, &approx_plan, Some(init.view())).expect("valid init");
    let err = approx
        .gradient()
        .iter()
        .zip(&want)
        .map(|(g, w)| (g[0] - w[0]).hypot(g[1] - w[1]))
        .fold(0f64, f64::max);
    assert!(err > 0.0 && err < 0.05 * scale, "{err} of {scale}");
}

/// `4 Σ_j (p_ij - q_ij) (yi - yj) / (1 + |yi - yj|²)`, over all pairs.
fn dense_gradient(p: &Affinities, y: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let n = y.len();
    let mut dense = Array2::<f64>::zeros((n, n));
    for i in 0..n {
        let (cols, vals) = p.row(i);
        for (&j, &v) in cols.iter().zip(vals) {
            dense[[i, j as usize]] = v;
        }
    }
    let w = Array2::from_shape_fn((n, n), |(i, j)| {
        let (dx, dy) = (y[i][0] - y[j][0], y[i][1] - y[j][1]);
        if i == j {
            0.0
        } else {
            1.0 / (1.0 + dx * dx + dy * dy)
        }
    });
    let z = w.sum();
    (0..n)
        .map(|i| {
            let mut g = [0f64; 2];
            for j in 0..n {
                let c = 4.0 * (dense[[i, j]] - w[[i, j]] / z) * w[[i, j]];
                g[0] += c * (y[i][0] - y[j][0]);
                g[1] += c * (y[i][1] - y[j][1]);
            }
            g
        })
        .collect()
}
