//! The cache of a cached layer-wise phase k >= 2: h(k-1) of the whole training set,
//! computed once through the frozen encoder layers 1..k-1, and reused while they stay
//! as they were.

use std::time::Instant;

use super::eval;
use crate::data::Images;
use crate::data::batch::gather_rows;
use crate::model::{LayerSet, MAX_STAGES, Params};

/// How the cache was obtained at the start of a cached phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheInfo {
    /// The level cached: h(level), the input of phase level + 1.
    pub level: usize,
    pub seconds: f64,
    pub bytes: usize,
    /// The cache of an earlier run of the phase was still valid (the layers below
    /// unchanged).
    pub reused: bool,
}

/// Bytes the cache of `images` training images takes for a layer of `width` units.
pub fn cache_bytes(images: usize, width: usize) -> usize {
    images * width * std::mem::size_of::<f32>()
}

/// A version per encoder layer, bumped whenever the layer changes (or everything is
/// replaced), so that a cache built from older layers is never used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerVersions {
    of: [u64; MAX_STAGES],
    next: u64,
}

impl LayerVersions {
    /// The encoder layers among `layers` (dense layers 0..K are the encoder) changed.
    pub fn changed(&mut self, layers: LayerSet) {
        self.next += 1;
        for (j, v) in self.of.iter_mut().enumerate() {
            if layers.contains(j) {
                *v = self.next;
            }
        }
    }

    /// Every layer was replaced (a reset, a loaded checkpoint, other data).
    pub fn all_changed(&mut self) {
        self.changed(LayerSet::all(MAX_STAGES));
    }

    /// The versions of the encoder layers below `level` (which h(level) depends on).
    fn below(&self, level: usize) -> [u64; MAX_STAGES] {
        let mut v = [0; MAX_STAGES];
        v[..level].copy_from_slice(&self.of[..level]);
        v
    }
}

#[derive(Debug, Default)]
pub struct LevelCache {
    rows: Vec<f32>,
    width: usize,
    /// The level cached (1 = hidden1) and the versions of the layers it came from.
    key: Option<(usize, [u64; MAX_STAGES])>,
}

impl LevelCache {
    /// Makes the cache hold h(`level`) of `train` through `params`' frozen encoder,
    /// unless it already does for these layers' versions.
    pub fn ensure(
        &mut self,
        params: &Params,
        level: usize,
        train: &Images,
        versions: &LayerVersions,
    ) -> CacheInfo {
        let width = params.arch().level(level);
        let bytes = cache_bytes(train.len(), width);
        let key = (level, versions.below(level));
        if self.key == Some(key) && self.rows.len() * 4 == bytes {
            return CacheInfo {
                level,
                seconds: 0.0,
                bytes,
                reused: true,
            };
        }
        let t = Instant::now();
        // A cache of another level is dropped first: both at once would double the peak.
        self.clear();
        self.rows.resize(train.len() * width, 0.0);
        eval::encode_all(params, level, train, &mut self.rows);
        self.width = width;
        self.key = Some(key);
        CacheInfo {
            level,
            seconds: t.elapsed().as_secs_f64(),
            bytes,
            reused: false,
        }
    }

    /// Whether the cache holds the input of phase `k`, h(k-1), for these versions.
    pub fn is_valid(&self, k: usize, versions: &LayerVersions) -> bool {
        k >= 2 && self.key == Some((k - 1, versions.below(k - 1)))
    }

    /// Bytes the cache holds now.
    pub fn bytes(&self) -> usize {
        self.rows.len() * std::mem::size_of::<f32>()
    }

    /// Units per cached row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Copies the cached rows at `idx` into `out`.
    pub fn gather(&self, idx: &[u32], out: &mut [f32]) {
        gather_rows(&self.rows, self.width, idx, out);
    }

    /// Frees the cache's memory (it can be rebuilt).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

/// Memory the system could give this process now (`MemAvailable`), where it says.
pub fn available_memory() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}
