//! The network's shape and parameters, and the recipe's He initialisation.

use ndarray::{Array1, Array2};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Layer sizes of the symmetric stack `inputs-hidden1-hidden2-hidden1-inputs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arch {
    pub inputs: usize,
    pub hidden1: usize,
    pub hidden2: usize,
}

impl Arch {
    /// 784-300-150-300-784, as in the recipe.
    pub const RECIPE: Arch = Arch {
        inputs: 784,
        hidden1: 300,
        hidden2: 150,
    };

    /// Shapes of the eight tensors in `TENSOR_NAMES` order, `[in, out]` for weights.
    pub fn shapes(&self) -> [Vec<usize>; 8] {
        let (i, h1, h2) = (self.inputs, self.hidden1, self.hidden2);
        [
            vec![i, h1],
            vec![h1],
            vec![h1, h2],
            vec![h2],
            vec![h2, h1],
            vec![h1],
            vec![h1, i],
            vec![i],
        ]
    }

    pub fn parameter_count(&self) -> usize {
        self.shapes()
            .iter()
            .map(|s| s.iter().product::<usize>())
            .sum()
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Arch {
            inputs: i,
            hidden1: h1,
            hidden2: h2,
        } = self;
        write!(f, "{i}-{h1}-{h2}-{h1}-{i}")
    }
}

/// The tensor names of the seed's graph, which are also the checkpoint's.
pub const TENSOR_NAMES: [&str; 8] = [
    "weights1", "biases1", "weights2", "biases2", "weights3", "biases3", "weights4", "biases4",
];

/// Whether the tensor at this index of `TENSOR_NAMES` is a weight matrix (L2 applies).
pub fn is_weight(index: usize) -> bool {
    index.is_multiple_of(2)
}

/// All weights (`[in, out]`, row-major) and biases of the stack.
#[derive(Clone, PartialEq)]
pub struct Params {
    pub w1: Array2<f32>,
    pub b1: Array1<f32>,
    pub w2: Array2<f32>,
    pub b2: Array1<f32>,
    pub w3: Array2<f32>,
    pub b3: Array1<f32>,
    pub w4: Array2<f32>,
    pub b4: Array1<f32>,
}

/// The shape, not the 700,000 numbers: parameters travel in logged events.
impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Params({})", self.arch())
    }
}

impl Params {
    pub fn zeros(arch: Arch) -> Self {
        let Arch {
            inputs: i,
            hidden1: h1,
            hidden2: h2,
        } = arch;
        Self {
            w1: Array2::zeros((i, h1)),
            b1: Array1::zeros(h1),
            w2: Array2::zeros((h1, h2)),
            b2: Array1::zeros(h2),
            w3: Array2::zeros((h2, h1)),
            b3: Array1::zeros(h1),
            w4: Array2::zeros((h1, i)),
            b4: Array1::zeros(i),
        }
    }

    /// The recipe's initialisation: `variance_scaling_initializer()` with TF's defaults,
    /// a normal truncated at two standard deviations (redrawn beyond), std =
    /// sqrt(1.3 * 2 / fan_in); biases zero. Deterministic in `seed`.
    pub fn he_init(arch: Arch, seed: u64) -> Self {
        let mut p = Self::zeros(arch);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        for w in [&mut p.w1, &mut p.w2, &mut p.w3, &mut p.w4] {
            he_fill(w, &mut rng);
        }
        p
    }

    pub fn arch(&self) -> Arch {
        let (inputs, hidden1) = self.w1.dim();
        Arch {
            inputs,
            hidden1,
            hidden2: self.w2.ncols(),
        }
    }

    /// The eight tensors in `TENSOR_NAMES` order, as flat slices.
    pub fn tensors(&self) -> [&[f32]; 8] {
        [
            flat(self.w1.as_slice()),
            flat(self.b1.as_slice()),
            flat(self.w2.as_slice()),
            flat(self.b2.as_slice()),
            flat(self.w3.as_slice()),
            flat(self.b3.as_slice()),
            flat(self.w4.as_slice()),
            flat(self.b4.as_slice()),
        ]
    }

    pub fn tensors_mut(&mut self) -> [&mut [f32]; 8] {
        [
            flat_mut(self.w1.as_slice_mut()),
            flat_mut(self.b1.as_slice_mut()),
            flat_mut(self.w2.as_slice_mut()),
            flat_mut(self.b2.as_slice_mut()),
            flat_mut(self.w3.as_slice_mut()),
            flat_mut(self.b3.as_slice_mut()),
            flat_mut(self.w4.as_slice_mut()),
            flat_mut(self.b4.as_slice_mut()),
        ]
    }

    /// Copies the tensors at `indices` (into `TENSOR_NAMES`) from `src`.
    pub fn copy_tensors(&mut self, src: &Params, indices: &[usize]) {
        let (dst, src) = (self.tensors_mut(), src.tensors());
        for &i in indices {
            dst[i].copy_from_slice(src[i]);
        }
    }

    pub fn all_finite(&self) -> bool {
        self.tensors()
            .iter()
            .all(|t| t.iter().all(|x| x.is_finite()))
    }
}

// Params are only ever built by `zeros` (standard layout), so the slices always exist.
fn flat(s: Option<&[f32]>) -> &[f32] {
    s.expect("parameters are stored contiguously")
}

fn flat_mut(s: Option<&mut [f32]>) -> &mut [f32] {
    s.expect("parameters are stored contiguously")
}

/// Fills `w` (`[fan_in, fan_out]`) as `variance_scaling_initializer()` does: a normal
/// truncated at two standard deviations, std = sqrt(1.3 * 2 / fan_in).
pub(crate) fn he_fill(w: &mut Array2<f32>, rng: &mut Xoshiro256PlusPlus) {
    let std = (1.3 * 2.0 / w.nrows() as f64).sqrt();
    w.mapv_inplace(|_| (truncated_normal(rng) * std) as f32);
}

fn truncated_normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    loop {
        let x: f64 = StandardNormal.sample(rng);
        if x.abs() <= 2.0 {
            return x;
        }
    }
}

/// Independent RNG streams from one user seed (initialisation, batch order, ...).
pub fn stream_seed(seed: u64, stream: u64) -> u64 {
    // splitmix64 finaliser over seed and stream: nearby seeds give unrelated streams.
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn he_init_has_the_recipe_statistics() {
        let p = Params::he_init(Arch::RECIPE, 42);
        let w = &p.w1;
        let std = (1.3f64 * 2.0 / 784.0).sqrt();
        let n = w.len() as f64;
        let mean = w.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = w.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        let max = w.iter().fold(0f64, |m, &x| m.max((x as f64).abs()));
        assert!(mean.abs() < 1e-3 * std * 10.0, "mean {mean}");
        // A normal truncated at 2 sigma has std 0.8796 of the untruncated one.
        assert!(
            (var.sqrt() / std - 0.8796).abs() < 0.01,
            "{}",
            var.sqrt() / std
        );
        assert!(max <= 2.0 * std + 1e-6);
        assert!(p.b1.iter().all(|&b| b == 0.0));
        assert_eq!(p, Params::he_init(Arch::RECIPE, 42));
        assert_ne!(p.w1, Params::he_init(Arch::RECIPE, 43).w1);
    }

    #[test]
    fn arch_round_trips_and_names_shapes() {
        let p = Params::zeros(Arch::RECIPE);
        assert_eq!(p.arch(), Arch::RECIPE);
        assert_eq!(Arch::RECIPE.to_string(), "784-300-150-300-784");
        assert_eq!(
            Arch::RECIPE.parameter_count(),
            p.tensors().iter().map(|t| t.len()).sum::<usize>()
        );
    }
}
