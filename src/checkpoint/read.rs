//! Parsing checkpoint bytes: everything is checked before it is believed, and every
//! number read is bounded (a counter is only a count; nothing read is replayed).

use std::collections::HashMap;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::{
    BatchOrder, Checkpoint, CheckpointProblem, FORMAT, FORMAT_VERSION, OLDEST_VERSION, Optimizer,
};
use crate::data::OrderState;
use crate::model::{Activations, AdamState, Arch, MAX_STAGES, Params, Phase, PhaseEpochs, Widths};

type Meta = HashMap<String, String>;

/// The metadata key of each layer-wise phase's epochs.
pub(super) const PHASE_KEYS: [&str; MAX_STAGES] = [
    "epochs_phase1",
    "epochs_phase2",
    "epochs_phase3",
    "epochs_phase4",
    "epochs_phase5",
    "epochs_phase6",
    "epochs_phase7",
    "epochs_phase8",
];

/// Parses checkpoint bytes (see `load`).
pub fn from_bytes(bytes: &[u8], expect: Option<Arch>) -> Result<Checkpoint, CheckpointProblem> {
    let not_st = |e: safetensors::SafeTensorError| CheckpointProblem::NotSafetensors(e.to_string());
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(not_st)?;
    let meta = header.metadata().clone().unwrap_or_default();
    let version = check_format(&meta)?;
    let st = SafeTensors::deserialize(bytes).map_err(not_st)?;
    if let Some(name) = st.names().into_iter().find(|n| !known(n)) {
        return Err(CheckpointProblem::UnexpectedTensor(name.to_string()));
    }
    let arch = arch_of(&st)?
        .with_act(activations(&meta)?)
        .with_tied(flag(&meta, "tied_weights")?);
    if let Some(expected) = expect
        && expected != arch
    {
        return Err(CheckpointProblem::OtherNetwork {
            found: arch,
            expected,
        });
    }
    let params = read_params(&st, "", arch)?;
    if let Some(j) = (0..arch.layers()).find(|&j| {
        arch.tied_to(j)
            .is_some_and(|e| params.w[j] != params.w[e].t())
    }) {
        return Err(CheckpointProblem::Untied(j + 1, arch.layers() - j));
    }
    let steps = count(&meta, "adam_steps")?;
    // Version 1 never has the optimiser's state or the order; version 2 has them
    // unless the model was saved without (a bare set of parameters).
    let optimizer = if has(&st, "adam.m.weights1") {
        Optimizer::Full(Box::new(AdamState {
            steps,
            powers: [
                power(&meta, "adam_beta1_power")?,
                power(&meta, "adam_beta2_power")?,
            ],
            m: read_params(&st, "adam.m.", arch)?,
            v: read_params(&st, "adam.v.", arch)?,
        }))
    } else {
        Optimizer::Counter(steps)
    };
    let order = match has(&st, "order.epochs.perm") {
        true => Some(read_order(&st, &meta)?),
        false => None,
    };
    let epochs =
        |key: &'static str| count(&meta, key).map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    // A key that is missing (every file from before phase 3) counts 0. Files before
    // version 3 called fine-tuning phase 3.
    let mut epochs_done = PhaseEpochs::default();
    let depth = arch.depth();
    for k in 1..=depth {
        epochs_done[Phase::Layer(k as u8)] = epochs(PHASE_KEYS[k - 1])?;
    }
    epochs_done[Phase::FineTune] = match version {
        "3" => epochs("epochs_fine_tune")?,
        _ => epochs("epochs_phase3")?,
    };
    epochs_done[Phase::EndToEnd] = epochs("epochs_end_to_end")?;
    Ok(Checkpoint {
        params,
        optimizer,
        order,
        epochs_done,
        settings: meta.get("hyperparams").cloned(),
    })
}

/// The layers' activations; files without the keys (every file before them) are the
/// recipe's ELU.
fn activations(meta: &Meta) -> Result<Activations, CheckpointProblem> {
    let bad = |key, value: &String, what| CheckpointProblem::Metadata {
        key,
        value: value.clone(),
        what,
    };
    let mut act = Activations::RECIPE;
    if let Some(v) = meta.get("activation") {
        act.hidden = v
            .parse()
            .map_err(|_| bad("activation", v, "elu, relu, sigmoid or linear"))?;
    }
    act.linear_code = flag(meta, "linear_code")?;
    act.sigmoid_output = flag(meta, "sigmoid_output")?;
    Ok(act)
}

/// A yes-or-no key, no when it is missing.
fn flag(meta: &Meta, key: &'static str) -> Result<bool, CheckpointProblem> {
    meta.get(key).map_or(Ok(false), |v| {
        v.parse().map_err(|_| CheckpointProblem::Metadata {
            key,
            value: v.clone(),
            what: "true or false",
        })
    })
}

fn has(st: &SafeTensors<'_>, name: &str) -> bool {
    st.tensor(name).is_ok()
}

/// The tensor names a checkpoint may hold: `weights1`.. and `biases1`.. of up to
/// `2 * MAX_STAGES` layers (whether they make a stack is checked after).
fn known(name: &str) -> bool {
    let numbered = |n: &str, stem: &str| {
        n.strip_prefix(stem)
            .and_then(|j| j.parse::<usize>().ok())
            .is_some_and(|j| (1..=2 * MAX_STAGES).contains(&j) && n == format!("{stem}{j}"))
    };
    let param = |n: &str| numbered(n, "weights") || numbered(n, "biases");
    param(name)
        || name.strip_prefix("adam.m.").is_some_and(param)
        || name.strip_prefix("adam.v.").is_some_and(param)
        || ["epochs", "subset"].iter().any(|o| {
            [format!("order.{o}.perm"), format!("order.{o}.rng")]
                .iter()
                .any(|k| k == name)
        })
}

/// The format version, if it is one this reader knows.
fn check_format(meta: &Meta) -> Result<&str, CheckpointProblem> {
    if let Some(f) = meta.get("format")
        && f != FORMAT
    {
        return Err(CheckpointProblem::OtherFormat(f.clone()));
    }
    match meta.get("format_version").map(String::as_str) {
        // Files written before versions were recorded are version 1.
        None => Ok(OLDEST_VERSION),
        Some(v @ (OLDEST_VERSION | "2" | FORMAT_VERSION)) => Ok(v),
        Some(v) => Err(CheckpointProblem::OtherVersion(v.to_string())),
    }
}

fn count(meta: &Meta, key: &'static str) -> Result<u64, CheckpointProblem> {
    meta.get(key).map_or(Ok(0), |v| {
        v.parse::<u64>().map_err(|_| CheckpointProblem::Metadata {
            key,
            value: v.clone(),
            what: "a count",
        })
    })
}

/// A power of Adam's beta: a number in [0, 1].
fn power(meta: &Meta, key: &'static str) -> Result<f32, CheckpointProblem> {
    let v = meta
        .get(key)
        .ok_or(CheckpointProblem::MissingMetadata(key))?;
    match v.parse::<f32>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(CheckpointProblem::Metadata {
            key,
            value: v.clone(),
            what: "a number from 0 to 1",
        }),
    }
}

fn tensor<'a>(st: &'a SafeTensors<'a>, name: &str) -> Result<TensorView<'a>, CheckpointProblem> {
    st.tensor(name)
        .map_err(|_| CheckpointProblem::MissingTensor(name.to_string()))
}

/// The network's widths, read off the shapes of the encoder's weights (weights1 ..
/// weightsK of 2K). Everything is checked before anything is allocated: the depth
/// against `MAX_STAGES`, each width against `MAX_LAYER_WIDTH`.
fn arch_of(st: &SafeTensors<'_>) -> Result<Arch, CheckpointProblem> {
    // The deepest layer named (`known` refused names past 2 * MAX_STAGES): a gap below
    // it is a missing tensor, said by name.
    let layers = (1..=2 * MAX_STAGES)
        .filter(|j| has(st, &format!("weights{j}")) || has(st, &format!("biases{j}")))
        .max()
        .unwrap_or(0);
    if layers < 2 || layers % 2 == 1 || layers > 2 * MAX_STAGES {
        return Err(CheckpointProblem::Depth(layers));
    }
    let mut widths = Vec::with_capacity(layers / 2);
    let mut inputs = 0;
    for j in 1..=layers / 2 {
        let w = tensor(st, &format!("weights{j}"))?;
        let &[i, o] = w.shape() else {
            return Err(CheckpointProblem::NotMatrix(
                format!("weights{j}"),
                w.shape().to_vec(),
            ));
        };
        if j == 1 {
            inputs = i;
        }
        widths.push(o);
    }
    if inputs == 0 {
        return Err(CheckpointProblem::Degenerate(format!("{inputs} inputs")));
    }
    let widths = Widths::new(&widths).map_err(|e| CheckpointProblem::Degenerate(e.to_string()))?;
    // The rest of the shapes (the chain, the mirror) are checked tensor by tensor.
    Ok(Arch::new(inputs, widths))
}

/// The tensors named `prefix` + `Arch::tensor_names`, of `arch`'s shapes, finite.
fn read_params(
    st: &SafeTensors<'_>,
    prefix: &str,
    arch: Arch,
) -> Result<Params, CheckpointProblem> {
    let mut params = Params::zeros(arch);
    for ((name, shape), dst) in arch
        .tensor_names()
        .iter()
        .zip(arch.shapes())
        .zip(params.tensors_mut())
    {
        let name = format!("{prefix}{name}");
        let t = checked(st, &name, Dtype::F32, &shape)?;
        for (d, c) in dst.iter_mut().zip(t.data().chunks_exact(4)) {
            *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        if let Some(index) = dst.iter().position(|x| !x.is_finite()) {
            return Err(CheckpointProblem::NonFinite {
                name,
                value: dst[index],
                index,
            });
        }
    }
    Ok(params)
}

/// Tensor `name`, after checking its dtype and shape.
fn checked<'a>(
    st: &'a SafeTensors<'a>,
    name: &str,
    dtype: Dtype,
    shape: &[usize],
) -> Result<TensorView<'a>, CheckpointProblem> {
    let t = tensor(st, name)?;
    if t.dtype() != dtype {
        return Err(CheckpointProblem::Dtype {
            name: name.to_string(),
            dtype: t.dtype(),
            expected: dtype,
        });
    }
    if t.shape() != shape {
        return Err(CheckpointProblem::Shape {
            name: name.to_string(),
            found: t.shape().to_vec(),
            expected: shape.to_vec(),
        });
    }
    Ok(t)
}

/// The two batch orders. Whether they fit the data is for the trainer to check.
fn read_order(st: &SafeTensors<'_>, meta: &Meta) -> Result<BatchOrder, CheckpointProblem> {
    let state = |name: &str| -> Result<OrderState, CheckpointProblem> {
        let perm_name = format!("order.{name}.perm");
        let n = tensor(st, &perm_name)?
            .shape()
            .first()
            .copied()
            .unwrap_or(0);
        let perm = checked(st, &perm_name, Dtype::U32, &[n])?
            .data()
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let words = checked(st, &format!("order.{name}.rng"), Dtype::U64, &[4])?;
        let mut rng = [0u64; 4];
        for (w, c) in rng.iter_mut().zip(words.data().chunks_exact(8)) {
            *w = u64::from_le_bytes(c.try_into().unwrap_or_default());
        }
        Ok(OrderState {
            perm,
            pos: 0,
            started: true,
            rng,
        })
    };
    let mut epochs = state("epochs")?;
    epochs.pos = usize::try_from(count(meta, "order_position")?).unwrap_or(usize::MAX);
    epochs.started = match meta.get("order_started").map(String::as_str) {
        Some("true") => true,
        Some("false") => false,
        other => {
            return Err(CheckpointProblem::Metadata {
                key: "order_started",
                value: other.unwrap_or_default().to_string(),
                what: "true or false",
            });
        }
    };
    Ok(BatchOrder {
        epochs,
        subset: state("subset")?,
    })
}
