//! `layerwise map`: the 2-D map of the test set under a saved model, as CSV (index,
//! label, x, y), for plotting elsewhere; a summary line says what it shows.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use clap::Args;

use super::{Failure, check_output, model_and_data};
use crate::explore::maps::{self, Layer, Map, Method, TestSet};
use crate::space::{self, Outcome, TsneConfig};

#[derive(Debug, Args)]
pub struct MapArgs {
    /// Checkpoint to map (safetensors).
    #[arg(long, value_name = "FILE")]
    pub load: PathBuf,
    /// Which activations to map: the codes (the innermost layer), a hidden layer by
    /// number (hidden1 to hidden K-1), or the pixels themselves.
    #[arg(long, default_value_t = Layer::Code, value_name = "code|hiddenN|pixels")]
    pub layer: Layer,
    #[arg(long, default_value_t = Method::Pca, value_name = "pca|tsne")]
    pub method: Method,
    /// t-SNE only: about how many neighbours each point attends to.
    #[arg(long, default_value_t = TsneConfig::default().perplexity)]
    pub perplexity: f64,
    /// t-SNE only: iterations of gradient descent.
    #[arg(long, default_value_t = TsneConfig::default().iterations)]
    pub iterations: usize,
    /// t-SNE only: seeds the initial layout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// CSV file to write.
    #[arg(long, value_name = "FILE.csv")]
    pub out: PathBuf,
}

pub fn run(data: Option<&Path>, args: MapArgs) -> Result<(), Failure> {
    check_output(&args.out)?;
    let (ck, data) = model_and_data(&args.load, data)?;
    let depth = ck.params.depth();
    if !args.layer.fits(depth) {
        return Err(Failure::input(anyhow::anyhow!(
            "--layer {}: the model has {depth} hidden layer(s) in its encoder (hidden{depth} is its code)",
            args.layer
        )));
    }
    let test = TestSet::new(&data.test);
    let start = Instant::now();
    let encoded = space::encode(&ck.params, test.pixels.view()).map_err(Failure::input)?;
    let encode_seconds = start.elapsed().as_secs_f64();
    let x = test.layer(&encoded, args.layer);
    let source = args.load.display().to_string();
    let map = match args.method {
        Method::Pca => maps::pca_map(x, test.labels.clone(), args.layer, None, source)
            .map_err(Failure::input)?,
        Method::Tsne => {
            let config = TsneConfig {
                perplexity: args.perplexity,
                iterations: args.iterations,
                seed: args.seed,
                ..TsneConfig::default()
            };
            let start = Instant::now();
            let never = AtomicBool::new(false);
            let layout = match space::tsne(x, &config, None, |_, _| {}, &never) {
                Ok(Outcome::Done(layout)) => layout,
                Ok(Outcome::Cancelled { .. }) => unreachable!("nothing cancels it"),
                Err(e) => return Err(Failure::input(e)),
            };
            let seconds = start.elapsed().as_secs_f64();
            maps::tsne_map(layout, test.labels.clone(), args.layer, seconds, source)
        }
    };
    write_csv(&args.out, &map)?;
    println!("{}", summary(&args.out, &map, depth, encode_seconds));
    Ok(())
}

fn write_csv(path: &Path, map: &Map) -> Result<(), Failure> {
    let mut csv = String::with_capacity(32 * map.len() + 32);
    csv.push_str("index,label,x,y\n");
    for (i, (row, label)) in map
        .coords
        .rows()
        .into_iter()
        .zip(map.labels.iter())
        .enumerate()
    {
        csv.push_str(&format!("{i},{label},{},{}\n", row[0], row[1]));
    }
    let fail = |e: std::io::Error| Failure::input(anyhow::anyhow!("{}: {e}", path.display()));
    let mut f = std::fs::File::create(path).map_err(fail)?;
    f.write_all(csv.as_bytes()).map_err(fail)
}

/// One line on what the map shows and what it cost.
fn summary(out: &Path, map: &Map, depth: usize, encode_seconds: f64) -> String {
    let what = match map.explained {
        Some([a, b]) => format!(
            "PCA of the {}: PC1 {:.1}%, PC2 {:.1}% of the variance",
            map.layer.title(depth),
            a * 100.0,
            b * 100.0
        ),
        None => format!("t-SNE of the {}", map.layer.title(depth)),
    };
    format!(
        "wrote {} ({} points): {what}; nearest neighbour on the map is the same digit for {:.1}% of them; encoding {:.0} ms, {} {:.3} s",
        out.display(),
        map.len(),
        map.agreement.unwrap_or(0.0) * 100.0,
        encode_seconds * 1000.0,
        map.method.name(),
        map.seconds
    )
}
