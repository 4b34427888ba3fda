//! The work behind the code-space views, off the UI thread: maps of the test set (PCA
//! from every new snapshot, t-SNE on demand), walks between two images, and a drawn
//! digit run through the stack.
//!
//! - [`layer`]: which activations a map shows, and by which method;
//! - [`maps`]: what a map is made of and how (shared with `layerwise map` and
//!   `layerwise export`);
//! - [`protocol`]: the `Request`s the app sends and the `Reply`s it gets;
//! - `worker`: the thread that answers them, in a rayon pool of its own;
//! - `tsne_job`: a t-SNE on a thread of its own, so that PCA maps keep coming;
//! - [`MapWorker`]: the app's end of it.
//!
//! Nothing here knows egui: the worker wakes the app through an opaque callback.

mod drawn;
mod handle;
pub mod layer;
pub mod maps;
pub mod protocol;
mod tsne_job;
mod worker;

pub use handle::{MapWorker, SpawnError};
pub use maps::{Layer, Map, Method, TestSet};
pub use protocol::{CancelToken, Drawn, Reply, Request, TsneState, Walk};
pub use worker::{MIN_INTERVAL, NEIGHBOURS, WALK_STEPS};

#[cfg(test)]
mod tests;
