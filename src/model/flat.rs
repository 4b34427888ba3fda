//! Flat slices of the model's arrays, for the element-wise kernels.
//!
//! Every array in `model` is built in standard (row-major, contiguous) layout, and views
//! of whole rows stay contiguous, so these never fail on the model's own buffers.

use ndarray::{Array1, ArrayView2, ArrayViewMut2};

pub(crate) fn flat(a: ArrayView2<'_, f32>) -> &[f32] {
    a.to_slice().expect("row-major contiguous")
}

pub(crate) fn flat_mut(a: ArrayViewMut2<'_, f32>) -> &mut [f32] {
    a.into_slice().expect("row-major contiguous")
}

pub(crate) fn vec_of(a: &Array1<f32>) -> &[f32] {
    a.as_slice().expect("contiguous")
}

pub(crate) fn vec_mut(a: &mut Array1<f32>) -> &mut [f32] {
    a.as_slice_mut().expect("contiguous")
}
