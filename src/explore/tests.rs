//! The map worker through its protocol: what it answers, how it coalesces, how fast a
//! t-SNE stops. Tests wait on the reply channel, never sleep.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::*;
use crate::data::{Images, Mnist, PIXELS};
use crate::model::{Arch, Params};
use crate::space::{self, TsneConfig};

const TIMEOUT: Duration = Duration::from_secs(120);

fn mnist() -> Arc<Mnist> {
    static DATA: OnceLock<Arc<Mnist>> = OnceLock::new();
    DATA.get_or_init(|| Arc::new(Mnist::embedded().expect("built-in MNIST")))
        .clone()
}

/// MNIST with only the first `n` test images.
fn small(n: usize) -> Arc<Mnist> {
    let m = mnist();
    let test = Images {
        pixels: m.test.pixels[..n * PIXELS].to_vec(),
        labels: m.test.labels[..n].to_vec(),
    };
    Arc::new(Mnist {
        test,
        ..Mnist::clone(&m)
    })
}

fn worker(data: Arc<Mnist>) -> MapWorker {
    MapWorker::spawn(data, 2, Arc::new(|| {})).expect("a thread")
}

fn params(seed: u64) -> Arc<Params> {
    Arc::new(Params::he_init(Arch::RECIPE, seed))
}

fn send_params(w: &MapWorker, seed: u64) {
    assert!(w.send(Request::Params {
        params: params(seed),
        source: format!("seed {seed}"),
    }));
}

/// Replies until `pick` returns something, or panics after `TIMEOUT`.
fn until<T>(w: &MapWorker, mut pick: impl FnMut(Reply) -> Option<T>) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no such reply within {TIMEOUT:?}");
        match w.recv_timeout(left) {
            Ok(Some(Reply::Error(e))) => panic!("the worker failed: {e}"),
            Ok(Some(r)) => {
                if let Some(t) = pick(r) {
                    return t;
                }
            }
            Ok(None) => {}
            Err(crate::actor::Gone) => panic!("the worker is gone"),
        }
    }
}

fn pca_reply(r: Reply) -> Option<Arc<Map>> {
    match r {
        Reply::Pca { map, .. } => Some(map),
        _ => None,
    }
}

/// The PCA map of the test codes under `p`, computed directly.
fn direct_map(data: &Mnist, p: &Params, layer: Layer) -> Map {
    let test = TestSet::new(&data.test);
    let enc = space::encode(p, test.pixels.view()).unwrap();
    let x = test.layer(&enc, layer);
    maps::pca_map(x, test.labels.clone(), layer, None, String::new()).unwrap()
}

#[test]
fn new_parameters_are_answered_with_their_pca_map() {
    let data = mnist();
    let w = worker(data.clone());
    send_params(&w, 3);
    let map = until(&w, pca_reply);
    let want = direct_map(&data, &params(3), Layer::Code);
    assert_eq!(map.layer, Layer::Code);
    assert_eq!(map.source, "seed 3");
    assert_eq!(
        map.coords, want.coords,
        "the same numbers on the worker's pool"
    );
    assert_eq!(map.explained, want.explained);
    assert_eq!(map.labels.as_slice(), data.test.labels.as_slice());
    // Another layer, answered at once from the same encoding.
    assert!(w.send(Request::Layer(Layer::HIDDEN1)));
    let map = until(&w, pca_reply);
    assert_eq!(map.layer, Layer::HIDDEN1);
    assert_eq!(map.coords.dim(), (10_000, 2));
}

#[test]
fn parameters_that_come_faster_than_maps_are_coalesced_to_the_newest() {
    let w = worker(mnist());
    let seeds: Vec<u64> = (10..18).collect();
    for &s in &seeds {
        send_params(&w, s);
    }
    let mut sources = Vec::new();
    let last = until(&w, |r| {
        let map = pca_reply(r)?;
        sources.push(map.source.clone());
        (map.source == "seed 17").then_some(map)
    });
    assert!(
        sources.len() < seeds.len(),
        "every request mapped: {sources:?}"
    );
    // The same map, up to the sign of each axis (it is aligned to the maps before).
    let want = direct_map(&mnist(), &params(17), Layer::Code);
    for k in 0..2 {
        let sign = if last.coords[[0, k]] * want.coords[[0, k]] < 0.0 {
            -1.0
        } else {
            1.0
        };
        assert_eq!(
            last.coords.column(k),
            want.coords.column(k).mapv(|v| sign * v)
        );
    }
}

#[test]
fn successive_maps_do_not_flip() {
    let w = worker(mnist());
    send_params(&w, 21);
    let first = until(&w, pca_reply);
    send_params(&w, 22);
    let second = until(&w, pca_reply);
    let axes = |m: &Map| m.projection.as_ref().unwrap().axes.clone();
    let (a, b) = (axes(&first), axes(&second));
    for k in 0..2 {
        assert!(a.row(k).dot(&b.row(k)) >= 0.0, "axis {k} flipped");
    }
}

#[test]
fn a_tsne_of_the_ten_thousand_codes_cancels_within_100_ms() {
    let mut w = worker(mnist());
    send_params(&w, 4);
    until(&w, pca_reply);
    assert!(w.start_tsne(TsneConfig::default()));
    // Cancel once it iterates (the neighbour search is over).
    until(&w, |r| match r {
        Reply::Tsne(TsneState::Iterating { done, .. }) if done > 0 => Some(()),
        _ => None,
    });
    w.cancel_tsne();
    let (iterations, latency) = until(&w, |r| match r {
        Reply::Tsne(TsneState::Cancelled {
            iterations,
            latency,
            ..
        }) => Some((iterations, latency)),
        Reply::Tsne(TsneState::Done(_)) => panic!("finished instead of stopping"),
        _ => None,
    });
    assert!(iterations > 0 && iterations < 1000);
    assert!(
        latency < Duration::from_millis(100),
        "stopped {latency:?} after the cancel"
    );
}

#[test]
fn a_panic_in_the_tsne_ends_the_run_with_an_error_and_the_worker_goes_on() {
    let mut w = worker(small(300));
    send_params(&w, 6);
    until(&w, pca_reply);
    let config = TsneConfig {
        perplexity: super::tsne_job::PANICKING_PERPLEXITY,
        ..TsneConfig::default()
    };
    assert!(w.start_tsne(config));
    let error = until(&w, |r| match r {
        Reply::Tsne(TsneState::Failed { layer, error }) => Some((layer, error)),
        Reply::Tsne(TsneState::Done(_)) => panic!("finished despite the panic"),
        _ => None,
    });
    assert_eq!(error.0, Layer::Code);
    assert!(error.1.contains("injected by a test"), "{}", error.1);
    // The map worker itself is unharmed: it still maps.
    send_params(&w, 7);
    until(&w, pca_reply);
    assert_eq!(w.shutdown(), None);
}

#[test]
fn a_tsne_finishes_separated_and_a_second_one_starts_from_it() {
    let mut w = worker(small(600));
    send_params(&w, 5);
    until(&w, pca_reply);
    let config = TsneConfig {
        perplexity: 20.0,
        ..TsneConfig::default()
    };
    let done = |r| match r {
        Reply::Tsne(TsneState::Done(m)) => Some(m),
        _ => None,
    };
    assert!(w.start_tsne(config.clone()));
    let first = until(&w, done);
    assert_eq!((first.method, first.layer), (Method::Tsne, Layer::Code));
    // Even an untrained stack's codes keep many digits together.
    let agreement = first.agreement.unwrap();
    assert!(agreement > 0.5, "{agreement}");
    // Warm: it starts at the last layout, a near fixed point, and stays close to it.
    assert!(w.start_tsne(config));
    let second = until(&w, done);
    let moved = mean_distance(&first.coords, &second.coords);
    let spread = mean_distance(&first.coords, &first.coords.mapv(|_| 0.0));
    assert!(
        moved < 0.2 * spread,
        "moved {moved} of a spread of {spread}"
    );
}

fn mean_distance(a: &ndarray::Array2<f32>, b: &ndarray::Array2<f32>) -> f64 {
    let n = a.nrows();
    (0..n)
        .map(|i| {
            let dx = (a[[i, 0]] - b[[i, 0]]) as f64;
            let dy = (a[[i, 1]] - b[[i, 1]]) as f64;
            (dx * dx + dy * dy).sqrt()
        })
        .sum::<f64>()
        / n as f64
}

#[test]
fn a_drawing_is_reconstructed_and_finds_itself_among_the_test_images() {
    let data = mnist();
    let w = worker(data.clone());
    send_params(&w, 6);
    let seven: Vec<f32> = data
        .test
        .image(0)
        .iter()
        .map(|&b| b as f32 / 255.0)
        .collect();
    assert!(w.send(Request::Draw(Some(Arc::new(seven.clone())))));
    let d = until(&w, |r| match r {
        Reply::Drawn(d) => Some(d),
        _ => None,
    });
    let rec = &crate::inspect::reconstruct(&params(6), &data.test, &[0])[0];
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
    assert_eq!(d.input, seven);
    assert!(close(d.code(), &rec.code));
    assert!(close(&d.full, rec.full()));
    assert!(close(&d.outer, rec.outer()));
    for layer in Layer::offered(2) {
        let first = d.neighbours[layer.index()][0];
        assert_eq!(first.index, 0, "{layer}");
        assert!(first.distance < 1e-4, "{layer}: {}", first.distance);
        assert_eq!(d.neighbours[layer.index()].len(), NEIGHBOURS);
    }
}

#[test]
fn a_walk_ends_at_the_two_reconstructions_and_means_are_ten_digits() {
    let data = mnist();
    let w = worker(data.clone());
    send_params(&w, 7);
    assert!(w.send(Request::Walk(Some([3, 5]))));
    let (mut walk, mut means) = (None, None);
    until(&w, |r| {
        match r {
            Reply::Walk(x) => walk = Some(x),
            Reply::Means(x) => means = Some(x),
            _ => {}
        }
        (walk.is_some() && means.is_some()).then_some(())
    });
    let (walk, means) = (walk.unwrap(), means.unwrap());
    let rec = crate::inspect::reconstruct(&params(7), &data.test, &[3, 5]);
    assert_eq!(walk.ends, [3, 5]);
    assert_eq!(walk.walks.code.nrows(), WALK_STEPS);
    assert_eq!(walk.walks.code.row(0).to_vec(), rec[0].full());
    assert_eq!(walk.walks.code.row(WALK_STEPS - 1).to_vec(), rec[1].full());
    assert_eq!(walk.walks.hidden1.row(0).to_vec(), rec[0].outer());
    assert_eq!(means.dim(), (10, PIXELS));
}

/// A four-stage stack maps each of its hidden layers, each from its own level, and a
/// drawing finds itself in every one of them.
#[test]
fn a_deep_stack_maps_each_hidden_layer_and_a_drawing_finds_itself_in_each() {
    let data = small(600);
    let arch = Arch::new(PIXELS, crate::model::Widths::four(64, 32, 16, 8));
    let p = Arc::new(Params::he_init(arch, 5));
    let w = worker(data.clone());
    assert!(w.send(Request::Params {
        params: p.clone(),
        source: "deep".into(),
    }));
    let test = TestSet::new(&data.test);
    let mut inf = crate::model::Inference::new(arch, test.len());
    inf.encode(&p, test.pixels.view());
    for k in 1..=3u8 {
        assert!(w.send(Request::Layer(Layer::Hidden(k))));
        let map = until(&w, |r| pca_reply(r).filter(|m| m.layer == Layer::Hidden(k)));
        let level = inf.level(k as usize).view();
        let want = maps::pca_map(
            level,
            test.labels.clone(),
            Layer::Hidden(k),
            None,
            "".into(),
        )
        .unwrap();
        let close = map
            .coords
            .iter()
            .zip(&want.coords)
            .all(|(a, b)| (a.abs() - b.abs()).abs() < 1e-3);
        assert!(close, "hidden{k}: the map is of h({k})");
        assert_eq!(
            map.projection.as_ref().unwrap().mean.len(),
            arch.level(k as usize)
        );
    }
    let three: Vec<f32> = test.pixels.row(4).to_vec();
    assert!(w.send(Request::Draw(Some(Arc::new(three)))));
    let d = until(&w, |r| match r {
        Reply::Drawn(d) => Some(d),
        _ => None,
    });
    assert_eq!(d.levels.len(), 4);
    assert_eq!(d.code().len(), 8);
    for layer in Layer::offered(4) {
        let near = &d.neighbours[layer.index()];
        assert_eq!(near.len(), NEIGHBOURS, "{layer}");
        assert_eq!(near[0].index, 4, "{layer}");
    }
}
