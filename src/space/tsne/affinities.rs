//! The input similarities P of t-SNE, sparse: each point attends to its `k = 3 *
//! perplexity` exact nearest neighbours with a Gaussian whose width gives the row the
//! wanted perplexity; P is the symmetrised, normalised sum of those rows.

use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::{Array2, ArrayView2, s};
use rayon::prelude::*;

use super::{Plan, TsneError, check_input};
use crate::model::linalg::matmul_serial;

/// Query rows per block of the neighbour search: one block's distances to 10,000
/// points are 5 MB of f32, and a block is about a millisecond of GEMM.
const QUERY_BLOCK: usize = 128;
/// The binary search on a point's Gaussian precision stops within this of the wanted
/// entropy (in nats), or after `MAX_SEARCH` halvings, as in the reference.
const ENTROPY_TOLERANCE: f64 = 1e-5;
const MAX_SEARCH: usize = 200;

/// The symmetric input similarities, sparse by rows (CSR), summing to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Affinities {
    offsets: Vec<usize>,
    columns: Vec<u32>,
    values: Vec<f64>,
}

/// Each point's `k` nearest neighbours (nearest first, ties to the lower index) and
/// their squared distances, `n * k` of each.
pub(super) struct Neighbours {
    pub k: usize,
    pub index: Vec<u32>,
    pub distance2: Vec<f32>,
}

impl Affinities {
    /// P for the rows of `x` (n x d, n the plan's), or `None` when `cancel` was set
    /// meanwhile. The neighbour search (most of the time) checks it every block of
    /// 128 rows, the perplexity search every 64 rows.
    pub fn new(
        x: ArrayView2<f32>,
        plan: &Plan,
        cancel: &AtomicBool,
    ) -> Result<Option<Self>, TsneError> {
        plan.check_points(x.nrows())?;
        check_input(x)?;
        let Some(nb) = nearest_neighbours(x, plan.neighbours(), cancel) else {
            return Ok(None);
        };
        let Some(conditional) = conditional_rows(&nb, plan.perplexity(), cancel) else {
            return Ok(None);
        };
        Ok(Some(symmetrise(x.nrows(), &nb, &conditional)))
    }

    pub fn points(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Stored entries (each pair twice, once in each row).
    pub fn entries(&self) -> usize {
        self.values.len()
    }

    /// Row `i`: its neighbours in increasing order, and `p_ij` for each.
    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let r = self.offsets[i]..self.offsets[i + 1];
        (&self.columns[r.clone()], &self.values[r])
    }
}

/// The exact `k` nearest neighbours of every row of `x` (itself excluded), squared
/// distances from `|a|² + |b|² - 2 a·b` with a GEMM per block of query rows. Blocks
/// run in parallel, each a serial GEMM, so results do not depend on the thread count.
pub(super) fn nearest_neighbours(
    x: ArrayView2<f32>,
    k: usize,
    cancel: &AtomicBool,
) -> Option<Neighbours> {
    let n = x.nrows();
    let norms: Vec<f32> = x
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|&v| v as f64 * v as f64).sum::<f64>() as f32)
        .collect();
    let mut index = vec![0u32; n * k];
    let mut distance2 = vec![0f32; n * k];
    let block = QUERY_BLOCK * k;
    index
        .par_chunks_mut(block.max(1))
        .zip(distance2.par_chunks_mut(block.max(1)))
        .enumerate()
        .for_each_init(
            || Search::new(n, k),
            |search, (b, (index, distance2))| {
                if !cancel.load(Ordering::Relaxed) {
                    let rows = b * QUERY_BLOCK..(b * QUERY_BLOCK + index.len() / k.max(1));
                    search.block(x, &norms, rows, index, distance2);
                }
            },
        );
    (!cancel.load(Ordering::Relaxed)).then_some(Neighbours {
        k,
        index,
        distance2,
    })
}

/// One thread's buffers for the neighbour search.
struct Search {
    dots: Array2<f32>,
    best: Best,
}

impl Search {
    fn new(n: usize, k: usize) -> Self {
        Self {
            dots: Array2::zeros((QUERY_BLOCK, n)),
            best: Best {
                k,
                heap: BinaryHeap::with_capacity(k + 1),
                bar: u64::MAX,
            },
        }
    }

    /// The neighbours of `rows`, into their `k` slots each of `index` and `distance2`.
    fn block(
        &mut self,
        x: ArrayView2<f32>,
        norms: &[f32],
        rows: std::ops::Range<usize>,
        index: &mut [u32],
        distance2: &mut [f32],
    ) {
        let k = self.best.k;
        let mut dots = self.dots.slice_mut(s![..rows.len(), ..]);
        matmul_serial(dots.view_mut(), x.slice(s![rows.clone(), ..]), x.t(), false);
        let out = index.chunks_exact_mut(k).zip(distance2.chunks_exact_mut(k));
        for ((r, i), (index, distance2)) in rows.enumerate().zip(out) {
            for (j, (&dot, &norm)) in dots.row(r).iter().zip(norms).enumerate() {
                if j != i {
                    self.best.offer(key(norms[i] + norm - 2.0 * dot, j));
                }
            }
            self.best.drain_sorted(index, distance2);
        }
    }
}

/// The k best candidates so far: a max-heap of (squared distance bits, index) in one
/// u64, so that the order is a total one, ties going to the lower index.
struct Best {
    k: usize,
    heap: BinaryHeap<u64>,
    /// The key a candidate must beat: the heap's largest once it holds k.
    bar: u64,
}

impl Best {
    /// Almost every candidate of a row fails the one comparison with `bar`.
    #[inline]
    fn offer(&mut self, key: u64) {
        if key < self.bar {
            self.admit(key);
        }
    }

    fn admit(&mut self, key: u64) {
        if self.heap.len() < self.k {
            self.heap.push(key);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            *worst = key;
        }
        if self.heap.len() == self.k {
            self.bar = self.heap.peek().copied().unwrap_or(u64::MAX);
        }
    }

    /// Writes the candidates nearest first and empties the heap (keeping its buffer).
    fn drain_sorted(&mut self, index: &mut [u32], distance2: &mut [f32]) {
        let mut keys = std::mem::take(&mut self.heap).into_sorted_vec();
        for ((&key, i), d) in keys.iter().zip(index).zip(distance2) {
            *i = key as u32;
            *d = f32::from_bits((key >> 32) as u32);
        }
        keys.clear();
        self.heap = BinaryHeap::from(keys);
        self.bar = u64::MAX;
    }
}

/// A neighbour as one integer: the bits of a non-negative f32 order as its value.
/// Rounding can make a GEMM distance slightly negative; it is 0 then.
fn key(d2: f32, j: usize) -> u64 {
    let d2 = if d2 > 0.0 { d2 } else { 0.0 };
    (u64::from(d2.to_bits()) << 32) | j as u64
}

/// `p_{j|i}` for each point's neighbours, `n * k` values, each row summing to 1; `None`
/// when `cancel` was set meanwhile (it is checked before each task of rows).
fn conditional_rows(nb: &Neighbours, perplexity: f64, cancel: &AtomicBool) -> Option<Vec<f64>> {
    let mut p = vec![0f64; nb.distance2.len()];
    let rows = 64 * nb.k;
    p.par_chunks_mut(rows)
        .zip(nb.distance2.par_chunks(rows))
        .for_each(|(p, d2)| {
            if !cancel.load(Ordering::Relaxed) {
                for (p, d2) in p.chunks_exact_mut(nb.k).zip(d2.chunks_exact(nb.k)) {
                    gaussian_row(d2, perplexity, p);
                }
            }
        });
    (!cancel.load(Ordering::Relaxed)).then_some(p)
}

/// Fills `p` with `exp(-beta d2_j) / sum`, `beta` found by bisection so that the row's
/// entropy is `ln(perplexity)`. Distances are taken relative to the nearest, which
/// leaves the normalised row unchanged and keeps the largest term at exp(0) = 1, so
/// the sum never underflows to 0.
pub(super) fn gaussian_row(d2: &[f32], perplexity: f64, p: &mut [f64]) {
    let target = perplexity.ln();
    let nearest = d2.iter().fold(f64::INFINITY, |m, &d| m.min(d as f64));
    // Start at the scale of the distances: fewer halvings or doublings to the answer.
    let spread = d2.iter().map(|&d| d as f64 - nearest).sum::<f64>() / d2.len() as f64;
    let mut beta = if spread > 0.0 { 1.0 / spread } else { 1.0 };
    let (mut lo, mut hi) = (0.0f64, f64::INFINITY);
    let mut sum = 1.0;
    for _ in 0..MAX_SEARCH {
        let mut weighted = 0.0;
        sum = 0.0;
        for (p, &d) in p.iter_mut().zip(d2) {
            let d = d as f64 - nearest;
            *p = (-beta * d).exp();
            sum += *p;
            weighted += d * *p;
        }
        let entropy = sum.ln() + beta * weighted / sum;
        if (entropy - target).abs() < ENTROPY_TOLERANCE {
            break;
        }
        if entropy > target {
            lo = beta;
            beta = if hi.is_finite() {
                (beta + hi) / 2.0
            } else {
                beta * 2.0
            };
        } else {
            hi = beta;
            beta = (beta + lo) / 2.0;
        }
    }
    p.iter_mut().for_each(|p| *p /= sum);
}

/// `p_ij = (p_{j|i} + p_{i|j}) / 2n`, both directions stored, columns sorted.
fn symmetrise(n: usize, nb: &Neighbours, conditional: &[f64]) -> Affinities {
    let k = nb.k;
    // Row i holds its own k entries and one for each point that has i as neighbour.
    let mut offsets = vec![k; n + 1];
    offsets[0] = 0;
    for &j in &nb.index {
        offsets[j as usize + 1] += 1;
    }
    for i in 0..n {
        offsets[i + 1] += offsets[i];
    }
    let mut entries = vec![(0u32, 0f64); offsets[n]];
    let mut fill = offsets.clone();
    for (i, (row, p)) in nb.index.chunks(k).zip(conditional.chunks(k)).enumerate() {
        for (&j, &p) in row.iter().zip(p) {
            entries[fill[i]] = (j, p);
            fill[i] += 1;
            entries[fill[j as usize]] = (i as u32, p);
            fill[j as usize] += 1;
        }
    }
    sort_rows(&offsets, &mut entries);
    merge_rows(&offsets, &entries, 1.0 / (2.0 * n as f64))
}

/// Sorts each row's entries by column, rows in parallel.
fn sort_rows(offsets: &[usize], entries: &mut [(u32, f64)]) {
    let mut rows = Vec::with_capacity(offsets.len() - 1);
    let mut rest = entries;
    for w in offsets.windows(2) {
        let (row, tail) = rest.split_at_mut(w[1] - w[0]);
        rows.push(row);
        rest = tail;
    }
    rows.par_iter_mut()
        .with_min_len(64)
        .for_each(|row| row.sort_unstable_by_key(|&(j, _)| j));
}

/// Adds up the (at most two) entries of a pair in each sorted row and scales them.
/// Addition of two numbers commutes exactly, so the order of a pair's two entries
/// after an unstable sort does not matter.
fn merge_rows(offsets: &[usize], entries: &[(u32, f64)], scale: f64) -> Affinities {
    let n = offsets.len() - 1;
    let mut out = Affinities {
        offsets: Vec::with_capacity(n + 1),
        columns: Vec::with_capacity(entries.len()),
        values: Vec::with_capacity(entries.len()),
    };
    out.offsets.push(0);
    for w in offsets.windows(2) {
        let row_start = out.columns.len();
        for &(j, p) in &entries[w[0]..w[1]] {
            match out.values.last_mut() {
                Some(last) if out.columns.len() > row_start && out.columns.last() == Some(&j) => {
                    *last += p * scale;
                }
                _ => {
                    out.columns.push(j);
                    out.values.push(p * scale);
                }
            }
        }
        out.offsets.push(out.columns.len());
    }
    out
}
