//! The corruption of a denoising autoencoder's input: Gaussian noise, or masking a
//! fraction of the inputs to zero (Vincent et al. 2010), or dropout (masking that
//! scales the kept inputs, the chapter's notebook).
//!
//! Every value drawn is a pure function of a key, a row of the batch and a column
//! (a counter-based generator), so a batch is corrupted with the same bits however its
//! rows are cut among threads, and whether h(k-1) came from the cache or was recomputed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How a denoising phase corrupts its input; the target stays clean.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Noise {
    /// The recipe: no corruption.
    #[default]
    None,
    /// Adds N(0, sd²) to every input.
    Gaussian { sd: f32 },
    /// Sets each input to zero with probability `fraction`; the rest stay as they are.
    Mask { fraction: f32 },
    /// Sets each input to zero with probability `rate` and scales the rest by
    /// 1 / (1 - rate), as TF's dropout does.
    Dropout { rate: f32 },
}

impl Noise {
    pub fn is_none(&self) -> bool {
        *self == Noise::None
    }

    /// Why these settings cannot corrupt anything sensibly, if they cannot.
    pub fn problem(&self) -> Option<String> {
        match *self {
            Noise::None => None,
            Noise::Gaussian { sd } if !(sd.is_finite() && sd > 0.0) => Some(format!(
                "the Gaussian noise's standard deviation must be a positive number, not {sd}"
            )),
            Noise::Mask { fraction: f } if !(f > 0.0 && f < 1.0) => Some(format!(
                "the masked fraction must lie strictly between 0 and 1, not {f}"
            )),
            Noise::Dropout { rate: r } if !(r > 0.0 && r < 1.0) => Some(format!(
                "the dropout rate must lie strictly between 0 and 1, not {r}"
            )),
            _ => None,
        }
    }

    /// `clean` (row `row` of a batch) corrupted into `out`, drawn from `key`.
    pub fn corrupt(&self, key: u64, row: usize, clean: &[f32], out: &mut [f32]) {
        let base = mix(key ^ (row as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
        let draw = |c: usize| mix(base.wrapping_add((c as u64).wrapping_mul(GOLDEN)));
        match *self {
            Noise::None => out.copy_from_slice(clean),
            Noise::Gaussian { sd } => {
                for (c, (o, &x)) in out.iter_mut().zip(clean).enumerate() {
                    *o = x + sd * normal(draw(c));
                }
            }
            Noise::Mask { fraction } => {
                for (c, (o, &x)) in out.iter_mut().zip(clean).enumerate() {
                    *o = if unit(draw(c)) < fraction { 0.0 } else { x };
                }
            }
            Noise::Dropout { rate } => {
                let keep = 1.0 / (1.0 - rate);
                for (c, (o, &x)) in out.iter_mut().zip(clean).enumerate() {
                    *o = if unit(draw(c)) < rate { 0.0 } else { x * keep };
                }
            }
        }
    }
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's finaliser: a bijection of u64 that mixes every bit into every bit.
fn mix(z: u64) -> u64 {
    super::params::stream_seed(z, 0)
}

/// Uniform in [0, 1) from the top 24 bits.
fn unit(h: u64) -> f32 {
    (h >> 40) as f32 / (1u64 << 24) as f32
}

/// A standard normal by Box-Muller from the two halves of `h`.
fn normal(h: u64) -> f32 {
    // (0, 1]: the logarithm stays finite.
    let u1 = ((h >> 40) as f32 + 1.0) / (1u64 << 24) as f32;
    let u2 = ((h >> 8) & 0xFF_FFFF) as f32 / (1u64 << 24) as f32;
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

impl fmt::Display for Noise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Noise::None => write!(f, "none"),
            Noise::Gaussian { sd } => write!(f, "gaussian:{sd}"),
            Noise::Mask { fraction } => write!(f, "mask:{fraction}"),
            Noise::Dropout { rate } => write!(f, "dropout:{rate}"),
        }
    }
}

impl FromStr for Noise {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let usage = || {
            format!(
                "'{s}' is not a noise: none, gaussian:SD (e.g. gaussian:1.0), \
                 mask:FRACTION (e.g. mask:0.25) or dropout:RATE (e.g. dropout:0.3)"
            )
        };
        let (kind, value) = match s.split_once(':') {
            Some((k, v)) => (k, Some(v)),
            None => (s, None),
        };
        let number = || -> Result<f32, String> {
            value.and_then(|v| v.trim().parse().ok()).ok_or_else(usage)
        };
        let noise = match kind.trim().to_ascii_lowercase().as_str() {
            "none" if value.is_none() => Noise::None,
            "gaussian" => Noise::Gaussian { sd: number()? },
            "mask" => Noise::Mask {
                fraction: number()?,
            },
            "dropout" => Noise::Dropout { rate: number()? },
            _ => return Err(usage()),
        };
        match noise.problem() {
            Some(p) => Err(p),
            None => Ok(noise),
        }
    }
}

impl From<Noise> for String {
    fn from(n: Noise) -> String {
        n.to_string()
    }
}

impl TryFrom<String> for Noise {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corrupted(noise: Noise, key: u64, row: usize, clean: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; clean.len()];
        noise.corrupt(key, row, clean, &mut out);
        out
    }

    #[test]
    fn masking_zeroes_about_its_fraction_and_keeps_the_rest_exactly() {
        let clean: Vec<f32> = (0..20_000).map(|i| 0.25 + (i % 7) as f32).collect();
        let out = corrupted(Noise::Mask { fraction: 0.25 }, 7, 3, &clean);
        let zeros = out.iter().filter(|&&x| x == 0.0).count() as f64 / clean.len() as f64;
        assert!((zeros - 0.25).abs() < 0.01, "{zeros}");
        assert!(out.iter().zip(&clean).all(|(&o, &x)| o == 0.0 || o == x));
        let out = corrupted(Noise::Dropout { rate: 0.3 }, 7, 3, &clean);
        let zeros = out.iter().filter(|&&x| x == 0.0).count() as f64 / clean.len() as f64;
        assert!((zeros - 0.3).abs() < 0.01, "{zeros}");
        assert!(
            out.iter()
                .zip(&clean)
                .all(|(&o, &x)| o == 0.0 || o == x * (1.0 / (1.0 - 0.3f32)))
        );
    }

    #[test]
    fn gaussian_noise_has_its_standard_deviation_and_no_bias() {
        let clean = vec![0.5f32; 50_000];
        let out = corrupted(Noise::Gaussian { sd: 2.0 }, 1, 0, &clean);
        let n = out.len() as f64;
        let mean = out.iter().map(|&x| x as f64 - 0.5).sum::<f64>() / n;
        let var = out
            .iter()
            .map(|&x| (x as f64 - 0.5 - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((var.sqrt() - 2.0).abs() < 0.03, "{}", var.sqrt());
        // About 4.6% beyond two standard deviations, as a normal has.
        let tails = out.iter().filter(|&&x| (x - 0.5).abs() > 4.0).count() as f64 / n;
        assert!((tails - 0.0455).abs() < 0.005, "{tails}");
    }

    #[test]
    fn the_same_key_row_and_column_give_the_same_bits_and_others_do_not() {
        let clean = vec![0.5f32; 784];
        let g = Noise::Gaussian { sd: 1.0 };
        assert_eq!(corrupted(g, 5, 2, &clean), corrupted(g, 5, 2, &clean));
        assert_ne!(corrupted(g, 5, 2, &clean), corrupted(g, 5, 3, &clean));
        assert_ne!(corrupted(g, 5, 2, &clean), corrupted(g, 6, 2, &clean));
        // A shorter row is the start of the longer one: a column's draw is its own.
        assert_eq!(
            corrupted(g, 5, 2, &clean[..10]),
            corrupted(g, 5, 2, &clean)[..10]
        );
    }

    #[test]
    fn noises_read_as_the_command_line_spells_them_and_nonsense_is_refused() {
        for n in [
            Noise::None,
            Noise::Gaussian { sd: 1.0 },
            Noise::Mask { fraction: 0.25 },
            Noise::Dropout { rate: 0.3 },
        ] {
            assert_eq!(n.to_string().parse::<Noise>(), Ok(n));
            let json = serde_json::to_string(&n).unwrap();
            assert_eq!(serde_json::from_str::<Noise>(&json).unwrap(), n);
        }
        assert_eq!("mask:0.25".parse(), Ok(Noise::Mask { fraction: 0.25 }));
        for bad in [
            "mask:1.5",
            "mask:0",
            "gaussian:-1",
            "gaussian:nan",
            "dropout:1",
        ] {
            let e = bad.parse::<Noise>().unwrap_err();
            assert!(e.contains("must"), "{bad}: {e}");
        }
        for bad in ["salt", "gaussian", "mask:x", "none:1"] {
            let e = bad.parse::<Noise>().unwrap_err();
            assert!(e.contains("is not a noise"), "{bad}: {e}");
        }
    }
}
