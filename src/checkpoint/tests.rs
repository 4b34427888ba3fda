use safetensors::tensor::{Dtype, TensorView};

use super::*;
use crate::model::TENSOR_NAMES;

const SMALL: Arch = Arch::two(6, 4, 2);

fn full() -> Checkpoint {
    let order = |seed: u32, pos| OrderState {
        perm: (0..10).map(|i| (i * 3 + seed) % 10).collect(),
        pos,
        started: true,
        rng: [1, 2, 3, u64::MAX],
    };
    Checkpoint {
        params: Params::he_init(SMALL, 3),
        optimizer: Optimizer::Full(Box::new(AdamState {
            steps: 1464,
            powers: [1.2e-38, 0.2311],
            m: Params::he_init(SMALL, 4),
            v: Params::zeros(SMALL),
        })),
        order: Some(BatchOrder {
            epochs: order(1, 7),
            subset: order(2, 0),
        }),
        epochs_done: [4, 2, 1, 0].into(),
        settings: Some(r#"{"seed":7}"#.into()),
    }
}

#[test]
fn round_trips_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    save(&path, &full()).unwrap();
    assert_eq!(load(&path, Some(SMALL)).unwrap(), full());
    // Saving again replaces the file atomically and leaves no temporary behind.
    save(&path, &full()).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// A file as a layerwise of version 1 wrote it: the eight tensors, the counter.
fn version1(tensors: Vec<(String, Vec<usize>, Vec<f32>)>, meta: &[(&str, &str)]) -> Vec<u8> {
    let owned: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(n, s, d)| (n, s, d.iter().flat_map(|x| x.to_le_bytes()).collect()))
        .collect();
    let views: Vec<(String, TensorView<'_>)> = owned
        .iter()
        .map(|(n, s, d)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), d).unwrap(),
            )
        })
        .collect();
    let mut all = vec![("format_version", "1"), ("adam_steps", "12")];
    all.extend_from_slice(meta);
    let meta = all
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    safetensors::serialize(views, Some(meta)).unwrap()
}

fn good_tensors() -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let p = Params::he_init(SMALL, 1);
    TENSOR_NAMES
        .iter()
        .zip(SMALL.shapes())
        .zip(p.tensors())
        .map(|((&n, s), t)| (n.to_string(), s, t.to_vec()))
        .collect()
}

fn refused(bytes: &[u8], expect: Option<Arch>) -> String {
    from_bytes(bytes, expect).unwrap_err().to_string()
}

#[test]
fn version_1_files_load_with_the_counter_only() {
    let ck = from_bytes(&version1(good_tensors(), &[]), Some(SMALL)).unwrap();
    assert_eq!(ck.optimizer, Optimizer::Counter(12));
    assert_eq!(ck.order, None);
    assert_eq!(ck.params, Params::he_init(SMALL, 1));
}

#[test]
fn refuses_wrong_shape_missing_tensor_and_other_arch() {
    let mut t = good_tensors();
    t[5].1 = vec![3]; // biases3
    t[5].2 = vec![0.0; 3];
    assert!(refused(&version1(t, &[]), None).contains("'biases3' has shape [3]"));

    let mut t = good_tensors();
    t.remove(6);
    assert!(refused(&version1(t, &[]), None).contains("missing tensor 'weights4'"));

    let other = Arch::two(6, 4, 3);
    let msg = refused(&version1(good_tensors(), &[]), Some(other));
    assert!(
        msg.contains("6-4-2-4-6") && msg.contains("6-4-3-4-6"),
        "{msg}"
    );

    let mut t = good_tensors();
    t.push(("extra".into(), vec![1], vec![0.0]));
    assert!(refused(&version1(t, &[]), None).contains("unexpected tensor 'extra'"));
}

#[test]
fn refuses_other_versions_non_finite_values_and_garbage() {
    let b = version1(good_tensors(), &[("format_version", "4")]);
    assert!(refused(&b, None).contains("format version 4"));

    let mut t = good_tensors();
    t[0].2[3] = f32::NAN;
    assert!(refused(&version1(t, &[]), None).contains("'weights1' holds NaN at index 3"));

    assert!(refused(b"hello world, not tensors", None).contains("not a safetensors file"));
    assert!(refused(&[], None).contains("not a safetensors file"));
    let b = version1(good_tensors(), &[]);
    assert!(refused(&b[..b.len() - 5], None).contains("not a safetensors file"));
}

/// `full()` with one metadata value replaced.
fn with_meta(key: &str, value: &str) -> Vec<u8> {
    let bytes = to_bytes(&full()).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    meta.insert(key.into(), value.into());
    let views: Vec<(String, TensorView<'_>)> = st.tensors();
    safetensors::serialize(views, Some(meta)).unwrap()
}

/// `full()` as version 2 wrote it: fine-tuning's epochs under `epochs_phase3`.
fn version2_meta() -> (Vec<u8>, std::collections::HashMap<String, String>) {
    let bytes = to_bytes(&full()).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    assert_eq!(meta["format_version"], "3");
    let ft = meta.remove("epochs_fine_tune").unwrap();
    meta.insert("epochs_phase3".into(), ft);
    meta.insert("format_version".into(), "2".into());
    (bytes, meta)
}

#[test]
fn a_version_2_file_loads_into_two_stages_with_its_fine_tuning() {
    let (bytes, meta) = version2_meta();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let v2 = safetensors::serialize(st.tensors(), Some(meta)).unwrap();
    let ck = from_bytes(&v2, None).unwrap();
    assert_eq!(ck.epochs_done, [4, 2, 1, 0]);
    assert_eq!(ck.params.arch().depth(), 2);
    assert_eq!(ck, full());
}

#[test]
fn a_file_from_before_phase_3_counts_no_epochs_of_it() {
    let (bytes, mut meta) = version2_meta();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(meta["epochs_phase3"], "1");
    meta.remove("epochs_phase3");
    meta.remove("epochs_end_to_end");
    let old = safetensors::serialize(st.tensors(), Some(meta)).unwrap();
    assert_eq!(from_bytes(&old, None).unwrap().epochs_done, [4, 2, 0, 0]);
    let msg = refused(&with_meta("epochs_end_to_end", "x"), None);
    assert!(
        msg.contains("epochs_end_to_end = 'x' is not a count"),
        "{msg}"
    );
}

#[test]
fn stacks_of_any_depth_round_trip_with_the_seeds_names() {
    for widths in [&[5][..], &[5, 4, 3], &[6, 5, 4, 3, 2]] {
        let arch = Arch::new(6, crate::model::Widths::new(widths).unwrap());
        let mut ck = Checkpoint::bare(Params::he_init(arch, 3));
        for k in 1..=widths.len() {
            ck.epochs_done[crate::model::Phase::Layer(k as u8)] = k as u32;
        }
        ck.epochs_done[crate::model::Phase::FineTune] = 7;
        let bytes = to_bytes(&ck).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut names = st.names();
        names.sort();
        let mut want = arch.tensor_names();
        want.sort();
        assert_eq!(names, want.iter().collect::<Vec<_>>());
        assert_eq!(from_bytes(&bytes, None).unwrap(), ck);
    }
}

#[test]
fn absurd_depths_and_broken_chains_are_refused_by_name() {
    let arch = Arch::new(6, crate::model::Widths::new(&[5, 4, 3]).unwrap());
    let p = Params::he_init(arch, 1);
    let tensors = |p: &Params| -> Vec<(String, Vec<usize>, Vec<f32>)> {
        let a = p.arch();
        a.tensor_names()
            .into_iter()
            .zip(a.shapes())
            .zip(p.tensors())
            .map(|((n, s), t)| (n, s, t.to_vec()))
            .collect()
    };
    // Weights past the deepest stack: an unexpected tensor, refused before reading.
    let mut t = tensors(&p);
    t.push(("weights17".into(), vec![1, 1], vec![0.0]));
    assert!(refused(&version1(t, &[]), None).contains("unexpected tensor 'weights17'"));
    // An odd number of layers.
    let mut t = tensors(&p);
    t.truncate(10);
    assert!(refused(&version1(t, &[]), None).contains("5 weight tensors"));
    // A decoder that does not mirror the encoder.
    let mut t = tensors(&p);
    t[6] = ("weights4".into(), vec![3, 5], vec![0.0; 15]);
    let msg = refused(&version1(t, &[]), None);
    assert!(
        msg.contains("'weights4' has shape [3, 5], expected [3, 4]"),
        "{msg}"
    );
    // A width past the limit, said before anything is allocated for it.
    let t = vec![
        ("weights1".to_string(), vec![1, 5000], vec![0.0; 5000]),
        ("weights2".to_string(), vec![5000, 1], vec![0.0; 5000]),
    ];
    let msg = refused(&version1(t, &[]), None);
    assert!(msg.contains("between 1 and 4096 units, not 5000"), "{msg}");
}

#[test]
fn metadata_is_checked_and_never_replayed() {
    let huge = u64::MAX.to_string();
    let t = std::time::Instant::now();
    let ck = from_bytes(&with_meta("adam_steps", &huge), None).unwrap();
    assert_eq!(ck.optimizer.steps(), u64::MAX);
    assert!(t.elapsed().as_secs() < 1, "a counter is read, not replayed");
    assert!(
        refused(&with_meta("adam_steps", "1e18"), None)
            .contains("adam_steps = '1e18' is not a count")
    );
    for bad in ["2.5", "-0.1", "NaN", "inf", ""] {
        let msg = refused(&with_meta("adam_beta2_power", bad), None);
        assert!(msg.contains("is not a number from 0 to 1"), "{bad}: {msg}");
    }
    let msg = refused(&with_meta("order_started", "maybe"), None);
    assert!(
        msg.contains("order_started = 'maybe' is not true or false"),
        "{msg}"
    );
    let msg = refused(&with_meta("epochs_phase1", "-1"), None);
    assert!(msg.contains("is not a count"), "{msg}");
}

#[test]
fn errors_name_the_file() {
    let err = load(Path::new("/no/such/model.safetensors"), None).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/no/such/model.safetensors: cannot read")
    );
}

#[test]
fn tied_weights_round_trip_and_a_file_whose_ties_do_not_hold_is_refused() {
    let arch = Arch::new(6, crate::model::Widths::new(&[5, 4]).unwrap()).with_tied(true);
    let p = Params::he_init(arch, 3);
    assert!(p.ties_hold());
    let ck = Checkpoint::bare(p.clone());
    let back = from_bytes(&to_bytes(&ck).unwrap(), None).unwrap();
    assert_eq!(back, ck);
    assert!(back.params.tied);
    let msg = refused(&to_bytes(&ck).unwrap(), Some(arch.with_tied(false)));
    assert!(msg.contains("tied"), "{msg}");
    let mut broken = p;
    broken.w[2][[0, 1]] += 1.0;
    let msg = refused(&to_bytes(&Checkpoint::bare(broken)).unwrap(), None);
    assert!(
        msg.contains("weights3 is not the transpose of weights2"),
        "{msg}"
    );
}

#[test]
fn activations_round_trip_and_the_recipe_files_stay_as_they_were() {
    use crate::model::{Activation, Activations};
    let act = Activations {
        hidden: Activation::Sigmoid,
        linear_code: true,
        sigmoid_output: true,
    };
    let arch = Arch::new(6, crate::model::Widths::new(&[5, 4]).unwrap()).with_act(act);
    let ck = Checkpoint::bare(Params::he_init(arch, 3));
    let back = from_bytes(&to_bytes(&ck).unwrap(), None).unwrap();
    assert_eq!(back.params.act, act);
    assert_eq!(back, ck);
    // An ELU model is refused where a sigmoid one is expected, and says so.
    let elu = Checkpoint::bare(Params::he_init(arch.with_act(Activations::RECIPE), 3));
    let bytes = to_bytes(&elu).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    assert!(
        !header
            .metadata()
            .clone()
            .unwrap()
            .contains_key("activation")
    );
    let msg = refused(&bytes, Some(arch));
    assert!(
        msg.contains("(sigmoid, linear code, sigmoid output (BCE))"),
        "{msg}"
    );
    let msg = refused(&with_meta("activation", "tanh"), None);
    assert!(msg.contains("activation = 'tanh'"), "{msg}");
}
