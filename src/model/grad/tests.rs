//! Analytic gradients against central finite differences, in f64 arithmetic on the
//! loss (the network itself runs in f32, so the step is chosen accordingly), for
//! stacks of one, two and three autoencoders.

use super::*;
use crate::model::{Inference, Widths};

const L2: f32 = 0.05;

fn arch(widths: &[usize]) -> Arch {
    Arch::new(12, Widths::new(widths).unwrap())
}

fn batch(rows: usize, cols: usize, seed: u32) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        let h = (i as u32 * 7919 + j as u32 * 104_729 + seed * 31).wrapping_mul(2_654_435_761);
        (h >> 8) as f32 / 16_777_216.0
    })
}

fn params(arch: Arch) -> Params {
    let mut p = Params::he_init(arch, 5);
    // Non-zero biases so that every path of the ELU is exercised.
    for (k, b) in p.b.iter_mut().enumerate() {
        b.iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x = 0.3 * ((i + k) as f32).sin());
    }
    p
}

/// h(`level`) of `x` through `p`'s encoder (the input itself for level 0).
fn level(p: &Params, x: &Array2<f32>, level: usize) -> Array2<f32> {
    if level == 0 {
        return x.clone();
    }
    let mut inf = Inference::new(p.arch(), x.nrows());
    inf.encode_to(p, x.view(), level);
    inf.act[level].clone()
}

fn total_loss(p: &Params, phase: Phase, x: &Array2<f32>, ws: &mut Workspace) -> f64 {
    let data = match phase {
        Phase::Layer(k) => {
            let k = k as usize;
            ws.act[k - 1].assign(&level(p, x, k - 1));
            stage_loss(p, k, ws)
        }
        Phase::FineTune | Phase::EndToEnd => {
            ws.x().assign(x);
            stack_loss(p, ws)
        }
    };
    data as f64 + l2_penalty(p, phase, L2)
}

/// Every gradient of `phase`'s tensors against a central difference; gradients below
/// `floor` are compared in absolute terms (their differences drown in f32 rounding).
fn check(widths: &[usize], phase: Phase, floor: f64) {
    check_arch(arch(widths), phase, floor);
}

fn check_arch(arch: Arch, phase: Phase, floor: f64) {
    let widths = arch.widths;
    let x = batch(9, arch.inputs, 1);
    let mut p = params(arch);
    let mut ws = Workspace::new(arch, 9);
    let pixels = rows_of(&x);
    match phase {
        Phase::Layer(k) => {
            let k = k as usize;
            stage_gradients(&p, k, StageInput::Pixels(&pixels), &mut ws);
            // From h(k-1) itself (the cache's way), the same gradients.
            let from_pixels = ws.grads.clone();
            let h = level(&p, &x, k - 1);
            stage_gradients(&p, k, StageInput::Level(&rows_of(&h)), &mut ws);
            let trained = phase.tensors(arch.depth());
            for &t in trained.iter() {
                assert_eq!(ws.grads.tensor(t), from_pixels.tensor(t), "tensor {t}");
            }
        }
        Phase::FineTune | Phase::EndToEnd => {
            stack_gradients(&p, &pixels, &mut ws);
        }
    }
    let grads = ws.grads.clone();
    // A linear network's loss is quadratic in each parameter, so a central difference
    // is exact at any step, and a long one keeps f32 rounding of its larger loss small.
    let step = if arch.act.hidden == crate::model::Activation::Linear {
        1e-1f32
    } else {
        1e-2
    };
    // A central difference whose step carries a ReLU unit across its kink is off by
    // construction (seen: 0.2200 analytic, 0.2167 numeric), and smaller steps drown in
    // the f32 rounding of the loss; a one-sided difference on the kink-free side is
    // exact there, so for ReLU the best of the three is taken.
    let relu = arch.act.hidden == crate::model::Activation::Relu;
    let mut worst = 0f64;
    let mut checked = 0;
    let mut big = 0;
    for &t in phase.tensors(arch.depth()).iter() {
        let weight = crate::model::params::is_weight(t);
        if weight && arch.tied_to(t / 2).is_some() {
            // The same parameters as its encoder's, checked there.
            continue;
        }
        // A tied encoder matrix's element and its transposed twin in the decoder move
        // together: they are one parameter.
        let twin = (0..arch.layers())
            .find(|&j| weight && arch.tied_to(j) == Some(t / 2))
            .map(|j| (2 * j, p.w[t / 2].dim()));
        let n = p.tensor(t).len();
        for i in 0..n {
            let w = p.tensor(t)[i];
            let set = |p: &mut Params, v: f32| {
                p.tensor_mut(t)[i] = v;
                if let Some((d, (_, cols))) = twin {
                    let rows = p.w[d / 2].ncols();
                    p.tensor_mut(d)[(i % cols) * rows + i / cols] = v;
                }
            };
            let analytic = grads.tensor(t)[i] as f64
                + if crate::model::params::is_weight(t) {
                    L2 as f64 * w as f64
                } else {
                    0.0
                };
            let h = step * w.abs().max(0.1);
            set(&mut p, w + h);
            let up = total_loss(&p, phase, &x, &mut ws);
            set(&mut p, w - h);
            let down = total_loss(&p, phase, &x, &mut ws);
            set(&mut p, w);
            let h = h as f64;
            let mut numerics = vec![(up - down) / (2.0 * h)];
            if relu {
                let at = total_loss(&p, phase, &x, &mut ws);
                numerics.extend([(up - at) / h, (at - down) / h]);
            }
            let rel = numerics
                .iter()
                .map(|n| (analytic - n).abs() / (analytic.abs() + n.abs()).max(floor))
                .fold(f64::INFINITY, f64::min);
            worst = worst.max(rel);
            big += (analytic.abs() > floor) as usize;
            checked += 1;
        }
    }
    assert!(
        checked > 30 && big > checked / 4,
        "{checked} checked, {big} above {floor}"
    );
    assert!(
        worst < 1e-2,
        "{widths:?} {:?} {phase:?}: worst relative error {worst}",
        arch.act
    );
}

#[test]
fn one_autoencoder_gradients_match_finite_differences() {
    check(&[5], Phase::ONE, 1e-3);
    check(&[5], Phase::FineTune, 1e-3);
}

#[test]
fn phase1_gradients_match_finite_differences() {
    check(&[7, 4], Phase::ONE, 1e-3);
}

#[test]
fn phase2_gradients_match_finite_differences() {
    check(&[7, 4], Phase::TWO, 1e-3);
}

#[test]
fn full_stack_gradients_of_all_eight_tensors_match_finite_differences() {
    // Four layers of f32 rounding put ~5e-5 of noise on a central difference here.
    check(&[7, 4], Phase::EndToEnd, 1e-2);
}

#[test]
fn three_autoencoders_gradients_match_finite_differences_in_every_phase() {
    for k in 1..=3 {
        check(&[8, 6, 4], Phase::Layer(k), 1e-3);
    }
    // Six layers of f32 rounding.
    check(&[8, 6, 4], Phase::FineTune, 1e-2);
}

#[test]
fn every_activation_and_a_linear_code_have_exact_gradients() {
    use crate::model::{Activation, Activations};
    for hidden in Activation::ALL {
        for linear_code in [false, true] {
            let a = arch(&[8, 6, 4]).with_act(Activations {
                hidden,
                linear_code,
                ..Activations::RECIPE
            });
            for phase in [Phase::ONE, Phase::Layer(3)] {
                check_arch(a, phase, 1e-3);
            }
            // Six layers of f32 rounding; a linear code passes larger values on.
            check_arch(a, Phase::FineTune, 3e-2);
        }
    }
}

#[test]
fn tied_weights_have_exact_gradients_in_every_phase_and_stay_transposed() {
    let a = arch(&[8, 6, 4]).with_tied(true);
    assert!(params(a).ties_hold());
    // A tied element moves two layers at once: twice the f32 rounding of the loss
    // (seen: 1.3e-5 on a gradient of 1.7e-4 at 1e-3).
    for k in 1..=3 {
        check_arch(a, Phase::Layer(k), 2e-3);
    }
    check_arch(a, Phase::FineTune, 1e-2);
    // One tied sigmoid stage, as in the chapter's tied notebook but for the activation.
    let one = arch(&[5])
        .with_tied(true)
        .with_act(crate::model::Activations {
            hidden: crate::model::Activation::Sigmoid,
            linear_code: false,
            ..crate::model::Activations::RECIPE
        });
    check_arch(one, Phase::ONE, 1e-3);
    // Both copies' gradients are the same bits, so any element-wise update keeps them so.
    let p = params(a);
    let mut ws = Workspace::new(a, 9);
    let x = batch(9, a.inputs, 4);
    stack_gradients(&p, &rows_of(&x), &mut ws);
    assert!(ws.grads.ties_hold());
    // L2 counts the shared matrix once.
    let untied = Params {
        tied: false,
        ..p.clone()
    };
    let once: f64 = (0..3).map(|j| l2_penalty_of(&p, j)).sum();
    assert_eq!(l2_penalty(&p, Phase::FineTune, 2.0), once);
    assert!(l2_penalty(&untied, Phase::FineTune, 2.0) > once);
}

fn l2_penalty_of(p: &Params, j: usize) -> f64 {
    p.w[j].iter().map(|&w| w as f64 * w as f64).sum::<f64>()
}

#[test]
fn the_full_stack_loss_is_the_test_mse_of_the_batch() {
    for widths in [&[7, 4][..], &[8, 6, 4], &[5]] {
        let arch = arch(widths);
        let x = batch(9, arch.inputs, 3);
        let p = params(arch);
        let mut ws = Workspace::new(arch, 9);
        let loss = stack_gradients(&p, &rows_of(&x), &mut ws);
        ws.x().assign(&x);
        assert_eq!(loss, stack_loss(&p, &mut ws));
        let mut inf = crate::model::Inference::new(arch, 9);
        inf.run(&p, x.view(), false);
        let direct = crate::model::kernels::mse(flat(inf.out().view()), flat(x.view()));
        assert_eq!(loss, (direct / x.len() as f64) as f32);
    }
}

#[test]
fn each_phase_loss_is_its_autoencoders_own_test_error() {
    // Phase k's batch loss is autoencoder k's reconstruction of h(k-1), as the
    // inference's `own` (and `outer` for k = 1) computes it for the test set.
    let arch = arch(&[8, 6, 4]);
    let x = batch(9, arch.inputs, 4);
    let p = params(arch);
    let mut inf = Inference::new(arch, 9);
    inf.run(&p, x.view(), true);
    let mut ws = Workspace::new(arch, 9);
    for k in 1..=3usize {
        let loss = stage_forward(&p, k, StageInput::Pixels(&rows_of(&x)), &mut ws);
        let (own, target) = match k {
            1 => (inf.outer().clone(), x.clone()),
            k => (inf.own[k - 2].clone(), inf.act[k - 1].clone()),
        };
        let direct = crate::model::kernels::mse(flat(own.view()), flat(target.view()));
        assert_eq!(loss, (direct / target.len() as f64) as f32, "phase {k}");
    }
}

/// The worst relative error of `grads` (data gradients, no L2) against central
/// differences of `loss` in every element of `phase`'s tensors of `p`; differences
/// below `floor` are compared in absolute terms.
fn worst_error(
    p: &mut Params,
    phase: Phase,
    grads: &Params,
    floor: f64,
    loss: &mut dyn FnMut(&Params) -> f64,
) -> f64 {
    let mut worst = 0f64;
    for &t in phase.tensors(p.depth()).iter() {
        for i in 0..p.tensor(t).len() {
            let w = p.tensor(t)[i];
            let h = 1e-2 * w.abs().max(0.1);
            p.tensor_mut(t)[i] = w + h;
            let up = loss(p);
            p.tensor_mut(t)[i] = w - h;
            let down = loss(p);
            p.tensor_mut(t)[i] = w;
            let numeric = (up - down) / (2.0 * h as f64);
            let analytic = grads.tensor(t)[i] as f64;
            let rel = (analytic - numeric).abs() / (analytic.abs() + numeric.abs()).max(floor);
            worst = worst.max(rel);
        }
    }
    worst
}

#[test]
fn a_denoising_phase_has_exact_gradients_and_never_corrupts_its_target() {
    use crate::model::Noise;
    let a = arch(&[8, 6, 4]);
    let x = batch(9, a.inputs, 6);
    let pixels = rows_of(&x);
    for noise in [
        Noise::Gaussian { sd: 0.5 },
        Noise::Mask { fraction: 0.3 },
        Noise::Dropout { rate: 0.3 },
    ] {
        for k in 1..=3 {
            let mut p = params(a);
            let mut ws = Workspace::new(a, 9);
            ws.noise = Some((noise, 77));
            stage_gradients(&p, k, StageInput::Pixels(&pixels), &mut ws);
            let clean = level(&p, &x, k - 1);
            assert_eq!(ws.act[k - 1], clean, "{noise} phase {k}: the target");
            assert_ne!(ws.noisy(), clean.view(), "{noise} phase {k}: the input");
            let grads = ws.grads.clone();
            // From h(k-1) itself (the cache), on 1 thread or 3: the same bits.
            let h = rows_of(&clean);
            for threads in [1, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                pool.install(|| stage_gradients(&p, k, StageInput::Level(&h), &mut ws));
                for &t in Phase::Layer(k as u8).tensors(3).iter() {
                    assert_eq!(ws.grads.tensor(t), grads.tensor(t), "{noise} {k} {threads}");
                }
            }
            // The loss has no L2 term here: gradients of 1e-5 vanish in its f32 rounding.
            let phase = Phase::Layer(k as u8);
            let worst = worst_error(&mut p, phase, &grads, 2e-3, &mut |p| {
                stage_forward(p, k, StageInput::Pixels(&pixels), &mut ws) as f64
            });
            assert!(
                worst < 1e-2,
                "{noise} phase {k}: worst relative error {worst}"
            );
        }
    }
}

#[test]
fn a_sparsity_penalty_on_the_code_has_exact_gradients() {
    use crate::model::{Activation, Activations, Sparsity};
    let sigmoid = Activations {
        hidden: Activation::Sigmoid,
        linear_code: false,
        ..Activations::RECIPE
    };
    let x = batch(9, 12, 8);
    let pixels = rows_of(&x);
    for (act, s) in [
        (
            sigmoid,
            Sparsity::Kl {
                target: 0.1,
                weight: 0.2,
            },
        ),
        (Activations::RECIPE, Sparsity::L1 { weight: 0.05 }),
    ] {
        let a = arch(&[8, 6, 4]).with_act(act);
        for k in 1..=3 {
            let mut p = params(a);
            let mut ws = Workspace::new(a, 9);
            ws.sparsity = s;
            stage_gradients(&p, k, StageInput::Pixels(&pixels), &mut ws);
            let grads = ws.grads.clone();
            let mut plain = Workspace::new(a, 9);
            stage_gradients(&p, k, StageInput::Pixels(&pixels), &mut plain);
            let enc = 2 * (k - 1);
            assert_ne!(grads.tensor(enc), plain.grads.tensor(enc), "{s}: no effect");
            let phase = Phase::Layer(k as u8);
            let worst = worst_error(&mut p, phase, &grads, 2e-3, &mut |p| {
                let data = stage_forward(p, k, StageInput::Pixels(&pixels), &mut ws);
                data as f64 + s.penalty(ws.act[k].view())
            });
            assert!(worst < 1e-2, "{s} phase {k}: worst relative error {worst}");
        }
    }
}

#[test]
fn binary_cross_entropy_through_a_sigmoid_output_has_exact_gradients() {
    use crate::model::{Activation, Activations};
    let a = arch(&[8, 6, 4]).with_act(Activations {
        hidden: Activation::Sigmoid,
        sigmoid_output: true,
        ..Activations::RECIPE
    });
    let x = batch(9, a.inputs, 9);
    let pixels = rows_of(&x);
    let mut p = params(a);
    let mut ws = Workspace::new(a, 9);
    for phase in [1, 2, 3]
        .map(Phase::Layer)
        .into_iter()
        .chain([Phase::FineTune])
    {
        // The loss in f64, from the rows' sums: its f32 rounding would be 1% of the
        // smallest gradients here.
        let forward = |p: &Params, ws: &mut Workspace| {
            let width = match phase {
                Phase::Layer(k) => {
                    stage_forward(p, k as usize, StageInput::Pixels(&pixels), ws);
                    a.level(k as usize - 1)
                }
                _ => {
                    stack_forward(p, &pixels, ws);
                    a.inputs
                }
            };
            ws.row_loss.iter().sum::<f64>() / (9 * width) as f64
        };
        let bce = forward(&p, &mut ws);
        // The loss is the mean binary cross-entropy of the sigmoid output.
        let out = ws.act[match phase {
            Phase::Layer(k) => 6 - k as usize + 1,
            _ => 6,
        }]
        .clone();
        let target = match phase {
            Phase::Layer(k) => level(&p, &x, k as usize - 1),
            _ => x.clone(),
        };
        assert!(out.iter().all(|&y| y > 0.0 && y < 1.0));
        let by_hand = out
            .iter()
            .zip(target.iter())
            .map(|(&y, &t)| {
                -(t as f64 * (y as f64).ln() + (1.0 - t as f64) * (1.0 - y as f64).ln())
            })
            .sum::<f64>()
            / out.len() as f64;
        assert!(
            (bce - by_hand).abs() < 1e-6 * by_hand,
            "{phase:?}: {bce} {by_hand}"
        );
        phase_backward(phase, &mut ws);
        let grads = ws.grads.clone();
        let worst = worst_error(&mut p, phase, &grads, 2e-3, &mut |p| forward(p, &mut ws));
        assert!(worst < 1e-2, "{phase:?}: worst relative error {worst}");
    }
}
