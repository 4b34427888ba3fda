//! `layerwise bench`: the GEMM ceiling on the recipe's shapes and the cost of each part
//! of training, measured the way training runs (inside rayon's pool). For
//! `benches/compare.sh`, which sets these beside the reference peers.

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use ndarray::Array2;
use serde::Serialize;

use super::Failure;
use crate::data::Mnist;
use crate::model::linalg::matmul;
use crate::model::{Arch, Params, Phase};
use crate::train::classify::{Arm, ArmRun, RunSpec, Sampling};
use crate::train::{Hyperparams, Preset, Trainer, eval, in_pool};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    threads: usize,
    /// The instruction set the kernels run on (`LAYERWISE_ISA` caps it).
    isa: &'static str,
    /// The five products of a phase-1 step, two threads: GFLOP/s of all five together.
    gemm_gflops: f64,
    phase1_step_ms: f64,
    phase2_cached_step_ms: f64,
    phase2_uncached_step_ms: f64,
    /// Phase 3 and end-to-end: every layer on the full stack's loss.
    full_stack_step_ms: f64,
    /// A classifier step training every layer (scratch, fine-tuned).
    classifier_step_ms: f64,
    /// A classifier step training the softmax layer alone (frozen).
    classifier_head_step_ms: f64,
    cache_build_ms: f64,
    test_eval_ms: f64,
    /// One square 1024^3 product: the machine's SGEMM rate, the deep stack's ceiling.
    sgemm_gflops: f64,
    /// The hinton2006 preset's steps, phase by phase.
    deep: Vec<DeepStep>,
}

/// One step of a phase of the deep preset: its time, and its useful products' rate.
#[derive(Debug, Serialize)]
struct DeepStep {
    phase: String,
    cached: bool,
    step_ms: f64,
    gflops: f64,
    /// `gflops` over `sgemm_gflops`.
    of_sgemm: f64,
}

/// Floating-point operations of the products of one step of `phase` on `rows` images:
/// the frozen layers' forward pass (unless cached), and for each trained layer its
/// forward product, its weight gradient and (but for the first layer) its input
/// gradient. The element-wise work is not counted.
fn step_flops(arch: Arch, phase: Phase, cached: bool, rows: usize) -> f64 {
    let product = |j: usize| {
        let [i, o] = arch.layer_shape(j);
        2.0 * (rows * i * o) as f64
    };
    let layers = arch.layers();
    match phase {
        Phase::Layer(k) => {
            let k = k as usize;
            let below: f64 = if cached {
                0.0
            } else {
                (0..k - 1).map(product).sum()
            };
            // Encoder k and its mirror: forward, weight gradients, the input gradient of
            // the mirror (the encoder's input is frozen or the data).
            let (enc, dec) = (product(k - 1), product(layers - k));
            below + 2.0 * enc + 3.0 * dec
        }
        Phase::FineTune | Phase::EndToEnd => {
            (0..layers).map(|j| 3.0 * product(j)).sum::<f64>() - product(0)
        }
    }
}

fn sgemm_gflops() -> f64 {
    let n = 1024;
    let m = |r, c| Array2::from_shape_fn((r, c), |(x, y)| ((x * 7 + y * 3) % 17) as f32 * 0.05);
    let (a, b, mut c) = (m(n, n), m(n, n), m(n, n));
    let secs = median_secs(5, 3, &mut || {
        matmul(c.view_mut(), a.view(), b.view(), false)
    });
    2.0 * (n * n * n) as f64 / secs / 1e9
}

/// Each phase of the hinton2006 preset, k >= 2 from their caches as the app offers.
fn deep_steps(data: &Arc<Mnist>, sgemm: f64) -> Result<Vec<DeepStep>, Failure> {
    let hp = Hyperparams {
        epochs: 1000,
        fine_tune_epochs: Some(1000),
        ..Preset::Hinton2006.hyperparams()
    };
    let arch = hp.arch(crate::data::PIXELS);
    let mut t = Trainer::new(data.clone(), hp.clone()).map_err(Failure::input)?;
    Phase::all(arch.depth())
        .filter(|&p| p != Phase::EndToEnd)
        .map(|phase| {
            let cached = matches!(phase, Phase::Layer(k) if k >= 2);
            let ms = timed_steps(&mut t, phase, cached, 5, 20)?;
            let gflops = step_flops(arch, phase, cached, hp.batch_size) / ms / 1e6;
            Ok(DeepStep {
                phase: phase.tag(),
                cached,
                step_ms: ms,
                gflops,
                of_sgemm: gflops / sgemm,
            })
        })
        .collect()
}

/// Median milliseconds of a step of `phase` begun on `t`, which is stopped after.
fn timed_steps(
    t: &mut Trainer,
    phase: Phase,
    cached: bool,
    reps: usize,
    inner: usize,
) -> Result<f64, Failure> {
    t.begin_phase(phase, cached)
        .map_err(|e| Failure::Training(e.into()))?;
    let mut failed = None;
    let s = median_secs(reps, inner, &mut || {
        if failed.is_none()
            && let Err(e) = t.step()
        {
            failed = Some(e);
        }
    });
    t.stop();
    match failed {
        Some(e) => Err(Failure::Training(e.into())),
        None => Ok(s * 1e3),
    }
}

/// Median seconds of `reps` runs of `f`, each `inner` calls, after a warm-up.
fn median_secs(reps: usize, inner: usize, f: &mut dyn FnMut()) -> f64 {
    for _ in 0..inner {
        f();
    }
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            for _ in 0..inner {
                f();
            }
            s.elapsed().as_secs_f64() / inner as f64
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

fn gemm_gflops() -> f64 {
    let (b, i, h) = (150, 784, 300);
    let m = |r, c| Array2::from_shape_fn((r, c), |(x, y)| ((x * 7 + y * 3) % 17) as f32 * 0.05);
    let (x, w1, h1, w4, d) = (m(b, i), m(i, h), m(b, h), m(h, i), m(b, i));
    let (mut o1, mut o2, mut o3, mut o4, mut o5) = (m(b, h), m(b, i), m(h, i), m(b, h), m(i, h));
    let flops = 5.0 * 2.0 * (b * i * h) as f64;
    let secs = median_secs(9, 50, &mut || {
        matmul(o1.view_mut(), x.view(), w1.view(), false);
        matmul(o2.view_mut(), h1.view(), w4.view(), false);
        matmul(o3.view_mut(), h1.t(), d.view(), false);
        matmul(o4.view_mut(), d.view(), w4.t(), false);
        matmul(o5.view_mut(), x.t(), o4.view(), false);
    });
    flops / secs / 1e9
}

fn step_ms(data: &Arc<Mnist>, phase: Phase, cached: bool) -> Result<f64, Failure> {
    let hp = Hyperparams {
        epochs: 1000,
        ..Hyperparams::default()
    };
    let mut t = Trainer::new(data.clone(), hp).map_err(Failure::input)?;
    timed_steps(&mut t, phase, cached, 9, 100)
}

fn classifier_step_ms(data: &Arc<Mnist>, encoder: &Params, arm: Arm) -> Result<f64, Failure> {
    let spec = RunSpec {
        arm,
        labels: data.train.len(),
        seed: 1,
        steps: usize::MAX,
        batch: 150,
        sampling: Sampling::Epochs,
    };
    let mut run = ArmRun::new(data.clone(), encoder, spec);
    let mut failed = None;
    let s = median_secs(9, 100, &mut || {
        if let Err(e) = run.step() {
            failed = Some(e);
        }
    });
    match failed {
        Some(e) => Err(Failure::Training(e.into())),
        None => Ok(s * 1e3),
    }
}

pub fn run(data: Arc<Mnist>, args: BenchArgs) -> Result<(), Failure> {
    let report = in_pool(|| -> Result<Report, Failure> {
        let probe = Trainer::new(data.clone(), Hyperparams::default()).map_err(Failure::input)?;
        let p = probe.params().clone();
        let mut cache = vec![0f32; data.train.len() * p.arch().hidden1()];
        let sgemm = sgemm_gflops();
        Ok(Report {
            threads: rayon::current_num_threads(),
            isa: crate::simd::isa().name(),
            gemm_gflops: gemm_gflops(),
            phase1_step_ms: step_ms(&data, Phase::ONE, false)?,
            phase2_cached_step_ms: step_ms(&data, Phase::TWO, true)?,
            phase2_uncached_step_ms: step_ms(&data, Phase::TWO, false)?,
            full_stack_step_ms: step_ms(&data, Phase::FineTune, false)?,
            classifier_step_ms: classifier_step_ms(&data, &p, Arm::FineTuned)?,
            classifier_head_step_ms: classifier_step_ms(&data, &p, Arm::Frozen)?,
            cache_build_ms: 1e3
                * median_secs(5, 1, &mut || eval::hidden1_all(&p, &data.train, &mut cache)),
            test_eval_ms: 1e3
                * median_secs(7, 1, &mut || {
                    std::hint::black_box(eval::reconstruction_mse(&p, &data.test));
                }),
            sgemm_gflops: sgemm,
            deep: deep_steps(&data, sgemm)?,
        })
    })?;
    if args.json {
        let j = serde_json::to_string(&report).map_err(|e| Failure::Training(e.into()))?;
        println!("{j}");
    } else {
        println!("threads                   {}", report.threads);
        println!("instruction set           {}", report.isa);
        println!(
            "GEMM, recipe shapes       {:.0} GFLOP/s",
            report.gemm_gflops
        );
        println!("phase 1 step              {:.3} ms", report.phase1_step_ms);
        println!(
            "phase 2 step, cached      {:.3} ms",
            report.phase2_cached_step_ms
        );
        println!(
            "phase 2 step, uncached    {:.3} ms",
            report.phase2_uncached_step_ms
        );
        println!(
            "full stack step (3, e2e)  {:.3} ms",
            report.full_stack_step_ms
        );
        println!(
            "classifier step           {:.3} ms",
            report.classifier_step_ms
        );
        println!(
            "classifier step, frozen   {:.3} ms",
            report.classifier_head_step_ms
        );
        println!("hidden1 cache build       {:.1} ms", report.cache_build_ms);
        println!("test evaluation (10,000)  {:.1} ms", report.test_eval_ms);
        println!(
            "SGEMM, 1024^3             {:.0} GFLOP/s",
            report.sgemm_gflops
        );
        println!("hinton2006 (784-1000-500-250-30), a step of each phase:");
        for d in &report.deep {
            let how = if d.cached { ", cached" } else { "" };
            let name = format!("phase {}{how}", d.phase);
            println!(
                "  {name:<24}{:.3} ms  {:.0} GFLOP/s  {:.2} of SGEMM",
                d.step_ms, d.gflops, d.of_sgemm
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipe_phase_1_step_is_five_products_and_the_cache_saves_the_frozen_layers() {
        let a = Arch::RECIPE;
        let one = 2.0 * (150 * 784 * 300) as f64;
        assert_eq!(step_flops(a, Phase::ONE, false, 150), 5.0 * one);
        let inner = 2.0 * (150 * 300 * 150) as f64;
        assert_eq!(step_flops(a, Phase::TWO, true, 150), 5.0 * inner);
        assert_eq!(step_flops(a, Phase::TWO, false, 150), one + 5.0 * inner);
        // Every layer: 3 products each, less the input gradient of the first.
        assert_eq!(
            step_flops(a, Phase::FineTune, false, 150),
            3.0 * (2.0 * one + 2.0 * inner) - one
        );
    }
}
