//! Any set of named f32 tensors as safetensors bytes, and such a file read back with the
//! same checks as a checkpoint's: for the app's kept session history.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::{CheckpointError, CheckpointProblem, read_bounded, write};

/// A tensor's name, shape and values.
pub type Named = (String, Vec<usize>, Vec<f32>);

/// `tensors` and `meta` as safetensors bytes.
pub fn tensors_to_bytes(
    tensors: &[(String, Vec<usize>, &[f32])],
    meta: HashMap<String, String>,
) -> Result<Vec<u8>, CheckpointProblem> {
    let encode = |e: safetensors::SafeTensorError| CheckpointProblem::Encode(e.to_string());
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), write::bytes_of(data))
                .map(|v| (name.clone(), v))
        })
        .collect::<Result<_, _>>()
        .map_err(encode)?;
    safetensors::serialize(views, Some(meta)).map_err(encode)
}

/// Reads every tensor of `path` (f32 only, finite only) and its metadata.
pub fn load_tensors(path: &Path) -> Result<(Vec<Named>, HashMap<String, String>), CheckpointError> {
    let fail = |p| CheckpointError::new(path, p);
    let bytes = read_bounded(path)?;
    let not_st =
        |e: safetensors::SafeTensorError| fail(CheckpointProblem::NotSafetensors(e.to_string()));
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(not_st)?;
    let meta = header.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(&bytes).map_err(not_st)?;
    let mut out = Vec::new();
    for (name, t) in st.tensors() {
        if t.dtype() != Dtype::F32 {
            return Err(fail(CheckpointProblem::Dtype {
                name,
                dtype: t.dtype(),
                expected: Dtype::F32,
            }));
        }
        let values: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            let value = values[index];
            return Err(fail(CheckpointProblem::NonFinite { name, value, index }));
        }
        out.push((name, t.shape().to_vec(), values));
    }
    Ok((out, meta))
}
