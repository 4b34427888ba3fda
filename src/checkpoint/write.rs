//! Encoding a checkpoint as safetensors bytes (`output::atomically` writes them).

use std::collections::HashMap;

use safetensors::tensor::{Dtype, TensorView};

use super::read::PHASE_KEYS;
use super::{Checkpoint, CheckpointProblem, FORMAT, FORMAT_VERSION, Optimizer};
use crate::model::{Params, Phase};

/// The checkpoint as safetensors bytes.
pub fn to_bytes<'a>(ck: &'a Checkpoint) -> Result<Vec<u8>, CheckpointProblem> {
    let encode = |e: safetensors::SafeTensorError| CheckpointProblem::Encode(e.to_string());
    let mut tensors: Vec<(String, Dtype, Vec<usize>, &'a [u8])> = Vec::new();
    let mut add_params = |prefix: &str, p: &'a Params| {
        let arch = p.arch();
        for ((name, shape), t) in arch
            .tensor_names()
            .into_iter()
            .zip(arch.shapes())
            .zip(p.tensors())
        {
            tensors.push((format!("{prefix}{name}"), Dtype::F32, shape, bytes_of(t)));
        }
    };
    add_params("", &ck.params);
    let mut meta = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("format_version".into(), FORMAT_VERSION.into()),
        ("arch".into(), ck.params.arch().to_string()),
        ("adam_steps".into(), ck.optimizer.steps().to_string()),
        (
            "epochs_fine_tune".into(),
            ck.epochs_done[Phase::FineTune].to_string(),
        ),
        (
            "epochs_end_to_end".into(),
            ck.epochs_done[Phase::EndToEnd].to_string(),
        ),
    ]);
    // The recipe's files stay as they were: the keys appear only when they say
    // something.
    let act = ck.params.act;
    if !act.is_recipe() {
        meta.insert("activation".into(), act.hidden.to_string());
        meta.insert("linear_code".into(), act.linear_code.to_string());
        if act.sigmoid_output {
            meta.insert("sigmoid_output".into(), "true".into());
        }
    }
    if ck.params.tied {
        meta.insert("tied_weights".into(), "true".into());
    }
    for (k, key) in PHASE_KEYS.iter().enumerate().take(ck.params.depth()) {
        let epochs = ck.epochs_done[Phase::Layer(k as u8 + 1)];
        meta.insert(key.to_string(), epochs.to_string());
    }
    if let Optimizer::Full(s) = &ck.optimizer {
        add_params("adam.m.", &s.m);
        add_params("adam.v.", &s.v);
        // f32's `Display` is the shortest text that reads back to the same bits.
        meta.insert("adam_beta1_power".into(), s.powers[0].to_string());
        meta.insert("adam_beta2_power".into(), s.powers[1].to_string());
    }
    if let Some(o) = &ck.order {
        for (name, state) in [("epochs", &o.epochs), ("subset", &o.subset)] {
            let n = state.perm.len();
            tensors.push((
                format!("order.{name}.perm"),
                Dtype::U32,
                vec![n],
                bytes_of(&state.perm),
            ));
            tensors.push((
                format!("order.{name}.rng"),
                Dtype::U64,
                vec![4],
                bytes_of(&state.rng),
            ));
        }
        meta.insert("order_position".into(), o.epochs.pos.to_string());
        meta.insert("order_started".into(), o.epochs.started.to_string());
    }
    if let Some(s) = &ck.settings {
        meta.insert("hyperparams".into(), s.clone());
    }
    let views: Vec<(String, TensorView<'_>)> = tensors
        .into_iter()
        .map(|(name, dtype, shape, data)| TensorView::new(dtype, shape, data).map(|v| (name, v)))
        .collect::<Result<_, _>>()
        .map_err(encode)?;
    safetensors::serialize(views, Some(meta)).map_err(encode)
}

/// Little-endian bytes of a slice of numbers (safetensors' layout on every platform we
/// build for). `Pod` rules out types with padding at compile time.
pub(super) fn bytes_of<T: bytemuck::Pod>(t: &[T]) -> &[u8] {
    const { assert!(cfg!(target_endian = "little")) };
    bytemuck::cast_slice(t)
}
