//! Batch order: TensorFlow's `next_batch` (an endless run of shuffled epochs, a batch may
//! straddle two of them) and the seed's cached-phase sampling, both allocation-free.

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;

use super::mnist::{Images, PIXELS};
use crate::simd::dispatch;

/// The recipe's per-epoch shuffling, as `DataSet.next_batch` of TF >= 1.3 does it.
#[derive(Debug, Clone)]
pub struct Sampler {
    perm: Vec<u32>,
    pos: usize,
    started: bool,
    rng: Xoshiro256PlusPlus,
}

impl Sampler {
    pub fn new(n: usize, seed: u64) -> Self {
        Self {
            perm: (0..n as u32).collect(),
            pos: 0,
            started: false,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
        }
    }

    /// Fills `out` with the next batch of indices. The tail of an epoch is completed from
    /// the head of the next, freshly shuffled one, so no example is skipped or repeated
    /// within an epoch and the remainder carries over, as in TensorFlow.
    pub fn next_batch(&mut self, out: &mut [u32]) {
        let n = self.perm.len();
        if !self.started {
            self.perm.shuffle(&mut self.rng);
            self.started = true;
        }
        let mut filled = 0;
        while filled < out.len() {
            if self.pos == n {
                self.perm.shuffle(&mut self.rng);
                self.pos = 0;
            }
            let take = (out.len() - filled).min(n - self.pos);
            out[filled..filled + take].copy_from_slice(&self.perm[self.pos..self.pos + take]);
            filled += take;
            self.pos += take;
        }
    }
}

/// The seed's cached-phase sampling: every batch is the head of a fresh random
/// permutation, i.e. a uniform sample without replacement, independent of the others.
#[derive(Debug, Clone)]
pub struct SubsetSampler {
    scratch: Vec<u32>,
    rng: Xoshiro256PlusPlus,
}

impl SubsetSampler {
    pub fn new(n: usize, seed: u64) -> Self {
        Self {
            scratch: (0..n as u32).collect(),
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
        }
    }

    pub fn next_batch(&mut self, out: &mut [u32]) {
        // A partial Fisher-Yates of any permutation gives a uniform head.
        let (head, _) = self.scratch.partial_shuffle(&mut self.rng, out.len());
        out.copy_from_slice(head);
    }
}

/// Pixels as TensorFlow's loader makes them: `byte as f32 * (1.0 / 255.0)` in f32.
#[inline(always)]
pub fn pixel_to_f32(b: u8) -> f32 {
    b as f32 * (1.0f32 / 255.0)
}

dispatch! {
    /// `pixel_to_f32` over a whole row, vectorised.
    pub fn convert_row(src: &[u8], dst: &mut [f32]) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = pixel_to_f32(s);
        }
    }
}

/// Converts the images at `idx` into `out` (row-major, `idx.len()` x 784).
pub fn gather_pixels(images: &Images, idx: &[u32], out: &mut [f32]) {
    debug_assert_eq!(out.len(), idx.len() * PIXELS);
    for (row, &i) in out.chunks_exact_mut(PIXELS).zip(idx) {
        convert_row(images.image(i as usize), row);
    }
}

/// Converts consecutive images `start..start + out.len() / 784` into `out`.
pub fn convert_range(images: &Images, start: usize, out: &mut [f32]) {
    let n = out.len() / PIXELS;
    convert_row(&images.pixels[start * PIXELS..(start + n) * PIXELS], out);
}

/// Copies the rows at `idx` of a row-major matrix with `width` columns into `out`.
pub fn gather_rows(src: &[f32], width: usize, idx: &[u32], out: &mut [f32]) {
    for (row, &i) in out.chunks_exact_mut(width).zip(idx) {
        let i = i as usize;
        row.copy_from_slice(&src[i * width..(i + 1) * width]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_are_permutations_and_the_remainder_carries_over() {
        let n = 10;
        let mut s = Sampler::new(n, 7);
        let mut stream = Vec::new();
        let mut b = [0u32; 3];
        for _ in 0..10 {
            s.next_batch(&mut b);
            stream.extend_from_slice(&b);
        }
        // 30 indices = exactly 3 epochs, each a permutation of 0..10.
        for epoch in stream.chunks(n) {
            let mut e = epoch.to_vec();
            e.sort();
            assert_eq!(e, (0..n as u32).collect::<Vec<_>>());
        }
        assert_ne!(stream[..n], stream[n..2 * n], "each epoch is reshuffled");
    }

    #[test]
    fn same_seed_same_order_different_seed_different_order() {
        let mut a = Sampler::new(1000, 1);
        let mut b = Sampler::new(1000, 1);
        let mut c = Sampler::new(1000, 2);
        let (mut x, mut y, mut z) = ([0u32; 150], [0u32; 150], [0u32; 150]);
        for _ in 0..20 {
            a.next_batch(&mut x);
            b.next_batch(&mut y);
            c.next_batch(&mut z);
            assert_eq!(x, y);
        }
        assert_ne!(x, z);
    }

    #[test]
    fn subset_batches_have_no_repeats() {
        let mut s = SubsetSampler::new(200, 3);
        let mut b = [0u32; 150];
        s.next_batch(&mut b);
        let mut v = b.to_vec();
        v.sort();
        v.dedup();
        assert_eq!(v.len(), 150);
        assert!(v.iter().all(|&i| i < 200));
    }

    #[test]
    fn pixels_scale_like_tensorflow() {
        assert_eq!(pixel_to_f32(0), 0.0);
        assert_eq!(pixel_to_f32(255), 255.0f32 * (1.0f32 / 255.0));
        assert!((pixel_to_f32(128) - 128.0 / 255.0).abs() < 1e-7);
    }
}
