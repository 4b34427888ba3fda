//! A sparse autoencoder's penalty on its code's activations: the KL divergence
//! between a target rate and each unit's mean activation over the batch, for sigmoid
//! codes (the chapter's notebook: target 0.1, weight 0.2), or an L1 penalty on the
//! activations themselves, for any code.

use std::fmt;
use std::str::FromStr;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

/// The penalty a layer-wise phase adds on its code (the recipe adds none).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Sparsity {
    #[default]
    None,
    /// `weight * sum_j KL(target || mean_j)`, mean_j unit j's mean over the batch.
    Kl { target: f32, weight: f32 },
    /// `weight * sum |a| / batch`: the activations' absolute sum, per example.
    L1 { weight: f32 },
}

/// Batch means are kept this far inside (0, 1), where KL stays finite.
const EDGE: f32 = 1e-6;

impl Sparsity {
    pub fn is_none(&self) -> bool {
        *self == Sparsity::None
    }

    /// Why these settings make no sense, if they do not.
    pub fn problem(&self) -> Option<String> {
        match *self {
            Sparsity::None => None,
            Sparsity::Kl { target, weight } if !(target > 0.0 && target < 1.0) => Some(format!(
                "the sparsity target must lie strictly between 0 and 1, not {target} \
                 (weight {weight})"
            )),
            Sparsity::Kl { weight, .. } | Sparsity::L1 { weight }
                if !(weight.is_finite() && weight > 0.0) =>
            {
                Some(format!(
                    "the sparsity weight must be a positive number, not {weight}"
                ))
            }
            _ => None,
        }
    }

    /// Unit j's mean activation over the batch's rows, into `means`.
    pub fn means(code: ArrayView2<'_, f32>, means: &mut [f32]) {
        means.fill(0.0);
        for row in code.rows() {
            for (m, &a) in means.iter_mut().zip(row) {
                *m += a;
            }
        }
        let n = code.nrows().max(1) as f32;
        means.iter_mut().for_each(|m| *m /= n);
    }

    /// The penalty of a batch's code (for the loss shown and the gradient checks).
    pub fn penalty(&self, code: ArrayView2<'_, f32>) -> f64 {
        match *self {
            Sparsity::None => 0.0,
            Sparsity::Kl { target, weight } => {
                let mut means = vec![0.0; code.ncols()];
                Self::means(code, &mut means);
                let (t, w) = (target as f64, weight as f64);
                let kl = |m: f32| {
                    let m = m.clamp(EDGE, 1.0 - EDGE) as f64;
                    t * (t / m).ln() + (1.0 - t) * ((1.0 - t) / (1.0 - m)).ln()
                };
                w * means.iter().map(|&m| kl(m)).sum::<f64>()
            }
            Sparsity::L1 { weight } => {
                let sum: f64 = code.iter().map(|&a| a.abs() as f64).sum();
                weight as f64 * sum / code.nrows().max(1) as f64
            }
        }
    }

    /// Adds the penalty's gradient at one row `a` of a code of `batch` rows whose unit
    /// means are `means`, to that row's `d` (the gradient at the activations, before
    /// the activation's derivative).
    pub fn add_gradient(&self, means: &[f32], batch: usize, a: &[f32], d: &mut [f32]) {
        let n = batch as f32;
        match *self {
            Sparsity::None => {}
            Sparsity::Kl { target, weight } => {
                for (d, &m) in d.iter_mut().zip(means) {
                    let m = m.clamp(EDGE, 1.0 - EDGE);
                    *d += weight / n * (-target / m + (1.0 - target) / (1.0 - m));
                }
            }
            Sparsity::L1 { weight } => {
                for (d, &a) in d.iter_mut().zip(a) {
                    // The subgradient 0 at 0, where a ReLU code sits.
                    let sign = if a > 0.0 {
                        1.0
                    } else if a < 0.0 {
                        -1.0
                    } else {
                        0.0
                    };
                    *d += weight / n * sign;
                }
            }
        }
    }
}

impl fmt::Display for Sparsity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sparsity::None => write!(f, "none"),
            Sparsity::Kl { target, weight } => write!(f, "kl:{target}:{weight}"),
            Sparsity::L1 { weight } => write!(f, "l1:{weight}"),
        }
    }
}

impl FromStr for Sparsity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let usage = || {
            format!(
                "'{s}' is not a sparsity penalty: none, kl:TARGET:WEIGHT (e.g. kl:0.1:0.2, \
                 for sigmoid codes) or l1:WEIGHT (e.g. l1:0.0001)"
            )
        };
        let parts: Vec<&str> = s.split(':').map(str::trim).collect();
        let num = |i: usize| -> Result<f32, String> {
            parts.get(i).and_then(|v| v.parse().ok()).ok_or_else(usage)
        };
        let sparsity = match (parts[0].to_ascii_lowercase().as_str(), parts.len()) {
            ("none", 1) => Sparsity::None,
            ("kl", 3) => Sparsity::Kl {
                target: num(1)?,
                weight: num(2)?,
            },
            ("l1", 2) => Sparsity::L1 { weight: num(1)? },
            _ => return Err(usage()),
        };
        match sparsity.problem() {
            Some(p) => Err(p),
            None => Ok(sparsity),
        }
    }
}

impl From<Sparsity> for String {
    fn from(s: Sparsity) -> String {
        s.to_string()
    }
}

impl TryFrom<String> for Sparsity {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn kl_is_zero_at_the_target_and_its_gradient_matches_a_difference() {
        let s = Sparsity::Kl {
            target: 0.1,
            weight: 0.2,
        };
        let at = Array2::from_elem((4, 3), 0.1f32);
        assert!(s.penalty(at.view()).abs() < 1e-9);
        let code = Array2::from_shape_fn((4, 3), |(i, j)| 0.05 + 0.1 * (i + 2 * j) as f32);
        let mut means = vec![0.0; 3];
        Sparsity::means(code.view(), &mut means);
        for (i, j) in [(0, 0), (2, 1), (3, 2)] {
            let mut d = vec![0.0; 3];
            s.add_gradient(&means, 4, code.row(i).as_slice().unwrap(), &mut d);
            let h = 1e-3;
            let mut up = code.clone();
            up[[i, j]] += h;
            let mut down = code.clone();
            down[[i, j]] -= h;
            let numeric = (s.penalty(up.view()) - s.penalty(down.view())) / (2.0 * h as f64);
            assert!(
                (d[j] as f64 - numeric).abs() < 1e-3 * numeric.abs().max(1.0),
                "{d:?} {numeric}"
            );
        }
    }

    #[test]
    fn penalties_read_as_the_command_line_spells_them_and_nonsense_is_refused() {
        for s in [
            Sparsity::None,
            Sparsity::Kl {
                target: 0.1,
                weight: 0.2,
            },
            Sparsity::L1 { weight: 1e-4 },
        ] {
            assert_eq!(s.to_string().parse::<Sparsity>(), Ok(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<Sparsity>(&json).unwrap(), s);
        }
        for bad in ["kl:1.5:0.2", "kl:0.1:-1", "l1:0", "l1:inf"] {
            let e = bad.parse::<Sparsity>().unwrap_err();
            assert!(e.contains("must"), "{bad}: {e}");
        }
        for bad in ["kl:0.1", "l2:1", "l1:x", "none:1", ""] {
            let e = bad.parse::<Sparsity>().unwrap_err();
            assert!(e.contains("is not a sparsity penalty"), "{bad}: {e}");
        }
    }
}
