//! TF-1 Adam against its formula: L2, the shared counter, undo, restart.

use super::*;
use crate::model::Arch;

const TINY: Arch = Arch::two(3, 2, 1);

#[test]
fn matches_the_tf1_formula_with_l2_and_a_shared_counter() {
    let cfg = AdamConfig::default();
    let mut adam = Adam::new(cfg, TINY);
    let mut p = Params::he_init(TINY, 1);
    let w0 = p.w[0][[1, 1]];
    let g0 = 0.3f32;
    let l2 = 1e-4f32;
    let mut g = Params::zeros(TINY);
    g.w[0][[1, 1]] = g0;
    adam.update(Phase::ONE, l2, &mut p, &mut g).unwrap();
    // t = 1
    let grad = g0 + l2 * w0;
    let m = 0.1 * grad;
    let v = 0.001 * grad * grad;
    let lr_t = 0.01 * (1.0f32 - 0.999).sqrt() / (1.0 - 0.9);
    let want = w0 - lr_t * m / (v.sqrt() + 1e-8);
    assert!(
        (p.w[0][[1, 1]] - want).abs() < 1e-7,
        "{} {}",
        p.w[0][[1, 1]],
        want
    );
    // Phase 2 tensors were not touched, but the counter is shared.
    assert_eq!(p.w[1], Params::he_init(TINY, 1).w[1]);
    assert_eq!(adam.steps(), 1);
    let lr_t2 = 0.01 * (1.0f32 - 0.999 * 0.999).sqrt() / (1.0 - 0.9 * 0.9);
    assert!((adam.lr_t() - lr_t2).abs() < 1e-7);
    // Biases get no L2: a zero gradient on a bias leaves it where it is.
    assert_eq!(p.b[0], Params::zeros(TINY).b[0]);
}

#[test]
fn non_finite_update_restores_everything() {
    let mut adam = Adam::new(AdamConfig::default(), TINY);
    let mut p = Params::he_init(TINY, 2);
    let before = p.clone();
    let mut g = Params::zeros(TINY);
    g.w[3][[0, 0]] = f32::NAN;
    g.w[0][[0, 0]] = 1.0;
    assert_eq!(adam.update(Phase::ONE, 0.0, &mut p, &mut g), Err(NonFinite));
    assert_eq!(p, before);
    assert_eq!(adam.steps(), 0);
}

/// TF-1's update written out in f64: `steps` updates of one weight `w` with data
/// gradient `g` each time, L2 added to the gradient before the moments.
fn reference(mut w: f64, g: f64, l2: f64, steps: i32) -> f64 {
    let (mut m, mut v) = (0.0, 0.0);
    for t in 1..=steps {
        let grad = g + l2 * w;
        m = 0.9 * m + 0.1 * grad;
        v = 0.999 * v + 0.001 * grad * grad;
        let lr_t = 0.01 * (1.0 - 0.999f64.powi(t)).sqrt() / (1.0 - 0.9f64.powi(t));
        w -= lr_t * m / (v.sqrt() + 1e-8);
    }
    w
}

#[test]
fn l2_is_added_to_the_weights_gradient_before_the_moments_and_never_to_biases() {
    let mut adam = Adam::new(AdamConfig::default(), TINY);
    let mut p = Params::zeros(TINY);
    // L2's pull (l2 * w = 0.4) outweighs the data gradient, of the other sign: Adam's
    // normalised step then goes one way with L2 and the other without.
    let (w0, g0, l2) = (0.8f32, -0.3f32, 0.5f32);
    p.w[0][[0, 0]] = w0;
    p.w[0][[1, 1]] = w0; // a zero data gradient: only L2 can move it
    p.b[0][0] = w0; // a bias: nothing may move it
    for _ in 0..3 {
        let mut g = Params::zeros(TINY);
        g.w[0][[0, 0]] = g0;
        adam.update(Phase::ONE, l2, &mut p, &mut g).unwrap();
    }
    let want = reference(w0 as f64, g0 as f64, l2 as f64, 3);
    assert!(
        (p.w[0][[0, 0]] as f64 - want).abs() < 1e-6,
        "{} vs {want}",
        p.w[0][[0, 0]]
    );
    // Had L2 been dropped, the weight would have moved by the data gradient alone;
    // had it been applied after the moments (decoupled decay), by another amount.
    let dropped = reference(w0 as f64, g0 as f64, 0.0, 3);
    let decoupled = dropped - 3.0 * 0.01 * 0.5 * 0.8;
    for wrong in [dropped, decoupled] {
        assert!(
            (want - wrong).abs() > 1e-3,
            "the test must tell {wrong} from {want}"
        );
    }
    let only_l2 = reference(w0 as f64, 0.0, l2 as f64, 3);
    assert!((p.w[0][[1, 1]] as f64 - only_l2).abs() < 1e-6);
    assert!(
        p.w[0][[1, 1]] < w0,
        "L2 pulls a weight with no data gradient towards 0"
    );
    assert_eq!(p.b[0][0], w0, "biases get no L2");
}

#[test]
fn the_counter_is_the_running_f32_product_to_the_last_bit() {
    // After phase 1's 1,464 updates, phase 2's first update is TF's t = 1,465:
    // beta^1465 as 1,465 f32 multiplications.
    let mut a = Adam::new(AdamConfig::default(), TINY);
    a.set_steps(1464);
    let (mut b1, mut b2) = (0.9f32, 0.999f32);
    for _ in 0..1464 {
        b1 *= 0.9;
        b2 *= 0.999;
    }
    let want = 0.01f32 * (1.0 - b2).sqrt() / (1.0 - b1);
    assert_eq!(a.lr_t().to_bits(), want.to_bits());
    let mut one_less = Adam::new(AdamConfig::default(), TINY);
    one_less.set_steps(1463);
    assert_ne!(one_less.lr_t(), a.lr_t(), "t = 1,464 and 1,465 must differ");
    // The same counter reached by updates.
    let mut b = Adam::new(AdamConfig::default(), TINY);
    let mut p = Params::zeros(TINY);
    for _ in 0..1464 {
        b.update(Phase::ONE, 0.0, &mut p, &mut Params::zeros(TINY))
            .unwrap();
    }
    assert_eq!(b.lr_t().to_bits(), a.lr_t().to_bits());
    assert_eq!(b.steps(), 1464);
    a.restart_counter();
    assert_eq!(a.steps(), 0);
    assert_eq!(a.lr_t(), Adam::new(AdamConfig::default(), TINY).lr_t());
}

#[test]
fn any_counter_is_set_in_bounded_time() {
    let mut a = Adam::new(AdamConfig::default(), TINY);
    let t = std::time::Instant::now();
    a.set_steps(u64::MAX);
    assert!(t.elapsed().as_millis() < 100);
    assert!(a.lr_t().is_finite() && (a.lr_t() - 0.01).abs() < 1e-6);
    a.set_steps(REPLAY_LIMIT + 1);
    assert!(a.lr_t().is_finite());
}

#[test]
fn a_restart_is_a_new_optimiser() {
    let mut a = Adam::new(AdamConfig::default(), TINY);
    let mut p = Params::he_init(TINY, 1);
    let mut g = Params::he_init(TINY, 2);
    a.update(Phase::ONE, 0.0, &mut p, &mut g).unwrap();
    let other = AdamConfig {
        learning_rate: 0.5,
        ..AdamConfig::default()
    };
    a.restart(other);
    let b = Adam::new(other, TINY);
    assert_eq!(a.state(), b.state());
    assert_eq!(a.lr_t().to_bits(), b.lr_t().to_bits());
}

#[test]
fn undo_takes_back_one_step_exactly() {
    let mut a = Adam::new(AdamConfig::default(), TINY);
    a.set_steps(10);
    let before = a.lr_t();
    let mut p = Params::he_init(TINY, 1);
    let mut g = Params::zeros(TINY);
    a.update(Phase::ONE, 0.0, &mut p, &mut g).unwrap();
    a.undo_last(Phase::ONE);
    assert_eq!(a.steps(), 10);
    assert_eq!(a.lr_t().to_bits(), before.to_bits());
}
