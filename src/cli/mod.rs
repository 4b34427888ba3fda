//! The command line: `layerwise` opens the app; `train`, `classify`, `eval`, `export`
//! and `bench` run headless. Exit codes: 0 success, 1 training failure, 2 bad arguments
//! or input, 130 stopped by Ctrl-C.

mod bench;
mod classify;
mod desktop;
mod interrupt;
mod map;
mod train;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::checkpoint;
use crate::data::Mnist;
use crate::model::{Activation, Init, Noise, Sparsity, Widths};
use crate::train::{CachedSampling, Hyperparams, Loss, Preset, check_inputs};

#[derive(Debug, Parser)]
#[command(
    name = "layerwise",
    version,
    about = "Watch a stacked autoencoder learn MNIST, one autoencoder at a time."
)]
pub struct Cli {
    /// App only: open this checkpoint (from `layerwise train --save`, or File > Save)
    /// in the window.
    #[arg(value_name = "MODEL")]
    pub model: Option<PathBuf>,
    /// App only: the same as MODEL.
    #[arg(long, value_name = "FILE", conflicts_with = "model")]
    pub load: Option<PathBuf>,
    /// Folder of MNIST-format IDX files, raw or .gz (default: $LAYERWISE_DATA, else the
    /// built-in MNIST).
    #[arg(long, global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// App only: start these phases, one after the other, once the window is up
    /// (e.g. `--autostart 1,2`).
    #[arg(long, value_delimiter = ',', value_name = "PHASES", value_parser = clap::value_parser!(u8).range(1..=9))]
    pub autostart: Vec<u8>,
    /// App only: print the UI's frame times (p50, p95) to stderr when the window closes.
    #[arg(long)]
    pub frame_stats: bool,
    /// App only: close the window once the --autostart phases are done, and print each
    /// phase's seconds and the frame times while training to stderr (for scripts).
    #[arg(long, requires = "autostart")]
    pub exit_when_done: bool,
    /// App only: the training settings to start from instead of the last session's
    /// (any of them given: the preset's, the recipe's by default, with those given).
    #[command(
        flatten,
        next_help_heading = "Training settings (the app's, or train's)"
    )]
    pub hyper: HyperArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train headless, printing what the seed program printed.
    Train(train::TrainArgs),
    /// Does layer-wise pretraining help? Classifiers on few labels, from scratch and
    /// from the autoencoder's encoder, over seeds (or the notebook's experiment).
    Classify(classify::ClassifyArgs),
    /// Print the test MSE of a saved model.
    Eval(EvalArgs),
    /// Write the app's views of a saved model as PNG files: reconstructions, codes,
    /// mean code per class, features, the map of the codes and a walk.
    Export(ExportArgs),
    /// Write the 2-D map of the test set (PCA or t-SNE of a layer) as CSV.
    Map(map::MapArgs),
    /// Measure the GEMM ceiling and each part of training on this machine.
    Bench(bench::BenchArgs),
    /// Add layerwise (this binary, with its icon) to the desktop's applications menu.
    InstallDesktopEntry(desktop::DesktopArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Checkpoint to show (safetensors).
    #[arg(long, value_name = "FILE")]
    pub load: PathBuf,
    /// Test images to reconstruct, by index (`walk.png` walks from the first to the
    /// second).
    #[arg(long, value_delimiter = ',', default_value = "0,1,2,3,4,5,6,7")]
    pub images: Vec<usize>,
    /// Folder to write into (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Checkpoint to evaluate (safetensors).
    #[arg(long, value_name = "FILE")]
    pub load: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Every training setting. Each flag left out takes the preset's value (the recipe's
/// unless `--preset` says otherwise).
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct HyperArgs {
    /// Start from a preset's settings: `recipe` (the default: 784-300-150-300-784,
    /// Adam 0.01, L2 1e-4, 4 epochs a phase), `hinton2006` (the 2006 paper's
    /// 784-1000-500-250-30 stack, its four phases, then fine-tuning) or `linear` (one
    /// linear 784-150 autoencoder, the one PCA solves: Adam 0.001, no L2, 8 epochs).
    #[arg(long, value_name = "recipe|hinton2006|linear")]
    pub preset: Option<Preset>,
    /// The encoder's widths, hidden1 first, 1 to 8 layers of 1 to 4096 units
    /// (recipe: 300,150); the decoder mirrors them.
    #[arg(long, value_name = "W1,W2,...")]
    pub layers: Option<Widths>,
    /// Adam's learning rate in the layer-wise phases (recipe: 0.01).
    #[arg(long, allow_negative_numbers = true)]
    pub learning_rate: Option<f32>,
    /// Adam's learning rate when fine-tuning the whole stack (recipe: 0.001).
    #[arg(long, allow_negative_numbers = true)]
    pub fine_tune_learning_rate: Option<f32>,
    /// L2 regularisation of the weights, `l2 * sum(w^2) / 2` (recipe: 0.0001).
    #[arg(long, allow_negative_numbers = true)]
    pub l2: Option<f32>,
    /// Epochs of each layer-wise phase (recipe: 4).
    #[arg(long)]
    pub epochs: Option<u32>,
    /// Epochs of fine-tuning (default: as --epochs).
    #[arg(long)]
    pub fine_tune_epochs: Option<u32>,
    /// Images per batch (recipe: 150).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Seeds initialisation and batch order: same seed, same run (recipe: 42).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Adam's beta1 (recipe: 0.9).
    #[arg(long, allow_negative_numbers = true)]
    pub beta1: Option<f32>,
    /// Adam's beta2 (recipe: 0.999).
    #[arg(long, allow_negative_numbers = true)]
    pub beta2: Option<f32>,
    /// Adam's epsilon (recipe: 1e-8).
    #[arg(long, allow_negative_numbers = true)]
    pub epsilon: Option<f32>,
    /// Width of hidden1 in a two-stage stack (the same as --layers H1,H2).
    #[arg(long, conflicts_with = "layers")]
    pub hidden1: Option<usize>,
    /// Width of the code layer of a two-stage stack.
    #[arg(long, conflicts_with = "layers")]
    pub hidden2: Option<usize>,
    /// Restart Adam's step counter at each phase (the seed shares one counter).
    #[arg(long)]
    pub fresh_adam_counter: bool,
    /// Fine-tuning starts Adam afresh (zero moments) instead of going on with the
    /// layer-wise phases' (hinton2006 does).
    #[arg(long)]
    pub fine_tune_fresh_adam: bool,
    /// Batch order of a cached phase: `epoch` (as uncached) or `seed` (the seed's).
    #[arg(long, value_name = "epoch|seed")]
    pub cached_sampling: Option<CachedSampling>,
    /// The hidden layers' nonlinearity (recipe: elu); the output stays linear.
    #[arg(long, value_name = "elu|relu|sigmoid|linear")]
    pub activation: Option<Activation>,
    /// Make the code layer linear, the others as --activation (the 2006 paper's).
    #[arg(long)]
    pub linear_code: bool,
    /// How the weights are first drawn: `he` (the recipe's) or `glorot` (uniform, TF's
    /// default for a dense layer; the linear preset's).
    #[arg(long, value_name = "he|glorot")]
    pub init: Option<Init>,
    /// Tie each decoder layer's weights to its mirror encoder layer's, transposed (own
    /// biases): one matrix trained by both uses.
    #[arg(long)]
    pub tied_weights: bool,
    /// Denoising: how each layer-wise phase corrupts its input (the target stays
    /// clean): `gaussian:SD`, `mask:FRACTION` (to zero, Vincent's), `dropout:RATE`
    /// (to zero, the rest scaled, the chapter's), or `none`.
    #[arg(long, value_name = "KIND:AMOUNT")]
    pub noise: Option<Noise>,
    /// A sparse autoencoder's penalty on each phase's code: `kl:TARGET:WEIGHT` (a
    /// sigmoid code's firing rate; the chapter's kl:0.1:0.2) or `l1:WEIGHT`.
    #[arg(long, value_name = "kl:T:W|l1:W")]
    pub sparsity: Option<Sparsity>,
    /// The reconstruction loss: `mse` (the recipe's, linear output) or `bce` (binary
    /// cross-entropy through a sigmoid output; needs --activation sigmoid).
    #[arg(long, value_name = "mse|bce")]
    pub loss: Option<Loss>,
}

impl HyperArgs {
    /// The preset's settings with every flag given put over them; the two-stage
    /// `--hidden1`/`--hidden2` widths are checked as `--layers` are.
    pub fn hyperparams(&self) -> Result<Hyperparams, Failure> {
        let mut h = self.preset.unwrap_or_default().hyperparams();
        if let Some(l) = self.layers {
            h.layers = l;
        }
        if self.hidden1.is_some() || self.hidden2.is_some() {
            let two = [
                self.hidden1.unwrap_or(h.layers.get(0)),
                self.hidden2
                    .unwrap_or(h.layers.get(h.layers.depth().min(2) - 1)),
            ];
            h.layers = Widths::new(&two).map_err(|e| Failure::input(anyhow::anyhow!("{e}")))?;
        }
        let set = |d: &mut f32, v: Option<f32>| *d = v.unwrap_or(*d);
        set(&mut h.learning_rate, self.learning_rate);
        set(&mut h.fine_tune_learning_rate, self.fine_tune_learning_rate);
        set(&mut h.l2, self.l2);
        set(&mut h.beta1, self.beta1);
        set(&mut h.beta2, self.beta2);
        set(&mut h.epsilon, self.epsilon);
        h.epochs = self.epochs.unwrap_or(h.epochs);
        h.fine_tune_epochs = self.fine_tune_epochs.or(h.fine_tune_epochs);
        h.batch_size = self.batch_size.unwrap_or(h.batch_size);
        h.seed = self.seed.unwrap_or(h.seed);
        h.fresh_adam_counter |= self.fresh_adam_counter;
        h.fine_tune_fresh_adam |= self.fine_tune_fresh_adam;
        h.cached_sampling = self.cached_sampling.unwrap_or(h.cached_sampling);
        h.activation = self.activation.unwrap_or(h.activation);
        h.linear_code |= self.linear_code;
        h.init = self.init.unwrap_or(h.init);
        h.tied_weights |= self.tied_weights;
        h.noise = self.noise.unwrap_or(h.noise);
        h.sparsity = self.sparsity.unwrap_or(h.sparsity);
        h.loss = self.loss.unwrap_or(h.loss);
        Ok(h)
    }
}

/// Why a command failed, which decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments or input files: exit code 2.
    Input(anyhow::Error),
    /// Training went wrong (e.g. diverged): exit code 1.
    Training(anyhow::Error),
    /// Stopped by Ctrl-C: exit code 130, as the shell gives a process SIGINT ends.
    Interrupted(anyhow::Error),
}

impl Failure {
    pub fn input(e: impl Into<anyhow::Error>) -> Self {
        Failure::Input(e.into())
    }

    pub fn exit(self) -> ExitCode {
        let (e, code) = match self {
            Failure::Input(e) => (e, 2),
            Failure::Training(e) => (e, 1),
            Failure::Interrupted(e) => (e, 130),
        };
        eprintln!("layerwise: error: {}", one_line(&e));
        ExitCode::from(code)
    }
}

/// Refuses now, before any work, an output file that could not be written at the end.
pub fn check_output(path: &Path) -> Result<(), Failure> {
    crate::output::probe(path)
        .map_err(|e| Failure::input(anyhow::anyhow!("{}: cannot write: {e}", path.display())))
}

/// The error and its causes on one line, no backtrace. Our error types say their cause
/// in their own message (the app shows that message alone) and give none as
/// `source()`, so the chain says each cause once.
pub fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}")
}

/// Runs the command line: a headless command, or the app when there is none.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Some(Command::Train(args)) => train::run(cli.data.as_deref(), args),
        Some(Command::Classify(args)) => classify::run(cli.data.as_deref(), args),
        Some(Command::Eval(args)) => eval(cli.data.as_deref(), args),
        Some(Command::Export(args)) => export(cli.data.as_deref(), args),
        Some(Command::Map(args)) => map::run(cli.data.as_deref(), args),
        Some(Command::Bench(args)) => {
            load_data(cli.data.as_deref()).and_then(|d| bench::run(d, args))
        }
        Some(Command::InstallDesktopEntry(args)) => desktop::run(args),
        None => app(
            cli.data.as_deref(),
            cli.model.or(cli.load).as_deref(),
            &cli.autostart,
            &cli.hyper,
            cli.frame_stats,
            cli.exit_when_done,
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => f.exit(),
    }
}

fn app(
    data: Option<&Path>,
    model: Option<&Path>,
    autostart: &[u8],
    hyper: &HyperArgs,
    frame_stats: bool,
    exit_when_done: bool,
) -> Result<(), Failure> {
    let hyperparams = match *hyper == HyperArgs::default() {
        true => None,
        false => Some(hyper.hyperparams()?),
    };
    // A model that cannot be opened is refused here, before any window.
    let (load, data) = match model {
        Some(path) => {
            let (ck, data) = model_and_data(path, data)?;
            (Some((path.to_path_buf(), ck.params.arch())), data)
        }
        None => (None, load_data(data)?),
    };
    // Refused before any window, as `train` refuses them.
    if let Some(hp) = &hyperparams {
        hp.validate(data.train.len()).map_err(Failure::input)?;
    }
    let options = crate::ui::AppOptions {
        settings: None,
        load,
        hyperparams,
        autostart: autostart.to_vec(),
        data_dir: None,
        exit_when_done,
    };
    crate::ui::run(data, options, frame_stats || exit_when_done)
        .map_err(|e| Failure::Training(anyhow::anyhow!("the window could not be opened: {e}")))
}

pub fn load_data(dir: Option<&Path>) -> Result<Arc<Mnist>, Failure> {
    Mnist::load(dir).map(Arc::new).map_err(Failure::input)
}

/// A checkpoint and the data to run it on, checked to fit together.
fn model_and_data(
    load: &Path,
    data: Option<&Path>,
) -> Result<(checkpoint::Checkpoint, Arc<Mnist>), Failure> {
    let ck = checkpoint::load(load, None).map_err(Failure::input)?;
    let data = load_data(data)?;
    check_inputs(ck.params.arch())
        .map_err(|e| Failure::input(anyhow::anyhow!("{}: {e}", load.display())))?;
    Ok((ck, data))
}

fn export(data: Option<&Path>, args: ExportArgs) -> Result<(), Failure> {
    let (ck, data) = model_and_data(&args.load, data)?;
    let n = data.test.len();
    if let Some(bad) = args.images.iter().find(|&&i| i >= n) {
        return Err(Failure::input(anyhow::anyhow!(
            "--images: there is no test image {bad} (the test set has {n})"
        )));
    }
    let means = crate::train::eval::class_mean_codes(&ck.params, &data.test);
    let written =
        crate::export::write_pngs(&args.out, &ck.params, &data.test, &args.images, &means)
            .map_err(Failure::input)?;
    for p in written {
        println!("{}", p.display());
    }
    if args.images.len() < 2 {
        eprintln!("layerwise: note: no walk.png: a walk needs two --images, from and to");
    }
    Ok(())
}

fn eval(data: Option<&Path>, args: EvalArgs) -> Result<(), Failure> {
    let (ck, data) = model_and_data(&args.load, data)?;
    let t = std::time::Instant::now();
    let mse = crate::train::eval::reconstruction_mse(&ck.params, &data.test);
    let seconds = t.elapsed().as_secs_f64();
    let pca = train::pca_report(&data, &ck.params, mse)?;
    if args.json {
        let out = serde_json::json!({
            "test_mse": mse,
            "test_per_image": mse * crate::data::PIXELS as f64,
            "pca": pca,
            "seconds": seconds,
            "arch": ck.params.arch().to_string(),
            "epochs_done": ck.epochs_done,
            "data": data.source,
        });
        println!("{out}");
    } else {
        println!("Test MSE: {}", mse as f32);
        train::print_pca(mse, &pca);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_defaults_are_the_recipe() {
        let cli = Cli::try_parse_from(["layerwise", "train"]).unwrap();
        let Some(Command::Train(args)) = cli.command else {
            panic!("not a train command");
        };
        assert_eq!(args.hyper.hyperparams().unwrap(), Hyperparams::default());
        let cli = Cli::try_parse_from(["layerwise", "train", "--cached-sampling", "seed"]);
        let Some(Command::Train(args)) = cli.unwrap().command else {
            panic!("not a train command");
        };
        assert_eq!(args.hyper.cached_sampling, Some(CachedSampling::Seed));
        assert!(Cli::try_parse_from(["layerwise", "train", "--cached-sampling", "x"]).is_err());
    }

    #[test]
    fn a_model_to_open_and_a_subcommand_are_told_apart() {
        let cli = Cli::try_parse_from(["layerwise", "--data", "d", "train"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Train(_))) && cli.model.is_none());
        let cli = Cli::try_parse_from(["layerwise", "m.safetensors"]).unwrap();
        assert_eq!(cli.model.as_deref(), Some(Path::new("m.safetensors")));
        assert!(cli.command.is_none());
        let cli = Cli::try_parse_from(["layerwise", "--load", "m.safetensors"]).unwrap();
        assert_eq!(cli.load.as_deref(), Some(Path::new("m.safetensors")));
        let both = Cli::try_parse_from(["layerwise", "--load", "a", "b"]);
        assert!(both.is_err(), "MODEL and --load are one choice");
    }
}
