//! `layerwise classify`: does layer-wise pretraining help? Classifiers on the first N
//! training labels, from scratch and from the autoencoder's encoder, over seeds; or
//! the notebook's own experiment (`--book`), printed as the notebook printed it.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::{Failure, check_output, interrupt, load_data};
use crate::checkpoint;
use crate::data::Mnist;
use crate::model::{Arch, Params, Phase};
use crate::train::classify::{Arm, BATCH_SIZE, L2, LEARNING_RATE};
use crate::train::experiment::{
    self, ArmResult, DEFAULT_STEPS, ExperimentSpec, Happened, NOTEBOOK_PRETRAINED,
    NOTEBOOK_SCRATCH, Protocol, Summary, Sweep, classifier_shape,
};
use crate::train::{Hyperparams, Trainer, check_inputs};

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Label budgets: each run trains on the first N of the 55,000 training images
    /// [default: 100,1000,10000,55000; with --book 20000].
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    pub labels: Option<Vec<usize>>,
    /// Seeds per budget and arm (seeds 1 to N) [default: 3; with --book 1].
    #[arg(long, value_name = "N")]
    pub seeds: Option<u32>,
    /// Arms [default: scratch,frozen,fine-tuned,unfreeze; with --book scratch,fine-tuned].
    #[arg(long, value_delimiter = ',', value_name = "ARM,...")]
    pub arms: Option<Vec<Arm>>,
    /// Steps of every run: the stopping rule, the same for every budget and arm.
    #[arg(long, default_value_t = DEFAULT_STEPS, conflicts_with = "book")]
    pub steps: usize,
    /// The autoencoder whose encoder the pretrained arms start from (a checkpoint);
    /// without it, the recipe is trained first.
    #[arg(long, value_name = "FILE")]
    pub load: Option<PathBuf>,
    /// A second autoencoder (a checkpoint) whose encoder runs the same sweep, but
    /// scratch, beside the first: plain against denoising, say, seed for seed.
    #[arg(long, value_name = "FILE", conflicts_with = "book")]
    pub against: Option<PathBuf>,
    /// The notebook's experiment: 20,000 labels, 4 epochs of 133 steps, each batch the
    /// head of a fresh permutation, scratch against pretrained with every layer
    /// fine-tuned; the test accuracy after each epoch beside the notebook's.
    #[arg(long)]
    pub book: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also draw the chart (test accuracy against labels, per arm) into this PNG.
    #[arg(long, value_name = "FILE")]
    pub chart: Option<PathBuf>,
}

impl ClassifyArgs {
    fn spec(&self) -> ExperimentSpec {
        let base = match self.book {
            true => ExperimentSpec::book(),
            false => ExperimentSpec {
                protocol: Protocol::FixedSteps { steps: self.steps },
                ..ExperimentSpec::default()
            },
        };
        ExperimentSpec {
            budgets: self.labels.clone().unwrap_or(base.budgets),
            arms: self.arms.clone().unwrap_or(base.arms),
            seeds: self.seeds.unwrap_or(base.seeds),
            protocol: base.protocol,
        }
    }
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    settings: Settings<'a>,
    encoder: Encoder,
    results: &'a [ArmResult],
    summary: Vec<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    against: Option<Against>,
    seconds: f64,
}

/// The second encoder's sweep (`--against`), and how it differs from the first's.
#[derive(Debug, Serialize)]
struct Against {
    encoder: Encoder,
    results: Vec<ArmResult>,
    summary: Vec<Summary>,
    /// Per budget and arm: its accuracy minus the first encoder's, seed for seed.
    differences: Vec<Difference>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Difference {
    labels: usize,
    arm: Arm,
    /// Mean and sample sd of the paired differences, and how many pairs.
    mean: f64,
    sd: f64,
    pairs: usize,
}

#[derive(Debug, Serialize)]
struct Settings<'a> {
    #[serde(flatten)]
    spec: &'a ExperimentSpec,
    stopping_rule: String,
    learning_rate: f32,
    l2: f32,
    batch_size: usize,
    data: String,
    threads: usize,
}

/// Where the pretrained arms' the encoder layers came from.
#[derive(Debug, Serialize)]
struct Encoder {
    /// The checkpoint, or `recipe` when it was trained first.
    source: String,
    test_mse: f64,
    /// Seconds spent training it here (0 for a checkpoint).
    train_seconds: f64,
}

pub fn run(data: Option<&Path>, args: ClassifyArgs) -> Result<(), Failure> {
    let started = Instant::now();
    if let Some(path) = &args.chart {
        check_output(path)?;
    }
    interrupt::catch();
    let data = load_data(data)?;
    let spec = args.spec();
    spec.validate(data.train.len()).map_err(Failure::input)?;
    if args.against.is_some() && spec.arms.iter().all(|&a| a == Arm::Scratch) {
        return Err(Failure::input(anyhow::anyhow!(
            "--against compares encoders: give --arms with one besides scratch"
        )));
    }
    // The second encoder first: a bad file is said before the recipe trains.
    let second = match &args.against {
        Some(path) => Some(encoder(&data, Some(path))?),
        None => None,
    };
    let (params, encoder) = encoder(&data, args.load.as_deref())?;
    let mut sweep =
        Sweep::new(data.clone(), Arc::new(params), spec.clone()).map_err(Failure::input)?;
    let second = match second {
        Some((params, e)) => {
            sweep = sweep.against(Arc::new(params)).map_err(Failure::input)?;
            Some(e)
        }
        None => None,
    };
    let text = !args.json;
    if text {
        println!("{}", heading(&spec, sweep.encoder_arch()));
    }
    let bar = (text && std::io::stderr().is_terminal()).then(|| progress_bar(&sweep));
    let outcome = experiment::run(&mut sweep, interrupt::flag(), |s, h| {
        if let Some(b) = &bar {
            b.set_position(s.progress().steps_done);
        }
        if text {
            print_book_epoch(h, bar.as_ref());
        }
    })
    .map_err(|e| Failure::Training(e.into()))?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let (results, second_results): (Vec<ArmResult>, Vec<ArmResult>) =
        outcome.results.into_iter().partition(|r| !r.against);
    let summary = experiment::summarize(&results);
    if let Some(path) = &args.chart {
        let title = "TEST ACCURACY AGAINST LABELS, PER ARM";
        crate::chart::accuracy_chart(&summary, title)
            .save_png(path)
            .map_err(Failure::input)?;
    }
    let interrupted = outcome.cancelled.then(|| {
        let (done, all) = (
            results.len() + second_results.len(),
            sweep.progress().runs_total,
        );
        Failure::Interrupted(anyhow::anyhow!(
            "interrupted by Ctrl-C after {done} of {all} runs; the results are of those that finished"
        ))
    });
    if text {
        print_table(&summary);
    }
    let against = second.map(|encoder| {
        let both: Vec<ArmResult> = results.iter().chain(&second_results).cloned().collect();
        let summary: Vec<Summary> = (experiment::summarize(&both).into_iter())
            .filter(|s| s.against)
            .collect();
        let differences = summary
            .iter()
            .filter_map(|s| {
                let (mean, sd) = s.vs_first?;
                Some(Difference {
                    labels: s.labels,
                    arm: s.arm,
                    mean,
                    sd,
                    // Each of its runs right after the first encoder's: all paired.
                    pairs: s.runs,
                })
            })
            .collect();
        Against {
            encoder,
            results: second_results,
            summary,
            differences,
        }
    });
    if text {
        if let Some(a) = &against {
            print_against(a);
        }
        println!(
            "  [{} runs in {:.1} s]",
            sweep.progress().runs_done,
            outcome.seconds
        );
        return interrupted.map_or(Ok(()), Err);
    }
    let report = Report {
        settings: Settings {
            spec: &spec,
            stopping_rule: stopping_rule(&spec),
            learning_rate: LEARNING_RATE,
            l2: L2,
            batch_size: BATCH_SIZE,
            data: data.source.clone(),
            threads: rayon::current_num_threads(),
        },
        encoder,
        results: &results,
        summary,
        against,
        seconds: started.elapsed().as_secs_f64(),
    };
    let json = serde_json::to_string(&report).map_err(|e| Failure::Training(e.into()))?;
    println!("{json}");
    interrupted.map_or(Ok(()), Err)
}

/// The second encoder's rows, each beside its difference from the first's.
fn print_against(a: &Against) {
    println!(
        "Against {} (test MSE {:.6}):",
        a.encoder.source, a.encoder.test_mse
    );
    println!("labels  arm         test accuracy (mean ± sd)   minus the first, same seed");
    for (s, d) in a.summary.iter().zip(&a.differences) {
        println!(
            "{:>6}  {:<10}  {:.4} ± {:.4} ({} runs)      {:+.2} ± {:.2} points",
            s.labels,
            s.arm,
            s.mean,
            s.sd,
            s.runs,
            100.0 * d.mean,
            100.0 * d.sd
        );
    }
}

/// The autoencoder's parameters: from `--load`, or the recipe trained here first (which
/// is said on stderr).
fn encoder(data: &Arc<Mnist>, load: Option<&Path>) -> Result<(Params, Encoder), Failure> {
    if let Some(path) = load {
        let ck = checkpoint::load(path, None).map_err(Failure::input)?;
        check_inputs(ck.params.arch())
            .map_err(|e| Failure::input(anyhow::anyhow!("{}: {e}", path.display())))?;
        let test_mse = crate::train::eval::reconstruction_mse(&ck.params, &data.test);
        let source = path.display().to_string();
        let e = Encoder {
            source,
            test_mse,
            train_seconds: 0.0,
        };
        return Ok((ck.params, e));
    }
    eprintln!(
        "layerwise: no --load given: training the recipe's autoencoder first (phases 1 and 2, seed {})",
        Hyperparams::RECIPE.seed
    );
    let t = Instant::now();
    let mut trainer = Trainer::new(data.clone(), Hyperparams::RECIPE).map_err(Failure::input)?;
    for phase in [Phase::ONE, Phase::TWO] {
        // Cached and uncached phase 2 train the same bits; cached is faster.
        trainer
            .begin_phase(phase, true)
            .and_then(|_| trainer.run_phase(|_| {}))
            .map_err(|e| Failure::Training(e.into()))?;
    }
    let (seconds, test_mse) = (t.elapsed().as_secs_f64(), trainer.test_mse());
    eprintln!("layerwise: autoencoder trained in {seconds:.1} s, test MSE {test_mse:.6}");
    let e = Encoder {
        source: "recipe".into(),
        test_mse,
        train_seconds: seconds,
    };
    Ok((trainer.params().clone(), e))
}

/// The stopping rule, as the output states it.
fn stopping_rule(spec: &ExperimentSpec) -> String {
    match spec.protocol {
        Protocol::FixedSteps { steps } => format!(
            "every run: {steps} steps of batch min({BATCH_SIZE}, labels), the same for every budget and arm; test accuracy at the end"
        ),
        Protocol::Notebook { epochs } => format!(
            "the notebook's: {epochs} epochs of labels/{BATCH_SIZE} steps, each batch the head of a fresh permutation; test accuracy after each epoch"
        ),
    }
}

fn heading(spec: &ExperimentSpec, encoder: Arch) -> String {
    let seeds = match spec.seeds {
        1 => "seed 1".to_string(),
        n => format!("seeds 1-{n}"),
    };
    format!(
        "Classifier {} (Adam {LEARNING_RATE}, L2 {L2}), {seeds}; {}.",
        classifier_shape(encoder),
        stopping_rule(spec)
    )
}

/// The notebook's line for an epoch, its own figure beside ours.
fn print_book_epoch(h: &Happened, bar: Option<&ProgressBar>) {
    let Some((run, e)) = h.epoch else { return };
    let say = |line: String| match bar {
        Some(b) => b.println(line),
        None => println!("{line}"),
    };
    if e.epoch == 0 {
        say(format!(
            "{} on {} labels, seed {}:",
            run.arm, run.labels, run.seed
        ));
    }
    let notebook = match run.arm {
        Arm::Scratch => NOTEBOOK_SCRATCH.get(e.epoch as usize),
        Arm::FineTuned => NOTEBOOK_PRETRAINED.get(e.epoch as usize),
        _ => None,
    };
    let beside = notebook.map_or(String::new(), |n| format!("   (notebook: {n})"));
    say(format!(
        "{} Train accuracy: {} Test accuracy: {}{beside}",
        e.epoch, e.train_accuracy as f32, e.test_accuracy as f32
    ));
}

fn print_table(summary: &[Summary]) {
    println!("labels  arm         test accuracy (mean ± sd)   minus scratch, same seed");
    for s in summary {
        let vs = s.vs_scratch.map_or(String::new(), |(m, sd)| {
            format!("{:+.2} ± {:.2} points", 100.0 * m, 100.0 * sd)
        });
        println!(
            "{:>6}  {:<10}  {:.4} ± {:.4} ({} runs)      {vs}",
            s.labels, s.arm, s.mean, s.sd, s.runs
        );
    }
}

fn progress_bar(sweep: &Sweep) -> ProgressBar {
    let bar = ProgressBar::new(sweep.progress().steps_total);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {percent:>3}% ETA {eta}") {
        bar.set_style(style);
    }
    bar
}
