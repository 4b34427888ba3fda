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

/// Where a batch order stands, to continue it exactly: the permutation being walked,
/// the position in it, and the generator's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderState {
    pub perm: Vec<u32>,
    pub pos: usize,
    /// Whether the first epoch's shuffle has happened.
    pub started: bool,
    /// xoshiro256++'s four words.
    pub rng: [u64; 4],
}

/// A saved batch order that cannot be continued on this data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("it walks {found} images, the training set has {expected}")]
    OtherSize { found: usize, expected: usize },
    #[error("it is not a permutation of the training images")]
    NotAPermutation,
    #[error("its position {pos} lies past its {len} images")]
    Position { pos: usize, len: usize },
}

fn rng_words(rng: &Xoshiro256PlusPlus) -> [u64; 4] {
    // The generator shows its state only through serde.
    #[derive(serde::Deserialize)]
    struct Words {
        s: [u64; 4],
    }
    serde_json::to_value(rng)
        .and_then(serde_json::from_value::<Words>)
        .map(|w| w.s)
        .unwrap_or_default()
}

fn rng_from(words: [u64; 4]) -> Xoshiro256PlusPlus {
    let mut seed = [0u8; 32];
    for (chunk, w) in seed.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    // An all-zero state (which no run produces) is remapped by `from_seed`: a
    // generator stuck at zero would make the shuffle's rejection sampling spin.
    Xoshiro256PlusPlus::from_seed(seed)
}

/// Checks that `s` can continue a batch order over `n` images.
fn check(s: &OrderState, n: usize) -> Result<(), OrderError> {
    if s.perm.len() != n {
        return Err(OrderError::OtherSize {
            found: s.perm.len(),
            expected: n,
        });
    }
    if s.pos > n {
        return Err(OrderError::Position { pos: s.pos, len: n });
    }
    let mut seen = vec![false; n];
    for &i in &s.perm {
        match seen.get_mut(i as usize) {
            Some(b) if !*b => *b = true,
            _ => return Err(OrderError::NotAPermutation),
        }
    }
    Ok(())
}

impl Sampler {
    pub fn state(&self) -> OrderState {
        OrderState {
            perm: self.perm.clone(),
            pos: self.pos,
            started: self.started,
            rng: rng_words(&self.rng),
        }
    }

    /// Continues a saved order over a training set of `n` images.
    pub fn from_state(s: OrderState, n: usize) -> Result<Self, OrderError> {
        check(&s, n)?;
        Ok(Self {
            rng: rng_from(s.rng),
            perm: s.perm,
            pos: s.pos,
            started: s.started,
        })
    }
}

impl SubsetSampler {
    pub fn state(&self) -> OrderState {
        OrderState {
            perm: self.scratch.clone(),
            pos: 0,
            started: true,
            rng: rng_words(&self.rng),
        }
    }

    pub fn from_state(s: OrderState, n: usize) -> Result<Self, OrderError> {
        check(&s, n)?;
        Ok(Self {
            rng: rng_from(s.rng),
            scratch: s.perm,
        })
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
    fn a_saved_order_continues_exactly_and_a_broken_one_is_refused() {
        let mut a = Sampler::new(100, 9);
        let mut b = [0u32; 30];
        for _ in 0..5 {
            a.next_batch(&mut b); // 150 indices: the order is inside its second epoch
        }
        let mut c = Sampler::from_state(a.state(), 100).unwrap();
        let (mut x, mut y) = ([0u32; 30], [0u32; 30]);
        for _ in 0..10 {
            a.next_batch(&mut x);
            c.next_batch(&mut y);
            assert_eq!(x, y);
        }
        let mut s = SubsetSampler::new(100, 4);
        s.next_batch(&mut b);
        let mut t = SubsetSampler::from_state(s.state(), 100).unwrap();
        s.next_batch(&mut x);
        t.next_batch(&mut y);
        assert_eq!(x, y);

        let good = a.state();
        let other = Sampler::from_state(good.clone(), 99).unwrap_err();
        assert_eq!(
            other.to_string(),
            "it walks 100 images, the training set has 99"
        );
        let mut twice = good.clone();
        twice.perm[3] = twice.perm[4];
        assert_eq!(
            Sampler::from_state(twice, 100).unwrap_err(),
            OrderError::NotAPermutation
        );
        let mut outside = good.clone();
        outside.perm[0] = 100;
        assert_eq!(
            Sampler::from_state(outside, 100).unwrap_err(),
            OrderError::NotAPermutation
        );
        let past = OrderState { pos: 101, ..good };
        assert!(Sampler::from_state(past, 100).is_err());
        // A zero state, which would make the shuffle spin, is remapped.
        let zero = OrderState {
            rng: [0; 4],
            ..a.state()
        };
        Sampler::from_state(zero, 100).unwrap().next_batch(&mut x);
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
