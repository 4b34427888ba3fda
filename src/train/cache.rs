//! The hidden1 cache of a cached phase 2: hidden1 of the whole training set, computed
//! once with the frozen W1, b1, and reused while they stay as they were.

use std::time::Instant;

use super::eval;
use crate::data::Images;
use crate::data::batch::gather_rows;
use crate::model::Params;

/// How the hidden1 cache was obtained at the start of a cached phase 2.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheInfo {
    pub seconds: f64,
    pub bytes: usize,
    /// The cache of an earlier phase 2 was still valid (W1 and b1 unchanged).
    pub reused: bool,
}

/// Bytes the cache of `images` training images takes for a hidden1 of `width` units.
pub fn cache_bytes(images: usize, width: usize) -> usize {
    images * width * std::mem::size_of::<f32>()
}

#[derive(Debug, Default)]
pub struct Hidden1Cache {
    hidden1: Vec<f32>,
    width: usize,
    /// The version of W1 and b1 (see `Trainer`) the cache was built from.
    version: Option<u64>,
}

impl Hidden1Cache {
    /// Builds the cache from `params` unless it already holds hidden1 of this version.
    pub fn ensure(&mut self, params: &Params, train: &Images, version: u64) -> CacheInfo {
        let width = params.arch().hidden1;
        let bytes = cache_bytes(train.len(), width);
        if self.version == Some(version) && self.width == width && self.hidden1.len() * 4 == bytes {
            return CacheInfo {
                seconds: 0.0,
                bytes,
                reused: true,
            };
        }
        let t = Instant::now();
        self.hidden1.resize(train.len() * width, 0.0);
        eval::hidden1_all(params, train, &mut self.hidden1);
        self.width = width;
        self.version = Some(version);
        CacheInfo {
            seconds: t.elapsed().as_secs_f64(),
            bytes,
            reused: false,
        }
    }

    /// Whether the cache holds hidden1 of this version of W1 and b1.
    pub fn is_valid(&self, version: u64) -> bool {
        self.version == Some(version)
    }

    /// Copies the cached rows at `idx` into `out`.
    pub fn gather(&self, idx: &[u32], out: &mut [f32]) {
        gather_rows(&self.hidden1, self.width, idx, out);
    }

    /// Frees the cache's memory (it can be rebuilt).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}
