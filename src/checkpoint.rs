//! Checkpoints: all weights and biases as safetensors (`weights1..4`, `biases1..4`,
//! f32, `[in, out]`), with hyperparameters and progress in the metadata. Readable from
//! Python with `safetensors.numpy.load_file`.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::model::{Arch, Params, TENSOR_NAMES};
use crate::train::Hyperparams;

pub const FORMAT: &str = "layerwise";
pub const FORMAT_VERSION: &str = "1";
/// Far more than any sane architecture needs (the recipe's is 2.2 MB); refuse to
/// read anything bigger into memory.
const MAX_FILE_BYTES: u64 = 1 << 30;

/// Everything a checkpoint holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub params: Params,
    pub hyperparams: Option<Hyperparams>,
    /// Adam's shared step counter when saved.
    pub adam_steps: u64,
    /// Epochs of phase 1 and phase 2 the parameters have been trained for.
    pub epochs_done: [u32; 2],
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct CheckpointError {
    pub file: String,
    pub problem: String,
}

fn fail<T>(path: &Path, problem: impl Into<String>) -> Result<T, CheckpointError> {
    Err(CheckpointError {
        file: path.display().to_string(),
        problem: problem.into(),
    })
}

/// Writes the checkpoint atomically: a temporary file in the same folder, flushed to
/// disk, then renamed over `path`. A crash leaves the old file or the new one.
pub fn save(path: &Path, ck: &Checkpoint) -> Result<(), CheckpointError> {
    let bytes = to_bytes(ck).or_else(|e| fail(path, e))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let io = |e: std::io::Error| CheckpointError {
        file: path.display().to_string(),
        problem: format!("cannot write: {e}"),
    };
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

fn to_bytes(ck: &Checkpoint) -> Result<Vec<u8>, String> {
    let tensors = ck.params.tensors();
    let shapes = ck.params.arch().shapes();
    let views: Vec<(&str, TensorView<'_>)> = TENSOR_NAMES
        .iter()
        .zip(tensors)
        .zip(shapes)
        .map(|((&name, t), shape)| {
            let bytes: &[u8] = bytemuck_f32(t);
            TensorView::new(Dtype::F32, shape, bytes).map(|v| (name, v))
        })
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let mut meta = HashMap::new();
    meta.insert("format".into(), FORMAT.into());
    meta.insert("format_version".into(), FORMAT_VERSION.into());
    meta.insert("arch".into(), ck.params.arch().to_string());
    meta.insert("adam_steps".into(), ck.adam_steps.to_string());
    meta.insert("epochs_phase1".into(), ck.epochs_done[0].to_string());
    meta.insert("epochs_phase2".into(), ck.epochs_done[1].to_string());
    if let Some(hp) = &ck.hyperparams {
        meta.insert(
            "hyperparams".into(),
            serde_json::to_string(hp).map_err(|e| e.to_string())?,
        );
    }
    safetensors::serialize(views, Some(meta)).map_err(|e| e.to_string())
}

/// Little-endian f32 bytes of a slice (safetensors' layout on every platform we build for).
fn bytemuck_f32(t: &[f32]) -> &[u8] {
    const { assert!(cfg!(target_endian = "little")) };
    // SAFETY: f32 has no padding and any byte pattern is a valid u8; the length is
    // the slice's size in bytes and the lifetime is the slice's.
    unsafe { std::slice::from_raw_parts(t.as_ptr().cast::<u8>(), std::mem::size_of_val(t)) }
}

/// Reads a checkpoint. With `expect`, refuses one of another architecture.
/// Refuses anything it does not fully understand: a wrong format version, missing or
/// extra tensors, wrong dtypes or shapes, NaN or infinite values.
pub fn load(path: &Path, expect: Option<Arch>) -> Result<Checkpoint, CheckpointError> {
    let len = std::fs::metadata(path)
        .or_else(|e| fail(path, format!("cannot read: {e}")))?
        .len();
    if len > MAX_FILE_BYTES {
        return fail(
            path,
            format!("{len} bytes is too large for a layerwise checkpoint"),
        );
    }
    let bytes = std::fs::read(path).or_else(|e| fail(path, format!("cannot read: {e}")))?;
    from_bytes(&bytes, expect).or_else(|p| fail(path, p))
}

pub fn from_bytes(bytes: &[u8], expect: Option<Arch>) -> Result<Checkpoint, String> {
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| format!("not a safetensors file ({e})"))?;
    let meta = header.metadata().clone().unwrap_or_default();
    if let Some(f) = meta.get("format")
        && f != FORMAT
    {
        return Err(format!("written by '{f}', not by layerwise"));
    }
    if let Some(v) = meta.get("format_version")
        && v != FORMAT_VERSION
    {
        return Err(format!(
            "format version {v}; this layerwise reads version {FORMAT_VERSION}"
        ));
    }
    let st =
        SafeTensors::deserialize(bytes).map_err(|e| format!("not a safetensors file ({e})"))?;
    for name in st.names() {
        if !TENSOR_NAMES.contains(&name) {
            return Err(format!("unexpected tensor '{name}'"));
        }
    }
    let get = |name: &str| {
        st.tensor(name)
            .map_err(|_| format!("missing tensor '{name}'"))
    };
    let w1 = get("weights1")?;
    let w2 = get("weights2")?;
    let (&[inputs, hidden1], &[_, hidden2]) = (w1.shape(), w2.shape()) else {
        return Err(format!(
            "weights1 and weights2 must be matrices, found shapes {:?} and {:?}",
            w1.shape(),
            w2.shape()
        ));
    };
    let arch = Arch {
        inputs,
        hidden1,
        hidden2,
    };
    if let Some(want) = expect
        && want != arch
    {
        return Err(format!(
            "the checkpoint's network is {arch}, the current one is {want}"
        ));
    }
    if arch.hidden1 == 0 || arch.hidden2 == 0 || arch.inputs == 0 {
        return Err(format!("degenerate architecture {arch}"));
    }
    let mut params = Params::zeros(arch);
    for ((name, shape), dst) in TENSOR_NAMES
        .iter()
        .zip(arch.shapes())
        .zip(params.tensors_mut())
    {
        let t = get(name)?;
        if t.dtype() != Dtype::F32 {
            return Err(format!("tensor '{name}' is {:?}, expected F32", t.dtype()));
        }
        if t.shape() != shape.as_slice() {
            return Err(format!(
                "tensor '{name}' has shape {:?}, expected {shape:?} for a {arch} network",
                t.shape()
            ));
        }
        for (d, c) in dst.iter_mut().zip(t.data().chunks_exact(4)) {
            *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        if let Some(i) = dst.iter().position(|x| !x.is_finite()) {
            return Err(format!("tensor '{name}' holds {} at index {i}", dst[i]));
        }
    }
    let number = |key: &str| -> Result<u64, String> {
        meta.get(key)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| format!("metadata {key} = '{v}' is not a count"))
            })
            .unwrap_or(Ok(0))
    };
    let hyperparams = match meta.get("hyperparams") {
        Some(j) => Some(serde_json::from_str(j).map_err(|e| format!("metadata hyperparams: {e}"))?),
        None => None,
    };
    Ok(Checkpoint {
        params,
        hyperparams,
        adam_steps: number("adam_steps")?,
        epochs_done: [
            number("epochs_phase1")?.try_into().unwrap_or(u32::MAX),
            number("epochs_phase2")?.try_into().unwrap_or(u32::MAX),
        ],
    })
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
            hyperparams: Some(Hyperparams::default()),
            adam_steps: 1464,
            epochs_done: [4, 2],
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
        from_bytes(bytes, expect).unwrap_err()
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
