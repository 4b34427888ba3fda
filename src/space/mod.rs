//! The code space: pure math behind the views of what the stack has learned.
//!
//! - [`pca`](mod@pca): a 2-D linear map of codes (or hidden1, or pixels), its axes
//!   sign-aligned from one map to the next so that a map redrawn while the model
//!   trains does not mirror;
//! - [`tsne`](mod@tsne): Barnes-Hut t-SNE, deterministic for a seed whatever the
//!   thread count, cancellable, and warm-startable from a previous layout;
//! - [`normalize`]: MNIST's preprocessing of a hand-drawn digit;
//! - [`walk`](mod@walk): the encoder, the two decoders, and walks between two images;
//! - [`nearest`](mod@nearest): brute-force nearest rows of a matrix;
//! - [`agreement`]: how well a 2-D map keeps the classes apart, as one number;
//! - [`yardstick`]: PCA's test error at every rank, beside which the stack's is read.
//!
//! Like [`crate::model`], nothing here knows about threads (beyond rayon), files or
//! egui. Matrices are ndarray views with samples in rows.

pub mod agreement;
pub mod nearest;
pub mod normalize;
pub mod pca;
pub mod tsne;
pub mod walk;
pub mod yardstick;

pub use agreement::neighbour_agreement;
pub use nearest::{Neighbour, nearest};
pub use normalize::normalize_digit;
pub use pca::{Pca, PcaError, pca};
pub use tsne::{Outcome, TsneConfig, TsneError, tsne};
pub use walk::{Encoded, Walks, decode_codes, decode_hidden1, encode, walk, walks};
pub use yardstick::{Yardstick, YardstickError};

/// A matrix or vector whose width does not fit the one it goes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{what} has {got} columns, expected {expected}")]
pub struct WidthError {
    pub what: &'static str,
    pub expected: usize,
    pub got: usize,
}

impl WidthError {
    /// `Ok` when `got == expected`, else the error naming `what`.
    pub(crate) fn check(what: &'static str, expected: usize, got: usize) -> Result<(), Self> {
        if got == expected {
            Ok(())
        } else {
            Err(Self {
                what,
                expected,
                got,
            })
        }
    }
}
