//! What Adam needs of a model's parameters: a fixed list of flat tensors, weight
//! matrices at the even places (L2 applies) and their biases after them.

use super::Params;

/// A fixed, ordered list of tensors: the stack's eight (`TENSOR_NAMES`), the
/// classifier's six. Tensor `2k` is a weight matrix, `2k + 1` its bias.
pub trait TensorSet: Clone + Send + Sync {
    /// The tensors, in their fixed order, as flat slices.
    fn slices(&self) -> impl Iterator<Item = &[f32]>;

    fn slices_mut(&mut self) -> impl Iterator<Item = &mut [f32]>;

    /// The same tensors, all zeros (Adam's moments start so).
    fn zeros_like(&self) -> Self;

    /// Whether tensor `index` is a weight matrix (L2 applies) rather than a bias.
    fn is_weight(index: usize) -> bool {
        index.is_multiple_of(2)
    }

    /// Copies the tensors at `indices` from `src`.
    fn copy_from(&mut self, src: &Self, indices: &[usize]) {
        for (i, (d, s)) in self.slices_mut().zip(src.slices()).enumerate() {
            if indices.contains(&i) {
                d.copy_from_slice(s);
            }
        }
    }
}

impl TensorSet for Params {
    fn slices(&self) -> impl Iterator<Item = &[f32]> {
        self.tensors()
    }

    fn slices_mut(&mut self) -> impl Iterator<Item = &mut [f32]> {
        self.tensors_mut()
    }

    fn zeros_like(&self) -> Self {
        Params::zeros(self.arch())
    }
}
