//! The chapter's variants on the engine: tied weights stay tied through every phase,
//! a denoising run is the same bits cached or not and on any number of threads, and
//! neither touches the tensors a phase does not train.
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

use layerwise::model::{Noise, Phase, Widths};
use layerwise::train::{Hyperparams, Trainer};

#[allow(dead_code)]
#[path = "support/engine.rs"]
mod engine;
#[path = "support/mnist.rs"]
mod mnist;
use engine::changed;
use mnist::data;

/// Steps per phase: enough to move every trained tensor, a fraction of an epoch.
const STEPS: usize = 10;

fn hp() -> Hyperparams {
    Hyperparams {
        layers: Widths::new(&[64, 32, 16]).unwrap(),
        batch_size: 500,
        ..Hyperparams::default()
    }
}

fn steps(t: &mut Trainer, phase: Phase, cache: bool) {
    engine::steps(t, phase, cache, STEPS);
}

#[test]
fn tied_weights_stay_each_others_transpose_after_every_step_of_every_phase() {
    let mut t = Trainer::new(
        data(),
        Hyperparams {
            tied_weights: true,
            ..hp()
        },
    )
    .unwrap();
    assert!(t.params().tied && t.params().ties_hold());
    let names = t.params().arch().tensor_names();
    for phase in [1, 2, 3]
        .map(Phase::Layer)
        .into_iter()
        .chain([Phase::FineTune])
    {
        let before = t.params().clone();
        t.begin_phase(phase, true).unwrap();
        for _ in 0..STEPS {
            t.step().unwrap();
            assert!(t.params().ties_hold(), "{phase}");
        }
        t.stop();
        let trained: Vec<String> = phase.tensors(3).iter().map(|&i| names[i].clone()).collect();
        let mut got = changed(&before, t.params());
        got.sort();
        let mut want = trained;
        want.sort();
        assert_eq!(got, want, "{phase}");
    }
    // Untied, the same steps leave the decoder its own matrix.
    let mut u = Trainer::new(data(), hp()).unwrap();
    steps(&mut u, Phase::Layer(1), false);
    let w = &u.params().w;
    assert_ne!(w[5], w[0].t());
}

#[test]
fn a_denoising_run_is_the_same_bits_cached_or_not_and_on_one_thread_or_two() {
    for noise in [Noise::Gaussian { sd: 1.0 }, Noise::Mask { fraction: 0.25 }] {
        let hp = Hyperparams { noise, ..hp() };
        let mut cached = Trainer::new(data(), hp.clone()).unwrap();
        let mut uncached = Trainer::new(data(), hp.clone()).unwrap();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let mut serial = Trainer::new(data(), hp.clone()).unwrap();
        for k in 1..=3 {
            let phase = Phase::Layer(k);
            steps(&mut cached, phase, true);
            steps(&mut uncached, phase, false);
            one.install(|| steps(&mut serial, phase, true));
            assert!(cached.params() == uncached.params(), "{noise} phase {k}");
            assert!(cached.params() == serial.params(), "{noise} phase {k}");
        }
        // The noise changes what is learnt, at either seed.
        let mut plain = Trainer::new(data(), self::hp()).unwrap();
        steps(&mut plain, Phase::Layer(1), true);
        assert!(plain.params().w[0] != cached.params().w[0]);
        let mut other = Trainer::new(
            data(),
            Hyperparams {
                seed: 7,
                ..hp.clone()
            },
        )
        .unwrap();
        let mut same_init = Trainer::new(
            data(),
            Hyperparams {
                seed: 7,
                ..self::hp()
            },
        )
        .unwrap();
        steps(&mut other, Phase::Layer(1), true);
        steps(&mut same_init, Phase::Layer(1), true);
        assert!(other.params().w[0] != same_init.params().w[0]);
    }
}

/// A denoising run saved after each epoch and resumed into a trainer made with another
/// seed trains the bits of a straight run: the noise comes back with the checkpoint.
#[test]
fn a_denoising_run_resumed_from_checkpoints_is_the_same_bits_as_a_straight_one() {
    use layerwise::checkpoint;
    let hp = Hyperparams {
        noise: Noise::Mask { fraction: 0.25 },
        epochs: 1,
        batch_size: 1000,
        ..hp()
    };
    let mut straight = Trainer::new(
        data(),
        Hyperparams {
            epochs: 2,
            ..hp.clone()
        },
    )
    .unwrap();
    for k in [1, 2] {
        engine::run(&mut straight, Phase::Layer(k), k == 2);
    }
    let mut t = Trainer::new(data(), hp.clone()).unwrap();
    for k in [1, 1, 2, 2] {
        engine::run(&mut t, Phase::Layer(k), k == 2);
        let bytes = checkpoint::to_bytes(&t.checkpoint()).unwrap();
        let mut u = Trainer::new(
            data(),
            Hyperparams {
                seed: 999,
                ..hp.clone()
            },
        )
        .unwrap();
        assert_eq!(
            u.restore(checkpoint::from_bytes(&bytes, None).unwrap())
                .unwrap(),
            None
        );
        t = u;
    }
    assert!(t.params() == straight.params());
}

#[test]
fn nonsensical_noise_is_refused_with_its_reason() {
    let bad = Hyperparams {
        noise: Noise::Mask { fraction: 1.0 },
        ..hp()
    };
    let Err(e) = Trainer::new(data(), bad) else {
        panic!("a mask of every input was accepted");
    };
    let e = e.to_string();
    assert!(e.contains("masked fraction"), "{e}");
}
