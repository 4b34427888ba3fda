//! `layerwise train`: the seed's run, headless, with its printout.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::{Failure, HyperArgs, load_data};
use crate::checkpoint;
use crate::model::Phase;
use crate::train::{CacheInfo, Hyperparams, Trainer};

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub hyper: HyperArgs,
    /// Phases to run, in order.
    #[arg(long, value_delimiter = ',', default_value = "1,2", value_parser = clap::value_parser!(u8).range(1..=2))]
    pub phases: Vec<u8>,
    /// Phase 2 trains from a cache of hidden1 for the whole training set.
    #[arg(long)]
    pub cache_hidden1: bool,
    /// Start from this checkpoint instead of a fresh initialisation.
    #[arg(long, value_name = "FILE")]
    pub load: Option<PathBuf>,
    /// Save the trained model here (safetensors).
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    /// Print one JSON object with every figure instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    settings: Settings,
    phases: Vec<PhaseReport>,
    test_mse: f64,
    eval_seconds: f64,
    total_seconds: f64,
}

#[derive(Debug, Serialize)]
struct Settings {
    #[serde(flatten)]
    hyperparams: Hyperparams,
    cache_hidden1: bool,
    phases: Vec<u8>,
    data: String,
    threads: usize,
    load: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct PhaseReport {
    phase: u8,
    cache: Option<CacheReport>,
    epochs: Vec<EpochReport>,
    seconds: f64,
}

#[derive(Debug, Serialize)]
struct CacheReport {
    seconds: f64,
    bytes: usize,
}

#[derive(Debug, Serialize)]
struct EpochReport {
    epoch: u32,
    train_mse: f32,
    seconds: f64,
}

pub fn run(data: Option<&Path>, args: TrainArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let data = load_data(data)?;
    let mut trainer =
        Trainer::new(data.clone(), args.hyper.hyperparams()).map_err(Failure::input)?;
    if let Some(path) = &args.load {
        let ck = checkpoint::load(path, None).map_err(Failure::input)?;
        let note = trainer
            .restore(ck)
            .map_err(|e| Failure::input(anyhow::anyhow!("{}: {e}", path.display())))?;
        if let Some(note) = note {
            eprintln!("layerwise: note: {}: {note}", path.display());
        }
    }
    let text = !args.json;
    let mut phases = Vec::new();
    for &n in &args.phases {
        let phase =
            Phase::from_number(n).ok_or_else(|| Failure::input(anyhow::anyhow!("no phase {n}")))?;
        phases.push(run_phase(&mut trainer, phase, args.cache_hidden1, text)?);
    }
    let t = Instant::now();
    let test_mse = trainer.test_mse();
    let eval_seconds = t.elapsed().as_secs_f64();
    if let Some(path) = &args.save {
        checkpoint::save(path, &trainer.checkpoint()).map_err(Failure::input)?;
    }
    if text {
        // f32, as the seed's float32 tensor printed it.
        println!("Test MSE: {}", test_mse as f32);
        return Ok(());
    }
    let report = Report {
        settings: Settings {
            hyperparams: trainer.hyperparams().clone(),
            cache_hidden1: args.cache_hidden1,
            phases: args.phases.clone(),
            data: data.source.clone(),
            threads: rayon::current_num_threads(),
            load: args.load.clone(),
        },
        phases,
        test_mse,
        eval_seconds,
        total_seconds: started.elapsed().as_secs_f64(),
    };
    let json = serde_json::to_string(&report).map_err(|e| Failure::Training(e.into()))?;
    println!("{json}");
    Ok(())
}

/// Runs one phase to its end, printing the seed's lines when `text`.
fn run_phase(
    trainer: &mut Trainer,
    phase: Phase,
    cache_hidden1: bool,
    text: bool,
) -> Result<PhaseReport, Failure> {
    let n = phase.number();
    if text {
        println!("Training phase #{n}");
    }
    let cache = trainer
        .begin_phase(phase, cache_hidden1)
        .map_err(|e| Failure::Training(e.into()))?;
    let batches = trainer.hyperparams().epochs as u64 * trainer.batches_per_epoch() as u64;
    let bar = (text && std::io::stdout().is_terminal()).then(|| progress_bar(batches));
    let mut epochs = Vec::new();
    let end = trainer.run_phase(|step| {
        if let Some(b) = &bar {
            b.inc(1);
        }
        if let Some(e) = step.epoch_end {
            if text {
                let line = format!("{} Train MSE: {}", e.epoch, e.train_mse);
                match &bar {
                    Some(b) => b.println(line),
                    None => println!("{line}"),
                }
            }
            epochs.push(EpochReport {
                epoch: e.epoch,
                train_mse: e.train_mse,
                seconds: e.seconds,
            });
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let end = end.map_err(|e| Failure::Training(e.into()))?;
    if text {
        if let Some(CacheInfo { seconds, bytes, .. }) = cache {
            println!(
                "  [hidden1 cache: {seconds:.3} s, {:.1} MB]",
                bytes as f64 / 1e6
            );
        }
        println!("  [phase {n}: {:.3} s]", end.seconds);
    }
    Ok(PhaseReport {
        phase: n,
        cache: cache.map(|c| CacheReport {
            seconds: c.seconds,
            bytes: c.bytes,
        }),
        epochs,
        seconds: end.seconds,
    })
}

fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {percent:>3}% {per_sec} ETA {eta}") {
        bar.set_style(style);
    }
    bar
}
