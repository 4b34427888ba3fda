//! Data: the IDX reader, the MNIST sets and their split, and batch order.

pub mod batch;
pub mod idx;
pub mod mnist;

pub use batch::{OrderError, OrderState, Sampler, SubsetSampler};
pub use mnist::{CLASSES, DataError, Images, Mnist, PIXELS, SIDE};
