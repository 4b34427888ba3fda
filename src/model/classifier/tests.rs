//! The classifier's gradients against central finite differences (in f64 on the loss),
//! and its predictions against the training pass.

use ndarray::Array2;

use super::*;
use crate::model::grad::rows_of;

const SMALL: Arch = Arch::two(12, 7, 4);
/// One and three encoder layers under the softmax.
fn shallow() -> Arch {
    Arch::new(12, Widths::new(&[5]).unwrap())
}
fn deep() -> Arch {
    Arch::new(12, Widths::new(&[8, 6, 4]).unwrap())
}
const CLASSES: usize = 3;
const ROWS: usize = 9;
const L2: f32 = 0.05;

fn batch(seed: u32) -> Array2<f32> {
    Array2::from_shape_fn((ROWS, 12), |(i, j)| {
        let h = (i as u32 * 7919 + j as u32 * 104_729 + seed * 31).wrapping_mul(2_654_435_761);
        (h >> 8) as f32 / 16_777_216.0
    })
}

fn classifier() -> Classifier {
    classifier_of(SMALL)
}

fn classifier_of(arch: Arch) -> Classifier {
    let mut p = Classifier::he_init(arch, CLASSES, 5);
    // Non-zero biases so that every path of the ELU is exercised.
    for (k, b) in p.b.iter_mut().enumerate() {
        b.iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x = 0.3 * ((i + k) as f32).sin());
    }
    p
}

fn workspace(p: &Classifier) -> ClassifierWorkspace {
    let mut ws = ClassifierWorkspace::new(p, ROWS);
    ws.labels = (0..ROWS).map(|i| (i * 2 % CLASSES) as u8).collect();
    ws
}

fn total_loss(p: &Classifier, x: &Array2<f32>, ws: &mut ClassifierWorkspace) -> f64 {
    classifier_forward(p, &rows_of(x), Trains::Head, ws) as f64 + l2_penalty(p, L2)
}

#[test]
fn gradients_of_every_layer_match_finite_differences() {
    gradients_match(SMALL, 12 * 7 + 7 + 7 * 4 + 4 + 4 * 3 + 3);
}

#[test]
fn gradients_match_for_one_and_three_encoder_layers() {
    gradients_match(shallow(), 12 * 5 + 5 + 5 * 3 + 3);
    gradients_match(deep(), 12 * 8 + 8 + 8 * 6 + 6 + 6 * 4 + 4 + 4 * 3 + 3);
}

fn gradients_match(arch: Arch, parameters: usize) {
    let x = batch(1);
    let mut p = classifier_of(arch);
    let mut ws = workspace(&p);
    classifier_gradients(&p, &rows_of(&x), Trains::All, &mut ws);
    let all = ws.grads.clone();
    // Training the head alone gives the head the same gradient.
    classifier_gradients(&p, &rows_of(&x), Trains::Head, &mut ws);
    assert_eq!(ws.grads.head(), all.head());
    assert_eq!(
        Trains::Head.tensors(p.depth()).to_vec(),
        [2 * p.depth(), 2 * p.depth() + 1]
    );
    // The loss (about 1) carries ~5e-5 of f32 rounding into a central difference:
    // gradients below FLOOR are compared in absolute terms.
    const FLOOR: f64 = 1e-2;
    let (mut worst, mut checked, mut big) = (0f64, 0, 0);
    for t in Trains::All.tensors(p.depth()).iter().copied() {
        let len = p.slices().nth(t).map_or(0, |s| s.len());
        for i in 0..len {
            let w = p.slices().nth(t).map_or(0.0, |s| s[i]);
            let l2 = if Classifier::is_weight(t) {
                L2 * w
            } else {
                0.0
            };
            let analytic = all.slices().nth(t).map_or(0.0, |s| s[i]) as f64 + l2 as f64;
            let h = 1e-2f32 * w.abs().max(0.1);
            let mut at = |v: f32, p: &mut Classifier| {
                if let Some(s) = p.slices_mut().nth(t) {
                    s[i] = v;
                }
                total_loss(p, &x, &mut ws)
            };
            let (up, down) = (at(w + h, &mut p), at(w - h, &mut p));
            at(w, &mut p);
            let numeric = (up - down) / (2.0 * h as f64);
            let rel = (analytic - numeric).abs() / (analytic.abs() + numeric.abs()).max(FLOOR);
            worst = worst.max(rel);
            big += (analytic.abs() > FLOOR) as usize;
            checked += 1;
        }
    }
    assert_eq!(checked, parameters);
    assert!(
        big > checked / 4,
        "only {big} of {checked} gradients above {FLOOR}"
    );
    assert!(worst < 1e-2, "worst relative error {worst}");
}

#[test]
fn the_loss_is_the_mean_cross_entropy_of_the_softmax() {
    for arch in [SMALL, shallow(), deep()] {
        loss_is_the_cross_entropy(arch);
    }
}

fn loss_is_the_cross_entropy(arch: Arch) {
    let x = batch(2);
    let p = classifier_of(arch);
    let mut ws = workspace(&p);
    let loss = classifier_forward(&p, &rows_of(&x), Trains::All, &mut ws) as f64;
    // Directly, row by row in f64.
    let mut sum = 0.0;
    for r in 0..ROWS {
        let layer = |a: Vec<f64>, w: &Array2<f32>, b: &ndarray::Array1<f32>, elu: bool| {
            (0..w.ncols())
                .map(|j| {
                    let z =
                        (0..a.len()).map(|k| a[k] * w[[k, j]] as f64).sum::<f64>() + b[j] as f64;
                    if elu && z < 0.0 { z.exp() - 1.0 } else { z }
                })
                .collect::<Vec<f64>>()
        };
        let mut h: Vec<f64> = x.row(r).iter().map(|&v| v as f64).collect();
        for j in 0..p.depth() {
            h = layer(h, &p.w[j], &p.b[j], true);
        }
        let (w, b) = p.head();
        let y = layer(h, w, b, false);
        let lse = y.iter().map(|v| v.exp()).sum::<f64>().ln();
        sum += lse - y[ws.labels[r] as usize];
    }
    let want = sum / ROWS as f64;
    assert!((loss - want).abs() < 1e-5, "{loss} vs {want}");
}

#[test]
fn predictions_agree_with_the_batch_accuracy_and_fill_the_confusion() {
    let x = batch(3);
    for arch in [shallow(), deep()] {
        let p = classifier_of(arch);
        let mut ws = workspace(&p);
        ws.x().assign(&x);
        let acc = batch_accuracy(&p, &mut ws);
        let predicted = Predictor::new(&p, 16).predict(&p, x.view()).to_vec();
        let right = predicted.iter().zip(&ws.labels).filter(|(a, b)| a == b);
        assert_eq!(right.count() as f64 / ROWS as f64, acc, "{arch}");
    }
    let p = classifier();
    let mut ws = workspace(&p);
    ws.x().assign(&x);
    let acc = batch_accuracy(&p, &mut ws);
    let mut pred = Predictor::new(&p, 16);
    let predicted = pred.predict(&p, x.view()).to_vec();
    let mut c = Confusion::new(CLASSES);
    c.add(&ws.labels, &predicted);
    assert_eq!(c.total(), ROWS as u64);
    assert_eq!(c.accuracy(), acc);
    let mut twice = c.clone();
    twice.merge(&c);
    assert_eq!((twice.total(), twice.correct()), (18, 2 * c.correct()));
    c.add(&[7], &[0]);
    assert_eq!(
        c.total(),
        ROWS as u64,
        "a label outside the classes is skipped"
    );
}

#[test]
fn the_encoder_comes_from_the_stack_and_the_head_from_the_seed() {
    let stack = Params::he_init(SMALL, 1);
    let mut c = Classifier::he_init(SMALL, CLASSES, 2);
    let head = c.w[2].clone();
    assert!(!c.has_encoder_of(&stack));
    c.take_encoder(&stack);
    assert!(c.has_encoder_of(&stack));
    assert_eq!(c.w[2], head);
    assert_eq!(c, {
        let mut d = Classifier::he_init(SMALL, CLASSES, 2);
        d.take_encoder(&stack);
        d
    });
    assert_ne!(Classifier::he_init(SMALL, CLASSES, 3).w[2], head);
    assert_eq!(format!("{c:?}"), "Classifier(12-7-4-3)");
    // Three encoder layers: all of them from the stack, and only from one that deep.
    let stack = Params::he_init(deep(), 1);
    let mut c = Classifier::he_init(deep(), CLASSES, 2);
    c.take_encoder(&stack);
    assert!(c.has_encoder_of(&stack));
    assert!(!c.has_encoder_of(&Params::he_init(SMALL, 1)));
    assert_eq!(c.arch(), deep());
    assert_eq!(format!("{c:?}"), "Classifier(12-8-6-4-3)");
}
