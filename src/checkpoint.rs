//! Checkpoints: all weights and biases as safetensors (`weights1..4`, `biases1..4`,
//! f32, `[in, out]`), with progress and the training settings in the metadata.
//! Readable from Python with `safetensors.numpy.load_file`.
//!
//! This module knows the file format only: the trainer decides what goes in
//! (`Trainer::checkpoint`) and what a loaded one means (`Trainer::restore`).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::model::{Arch, Params, TENSOR_NAMES};

pub const FORMAT: &str = "layerwise";
pub const FORMAT_VERSION: &str = "1";
/// Far more than any sane architecture needs (the recipe's is 2.2 MB); refuse to
/// read anything bigger into memory.
const MAX_FILE_BYTES: u64 = 1 << 30;

/// Everything a checkpoint holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub params: Params,
    /// Adam's shared step counter when saved.
    pub adam_steps: u64,
    /// Epochs of phase 1 and phase 2 the parameters have been trained for.
    pub epochs_done: [u32; 2],
    /// The training settings, as JSON the trainer wrote; carried, not interpreted.
    pub settings: Option<String>,
}

/// What is wrong with a checkpoint file; always shown with the file's name.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointProblem {
    #[error("cannot read: {0}")]
    Read(#[source] std::io::Error),
    #[error("cannot write: {0}")]
    Write(#[source] std::io::Error),
    #[error("{0} bytes is too large for a layerwise checkpoint")]
    TooLarge(u64),
    #[error("not a safetensors file ({0})")]
    NotSafetensors(String),
    #[error("written by '{0}', not by layerwise")]
    OtherFormat(String),
    #[error("format version {0}; this layerwise reads version {FORMAT_VERSION}")]
    OtherVersion(String),
    #[error("unexpected tensor '{0}'")]
    UnexpectedTensor(String),
    #[error("missing tensor '{0}'")]
    MissingTensor(&'static str),
    #[error("weights1 and weights2 must be matrices, found shapes {0:?} and {1:?}")]
    NotMatrices(Vec<usize>, Vec<usize>),
    #[error("the checkpoint's network is {found}, the current one is {expected}")]
    OtherNetwork { found: Arch, expected: Arch },
    #[error("degenerate architecture {0}")]
    Degenerate(Arch),
    #[error("tensor '{name}' is {dtype:?}, expected F32")]
    Dtype { name: &'static str, dtype: Dtype },
    #[error("tensor '{name}' has shape {found:?}, expected {expected:?} for a {arch} network")]
    Shape {
        name: &'static str,
        found: Vec<usize>,
        expected: Vec<usize>,
        arch: Arch,
    },
    #[error("tensor '{name}' holds {value} at index {index}")]
    NonFinite {
        name: &'static str,
        value: f32,
        index: usize,
    },
    #[error("metadata {key} = '{value}' is not a count")]
    NotACount { key: &'static str, value: String },
    #[error("cannot encode: {0}")]
    Encode(String),
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct CheckpointError {
    pub file: String,
    #[source]
    pub problem: CheckpointProblem,
}

impl CheckpointError {
    pub fn new(path: &Path, problem: CheckpointProblem) -> Self {
        Self {
            file: path.display().to_string(),
            problem,
        }
    }
}

/// Writes the checkpoint atomically: a temporary file in the same folder, flushed to
/// disk, then renamed over `path`. A crash leaves the old file or the new one.
pub fn save(path: &Path, ck: &Checkpoint) -> Result<(), CheckpointError> {
    let fail = |p| CheckpointError::new(path, p);
    let bytes = to_bytes(ck).map_err(fail)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let io = |e| fail(CheckpointProblem::Write(e));
    let mut tmp = tempfile::Builder::new()
        .prefix(".layerwise-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.write_all(&bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn to_bytes(ck: &Checkpoint) -> Result<Vec<u8>, CheckpointProblem> {
    let encode = |e: safetensors::SafeTensorError| CheckpointProblem::Encode(e.to_string());
    let views: Vec<(&str, TensorView<'_>)> = TENSOR_NAMES
        .iter()
        .zip(ck.params.tensors())
        .zip(ck.params.arch().shapes())
        .map(|((&name, t), shape)| {
            TensorView::new(Dtype::F32, shape, f32_bytes(t)).map(|v| (name, v))
        })
        .collect::<Result<_, _>>()
        .map_err(encode)?;
    let mut meta = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("format_version".into(), FORMAT_VERSION.into()),
        ("arch".into(), ck.params.arch().to_string()),
        ("adam_steps".into(), ck.adam_steps.to_string()),
        ("epochs_phase1".into(), ck.epochs_done[0].to_string()),
        ("epochs_phase2".into(), ck.epochs_done[1].to_string()),
    ]);
    if let Some(s) = &ck.settings {
        meta.insert("hyperparams".into(), s.clone());
    }
    safetensors::serialize(views, Some(meta)).map_err(encode)
}

/// Little-endian f32 bytes of a slice (safetensors' layout on every platform we build for).
fn f32_bytes(t: &[f32]) -> &[u8] {
    const { assert!(cfg!(target_endian = "little")) };
    // SAFETY: f32 has no padding and any byte pattern is a valid u8; the length is
    // the slice's size in bytes and the lifetime is the slice's.
    unsafe { std::slice::from_raw_parts(t.as_ptr().cast::<u8>(), std::mem::size_of_val(t)) }
}

/// Reads a checkpoint. With `expect`, refuses one of another architecture.
/// Refuses anything it does not fully understand: a wrong format version, missing or
/// extra tensors, wrong dtypes or shapes, NaN or infinite values.
pub fn load(path: &Path, expect: Option<Arch>) -> Result<Checkpoint, CheckpointError> {
    let fail = |p| CheckpointError::new(path, p);
    let len = std::fs::metadata(path)
        .map_err(|e| fail(CheckpointProblem::Read(e)))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(fail(CheckpointProblem::TooLarge(len)));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(CheckpointProblem::Read(e)))?;
    from_bytes(&bytes, expect).map_err(fail)
}

/// Parses checkpoint bytes (see `load`).
pub fn from_bytes(bytes: &[u8], expect: Option<Arch>) -> Result<Checkpoint, CheckpointProblem> {
    let not_st = |e: safetensors::SafeTensorError| CheckpointProblem::NotSafetensors(e.to_string());
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(not_st)?;
    let meta = header.metadata().clone().unwrap_or_default();
    check_format(&meta)?;
    let st = SafeTensors::deserialize(bytes).map_err(not_st)?;
    if let Some(name) = st.names().into_iter().find(|n| !TENSOR_NAMES.contains(n)) {
        return Err(CheckpointProblem::UnexpectedTensor(name.to_string()));
    }
    let arch = arch_of(&st)?;
    if let Some(expected) = expect
        && expected != arch
    {
        return Err(CheckpointProblem::OtherNetwork {
            found: arch,
            expected,
        });
    }
    let mut params = Params::zeros(arch);
    for ((&name, shape), dst) in TENSOR_NAMES
        .iter()
        .zip(arch.shapes())
        .zip(params.tensors_mut())
    {
        read_tensor(&st, name, &shape, arch, dst)?;
    }
    let count = |key: &'static str| -> Result<u64, CheckpointProblem> {
        meta.get(key).map_or(Ok(0), |v| {
            v.parse::<u64>().map_err(|_| CheckpointProblem::NotACount {
                key,
                value: v.clone(),
            })
        })
    };
    let epochs = |key| count(key).map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    Ok(Checkpoint {
        params,
        adam_steps: count("adam_steps")?,
        epochs_done: [epochs("epochs_phase1")?, epochs("epochs_phase2")?],
        settings: meta.get("hyperparams").cloned(),
    })
}

fn check_format(meta: &HashMap<String, String>) -> Result<(), CheckpointProblem> {
    if let Some(f) = meta.get("format")
        && f != FORMAT
    {
        return Err(CheckpointProblem::OtherFormat(f.clone()));
    }
    match meta.get("format_version") {
        Some(v) if v != FORMAT_VERSION => Err(CheckpointProblem::OtherVersion(v.clone())),
        _ => Ok(()),
    }
}

fn tensor<'a>(
    st: &'a SafeTensors<'a>,
    name: &'static str,
) -> Result<TensorView<'a>, CheckpointProblem> {
    st.tensor(name)
        .map_err(|_| CheckpointProblem::MissingTensor(name))
}

/// The network's widths, read off the shapes of weights1 and weights2.
fn arch_of(st: &SafeTensors<'_>) -> Result<Arch, CheckpointProblem> {
    let (w1, w2) = (tensor(st, "weights1")?, tensor(st, "weights2")?);
    let (&[inputs, hidden1], &[_, hidden2]) = (w1.shape(), w2.shape()) else {
        return Err(CheckpointProblem::NotMatrices(
            w1.shape().to_vec(),
            w2.shape().to_vec(),
        ));
    };
    let arch = Arch {
        inputs,
        hidden1,
        hidden2,
    };
    if inputs == 0 || hidden1 == 0 || hidden2 == 0 {
        return Err(CheckpointProblem::Degenerate(arch));
    }
    Ok(arch)
}

/// Copies tensor `name` into `dst` after checking its dtype, shape and values.
fn read_tensor(
    st: &SafeTensors<'_>,
    name: &'static str,
    shape: &[usize],
    arch: Arch,
    dst: &mut [f32],
) -> Result<(), CheckpointProblem> {
    let t = tensor(st, name)?;
    if t.dtype() != Dtype::F32 {
        return Err(CheckpointProblem::Dtype {
            name,
            dtype: t.dtype(),
        });
    }
    if t.shape() != shape {
        return Err(CheckpointProblem::Shape {
            name,
            found: t.shape().to_vec(),
            expected: shape.to_vec(),
            arch,
        });
    }
    for (d, c) in dst.iter_mut().zip(t.data().chunks_exact(4)) {
        *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    match dst.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(CheckpointProblem::NonFinite {
            name,
            value: dst[index],
            index,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Arch = Arch {
        inputs: 6,
        hidden1: 4,
        hidden2: 2,
    };

    fn ck() -> Checkpoint {
        Checkpoint {
            params: Params::he_init(SMALL, 3),
            adam_steps: 1464,
            epochs_done: [4, 2],
            settings: Some(r#"{"seed":7}"#.into()),
        }
    }

    #[test]
    fn round_trips_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        save(&path, &ck()).unwrap();
        assert_eq!(load(&path, Some(SMALL)).unwrap(), ck());
        // Saving again replaces the file atomically and leaves no temporary behind.
        save(&path, &ck()).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    fn refused(bytes: &[u8], expect: Option<Arch>) -> String {
        from_bytes(bytes, expect).unwrap_err().to_string()
    }

    fn with_tensors(tensors: Vec<(&str, Vec<usize>, Vec<f32>)>, meta: &[(&str, &str)]) -> Vec<u8> {
        let owned: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
            .into_iter()
            .map(|(n, s, d)| {
                (
                    n.to_string(),
                    s,
                    d.iter().flat_map(|x| x.to_le_bytes()).collect(),
                )
            })
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
        let meta = meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        safetensors::serialize(views, Some(meta)).unwrap()
    }

    fn good_tensors() -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
        let p = Params::he_init(SMALL, 1);
        TENSOR_NAMES
            .iter()
            .zip(SMALL.shapes())
            .zip(p.tensors())
            .map(|((&n, s), t)| (n, s, t.to_vec()))
            .collect()
    }

    #[test]
    fn refuses_wrong_shape_missing_tensor_and_other_arch() {
        let mut t = good_tensors();
        t[5].1 = vec![3]; // biases3
        t[5].2 = vec![0.0; 3];
        assert!(refused(&with_tensors(t, &[]), None).contains("'biases3' has shape [3]"));

        let mut t = good_tensors();
        t.remove(6);
        assert!(refused(&with_tensors(t, &[]), None).contains("missing tensor 'weights4'"));

        let other = Arch {
            hidden2: 3,
            ..SMALL
        };
        let msg = refused(&with_tensors(good_tensors(), &[]), Some(other));
        assert!(
            msg.contains("6-4-2-4-6") && msg.contains("6-4-3-4-6"),
            "{msg}"
        );

        let mut t = good_tensors();
        t.push(("extra", vec![1], vec![0.0]));
        assert!(refused(&with_tensors(t, &[]), None).contains("unexpected tensor 'extra'"));
    }

    #[test]
    fn refuses_other_versions_non_finite_values_and_garbage() {
        let b = with_tensors(good_tensors(), &[("format_version", "2")]);
        assert!(refused(&b, None).contains("format version 2"));

        let mut t = good_tensors();
        t[0].2[3] = f32::NAN;
        assert!(refused(&with_tensors(t, &[]), None).contains("'weights1' holds NaN at index 3"));

        assert!(refused(b"hello world, not tensors", None).contains("not a safetensors file"));
        assert!(refused(&[], None).contains("not a safetensors file"));
        let b = with_tensors(good_tensors(), &[]);
        assert!(refused(&b[..b.len() - 5], None).contains("not a safetensors file"));
    }

    #[test]
    fn errors_name_the_file() {
        let err = load(Path::new("/no/such/model.safetensors"), None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/no/such/model.safetensors: cannot read")
        );
    }
}
