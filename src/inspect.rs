//! What the exploration views show, computed from parameters and test images: the two
//! reconstructions of an image, its code, and the per-image errors. Shared by the app
//! and by `layerwise export`.

use ndarray::{Array2, s};

use crate::data::batch::gather_pixels;
use crate::data::{Images, PIXELS};
use crate::model::{Inference, Noise, Params};

/// The key the shown images' noise is drawn from: each test image keeps its own noise
/// from frame to frame, and differs from every training batch's.
const SHOWN_NOISE_KEY: u64 = 0x005E_ED0F_5A0E;

/// One test image through the stack: reconstructed through autoencoders 1..k for every
/// k (k = 1 is phase 1's outer autoencoder, k = K the full stack), with its code.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconstruction {
    /// Index in the test set.
    pub index: usize,
    pub label: u8,
    /// Pixels in [0, 1], 784 of them.
    pub original: Vec<f32>,
    /// With noise: the original corrupted, which the stack is given (the errors are
    /// still against the clean original: how well it denoises).
    pub corrupted: Option<Vec<f32>>,
    /// `through[k-1]`: the image through autoencoders 1..k (h(k) decoded by the mirror
    /// layers); the last is the full stack's.
    pub through: Vec<Vec<f32>>,
    /// Each of those against the original.
    pub mse: Vec<f32>,
    /// The innermost code, h(K).
    pub code: Vec<f32>,
}

impl Reconstruction {
    /// Phase 1's reconstruction: the outer autoencoder alone (784 -> 300 -> 784).
    pub fn outer(&self) -> &[f32] {
        &self.through[0]
    }

    /// The full stack's.
    pub fn full(&self) -> &[f32] {
        &self.through[self.through.len() - 1]
    }

    pub fn mse_outer(&self) -> f32 {
        self.mse[0]
    }

    pub fn mse_full(&self) -> f32 {
        self.mse[self.mse.len() - 1]
    }
}

/// Runs the images at `indices` (into `images`, all in range) through the stack.
pub fn reconstruct(p: &Params, images: &Images, indices: &[usize]) -> Vec<Reconstruction> {
    reconstruct_noisy(p, images, indices, Noise::None)
}

/// `reconstruct`, each image first corrupted by `noise` (as a denoising phase 1 corrupts
/// its input), unless it is `Noise::None`.
pub fn reconstruct_noisy(
    p: &Params,
    images: &Images,
    indices: &[usize],
    noise: Noise,
) -> Vec<Reconstruction> {
    if indices.is_empty() {
        return Vec::new();
    }
    let idx: Vec<u32> = indices.iter().map(|&i| i as u32).collect();
    let mut x = Array2::zeros((indices.len(), PIXELS));
    gather_pixels(images, &idx, x.as_slice_mut().expect("standard layout"));
    let noisy = (!noise.is_none()).then(|| {
        let mut n = x.clone();
        for ((clean, out), &i) in x.rows().into_iter().zip(n.rows_mut()).zip(indices) {
            if let (Some(clean), Some(out)) = (clean.to_slice(), out.into_slice()) {
                noise.corrupt(SHOWN_NOISE_KEY, i, clean, out);
            }
        }
        n
    });
    let mut inf = Inference::new(p.arch(), indices.len());
    inf.run(p, noisy.as_ref().unwrap_or(&x).view(), true);
    let mse = |a: &[f32], b: &[f32]| {
        (a.iter()
            .zip(b)
            .map(|(&a, &b)| ((a - b) as f64).powi(2))
            .sum::<f64>()
            / a.len() as f64) as f32
    };
    indices
        .iter()
        .enumerate()
        .map(|(r, &index)| {
            let row = |m: &Array2<f32>| m.slice(s![r, ..]).to_vec();
            let original = row(&x);
            let through: Vec<Vec<f32>> = inf
                .through
                .iter()
                .chain(std::iter::once(inf.out()))
                .map(row)
                .collect();
            Reconstruction {
                index,
                label: images.labels[index],
                mse: through.iter().map(|t| mse(&original, t)).collect(),
                code: row(inf.code()),
                corrupted: noisy.as_ref().map(row),
                original,
                through,
            }
        })
        .collect()
}

/// The incoming weights of each hidden1 unit (a column of W1), as images.
pub fn features(p: &Params) -> Vec<Vec<f32>> {
    p.w[0].columns().into_iter().map(|c| c.to_vec()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Mnist;
    use crate::model::Arch;
    use crate::model::grad::{Workspace, stage_loss};

    /// The engine's own passes, written out with ndarray's `dot`, for comparison.
    fn by_hand(p: &Params, x: &Array2<f32>) -> (Array2<f32>, Array2<f32>, Array2<f32>) {
        let elu = |m: Array2<f32>| m.mapv(crate::model::kernels::elu);
        let h1 = elu(x.dot(&p.w[0]) + &p.b[0]);
        let outer = h1.dot(&p.w[3]) + &p.b[3];
        let h2 = elu(h1.dot(&p.w[1]) + &p.b[1]);
        let h3 = elu(h2.dot(&p.w[2]) + &p.b[2]);
        (outer, h3.dot(&p.w[3]) + &p.b[3], h2)
    }

    #[test]
    fn reconstructions_equal_the_engines_forward_passes() {
        let data = Mnist::embedded().unwrap();
        let p = Params::he_init(Arch::RECIPE, 3);
        let indices = [0, 7, 9999];
        let r = reconstruct(&p, &data.test, &indices);
        let idx: Vec<u32> = indices.iter().map(|&i| i as u32).collect();
        let mut x = Array2::zeros((3, PIXELS));
        gather_pixels(&data.test, &idx, x.as_slice_mut().unwrap());
        let (outer, full, code) = by_hand(&p, &x);
        for (k, rec) in r.iter().enumerate() {
            assert_eq!(rec.index, indices[k]);
            assert_eq!(rec.label, data.test.labels[indices[k]]);
            let close = |a: &[f32], b: ndarray::ArrayView1<f32>| {
                a.iter()
                    .zip(b)
                    .all(|(&a, &b)| (a - b).abs() <= 1e-4 * (1.0 + b.abs()))
            };
            assert!(close(rec.outer(), outer.row(k)));
            assert!(close(rec.full(), full.row(k)));
            assert!(close(&rec.code, code.row(k)));
        }
        // And with the training code's phase-1 pass: the same loss.
        let mut ws = Workspace::new(Arch::RECIPE, 3);
        ws.x().assign(&x);
        let loss = stage_loss(&p, 1, &mut ws);
        let mean = r.iter().map(|r| r.mse_outer() as f64).sum::<f64>() / 3.0;
        assert!((loss as f64 - mean).abs() < 1e-6 * mean);
    }

    #[test]
    fn corrupted_images_are_reconstructed_and_measured_against_the_clean_ones() {
        let data = Mnist::embedded().unwrap();
        let p = Params::he_init(Arch::RECIPE, 3);
        let indices = [0, 7];
        let clean = reconstruct(&p, &data.test, &indices);
        assert!(clean.iter().all(|r| r.corrupted.is_none()));
        let mask = Noise::Mask { fraction: 0.5 };
        let noisy = reconstruct_noisy(&p, &data.test, &indices, mask);
        assert_eq!(noisy, reconstruct_noisy(&p, &data.test, &indices, mask));
        for (c, n) in clean.iter().zip(&noisy) {
            assert_eq!(n.original, c.original);
            let corrupted = n.corrupted.as_ref().unwrap();
            let lit = |v: &[f32]| v.iter().filter(|&&x| x > 0.0).count();
            assert!(
                lit(corrupted) < lit(&n.original) * 3 / 4,
                "about half masked"
            );
            assert_ne!(n.full(), c.full());
            // The stack was given the corrupted image; the error is against the clean.
            let x = Array2::from_shape_vec((1, PIXELS), corrupted.clone()).unwrap();
            let mut inf = Inference::new(p.arch(), 1);
            inf.run(&p, x.view(), false);
            assert_eq!(inf.out().row(0).to_vec(), n.full());
            let sq = |a: &[f32], b: &[f32]| {
                a.iter()
                    .zip(b)
                    .map(|(&a, &b)| ((a - b) as f64).powi(2))
                    .sum::<f64>()
                    / a.len() as f64
            };
            assert_eq!(n.mse_full(), sq(&n.original, n.full()) as f32);
        }
    }

    #[test]
    fn features_are_the_columns_of_w1() {
        let p = Params::he_init(Arch::RECIPE, 1);
        let f = features(&p);
        assert_eq!(f.len(), 300);
        assert_eq!(f[17].len(), 784);
        assert_eq!(f[17][5], p.w[0][[5, 17]]);
    }
}
