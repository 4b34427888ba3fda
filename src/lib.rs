//! layerwise: a stacked autoencoder trained one autoencoder at a time, after the
//! TensorFlow-1 recipe of Géron's *Hands-On Machine Learning*, headless or in a window.
//!
//! Data flows one way: [`data`] -> [`model`] -> [`train`] -> `ui` / [`cli`].

pub mod actor;
pub mod chart;
pub mod checkpoint;
pub mod cli;
pub mod data;
pub mod explore;
pub mod export;
pub mod glyphs;
pub mod inspect;
pub mod keep;
pub mod model;
pub mod output;
pub mod picture;
pub mod simd;
pub mod space;
pub mod train;
pub mod ui;
