//! Analytic gradients against central finite differences, in f64 arithmetic on the
//! loss (the network itself runs in f32, so the step is chosen accordingly).

use super::*;
use crate::model::Phase;

const SMALL: Arch = Arch {
    inputs: 12,
    hidden1: 7,
    hidden2: 4,
};
const L2: f32 = 0.05;

fn batch(rows: usize, cols: usize, seed: u32) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        let h = (i as u32 * 7919 + j as u32 * 104_729 + seed * 31).wrapping_mul(2_654_435_761);
        (h >> 8) as f32 / 16_777_216.0
    })
}

fn params() -> Params {
    let mut p = Params::he_init(SMALL, 5);
    // Non-zero biases so that every path of the ELU is exercised.
    for (k, b) in [&mut p.b1, &mut p.b2, &mut p.b3, &mut p.b4]
        .into_iter()
        .enumerate()
    {
        b.iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x = 0.3 * ((i + k) as f32).sin());
    }
    p
}

fn total_loss(p: &Params, phase: Phase, x: &Array2<f32>, ws: &mut Workspace) -> f64 {
    let data = match phase {
        Phase::One => {
            ws.x.assign(x);
            phase1_loss(p, ws)
        }
        Phase::Two => {
            hidden1(p, x.view(), ws.h1.view_mut());
            phase2_loss(p, ws)
        }
        Phase::Three | Phase::EndToEnd => {
            ws.x.assign(x);
            stack_loss(p, ws)
        }
    };
    data as f64 + l2_penalty(p, phase, L2)
}

/// Every gradient of `phase`'s tensors against a central difference; gradients below
/// `floor` are compared in absolute terms (their differences drown in f32 rounding).
fn check(phase: Phase, floor: f64) {
    let x = batch(9, SMALL.inputs, 1);
    let mut p = params();
    let mut ws = Workspace::new(SMALL, 9);
    let pixels = rows_of(&x);
    match phase {
        Phase::One => {
            phase1_gradients(&p, &pixels, &mut ws);
        }
        Phase::Two => {
            phase2_gradients(&p, Phase2Input::Pixels(&pixels), &mut ws);
            // From hidden1 itself (the cache's way), the same gradients.
            let from_pixels = ws.grads.clone();
            let mut h1 = Array2::zeros((9, SMALL.hidden1));
            hidden1(&p, x.view(), h1.view_mut());
            phase2_gradients(&p, Phase2Input::Hidden1(&rows_of(&h1)), &mut ws);
            assert_eq!(ws.grads, from_pixels);
        }
        Phase::Three | Phase::EndToEnd => {
            stack_gradients(&p, &pixels, &mut ws);
        }
    }
    let grads = ws.grads.clone();
    let mut worst = 0f64;
    let mut checked = 0;
    let mut big = 0;
    for &t in phase.tensors() {
        let n = p.tensors()[t].len();
        for i in 0..n {
            let w = p.tensors()[t][i];
            let analytic = grads.tensors()[t][i] as f64
                + if crate::model::params::is_weight(t) {
                    L2 as f64 * w as f64
                } else {
                    0.0
                };
            let h = 1e-2f32 * w.abs().max(0.1);
            p.tensors_mut()[t][i] = w + h;
            let up = total_loss(&p, phase, &x, &mut ws);
            p.tensors_mut()[t][i] = w - h;
            let down = total_loss(&p, phase, &x, &mut ws);
            p.tensors_mut()[t][i] = w;
            let numeric = (up - down) / (2.0 * h as f64);
            let rel = (analytic - numeric).abs() / (analytic.abs() + numeric.abs()).max(floor);
            worst = worst.max(rel);
            big += (analytic.abs() > floor) as usize;
            checked += 1;
        }
    }
    assert!(
        checked > 50 && big > checked / 4,
        "{checked} checked, {big} above {floor}"
    );
    assert!(worst < 1e-2, "{phase:?}: worst relative error {worst}");
}

#[test]
fn phase1_gradients_match_finite_differences() {
    check(Phase::One, 1e-3);
}

#[test]
fn phase2_gradients_match_finite_differences() {
    check(Phase::Two, 1e-3);
}

#[test]
fn full_stack_gradients_of_all_eight_tensors_match_finite_differences() {
    // Four layers of f32 rounding put ~5e-5 of noise on a central difference here.
    check(Phase::EndToEnd, 1e-2);
}

#[test]
fn the_full_stack_loss_is_the_test_mse_of_the_batch() {
    let x = batch(9, SMALL.inputs, 3);
    let p = params();
    let mut ws = Workspace::new(SMALL, 9);
    let loss = stack_gradients(&p, &rows_of(&x), &mut ws);
    ws.x.assign(&x);
    assert_eq!(loss, stack_loss(&p, &mut ws));
    let mut inf = crate::model::Inference::new(SMALL, 9);
    inf.run(&p, x.view(), false);
    let direct = crate::model::kernels::mse(flat(inf.out.view()), flat(x.view()));
    assert_eq!(loss, (direct / x.len() as f64) as f32);
}
