//! Stacks of 1 to 5 autoencoders on the built-in MNIST: layer-wise phase k trains only
//! its own four tensors, a cached phase k ends with the bits of an uncached one, and
//! fine-tuning trains every tensor.
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

use layerwise::model::{Phase, Widths};
use layerwise::train::{Hyperparams, Trainer};

// Only `changed` and `steps` are used here; the rest serves the other engine tests.
#[allow(dead_code)]
#[path = "support/engine.rs"]
mod engine;
#[path = "support/mnist.rs"]
mod mnist;
use engine::changed;
use mnist::data;

const WIDTHS: [usize; 5] = [64, 48, 32, 24, 16];
/// Steps per phase: enough to move every trained tensor, a fraction of an epoch.
const STEPS: usize = 12;

fn hp(depth: usize) -> Hyperparams {
    Hyperparams {
        layers: Widths::new(&WIDTHS[..depth]).unwrap(),
        batch_size: 500,
        ..Hyperparams::default()
    }
}

fn steps(t: &mut Trainer, phase: Phase, cache: bool) {
    engine::steps(t, phase, cache, STEPS);
}

#[test]
fn phase_k_changes_only_its_own_tensors_at_every_depth() {
    for depth in 1..=5 {
        let mut t = Trainer::new(data(), hp(depth)).unwrap();
        let names = t.params().arch().tensor_names();
        for k in 1..=depth {
            let phase = Phase::Layer(k as u8);
            let before = t.params().clone();
            steps(&mut t, phase, true);
            let want: Vec<String> = phase
                .tensors(depth)
                .iter()
                .map(|&i| names[i].clone())
                .collect();
            let mut got = changed(&before, t.params());
            got.sort();
            let mut want_sorted = want.clone();
            want_sorted.sort();
            assert_eq!(got, want_sorted, "depth {depth}, phase {k}");
            // The encoder layer k and its mirror, 2K+1-k: the seed's naming.
            assert!(want.contains(&format!("weights{k}")), "{want:?}");
            assert!(
                want.contains(&format!("weights{}", 2 * depth + 1 - k)),
                "{want:?}"
            );
        }
        let before = t.params().clone();
        steps(&mut t, Phase::FineTune, false);
        assert_eq!(
            changed(&before, t.params()),
            names,
            "depth {depth}: fine-tune"
        );
    }
}

#[test]
fn a_cached_phase_trains_the_same_bits_as_an_uncached_one_at_every_level() {
    for depth in [3, 5] {
        let mut cached = Trainer::new(data(), hp(depth)).unwrap();
        let mut uncached = Trainer::new(data(), hp(depth)).unwrap();
        for k in 1..=depth {
            let phase = Phase::Layer(k as u8);
            steps(&mut cached, phase, true);
            steps(&mut uncached, phase, false);
            assert!(
                cached.params() == uncached.params(),
                "depth {depth}, phase {k}: cached and uncached differ"
            );
        }
        // A second run of the innermost phase reuses its cache; the layers below are
        // unchanged, so it is still the right one.
        let k = depth as u8;
        let info = cached.begin_phase(Phase::Layer(k), true).unwrap().unwrap();
        assert!(info.reused);
        cached.stop();
        // After fine-tuning moved the layers below, it is rebuilt.
        steps(&mut cached, Phase::FineTune, false);
        let info = cached.begin_phase(Phase::Layer(k), true).unwrap().unwrap();
        assert!(!info.reused);
        cached.stop();
    }
}

#[test]
fn a_phase_the_stack_does_not_have_is_refused() {
    let mut t = Trainer::new(data(), hp(2)).unwrap();
    let e = t.begin_phase(Phase::Layer(3), false).unwrap_err();
    assert_eq!(e.to_string(), "phase 3 is not a phase of a stack of 2");
    assert_eq!(t.phase_epochs(Phase::EndToEnd), 8, "K x epochs");
}
