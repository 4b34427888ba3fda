//! `layerwise train`: the seed's run, headless, with its printout; also phase 3 (the
//! whole stack fine-tuned after the two phases) and end-to-end training, with the test
//! MSE after every epoch for racing them.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::{Failure, HyperArgs, check_output, interrupt, load_data};
use crate::checkpoint;
use crate::data::{Mnist, PIXELS};
use crate::model::{Params, Phase};
use crate::train::eval::{level_yardstick, pca_yardstick_once, stage_errors};
use crate::train::{CacheInfo, EpochEnd, Hyperparams, Trainer, in_pool};

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub hyper: HyperArgs,
    /// Phases to run, in order: the layer-wise ones by number (1 to K; the recipe runs
    /// 1,2), then `fine-tune` (also K+1, so a two-stage stack's 3), which trains every
    /// layer at once on the full stack's reconstruction error, or `e2e`. Default: the
    /// preset's (recipe: 1,2; hinton2006: 1,2,3,4,fine-tune).
    #[arg(long, value_delimiter = ',', value_name = "PHASES")]
    pub phases: Option<Vec<String>>,
    /// Instead of the phases: train the whole stack at once from the seed's
    /// initialisation, for as many epochs as the layer-wise phases together (K x
    /// --epochs).
    #[arg(long, conflicts_with_all = ["phases", "load"])]
    pub end_to_end: bool,
    /// After every epoch, also measure the full stack's test MSE (not counted in the
    /// seconds), to compare runs at equal epochs and at equal seconds.
    #[arg(long)]
    pub test_each_epoch: bool,
    /// Every layer-wise phase k >= 2 trains from a cache of its input, h(k-1), for the
    /// whole training set (the recipe's phase 2: hidden1): same numbers, faster.
    #[arg(long, visible_alias = "cache")]
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
    /// The test MSE as squared error per image (x the input width), the scale of
    /// Hinton & Salakhutdinov 2006.
    test_per_image: f64,
    /// PCA through as many components as the code is wide: the yardstick.
    pca: PcaReport,
    /// Each autoencoder of the stack on its own test target beside PCA at its width:
    /// the outer one on the images, the inner one on hidden1 (once it has trained).
    autoencoders: Vec<AutoencoderReport>,
    eval_seconds: f64,
    /// Seconds of training (every phase, cache builds included; no evaluation).
    train_seconds: f64,
    total_seconds: f64,
}

#[derive(Debug, Serialize)]
struct Settings {
    #[serde(flatten)]
    hyperparams: Hyperparams,
    cache_hidden1: bool,
    phases: Vec<String>,
    end_to_end: bool,
    data: String,
    threads: usize,
    load: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct PhaseReport {
    /// `1`, `2`, ..., `ft` or `e2e`.
    phase: String,
    cache: Option<CacheReport>,
    epochs: Vec<EpochReport>,
    seconds: f64,
}

#[derive(Debug, Serialize)]
pub(super) struct PcaReport {
    components: usize,
    test_mse: f64,
    per_image: f64,
    /// The stack's test MSE over PCA's: above 1, PCA reconstructs better.
    ratio: f64,
    /// For one autoencoder, how much of its decoder's row space (where every
    /// reconstruction lies, bias aside) is PCA's subspace: 1 the same, k/784 chance.
    #[serde(skip_serializing_if = "Option::is_none")]
    subspace_overlap: Option<f64>,
    seconds: f64,
}

#[derive(Debug, Serialize)]
struct AutoencoderReport {
    /// `outer` (phase 1's: input to input through hidden1), `inner` (phase K's: its
    /// input back through the code), or k between. Only while no phase has trained the
    /// whole stack: after that a decoder layer no longer decodes its own autoencoder.
    autoencoder: String,
    /// Phase k's number.
    phase: usize,
    /// What it reconstructs: `the images`, `hidden1`, ...
    target: String,
    components: usize,
    test_mse: f64,
    pca_test_mse: f64,
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
    /// L2 over the phase's weights, the loss's other term, after the epoch.
    l2_term: f32,
    seconds: f64,
    /// Seconds of training since the first phase of this run began, to this epoch's end.
    elapsed_seconds: f64,
    /// The full stack's test MSE after this epoch (with `--test-each-epoch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    test_mse: Option<f64>,
}

/// What a phase needs to know of the command line.
struct Options {
    cache_hidden1: bool,
    test_each_epoch: bool,
    text: bool,
}

pub fn run(data: Option<&Path>, args: TrainArgs) -> Result<(), Failure> {
    let started = Instant::now();
    if let Some(path) = &args.save {
        check_output(path)?;
    }
    interrupt::catch();
    let data = load_data(data)?;
    let mut trainer = trainer_for(&data, &args)?;
    let options = Options {
        cache_hidden1: args.cache_hidden1,
        test_each_epoch: args.test_each_epoch,
        text: !args.json,
    };
    let order = phase_order(&args, trainer.params().depth())?;
    let order_tags = order.iter().map(|p| p.tag()).collect();
    let mut phases = Vec::new();
    let mut elapsed = 0.0;
    for phase in order {
        match run_phase(&mut trainer, phase, &options, &mut elapsed) {
            Ok(report) => phases.push(report),
            Err(failure) => return Err(keep_last_good(&trainer, args.save.as_deref(), failure)),
        }
    }
    let t = Instant::now();
    let test_mse = trainer.test_mse();
    let eval_seconds = t.elapsed().as_secs_f64();
    if let Some(path) = &args.save {
        checkpoint::save(path, &trainer.checkpoint()).map_err(Failure::input)?;
    }
    let pca = pca_report(&data, trainer.params(), test_mse)?;
    let autoencoders = autoencoder_reports(&trainer, &data)?;
    let per_image = |mse: f64| mse * PIXELS as f64;
    if options.text {
        // f32, as the seed's float32 tensor printed it.
        println!("Test MSE: {}", test_mse as f32);
        print_pca(test_mse, &pca);
        for a in &autoencoders {
            let name = match a.autoencoder.as_str() {
                k @ ("outer" | "inner") => format!("{k} autoencoder"),
                k => format!("autoencoder {k}"),
            };
            // PCA through as many components as its target is wide is exact.
            if a.pca_test_mse <= f64::EPSILON * a.test_mse {
                println!(
                    "  [{name} on {}: test MSE {:.6}; PCA-{} is exact]",
                    a.target, a.test_mse, a.components
                );
                continue;
            }
            println!(
                "  [{name} on {}: test MSE {:.6}; PCA-{} {:.6}, {:.2}x lower]",
                a.target,
                a.test_mse,
                a.components,
                a.pca_test_mse,
                a.test_mse / a.pca_test_mse
            );
        }
        return Ok(());
    }
    let report = Report {
        settings: Settings {
            hyperparams: trainer.hyperparams().clone(),
            cache_hidden1: args.cache_hidden1,
            phases: order_tags,
            end_to_end: args.end_to_end,
            data: data.source.clone(),
            threads: rayon::current_num_threads(),
            load: args.load.clone(),
        },
        phases,
        test_mse,
        test_per_image: per_image(test_mse),
        pca,
        autoencoders,
        eval_seconds,
        train_seconds: elapsed,
        total_seconds: started.elapsed().as_secs_f64(),
    };
    let json = serde_json::to_string(&report).map_err(|e| Failure::Training(e.into()))?;
    println!("{json}");
    Ok(())
}

/// PCA's test MSE through `components` components beside the stack's `test_mse`.
/// The stack's test MSE beside PCA's at its code width, and both per image.
pub(super) fn print_pca(test_mse: f64, pca: &PcaReport) {
    let PcaReport { components, .. } = *pca;
    if pca.ratio < 1.0 {
        println!(
            "  [PCA, {components} components: test MSE {:.6}; the stack beats it, {:.2}x lower]",
            pca.test_mse,
            1.0 / pca.ratio
        );
    } else {
        println!(
            "  [PCA, {components} components: test MSE {:.6}; the stack's is {:.2}x it]",
            pca.test_mse, pca.ratio
        );
    }
    println!(
        "  [squared error per test image: stack {:.2}, PCA-{components} {:.2}]",
        test_mse * PIXELS as f64,
        pca.per_image
    );
    if let Some(o) = pca.subspace_overlap {
        println!(
            "  [decoder's subspace against PCA-{components}'s: overlap {o:.4} (1 = the same)]"
        );
    }
}

pub(super) fn pca_report(data: &Mnist, p: &Params, test_mse: f64) -> Result<PcaReport, Failure> {
    let t = Instant::now();
    let components = p.arch().code();
    let yardstick =
        in_pool(|| pca_yardstick_once(data)).map_err(|e| Failure::Training(e.into()))?;
    let pca = yardstick.mse(components);
    let decoder = (p.depth() == 1).then(|| p.w[1].view());
    Ok(PcaReport {
        components,
        test_mse: pca,
        per_image: yardstick.per_image(components),
        ratio: test_mse / pca,
        subspace_overlap: decoder.and_then(|w| yardstick.overlap(w)),
        seconds: t.elapsed().as_secs_f64(),
    })
}

/// Each autoencoder k on its own test target, h(k-1) of the test images (the images
/// for k = 1), beside PCA of that target at its own width; autoencoders k >= 2 only
/// once they have trained.
fn autoencoder_reports(trainer: &Trainer, data: &Mnist) -> Result<Vec<AutoencoderReport>, Failure> {
    let p = trainer.params();
    let arch = p.arch();
    let depth = arch.depth();
    let failed = |e: crate::space::YardstickError| Failure::Training(e.into());
    let epochs = trainer.epochs_done();
    // Once the whole stack has trained, a decoder layer reads the level below it, not
    // its own autoencoder's code: the autoencoders no longer exist one by one.
    if epochs[Phase::FineTune] + epochs[Phase::EndToEnd] > 0 {
        return Ok(Vec::new());
    }
    let trained = |k: usize| k == 1 || epochs[Phase::Layer(k as u8)] > 0;
    in_pool(|| {
        let own = stage_errors(p, &data.test);
        let mut out = Vec::new();
        for k in (1..=depth).filter(|&k| trained(k)) {
            let pca = match k {
                1 => pca_yardstick_once(data)
                    .map_err(failed)?
                    .mse(arch.level(1).min(arch.inputs)),
                k => level_yardstick(p, data, k - 1)
                    .map_err(failed)?
                    .mse(arch.level(k)),
            };
            out.push(AutoencoderReport {
                autoencoder: match k {
                    1 => "outer".to_string(),
                    k if k == depth => "inner".to_string(),
                    k => k.to_string(),
                },
                phase: k,
                target: match k {
                    1 => "the images".to_string(),
                    k => format!("hidden{}", k - 1),
                },
                components: arch.level(k).min(arch.level(k - 1)),
                test_mse: own[k - 1],
                pca_test_mse: pca,
            });
        }
        Ok(out)
    })
}

/// A trainer on `data` with the arguments' hyperparameters, or `--load`'s model.
fn trainer_for(data: &Arc<Mnist>, args: &TrainArgs) -> Result<Trainer, Failure> {
    let mut trainer =
        Trainer::new(data.clone(), args.hyper.hyperparams()?).map_err(Failure::input)?;
    if let Some(path) = &args.load {
        let ck = checkpoint::load(path, None).map_err(Failure::input)?;
        let note = trainer
            .restore(ck)
            .map_err(|e| Failure::input(anyhow::anyhow!("{}: {e}", path.display())))?;
        if let Some(note) = note {
            eprintln!("layerwise: note: {}: {note}", path.display());
        }
    }
    Ok(trainer)
}

/// The phases to run in a stack of `depth`: `--end-to-end`, `--phases` or the preset's.
fn phase_order(args: &TrainArgs, depth: usize) -> Result<Vec<Phase>, Failure> {
    if args.end_to_end {
        return Ok(vec![Phase::EndToEnd]);
    }
    let Some(names) = &args.phases else {
        let preset = args.hyper.preset.unwrap_or_default();
        return Ok(preset
            .phases()
            .into_iter()
            .filter(|p| p.fits(depth))
            .collect());
    };
    names
        .iter()
        .map(|n| {
            Phase::parse(n, depth).map_err(|e| Failure::input(anyhow::anyhow!("--phases: {e}")))
        })
        .collect()
}

/// Runs one phase to its end, printing the seed's lines when `text`. `elapsed` counts
/// the seconds of training so far, across phases.
fn run_phase(
    trainer: &mut Trainer,
    phase: Phase,
    o: &Options,
    elapsed: &mut f64,
) -> Result<PhaseReport, Failure> {
    if o.text {
        match phase {
            Phase::Layer(k) => println!("Training phase #{k}"),
            p => println!("Training {p}"),
        }
    }
    let cache = trainer
        .begin_phase(phase, o.cache_hidden1)
        .map_err(|e| Failure::Training(e.into()))?;
    *elapsed += cache.map_or(0.0, |c| c.seconds);
    let batches = trainer.phase_epochs(phase) as u64 * trainer.batches_per_epoch() as u64;
    let bar = (o.text && std::io::stdout().is_terminal()).then(|| progress_bar(batches));
    let say = |line: String| match &bar {
        Some(b) => b.println(line),
        None => println!("{line}"),
    };
    let mut epochs = Vec::new();
    let end = in_pool(|| {
        loop {
            let step = trainer.step().map_err(|e| Failure::Training(e.into()))?;
            if let Some(b) = &bar {
                b.inc(1);
            }
            if let Some(e) = step.epoch_end {
                *elapsed += e.seconds;
                epochs.push(epoch_report(trainer, e, o, *elapsed, &say));
            }
            if let Some(end) = step.phase_end {
                return Ok(end);
            }
            if interrupt::asked() {
                trainer.stop();
                let (epoch, batch, batches) = (step.epoch, step.batch, step.batches);
                let at = format!("{phase}, epoch {epoch}, after batch {batch} of {batches}");
                return Err(Failure::Interrupted(anyhow::anyhow!(
                    "interrupted by Ctrl-C in {at}"
                )));
            }
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let end = end?;
    if o.text {
        print_timings(phase, cache.as_ref(), end.seconds);
    }
    Ok(PhaseReport {
        phase: phase.tag(),
        cache: cache.map(|c| CacheReport {
            seconds: c.seconds,
            bytes: c.bytes,
        }),
        epochs,
        seconds: end.seconds,
    })
}

/// A run that stopped part-way (it diverged, or Ctrl-C) still writes `--save`: the
/// model as it was before the failing update, or after the last batch, and says so.
fn keep_last_good(trainer: &Trainer, save: Option<&Path>, failure: Failure) -> Failure {
    let (Some(path), Failure::Training(e) | Failure::Interrupted(e)) = (save, &failure) else {
        return failure;
    };
    let kept = match checkpoint::save(path, &trainer.checkpoint()) {
        Ok(()) => format!("the model is saved to {}", path.display()),
        Err(save_error) => format!("the model could not be saved: {save_error}"),
    };
    let said = anyhow::anyhow!("{}; {kept}", super::one_line(e));
    match failure {
        Failure::Interrupted(_) => Failure::Interrupted(said),
        _ => Failure::Training(said),
    }
}

/// The seconds a phase took, after the seed's lines, bracketed as ours.
fn print_timings(phase: Phase, cache: Option<&CacheInfo>, seconds: f64) {
    if let (Some(CacheInfo { seconds, bytes, .. }), Phase::Layer(k)) = (cache, phase) {
        let mb = *bytes as f64 / 1e6;
        println!("  [hidden{} cache: {seconds:.3} s, {mb:.1} MB]", k - 1);
    }
    println!("  [{phase}: {seconds:.3} s]");
}

/// An epoch's figures (with `--test-each-epoch`, the test MSE, its time left out of
/// the seconds), printed as the seed printed them when `o.text`.
fn epoch_report(
    trainer: &mut Trainer,
    e: EpochEnd,
    o: &Options,
    elapsed: f64,
    say: &dyn Fn(String),
) -> EpochReport {
    let test_mse = o.test_each_epoch.then(|| {
        let t = Instant::now();
        let mse = trainer.test_mse();
        trainer.exclude_time(t.elapsed());
        mse
    });
    if o.text {
        say(format!("{} Train MSE: {}", e.epoch, e.train_mse));
        say(format!("  [L2 term: {}]", e.l2_term));
        if let Some(m) = test_mse {
            say(format!(
                "  [test MSE: {}, {elapsed:.3} s trained]",
                m as f32
            ));
        }
    }
    EpochReport {
        epoch: e.epoch,
        train_mse: e.train_mse,
        l2_term: e.l2_term,
        seconds: e.seconds,
        elapsed_seconds: elapsed,
        test_mse,
    }
}

fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {percent:>3}% {per_sec} ETA {eta}") {
        bar.set_style(style);
    }
    bar
}
